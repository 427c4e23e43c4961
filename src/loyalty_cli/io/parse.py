"""Polars expressions that turn raw export columns into canonical typed columns.

Every parser leaves a null where the raw value cannot be read, so validation can compare the raw and the
parsed column and name the rows that failed. Nothing here is ever clipped or guessed silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from loyalty_cli.errors import DataError, setting

_NUMERIC = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
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


# What exports write in an id cell that holds no id (any case, spaces around allowed): such a cell is a
# missing id, like a blank one, never one "customer" pooling every anonymous row. The one list for every
# table with an id (transactions, surveys, contacts, members, points) and for emails.
MISSING_ID_WORDS = ("null", "nan", "na", "n/a", "#n/a", "none", "-")
_MISSING_ID = r"(?i)^\s*(?:" + "|".join(re.escape(w) for w in MISSING_ID_WORDS) + r")\s*$"
# Values the id and text parsers must change: padded, empty, or (ids) a whole number written with ".0" or a
# placeholder word.
_NEEDS_WORK_TEXT = r"^\s|\s$|^$"
_NEEDS_WORK_ID = r"^\s|\s$|^$|^-?\d+\.0+$|^(?i:" + "|".join(re.escape(w) for w in MISSING_ID_WORDS) + r")$"


def is_temporal(dtype: pl.DataType) -> bool:
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)


def id_type_problem(dtype: pl.DataType) -> str | None:
    """Why a column of this type cannot hold ids (``None`` when it can): text, whole numbers, floats (ids
    made floats by a spreadsheet), decimals and categoricals can; true/false, dates and nested values cannot."""
    if dtype in (pl.String, pl.Null, pl.Categorical, pl.Enum):
        return None
    if dtype.is_integer() or dtype.is_float() or dtype.is_decimal():
        return None
    if dtype == pl.Boolean:
        return "true/false values (Boolean)"
    if dtype.is_temporal():
        return f"dates or times ({dtype})"
    return f"values of type {dtype}"


def parse_id(col: str, dtype: pl.DataType, *, lowercase: bool = False, where: str | None = None) -> pl.Expr:
    """Ids as trimmed strings; ``17850.0`` -> ``17850`` (spreadsheets turn ids into floats); blank, NaN and
    the words of :data:`MISSING_ID_WORDS` (``NULL``, ``N/A``, ...) -> null. A column whose type cannot hold
    ids (true/false, dates) is a :class:`DataError` naming ``col`` and ``where`` (the file)."""
    problem = id_type_problem(dtype)
    if problem is not None:
        raise DataError(
            f"Column {col!r}" + (f" of {where}" if where else "") + f" holds {problem}, not ids",
            hint=f"Map the column that holds the ids ({setting('customer_col')}; {setting('email_col')} for emails), "
            "or export them as "
            "text or whole numbers.",
        )
    expr = pl.col(col)
    if dtype.is_float():
        expr = pl.when(expr == expr.floor()).then(expr.cast(pl.Int64, strict=False).cast(pl.String))
        return expr.otherwise(pl.col(col).cast(pl.String))
    if dtype in _NUMERIC:
        return expr.cast(pl.String)
    raw = expr.cast(pl.String)
    # Elementwise only, each branch reading the raw value once: ``Expr.replace`` would hold the whole
    # column in memory, and a trimmed sub-expression shared by branches is recomputed at each use (10M ids: 0.55 s and
    # ~90 MB, against 0.71 s and ~420 MB). A capture-free regex is several times faster than ``${1}``.
    text = (
        pl.when(raw.str.contains(r"^\s*-?\d+\.0+\s*$"))
        .then(raw.str.replace(r"\.0+\s*$", "").str.strip_chars())
        .when(raw.str.contains(r"\S") & ~raw.str.contains(_MISSING_ID))
        .then(raw.str.strip_chars())
    )
    # Most ids need nothing: one anchored regex picks the few that do, and only those go through the
    # branches above (Polars evaluates a ``then`` on the selected rows; 10M ids: 0.31 s, was 0.66 s).
    text = pl.when(raw.str.contains(_NEEDS_WORK_ID)).then(text).otherwise(raw)
    return text.str.to_lowercase() if lowercase else text


def parse_text(col: str) -> pl.Expr:
    """Trimmed text; blank -> null (elementwise: see :func:`parse_id`)."""
    raw = pl.col(col).cast(pl.String)
    text = pl.when(raw.str.contains(r"\S")).then(raw.str.strip_chars())
    return pl.when(raw.str.contains(_NEEDS_WORK_TEXT)).then(text).otherwise(raw)


def parse_free_text(col: str) -> pl.Expr:
    """Optional free text such as a survey comment: :func:`parse_text`, and a cell holding only a placeholder
    of :data:`MISSING_ID_WORDS` (``NA``, ``N/A``, ``null``, ``None``, ``-``, ...: any case) -> null, as for
    ids, so that "no comment" never reaches a list as the text ``NA``. Text that merely contains such a word
    ("N/A for me") stays as it is."""
    text = parse_text(col)
    return pl.when(~text.str.contains(_MISSING_ID)).then(text)


# Consent words, compared as :func:`consent_word` writes them (lowercase; "_", "-" and spaces as one space: Braze's
# "opted_in", Klaviyo's "NEVER_SUBSCRIBED", "Opt-In" all match). A clear yes:
TRUE_WORDS = ("true", "yes", "y", "1", "t", "subscribed", "opted in", "opt in", "granted")
# A plain no:
FALSE_WORDS = ("false", "no", "n", "0", "f", "opted out", "opt out", "denied")
# Statuses of email tools and shops that are not a yes, so no campaign may go to the address (Mailchimp: pending =
# double opt-in not confirmed, cleaned = the address bounced, transactional, archived; Klaviyo: never subscribed,
# suppressed; Shopify: not subscribed, pending, redacted, invalid; bounces and spam complaints of any tool).
NO_CONSENT_STATUSES = (
    "unsubscribed",
    "not subscribed",
    "non subscribed",
    "never subscribed",
    "pending",
    "cleaned",
    "bounced",
    "hard bounced",
    "soft bounced",
    "complained",
    "spam",
    "spam complaint",
    "suppressed",
    "blocked",
    "transactional",
    "archived",
    "redacted",
    "invalid",
)


def consent_word(col: str, dtype: pl.DataType) -> pl.Expr:
    """A consent cell as a word: trimmed, lowercased, runs of ``_``, ``-`` and spaces as one space; null when
    blank. True/false columns give ``true``/``false``."""
    raw = pl.col(col).cast(pl.String)
    if dtype == pl.Boolean:
        return raw
    if dtype.is_numeric():  # 1/0 flags, also as 1.0/0.0 in a float column (a 0/1 column with blanks)
        return pl.when(pl.col(col) == 1).then(pl.lit("1")).when(pl.col(col) == 0).then(pl.lit("0")).otherwise(raw)
    word = raw.str.to_lowercase().str.replace_all(r"[\s_-]+", " ").str.strip_chars().replace("", None)
    return word.str.replace(r"^([01])\.0+$", "${1}")


def parse_consent(col: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(consent as a boolean, null when blank or not a word we know; whether the cell was blank). True for
    :data:`TRUE_WORDS`, false for :data:`FALSE_WORDS` and :data:`NO_CONSENT_STATUSES` (see :func:`consent_word`)."""
    if dtype == pl.Boolean:
        return pl.col(col), pl.col(col).is_null()
    word = consent_word(col, dtype)
    no = [*FALSE_WORDS, *NO_CONSENT_STATUSES]
    value = pl.when(word.is_in(list(TRUE_WORDS))).then(True).when(word.is_in(no)).then(False)
    return value, word.is_null()


