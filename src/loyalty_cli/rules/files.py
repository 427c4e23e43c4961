"""Reading a rules file (segment map, churn rules, lifecycle rules): a built-in one shipped in this package
(``src/loyalty_cli/rules/NAME.toml``) or the user's TOML, with the same checks and the same errors everywhere:
every problem names the file and the key or table (``my.toml: [lapsed] has unknown key(s) dayz``) and has a
hint. The conditions inside the rules are compiled by :mod:`loyalty_cli.rules.conditions`."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from loyalty_cli.errors import RulesError, setting
from loyalty_cli.io.userfiles import parse_toml_text, read_text


def builtin_text(name: str) -> str:
    """The text of a built-in rules file (``src/loyalty_cli/rules/NAME.toml``)."""
    return (resources.files("loyalty_cli") / "rules" / f"{name}.toml").read_text(encoding="utf-8")


def builtin_names(prefix: str = "") -> list[str]:
    """The names of the built-in rules files starting with ``prefix``, sorted (``rfm_``: the segment maps)."""
    folder = resources.files("loyalty_cli") / "rules"
    return sorted(
        p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml") and p.name.startswith(prefix)
    )


def rules_text(spec: str | Path | None, *, default: str, what: str) -> tuple[str, str]:
    """(text, source) of the built-in rules ``default`` (``spec`` None or that name) or of the user's file."""
    if spec is None or str(spec) == default:
        return builtin_text(default), f"built-in {default}"
    hint = (
        f"Copy rules/{default}.toml, edit it and pass its path; or leave {setting('rules')} out for the built-in rules."
    )
    return read_text(Path(spec), what=what, hint=hint), str(spec)


def check_keys(raw: Mapping[str, object], allowed: set[str], *, where: str, has: str) -> None:
    """Refuse keys of a table (the file's top level, a section, a rule) that are not ``allowed``: the error is
    ``<where> unknown key(s) ...`` (``where``: e.g. ``my.toml:`` or ``my.toml: rule 'A' has``), the hint
    ``<has> <the allowed keys>.`` (``has``: e.g. ``A rule has``)."""
    unknown = set(raw) - allowed
    if unknown:
        raise RulesError(
            f"{where} unknown key(s) {', '.join(sorted(unknown))}", hint=f"{has} {', '.join(sorted(allowed))}."
        )


def parse_toml(text: str, *, source: str, keys: set[str], has: str) -> dict[str, Any]:
    """Parse a rules file and refuse unknown top-level keys (``has``: e.g. "Churn rules have")."""
    data = parse_toml_text(text, source=source)
    check_keys(data, keys, where=f"{source}:", has=has)
    return data


def section(source: str, data: Mapping[str, object], key: str, allowed: set[str]) -> dict[str, object]:
    """The ``[key]`` table of a rules file (empty when absent), with only ``allowed`` keys."""
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        raise RulesError(f"{source}: [{key}] must be a table", hint=f"Write it as a [{key}] section.")
    check_keys(raw, allowed, where=f"{source}: [{key}] has", has=f"[{key}] takes")
    return raw


def entries(source: str, data: Mapping[str, object], key: str) -> list[dict[str, object]]:
    """The ``[[key]]`` tables of a rules file (the rules, the flags, the segments), in file order; none when
    absent."""
    raw = data.get(key, [])
    if not isinstance(raw, list) or any(not isinstance(r, dict) for r in raw):
        raise RulesError(f"{source}: {key} must be a list of [[{key}]] tables", hint=f"Write [[{key}]] sections.")
    return raw


def header(source: str, data: Mapping[str, object], *, check: bool = True) -> dict[str, str]:
    """The ``name`` (default: the file's stem), ``version`` (default "1") and ``description`` of a rules file,
    as text. With ``check``, a name, version or description that is not text or a number is refused."""
    if check:
        for key in ("name", "version", "description"):
            if key in data and not isinstance(data[key], str | int | float):
                raise RulesError(f"{source}: {key} must be text, got {data[key]!r}")
    return {
        "name": str(data.get("name", Path(source).stem)),
        "version": str(data.get("version", "1")),
        "description": str(data.get("description", "")).strip(),
    }
