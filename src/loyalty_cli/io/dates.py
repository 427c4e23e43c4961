"""Dates in exports: the formats tried, their detection from a sample (day-first and month-first told apart,
or the user asked), the check of a format given, and the Polars expression that parses a date column."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from loyalty_cli.errors import DataError, setting

# A zone suffix only counts after a time (":MM" or ":SS.fff"): the "-2024" of "05-01-2024" is not one.
_TZ_SUFFIX = r"(:\d{2}(?:\.\d+)?)\s*(?:Z|UTC|[+-]\d{2}:?\d{2})$"

# Tried in order; the first that reads every sampled value wins. Day-first and month-first forms are
# told apart by values above 12; when nothing tells them apart the user is asked.
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y%m%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d %b %Y",
    "%b %d, %Y",
)
_SWAPPED = {f: f.replace("%m/%d", "%d/%m") for f in DATE_FORMATS if f.startswith("%m/%d")}
_SWAPPED.update({v: k for k, v in _SWAPPED.items()})
_SWAPPED["%d-%m-%Y"] = "%m-%d-%Y"
_SWAPPED["%m-%d-%Y"] = "%d-%m-%Y"


def parse_date(col: str, dtype: pl.DataType, fmt: str | None) -> pl.Expr:
    """Dates and datetimes as naive ``Datetime[us]`` in the wall-clock time of the export. A time-zone
    suffix (``Z``, ``+01:00``, ``-0500``) is dropped, keeping the shop's local date."""
    expr = pl.col(col)
    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            expr = expr.dt.replace_time_zone(None)
        return expr.cast(pl.Datetime("us"))
    if fmt is None:
        raise ValueError("a date format is needed for text dates")
    text = expr.cast(pl.String).str.strip_chars().str.replace(_TZ_SUFFIX, "${1}")
    return text.str.strptime(pl.Datetime("us"), fmt, strict=False)


_DATE_FORMAT = setting("date_format")
_TWO_DIGIT_YEAR = re.compile(r"\d{1,2}([-/.])\d{1,2}\1\d{2}(?!\d)")


def detect_date_format(values: Sequence[str], *, column: str, where: str, rows: Sequence[str] | None = None) -> str:
    """The format that reads every sampled value; day-first vs month-first decided by values above 12.

    When no format reads every value, values that *no* known format reads are bad rows (they are rejected
    later with their row numbers), provided one format reads more than half of the sample and every value
    that some format reads. Values in two different formats still need the date-format setting. ``rows`` names
    where each value is (e.g. ``row 12``), so that an error can point at the values it shows."""
    raw = pl.Series(values, dtype=pl.String)
    cleaned = raw.str.strip_chars().str.replace(_TZ_SUFFIX, "${1}")
    filled = cleaned.str.len_bytes() > 0
    sample = cleaned.filter(filled)
    labels = pl.Series(list(rows), dtype=pl.String).filter(filled) if rows is not None else None
    if sample.is_empty():
        return DATE_FORMATS[0]
    # Every format tried spells the year %Y, which also reads one or two digits: '01/05/23' is not 23 May of
    # the year 1, nor '05/01/23' 1 May 23 AD. A value without four digits in a row has no such year.
    four_digits = sample.str.contains(r"\d{4}")
    readable: dict[str, pl.Series] = {}
    for fmt in DATE_FORMATS:
        readable[fmt] = sample.str.strptime(pl.Datetime("us"), fmt, strict=False).is_not_null() & four_digits
        if readable[fmt].all():
            _refuse_ambiguous(sample, fmt, readable[fmt], column=column, where=where)
            return fmt
    best = max(DATE_FORMATS, key=lambda f: readable[f].sum())  # the first of equals
    some = pl.Series([False] * sample.len())
    for ok in readable.values():
        some = some | ok
    if readable[best].sum() * 2 > sample.len() and not (some & ~readable[best]).any():
        _refuse_ambiguous(sample, best, readable[best], column=column, where=where)
        return best
    raise DataError(
        _unrecognised(sample, labels, readable, column=column, where=where),
        hint=_format_hint(sample, best, readable[best]),
    )


def _unrecognised(
    sample: pl.Series, labels: pl.Series | None, readable: dict[str, pl.Series], *, column: str, where: str
) -> str:
    """The message for dates no one format reads: the values in no known format, or how many each format
    reads and how many none, each with examples (and their rows, with ``labels``)."""

    def examples(mask: pl.Series, n: int) -> str:
        shown = [repr(v) for v in sample.filter(mask).head(n)]
        if labels is not None:
            shown = [f"{v} in {label}" for v, label in zip(shown, labels.filter(mask).head(n), strict=True)]
        return ", ".join(shown)

    left = pl.Series([True] * sample.len())
    groups: list[tuple[str, pl.Series]] = []  # each value under the first format that reads it
    for fmt in DATE_FORMATS:
        mine = left & readable[fmt]
        if mine.any():
            groups.append((fmt, mine))
            left = left & ~mine
    head = f"Could not recognise the dates in column {column!r} of {where}"
    if not groups:
        return f"{head} (e.g. {examples(left, 3)})"
    groups.sort(key=lambda g: -int(g[1].sum()))
    parts = [f"{int(m.sum()):,} read as {fmt} (e.g. {examples(m, 1)})" for fmt, m in groups]
    if left.any():
        parts.append(f"{int(left.sum()):,} in no known format (e.g. {examples(left, 3)})")
    return f"{head}: of {sample.len():,} sampled values, " + ", ".join(parts)