def parse_number(col: str, dtype: pl.DataType, *, decimal_comma: bool = False) -> pl.Expr:
    """Numbers as Float64. Strings may carry a currency sign and spaces; thousands separators are refused
    (``1,250`` is 1.25 in half the world), so a value we cannot read for sure stays null."""
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float64)
    text = pl.col(col).cast(pl.String).str.strip_chars().str.replace_all(r"[\s$€£¥]", "")
    if decimal_comma:
        # "1.250" is 1250 where the comma is the decimal mark: refuse it rather than read 1.25.
        text = pl.when(~text.str.contains(".", literal=True)).then(text.str.replace(",", ".", literal=True))
    return text.cast(pl.Float64, strict=False)


# The largest amount (currency units) one line may carry, either way; readers reject lines beyond it. No
# retail line comes near it (a billion is ~40,000 USD even in Vietnamese dong), while a barcode or an id
# pasted into the amount column (12 or 13 digits) goes well over. In cents it is 1e11, so any sum of fewer
# than 92 million lines (2**63 / 1e11) fits in Int64 and cannot wrap around, even if every line is at the
# bound. The same bound holds for a points value.
MAX_AMOUNT = 1_000_000_000
MAX_CENTS = MAX_AMOUNT * 100


def to_cents(amount: pl.Expr) -> pl.Expr:
    """Money as integer cents so sums are exact and do not depend on row order. NaN, infinity and values
    beyond Int64 give null (not an error for the whole file): validation rejects those rows, and those
    beyond :data:`MAX_CENTS`."""
    return (amount * 100).round(0).cast(pl.Int64, strict=False)


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
    readable: dict[str, pl.Series] = {}
    for fmt in DATE_FORMATS:
        readable[fmt] = sample.str.strptime(pl.Datetime("us"), fmt, strict=False).is_not_null()
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


