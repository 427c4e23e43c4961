"""The pieces every reader's plan is built from: a check (a row fails it: the reason goes to the rejects), the
plan (parsed columns, derived columns, checks), the wording of a rejected row's first failed check, and the
checks shared by several kinds of export (the customer id, a required date, dates in the future or placeholders from
long ago)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from loyalty_cli.io.columns import ColumnChoice
from loyalty_cli.io.dates import parse_date
from loyalty_cli.io.parse import MAX_AMOUNT, parse_id, parse_text
from loyalty_cli.io.sources import Source


@dataclass(frozen=True)
class Check:
    """A row fails when ``failed`` is true: the reason and the offending column go to the rejects."""

    failed: pl.Expr
    reason: str
    field: str
    gate: bool = True  # False: implied by another check, so only needed to word the reason


def first_reason(checks: Sequence[Check], mapping: ColumnChoice) -> list[pl.Expr]:
    reason = pl.lit(None, dtype=pl.String)
    column = pl.lit(None, dtype=pl.String)
    value = pl.lit(None, dtype=pl.String)
    for check in reversed(checks):
        header = mapping.columns.get(check.field, check.field)
        raw = pl.col(header).cast(pl.String) if header in mapping.columns.values() else pl.lit(None, pl.String)
        reason = pl.when(check.failed).then(pl.lit(check.reason)).otherwise(reason)
        column = pl.when(check.failed).then(pl.lit(header)).otherwise(column)
        value = pl.when(check.failed).then(raw).otherwise(value)
    return [reason.alias("_reason"), column.alias("_column"), value.alias("_value")]


def C(name: str) -> pl.Expr:  # noqa: N802 - reads like a column reference
    """A parsed column (phase 1 or 2 of a builder), by canonical name."""
    return pl.col(f"_c_{name}")


@dataclass(frozen=True)
class Plan:
    """What a builder asks for: parsed columns (phase 1, from raw columns), columns derived from those
    (phase 2), and the checks. Names starting with ``_`` are helpers that do not reach the rows."""

    parsed: dict[str, pl.Expr]
    derived: dict[str, pl.Expr]
    checks: list[Check]

    @property
    def outputs(self) -> list[str]:
        names = [n for n in [*self.parsed, *self.derived] if not n.startswith("_")]
        known = [n for n in names if n in _OUTPUT_ORDER]
        return sorted(known, key=_OUTPUT_ORDER.index) + [n for n in names if n not in _OUTPUT_ORDER]


# Canonical column order of the rows each reader returns.
_OUTPUT_ORDER = [
    "customer_id",
    "order_date",
    "responded_at",
    "enrolled_at",
    "tier",
    "tier_since",
    "at",
    "type",
    "points",
    "amount_cents",
    "score",
    "order_id",
    "category",
    "product",
    "product_name",
    "channel",
    "comment",
    "survey_type",
    "touchpoint",
    "email",
    "signed_up_at",
    "birthday",
    "email_consent",
]


def required_id(
    schema: pl.Schema, mapping: ColumnChoice, out: dict[str, pl.Expr], checks: list[Check], src: Source
) -> None:
    """Parse the customer id into ``out`` with its check: a row without one (blank, ``NULL``, ``N/A``, ...:
    see :func:`parse_id`) cannot be attributed. An email used as the id is lowercased."""
    col = mapping.columns["customer_id"]
    lowercase = mapping.how.get("customer_id") == "email as id"
    out["customer_id"] = parse_id(col, schema[col], lowercase=lowercase, where=str(src.path))
    checks.append(Check(C("customer_id").is_null(), "missing customer id", "customer_id"))


# Dates later than this after the file was last written cannot be real (a typo, or a placeholder such as
# 2999-12-31, which would move the default as-of date): they are bad rows. A day covers any time zone of
# the shop's local dates against the file's time (UTC) with room to spare.
FUTURE_ALLOWANCE = timedelta(days=1)


# A file time before this is no export time but a placeholder (the Unix epoch of a Nix store, the 1980 of a
# zip without times): the time of the run stands in for it.
_REAL_FILE_TIMES = datetime(1990, 1, 1)


def _export_time(src: Source) -> tuple[datetime, str]:
    """When ``src`` was written (UTC, naive like the parsed dates), and how to say it in a reason: its
    modification time, or the time of this run when that cannot be read or is not a real one."""
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        saved = datetime.fromtimestamp(src.path.stat().st_mtime, tz=UTC).replace(tzinfo=None)
    except (OSError, OverflowError, ValueError):  # unreadable: no export time, as for a placeholder
        saved = None
    if saved is None or saved < _REAL_FILE_TIMES:
        return now, f"this run, {now:%Y-%m-%d %H:%M} UTC"
    return saved, f"the file was saved, {saved:%Y-%m-%d %H:%M} UTC"


def not_future(field: str, words: str, src: Source, checks: list[Check]) -> None:
    """The check that the parsed date ``field`` is at most :data:`FUTURE_ALLOWANCE` after the export time
    (a literal compare, so cheap; null dates pass: they have their own checks)."""
    saved, when = _export_time(src)
    limit = pl.lit(saved + FUTURE_ALLOWANCE, dtype=pl.Datetime("us"))
    checks.append(
        Check(
            (C(field).cast(pl.Datetime("us")) > limit).fill_null(False),
            f"{words} in the future (more than a day after {when})",
            field,
        )
    )


# Dates on or before this day are placeholders for "no date", not events of a shop: 0001-01-01 (the least date
# of .NET, Java and many databases), 1753-01-01 (SQL Server's), 1899-12-30 (day 0 of Excel and OLE dates),
# 1900-01-01, 1970-01-01 (time 0 of Unix). Read as real, one would make customers 2,000 years old, cohorts
# back to the year 1 and charts too wide to draw: they are bad rows, as dates in the future are.
PLACEHOLDER_PAST = datetime(1970, 1, 1)


def not_placeholder_past(field: str, words: str, checks: list[Check]) -> None:
    """The check that the parsed date ``field`` is after :data:`PLACEHOLDER_PAST` (null dates pass: they have
    their own checks)."""
    limit = pl.lit(PLACEHOLDER_PAST + timedelta(days=1), dtype=pl.Datetime("us"))
    checks.append(
        Check(
            (C(field).cast(pl.Datetime("us")) < limit).fill_null(False),
            f"{words} on or before {PLACEHOLDER_PAST:%Y-%m-%d} (a placeholder for no date)",
            field,
        )
    )


def required_date(
    field: str,
    words: str,
    schema: pl.Schema,
    cols: dict[str, str],
    formats: dict[str, str],
    out: dict[str, pl.Expr],
    checks: list[Check],
    src: Source,
    *,
    show_format: bool = True,
) -> None:
    """Parse a required date column into ``out[field]`` with its checks: missing, unparseable (with
    the expected format when ``show_format``), in the future (after the file was saved), and a placeholder from
    before any shop's data (:data:`PLACEHOLDER_PAST`)."""
    fmt = formats.get(field)
    out[field] = parse_date(cols[field], schema[cols[field]], fmt)
    checks.append(Check(parse_text(cols[field]).is_null(), f"missing {words}", field, gate=False))
    expected = f" (expected {fmt})" if fmt and show_format else ""
    checks.append(Check(C(field).is_null(), f"unparseable {words}{expected}", field))
    not_future(field, words, src, checks)
    not_placeholder_past(field, words, checks)


def beyond(label: str) -> str:
    """The reason for a number beyond :data:`MAX_AMOUNT` either way."""
    return f"{label} out of range (beyond ±{MAX_AMOUNT:,})"