def _format_hint(sample: pl.Series, best: str, ok: pl.Series) -> str:
    """How to give the format, from the values themselves: the format that reads most of them (both orders
    when day and month cannot be told apart), else one shaped on the first value (ISO dates get an ISO
    format, never a day-first one)."""
    read = int(ok.sum())
    if read:
        other = _SWAPPED.get(best)
        if (
            other is not None
            and not sample.filter(ok).str.strptime(pl.Datetime("us"), other, strict=False).null_count()
        ):
            month_first, day_first = (best, other) if best.index("%m") < best.index("%d") else (other, best)
            which = f"{_DATE_FORMAT} '{month_first}' (month first) or '{day_first}' (day first)"
        else:
            which = f"{_DATE_FORMAT} '{best}'"
        return (
            f"Give the format with {_DATE_FORMAT}: {which} reads the {read:,} sampled "
            f"{'value' if read == 1 else 'values'} in that format and "
            "rejects the others as bad rows, naming their rows. Values in two formats need fixing in the export."
        )
    first = sample[0]
    if two := _TWO_DIGIT_YEAR.match(first):
        sep = two[1]
        return (
            f"Two-digit years are not guessed: give the format with {_DATE_FORMAT}, %y for the year, e.g. "
            f"'%d{sep}%m{sep}%y' (day first) or '%m{sep}%d{sep}%y' (month first) for {first!r}, with %H:%M for a time."
        )
    iso = re.match(r"(\d{4})([-/.])\d{1,2}\2\d{1,2}(?:([ T])\d{1,2}:\d{2}(:\d{2})?)?", first)
    if iso:
        fmt = f"%Y{iso[2]}%m{iso[2]}%d" + (f"{iso[3]}%H:%M" if iso[3] else "") + (":%S" if iso[4] else "")
        shape = first[: iso.end()]
        rest = "" if shape == first else f", then codes for the rest of {first!r} (%H hours, %M minutes, %S seconds)"
        return (
            f"Give the format with {_DATE_FORMAT} in strftime codes, e.g. {_DATE_FORMAT} '{fmt}' for {shape!r}{rest}."
        )
    return (
        f"Give the format with {_DATE_FORMAT} in strftime codes, e.g. {_DATE_FORMAT} '%d/%m/%Y %H:%M' for "
        "'05/01/2024 14:30' or '%Y-%m-%d' for '2024-01-05'."
    )


# strftime codes the date parser (chrono) knows, with their padding flags (%-d, %_d, %0d).
_FORMAT_CODE = re.compile(r"%(?:[-_0]?[YCyqmbBhdeaAwuUWGgVjDxFvHkIlPpMSRTXrZzcstn%+]|\.?[369]?f|:{1,3}z|#z)")
_HAS_YEAR = re.compile(r"%[-_0]?[YyGgCDxFvcs+]")


def date_format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot read dates (``None`` when it can): an unknown ``%`` code (the parser would read
    nothing, silently), or no year."""
    if not fmt.strip():
        return "it is empty"
    rest = _FORMAT_CODE.sub("", fmt)
    if "%" in rest:
        code = rest[rest.index("%") : rest.index("%") + 2]
        return f"{code!r} is not a date or time code"
    if not _HAS_YEAR.search(fmt):
        return "it has no year (%Y or %y)"
    return None


def _refuse_ambiguous(sample: pl.Series, fmt: str, ok: pl.Series, *, column: str, where: str) -> None:
    """Raise when the day/month-swapped form of ``fmt`` reads the same values just as well."""
    other = _SWAPPED.get(fmt)
    if other is None:
        return
    readable = sample.filter(ok)
    if readable.str.strptime(pl.Datetime("us"), other, strict=False).null_count():
        return
    month_first, day_first = (fmt, other) if fmt.index("%m") < fmt.index("%d") else (other, fmt)
    raise DataError(
        f"Dates in column {column!r} of {where} can be read day-first or month-first (e.g. {readable[0]!r})",
        hint=f"Say which with {_DATE_FORMAT} '{month_first}' (month first) or {_DATE_FORMAT} '{day_first}' "
        "(day first).",
    )