NON_RESPONSE = (
    "",
    "na",
    "n/a",
    "#n/a",
    "n.a.",
    "nan",
    "none",
    "null",
    "-",
    "(blank)",
    "no answer",
    "no response",
    "not answered",
    "skipped",
    "declined",
    "refused",
)
# "9", "9.0", "9,0", "10 - Extremely likely", "10 (Extremely likely)", "9/10", "9 out of 10", "Score: 7"
# (nothing else in front of the number). A label may not hold digits: "7 - out of 5" is not unambiguous.
# "-1" is read as -1, so that validation rejects it as outside 0-10 (as it does -1 in a number column).
_SCORE = (
    r"^\s*(?:(?:nps\s*)?score\s*:?\s*)?(-?\d{1,3})(?:[.,]0+)?\s*(?:(?:/|out\s+of)\s*10\s*)?"
    r"(?:[-–—:=]\s*[^\d\s][^\d]*|\(\s*[^\d()\s][^\d()]*\)\s*)?$"
)


def parse_score(col: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(score as Int64 or null, is-non-response flag). Blank/NA are non-response, not errors.

    The score is not range-checked here: ``11`` or ``100`` come back as such so that validation rejects
    them as "outside 0-10" (never clipped). Fractions (``9.5``) and other scales (``4/5``) give null."""
    if dtype.is_integer():
        return pl.col(col).cast(pl.Int64, strict=False), pl.col(col).is_null()
    if dtype.is_float():
        value = pl.col(col)
        score = pl.when(value == value.floor()).then(value.cast(pl.Int64, strict=False))
        return score, pl.col(col).is_null() | pl.col(col).is_nan()
    text = pl.col(col).cast(pl.String).str.strip_chars()
    lowered = text.str.to_lowercase()
    non_response = text.is_null() | lowered.is_in(list(NON_RESPONSE))
    score = lowered.str.extract(_SCORE, 1).cast(pl.Int64, strict=False)
    return score, non_response


def parse_survey_type(col: str) -> pl.Expr:
    """Survey type in lower case; the usual names of the two kinds of NPS survey become ``relational`` and
    ``transactional`` ("Relationship NPS", "rNPS", "Transactional", "tNPS"). Other values stay as they are
    (lower case, trimmed, empty -> null), so they are never mixed with either."""
    lowered = parse_text(col).str.to_lowercase()
    return (
        pl.when(lowered.str.contains("relation") | lowered.is_in(["rnps", "r-nps"]))
        .then(pl.lit("relational"))
        .when(lowered.str.contains("transact") | lowered.is_in(["tnps", "t-nps"]))
        .then(pl.lit("transactional"))
        .otherwise(lowered)
    )
