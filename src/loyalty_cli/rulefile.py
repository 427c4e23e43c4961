"""Rules files (segment maps, churn rules, lifecycle rules): the built-in ones shipped with the package, or
the user's TOML, read and parsed with the same errors everywhere (file, key, hint)."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from loyalty_cli.errors import LoyaltyError, RulesError


def builtin_text(name: str) -> str:
    """The text of a built-in rules file (``src/loyalty_cli/rules/NAME.toml``)."""
    return (resources.files("loyalty_cli") / "rules" / f"{name}.toml").read_text(encoding="utf-8")


def read_text(path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError) -> str:
    """The text of a user's file (rules, column mapping, pipeline); missing or unreadable raises ``error``."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}", hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"Could not read {what.lower()} {path}: {exc}") from None


def read_toml(
    path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError
) -> dict[str, Any]:
    """A user's TOML file, parsed; missing, unreadable or invalid raises ``error`` naming the file."""
    text = read_text(path, what=what, hint=hint, error=error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None


def rules_text(spec: str | Path | None, *, default: str, what: str) -> tuple[str, str]:
    """(text, source) of the built-in rules ``default`` (``spec`` None or that name) or of the user's file."""
    if spec is None or str(spec) == default:
        return builtin_text(default), f"built-in {default}"
    hint = f"Copy rules/{default}.toml, edit it and pass its path; or leave --rules out for the built-in rules."
    return read_text(Path(spec), what=what, hint=hint), str(spec)


def parse_toml(text: str, *, source: str, keys: set[str], has: str) -> dict[str, Any]:
    """Parse a rules file and refuse unknown top-level keys (``has``: e.g. "Churn rules have")."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None
    unknown = set(data) - keys
    if unknown:
        raise RulesError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))}", hint=f"{has} {', '.join(sorted(keys))}."
        )
    return data


def compile_condition(
    when: object, *, where: str, columns: Collection[str], example: str, syntax_hint: str, columns_hint: str
) -> tuple[pl.Expr, set[str]]:
    """A rule's condition (SQL, never ``eval``) as an expression, and the columns it reads. ``where`` names
    the file and the rule in every error (e.g. ``my.toml: rule 'A'``)."""
    if not isinstance(when, str) or not when.strip():
        raise RulesError(f"{where} has no condition", hint=f"Add when = {example!r}.")
    try:
        expr = pl.sql_expr(when)
    except (
        pl.exceptions.SQLSyntaxError,
        pl.exceptions.SQLInterfaceError,
        pl.exceptions.InvalidOperationError,
        pl.exceptions.ComputeError,
    ) as exc:
        raise RulesError(
            f"{where}: cannot read condition {when!r} ({str(exc).splitlines()[0]})", hint=syntax_hint
        ) from None
    roots = set(expr.meta.root_names())
    bad = sorted(roots - set(columns))
    if bad:
        raise RulesError(f"{where}: unknown column(s) {', '.join(map(repr, bad))} in {when!r}", hint=columns_hint)
    return expr, roots


def evaluate_condition(grid: pl.DataFrame, expr: pl.Expr, *, where: str, when: str, hint: str) -> pl.Series:
    """A compiled condition on every row of a check grid: true/false/null per row (a constant is spread to
    every row); an error names the file and the rule when it cannot be evaluated or is not true/false."""
    try:
        out = grid.select(expr.alias("hit")).to_series()
    except pl.exceptions.PolarsError as exc:
        raise RulesError(
            f"{where}: condition {when!r} cannot be evaluated ({str(exc).splitlines()[0]})", hint=hint
        ) from None
    if out.dtype != pl.Boolean:
        raise RulesError(
            f"{where}: condition {when!r} is not true/false",
            hint='Compare values, e.g. "r >= 4 and f = 1" or "churn_status = \'active\'".',
        )
    if out.len() == 1:
        out = pl.Series("hit", [out[0]] * grid.height, dtype=pl.Boolean)
    return out
