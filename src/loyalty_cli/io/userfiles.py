"""The user's settings files (rules, column mapping, pipeline): their text, and that text read as TOML. A file that
is missing, unreadable, binary, not UTF-8 or not valid TOML is one error naming the file, with a hint.

Here, below every layer that reads such a file: the column mapping (:mod:`loyalty_cli.io.columns`), the pipeline
and the rules package (:mod:`loyalty_cli.rules.files`) all read through it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from loyalty_cli.errors import LoyaltyError, RulesError


def read_text(path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError) -> str:
    """The text of a user's file (rules, column mapping, pipeline); missing, unreadable, binary or not UTF-8
    raises ``error`` with a hint."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(
            f"{what} file not found: {path}", hint=hint or "Check the file name and the folder you run loyalty from."
        ) from None
    except OSError as exc:
        raise error(
            f"Could not read {what.lower()} {path}: {exc.strerror or exc}", hint="Pass a TOML file that you can read."
        ) from None
    utf8 = "Rules, mapping and pipeline files are UTF-8 text (TOML): save it as UTF-8 in a text editor"
    if b"\x00" in raw:
        raise error(
            f"Could not read {what.lower()} {path}: it is not a text file (it contains NUL bytes)",
            hint=f"{utf8}, or pass the .toml file you meant.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"Could not read {what.lower()} {path}: it is not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
            f"{exc.start})",
            hint=f"{utf8} (Save As, encoding UTF-8).",
        ) from None


def parse_toml_text(text: str, *, source: str | Path, error: type[LoyaltyError] = RulesError) -> dict[str, Any]:
    """``text`` as TOML; invalid TOML raises ``error`` naming ``source`` (a path, or e.g. ``built-in churn``)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None


def read_toml(
    path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError
) -> dict[str, Any]:
    """A user's TOML file, parsed; missing, unreadable or invalid raises ``error`` naming the file."""
    return parse_toml_text(read_text(path, what=what, hint=hint, error=error), source=path, error=error)
