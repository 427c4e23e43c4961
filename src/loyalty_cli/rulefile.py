"""Rules files (segment maps, churn rules, lifecycle rules): the built-in ones shipped with the package, or
the user's TOML, read and parsed with the same errors everywhere (file, key, hint)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from loyalty_cli.errors import RulesError


def builtin_text(name: str) -> str:
    """The text of a built-in rules file (``src/loyalty_cli/rules/NAME.toml``)."""
    return (resources.files("loyalty_cli") / "rules" / f"{name}.toml").read_text(encoding="utf-8")


def read_text(path: Path, *, what: str, hint: str) -> str:
    """The text of a user's rules file; a missing or unreadable file is a :class:`RulesError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{what} file not found: {path}", hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"Could not read {what.lower()} {path}: {exc}") from None


def parse_toml(text: str, *, source: str, keys: set[str], has: str) -> dict[str, Any]:
    """Parse a rules file and refuse unknown top-level keys (``has``: e.g. "Churn rules have")."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None
    unknown = set(data) - keys
    if unknown:
        raise RulesError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}",
                         hint=f"{has} {', '.join(sorted(keys))}.")
    return data
