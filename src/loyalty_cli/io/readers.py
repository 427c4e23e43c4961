"""Read exports (CSV/Parquet, a file, a glob or a folder) into canonical, validated LazyFrames.

``read_transactions``, ``read_surveys`` and ``read_contacts`` return a :class:`Scan`: the valid rows in the
canonical schema, and the rejected rows with file, row number and reason. Nothing is collected here; the
caller collects both in one go (see :func:`loyalty_cli.io.validate.collect_checked`), so the data is read
once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import polars as pl

from loyalty_cli.errors import DataError, RulesError, UsageError, setting
from loyalty_cli.io.columns import ColumnChoice, MappingFile, load_mapping_file, resolve_columns
from loyalty_cli.io.overlap import OverlapCheck, find_overlaps
from loyalty_cli.io.parse import (
    MAX_AMOUNT,
    MAX_CENTS,
    date_format_problem,
    detect_date_format,
    is_temporal,
    parse_consent,
    parse_date,
    parse_free_text,
    parse_id,
    parse_number,
    parse_score,
    parse_survey_type,
    parse_text,
    to_cents,
)
from loyalty_cli.io.sources import Source, check_gzip, expand_inputs, inspect_source
from loyalty_cli.schema import TABLES, normalise_header
from loyalty_cli.words import count

DATE_SAMPLE_ROWS = 20_000
DATE_SAMPLE_FILES = 8

# Columns of every rejects table, ahead of the raw columns of the rejected row.
REJECT_COLUMNS = ("source_file", "source_row", "reject_reason", "reject_column", "reject_value")


@dataclass(frozen=True)
class ReadOptions:
    """How to read an export. ``columns`` maps canonical fields to headers (from command-line options)."""

    columns: Mapping[str, str | None] = field(default_factory=dict)
    mapping_file: Path | MappingFile | None = None  # a columns.toml, or a mapping given as data
    date_format: str | None = None
    separator: str | None = None
    encoding: str = "utf-8"
    decimal_comma: bool = False
    cancel_prefix: str = "C"  # invoice numbers like C536379 are cancellations (UCI Online Retail)
    keep: tuple[str, ...] = ()  # more columns to carry along as text, by header (e.g. a region to group by)
    on_overlap: str = "error"  # lines repeated across files: error, or keep-first (see io/overlap.py)


@dataclass(frozen=True)
class Scan:
    """An input read lazily: canonical valid rows, rejected rows, and what was decided on the way."""

    table: str
    rows: pl.LazyFrame
    rejects: pl.LazyFrame
    sources: tuple[Source, ...]
    mapping: ColumnChoice
    date_formats: dict[str, str]
    as_of: date | None
    notes: tuple[str, ...]
    later: pl.LazyFrame | None = None  # one row: valid rows dated on or after as_of (left out, counted)
    left_out: list[int] = field(default_factory=list)  # that count, once collected (see collect_checked)
    overlap: OverlapCheck | None = None  # several files: lines repeated across them (see io/overlap.py)

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.sources]

    def left_out_note(self) -> str | None:
        """How many valid rows were dated on or after the as-of date (not in the data), once collected."""
        if not self.left_out or not self.left_out[0] or self.as_of is None:
            return None
        n = self.left_out[0]
        return (
            f"{n:,} {'row' if n == 1 else 'rows'} of {self.table} dated on or after the as-of date "
            f"{self.as_of} left out"
        )


@dataclass(frozen=True)
class _Check:
    """A row fails when ``failed`` is true: the reason and the offending column go to the rejects."""

    failed: pl.Expr
    reason: str
    field: str
    gate: bool = True  # False: implied by another check, so only needed to word the reason


def _settings(options: ReadOptions, mapping_file: MappingFile, table: str) -> ReadOptions:
    """Settings from the mapping file fill in what the options left at their defaults."""
    fs = mapping_file.settings.get(table, {})
    if not fs:
        return options
    default = ReadOptions()
    kwargs = {}
    for key, value in fs.items():
        if getattr(options, key) == getattr(default, key):
            kwargs[key] = value
    return ReadOptions(**{**options.__dict__, **kwargs})


def _scan(src: Source) -> pl.LazyFrame:
    offset = 1 + src.header_rows  # row numbers as a spreadsheet shows them (header = row 1)
    if src.format == "parquet":
        return pl.scan_parquet(src.scan_path, row_index_name="_row", row_index_offset=offset)
    if src.whitespace:  # one text column, split on runs of whitespace: named by the header, or column_1, ...
        fields = pl.col("_line").str.strip_chars().str.replace_all(r"\s+", "\x1f").str.split("\x1f")
        names = src.names or tuple(f"column_{i + 1}" for i in range(src.fields))
        return pl.scan_csv(
            src.scan_path,
            separator="\x1f",
            has_header=False,
            new_columns=["_line"],
            quote_char=None,
            infer_schema=False,
            row_index_name="_row",
            row_index_offset=offset,
            raise_if_empty=False,
            skip_rows=src.header_rows,
        ).select("_row", *(fields.list.get(i, null_on_oob=True).alias(name) for i, name in enumerate(names)))
    return pl.scan_csv(
        src.scan_path,
        separator=src.separator,
        has_header=src.header,
        infer_schema=False,
        row_index_name="_row",
        row_index_offset=offset,
        raise_if_empty=False,
    )


def _schema(src: Source) -> pl.Schema:
    try:
        schema = _scan(src).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: a damaged gzip file
        _read_error(src, exc)
    schema.pop("_row", None)
    return schema


def _read_error(src: Source, exc: Exception) -> NoReturn:
    """Raise the clear error for a file Polars could not read: a truncated or corrupt gzip file says so."""
    if src.format == "csv":
        check_gzip(src.path)
    raise DataError(
        f"Could not read {src.path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        hint=f"Check that it is a CSV or Parquet file, its delimiter ({setting('delimiter')}), its encoding "
        f"({setting('encoding')}) and "
        "that every line has the same number of fields.",
    ) from None


def _date_type_problem(dtype: pl.DataType) -> str | None:
    """Why a column of this type cannot hold dates (``None`` when it can). Dates, times and text can; so can
    whole numbers, read like text (20240105 as yyyymmdd, as "20240105" in a CSV); other numbers cannot."""
    if is_temporal(dtype) or dtype in (pl.String, pl.Null) or dtype.is_integer():
        return None
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return None
    if dtype.is_numeric():
        return f"numbers ({dtype})"
    if dtype == pl.Boolean:
        return "true/false values (Boolean)"
    return f"values of type {dtype}"


def _repeated(src: Source, columns: Mapping[str, str] | None) -> None:
    """A header written twice (``amount,amount``) is ambiguous: which copy holds the data cannot be told
    (Polars would read the first and rename the others). Refused when a column read (``columns``: field ->
    header) is repeated; with ``None``, any repeated column (a Parquet file with one cannot be read)."""
    counts: dict[str, int] = {}
    for h in src.headers:
        counts[h] = counts.get(h, 0) + 1
    pairs = columns.items() if columns is not None else [(None, h) for h in counts]
    for name, header in pairs:
        if counts.get(header, 0) > 1:
            at = [str(i + 1) for i, h in enumerate(src.headers) if h == header]
            where = ", ".join(at[:-1]) + " and " + at[-1]
            raise DataError(
                (f"Ambiguous column for {name} in {src.path}: " if name else f"Ambiguous column in {src.path}: ")
                + f"{header!r} appears {counts[header]} times (columns {where})",
                hint=f"Rename or remove the extra {header!r} columns in the export: which one holds the data "
                "cannot be told.",
            )


def _date_formats(
    sources: Sequence[Source],
    schemas: Mapping[Path, pl.Schema],
    mapping: ColumnChoice,
    date_fields: Sequence[str],
    given: str | None,
) -> dict[str, str]:
    """The format for each text date column: the one given, or detected from a sample across files (only
    the files that hold it as text: a folder may mix Parquet and CSV)."""
    formats: dict[str, str] = {}
    for name in date_fields:
        header = mapping.columns.get(name)
        if header is None:
            continue
        for s in sources:
            problem = _date_type_problem(schemas[s.path][header])
            if problem is not None:
                raise DataError(
                    f"Column {header!r} of {s.path} holds {problem}, not dates",
                    hint="Export it as dates or as text such as 2024-01-05 (whole numbers such as 20240105 in an "
                    f"integer column are read as yyyymmdd), or map the date column (e.g. {setting('date_col')}).",
                )
        text = [s for s in sources if not is_temporal(schemas[s.path][header])]  # text or whole numbers
        if not text:
            continue
        if given:
            formats[name] = given
            continue
        k = min(DATE_SAMPLE_FILES, len(text))  # up to k files spread evenly, the first and the last included
        spread = sorted({round(i * (len(text) - 1) / max(k - 1, 1)) for i in range(k)})
        values: list[str] = []
        rows: list[str] = []
        for i in spread:
            try:
                frame = (
                    _scan(text[i])
                    .select("_row", pl.col(header).cast(pl.String))
                    .head(DATE_SAMPLE_ROWS)
                    .collect()
                    .drop_nulls(header)
                )
            except (pl.exceptions.PolarsError, OSError) as exc:
                _read_error(text[i], exc)
            values.extend(frame[header])
            at = "" if len(text) == 1 else f"{text[i].path} "
            rows.extend(f"{at}row {r}" for r in frame["_row"])
        where = str(text[0].path) if len(text) == 1 else f"{len(text)} files"
        formats[name] = detect_date_format(values, column=header, where=where, rows=rows)
    return formats


def _first_reason(checks: Sequence[_Check], mapping: ColumnChoice) -> list[pl.Expr]:
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
class _Plan:
    """What a builder asks for: parsed columns (phase 1, from raw columns), columns derived from those
    (phase 2), and the checks. Names starting with ``_`` are helpers that do not reach the rows."""

    parsed: dict[str, pl.Expr]
    derived: dict[str, pl.Expr]
    checks: list[_Check]

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
    "channel",
    "comment",
    "survey_type",
    "touchpoint",
    "email",
    "signed_up_at",
    "birthday",
    "email_consent",
]


def _required_id(
    schema: pl.Schema, mapping: ColumnChoice, out: dict[str, pl.Expr], checks: list[_Check], src: Source
) -> None:
    """Parse the customer id into ``out`` with its check: a row without one (blank, ``NULL``, ``N/A``, ...:
    see :func:`parse_id`) cannot be attributed. An email used as the id is lowercased."""
    col = mapping.columns["customer_id"]
    lowercase = mapping.how.get("customer_id") == "email as id"
    out["customer_id"] = parse_id(col, schema[col], lowercase=lowercase, where=str(src.path))
    checks.append(_Check(C("customer_id").is_null(), "missing customer id", "customer_id"))


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
    except (OSError, OverflowError, ValueError):
        saved = _REAL_FILE_TIMES
    if saved < _REAL_FILE_TIMES:
        return now, f"this run, {now:%Y-%m-%d %H:%M} UTC"
    return saved, f"the file was saved, {saved:%Y-%m-%d %H:%M} UTC"


def _not_future(field: str, words: str, src: Source, checks: list[_Check]) -> None:
    """The check that the parsed date ``field`` is at most :data:`FUTURE_ALLOWANCE` after the export time
    (a literal compare, so cheap; null dates pass: they have their own checks)."""
    saved, when = _export_time(src)
    limit = pl.lit(saved + FUTURE_ALLOWANCE, dtype=pl.Datetime("us"))
    checks.append(
        _Check(
            (C(field).cast(pl.Datetime("us")) > limit).fill_null(False),
            f"{words} in the future (more than a day after {when})",
            field,
        )
    )


def _required_date(
    field: str,
    words: str,
    schema: pl.Schema,
    cols: dict[str, str],
    formats: dict[str, str],
    out: dict[str, pl.Expr],
    checks: list[_Check],
    src: Source,
    *,
    show_format: bool = True,
) -> None:
    """Parse a required date column into ``out[field]`` with its three checks: missing, unparseable (with
    the expected format when ``show_format``), and in the future (after the file was saved)."""
    fmt = formats.get(field)
    out[field] = parse_date(cols[field], schema[cols[field]], fmt)
    checks.append(_Check(parse_text(cols[field]).is_null(), f"missing {words}", field, gate=False))
    expected = f" (expected {fmt})" if fmt and show_format else ""
    checks.append(_Check(C(field).is_null(), f"unparseable {words}{expected}", field))
    _not_future(field, words, src, checks)


def _transactions(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> _Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    derived: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    _required_id(schema, mapping, out, checks, src)

    _required_date("order_date", "order date", schema, cols, formats, out, checks, src)

    number_fields = ["amount"] if "amount" in cols else ["quantity", "unit_price"]
    for name in number_fields:
        label = name.replace("_", " ")
        out[f"_{name}"] = parse_number(cols[name], schema[cols[name]], decimal_comma=options.decimal_comma)
        checks.append(_Check(parse_text(cols[name]).is_null(), f"missing {label}", name, gate=False))
        checks.append(_Check(C(f"_{name}").is_null() | ~C(f"_{name}").is_finite(), f"unparseable {label}", name))
        if name != "amount":  # a barcode in one of the two is named on its column (the amount check follows)
            checks.append(_Check(~C(f"_{name}").is_between(-MAX_AMOUNT, MAX_AMOUNT), _beyond(label), name))
    amount = C("_amount") if "amount" in cols else C("_quantity") * C("_unit_price")
    if "order_id" in cols:
        out["order_id"] = parse_text(cols["order_id"])
        if options.cancel_prefix:
            # Read from the trimmed id; the regex only runs where the prefix is there (10M ids: 0.14 s, not 0.27).
            oid, prefix = C("order_id"), options.cancel_prefix
            cancelled = pl.when(oid.str.starts_with(prefix)).then(oid.str.contains(rf"^{re.escape(prefix)}\d"))
            amount = pl.when(cancelled).then(-amount.abs()).otherwise(amount)
    derived["amount_cents"] = to_cents(amount)
    # Null cents: beyond Int64 altogether. The bound keeps every sum of fewer than 92 million lines exact.
    out_of_range = C("amount_cents").is_null() | ~C("amount_cents").is_between(-MAX_CENTS, MAX_CENTS)
    checks.append(_Check(out_of_range, _beyond("amount"), "amount"))
    for name in ("category", "channel"):
        if name in cols:
            out[name] = parse_text(cols[name])
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    return _Plan(out, derived, checks)


def _beyond(label: str) -> str:
    """The reason for a number beyond :data:`MAX_AMOUNT` either way."""
    return f"{label} out of range (beyond ±{MAX_AMOUNT:,})"


def _surveys(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> _Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    if "customer_id" in cols:  # optional: a missing id is an anonymous answer
        out["customer_id"] = parse_id(cols["customer_id"], schema[cols["customer_id"]], where=str(src.path))
    if "responded_at" in cols:
        _required_date("responded_at", "response date", schema, cols, formats, out, checks, src, show_format=False)
    else:  # a single-wave export without dates: no date is made up (no trend, nothing left out by as-of)
        out["responded_at"] = pl.lit(None, dtype=pl.Datetime("us"))
    score, non_response = parse_score(cols["score"], schema[cols["score"]])
    out["_score"], out["_non_response"] = score, non_response
    checks.append(_Check(~C("_non_response") & C("_score").is_null(), "unparseable score (expected 0-10)", "score"))
    checks.append(_Check(~C("_non_response") & ~C("_score").is_between(0, 10), "score outside 0-10", "score"))
    # Valid rows hold 0-10 (Int16); strict=False only spares the rows about to be rejected.
    derived = {"score": pl.when(~C("_non_response")).then(C("_score")).cast(pl.Int16, strict=False)}
    for name in ("comment", "touchpoint"):
        if name in cols:
            out[name] = parse_free_text(cols[name])  # "NA" is no comment, not the text NA
    if "survey_type" in cols:
        out["survey_type"] = parse_survey_type(cols["survey_type"])
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    return _Plan(out, derived, checks)


def _kept_columns(
    schema: pl.Schema, mapping: ColumnChoice, keep: Sequence[str], table: str, path: Path
) -> dict[str, str]:
    """Output name -> header for the extra columns asked for (``ReadOptions.keep``, e.g. a survey's region
    to group by), matched like mapped columns: exactly, else ignoring case, spaces and punctuation. Names of
    canonical columns that are mapped already are skipped (they are in the rows anyway)."""
    headers = list(schema.names())
    found: dict[str, str] = {}
    for name in keep:
        if name in mapping.columns or name in found:
            continue
        hits = [name] if name in headers else [h for h in headers if normalise_header(h) == normalise_header(name)]
        if len(hits) != 1:
            raise DataError(
                f"No column {name!r} in the {table} file {path}"
                if not hits
                else f"Column {name!r} matches several columns of {path}: {', '.join(map(repr, hits))}",
                hint=f"Columns in the file: {', '.join(repr(h) for h in headers)}.",
            )
        found[name] = hits[0]
    return found


def _contacts(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> _Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    _required_id(schema, mapping, out, checks, src)
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    for name in ("signed_up_at", "birthday"):
        if name in cols:
            out[name] = parse_date(cols[name], schema[cols[name]], formats.get(name)).cast(pl.Date)
            checks.append(
                _Check(
                    parse_text(cols[name]).is_not_null() & C(name).is_null(),
                    f"unparseable {name.replace('_', ' ')}",
                    name,
                )
            )
    if "signed_up_at" in cols:  # not the birthday: some CRMs export the next one
        _not_future("signed_up_at", "sign-up date", src, checks)
    if "email_consent" in cols:
        # Not a check: a status that is not a clear yes (pending, cleaned, ...) or a word we do not know is no
        # consent (null when unknown), and the contact stays (its email, sign-up date). The value as written
        # goes along in email_consent_status, so that a list left out can say why (io.targets).
        out["email_consent"], _ = parse_consent(cols["email_consent"], schema[cols["email_consent"]])
        out["email_consent_status"] = parse_text(cols["email_consent"])
    return _Plan(out, {}, checks)


_BUILDERS = {"transactions": _transactions, "surveys": _surveys, "contacts": _contacts}
_DERIVED = {"transactions": {"amount": ("quantity", "unit_price")}}
_DATE_FIELDS = {
    "transactions": ("order_date",),
    "surveys": ("responded_at",),
    "contacts": ("signed_up_at", "birthday"),
}


_CONSENT_LIKE = re.compile(r"consent|marketing|subscri|opt.?in|permission", re.IGNORECASE)


def _unmapped_consent_note(path: Path, headers: Sequence[str]) -> list[str]:
    """A note when a contacts file has no email consent column we recognise but one that looks like it: without
    a consent column every contact with an email may be written to a list."""
    like = [h for h in headers if _CONSENT_LIKE.search(h)]
    if not like:
        return []
    return [
        f"No email consent column recognised in {path}, but {', '.join(map(repr, like))} looks like one: if it "
        f"is, map it (email_consent = {like[0]!r} in the [contacts] table of the mapping file); without it, lists "
        "are not screened for consent"
    ]


def read_table(
    table: str,
    inputs: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    as_of: date | None = None,
) -> Scan:
    """Read one kind of export lazily. Raises :class:`DataError` for anything wrong with the files
    themselves (missing, empty, unreadable, missing or ambiguous columns); bad *rows* go to ``rejects``."""
    options = options or ReadOptions()
    if options.date_format is not None and (problem := date_format_problem(options.date_format)):
        raise UsageError(f"Bad date format {options.date_format!r}: {problem}", hint=_FORMAT_HINT)
    mapping_file = load_mapping_file(options.mapping_file)
    setting = mapping_file.settings.get(table, {}).get("date_format")
    if isinstance(setting, str) and (problem := date_format_problem(setting)):
        raise RulesError(f"{mapping_file.path}: [{table}] date_format {setting!r}: {problem}", hint=_FORMAT_HINT)
    options = _settings(options, mapping_file, table)
    paths = expand_inputs(inputs)
    sources = [inspect_source(p, separator=options.separator, encoding=options.encoding) for p in paths]
    notes: list[str] = []
    filled = [s for s in sources if not s.empty]
    if not filled:
        only = sources[0].path if len(sources) == 1 else f"all {len(sources)} files"
        raise DataError(
            f"No rows in {only}: there is a header but no data",
            hint="Check that the export finished writing and covers the period you want.",
        )
    if len(filled) < len(sources):
        skipped = [str(s.path) for s in sources if s.empty]
        notes.append(
            f"{count(len(skipped), 'file')} with no rows skipped: {', '.join(skipped[:3])}"
            + (" ..." if len(skipped) > 3 else "")
        )
    for src in sources:
        if src.encoding is not None:
            notes.append(f"{src.path} is {src.encoding.upper()} text: read as such")
        if src.format == "parquet":
            _repeated(src, None)
    first = filled[0]
    if not first.header:
        notes.append(
            f"{first.path} has no header row (its first line is data): columns are named column_1 to "
            f"column_{first.fields}" + (", split on whitespace" if first.whitespace else "")
        )
    schema = _schema(first)
    mapping = resolve_columns(
        list(schema.names()),
        table=table,
        path=first.path,
        options=options.columns,
        mapping_file=mapping_file,
        derived_ok=_DERIVED.get(table),
    )
    needed = list(dict.fromkeys(mapping.columns.values()))
    _repeated(first, mapping.columns)
    schemas = {first.path: schema}
    for src in filled[1:]:
        _repeated(src, mapping.columns)
        other = _schema(src)
        missing = [h for h in needed if h not in other]
        if missing:
            raise DataError(
                f"{src.path} has no column {missing[0]!r}, which {first.path} has",
                hint="All files of one input must share the same columns; pass them separately or fix the export.",
            )
        schemas[src.path] = other
    formats = _date_formats(filled, schemas, mapping, _DATE_FIELDS[table], options.date_format)
    if "amount" not in mapping.columns and table == "transactions":
        notes.append(f"amount = {mapping.columns['quantity']!r} x {mapping.columns['unit_price']!r}")
    if table == "contacts" and "email_consent" not in mapping.columns:
        notes.extend(_unmapped_consent_note(first.path, schema.names()))

    row_parts, reject_parts, later_parts = [], [], []
    when = _DATE_FIELD.get(table)
    # Only when the date is there: answers of a survey without a date column cannot be left out by it.
    cutoff = datetime(as_of.year, as_of.month, as_of.day) if as_of is not None and when in mapping.columns else None
    for src in filled:
        plan = _BUILDERS[table](schemas[src.path], mapping, options, formats, as_of, src)
        kept = _kept_columns(schemas[src.path], mapping, options.keep, table, src.path)
        _repeated(src, kept)
        plan.parsed.update({name: parse_text(header) for name, header in kept.items()})
        # Each value is parsed once (phase 1, then phase 2 from phase 1); valid rows pay only for that and
        # a cheap gate; the wording of each reason is worked out on the rejected rows alone.
        gate = pl.any_horizontal([c.failed for c in plan.checks if c.gate]).fill_null(True)
        lf = (
            _scan(src)
            .with_columns(expr.alias(f"_c_{name}") for name, expr in plan.parsed.items())
            .with_columns(expr.alias(f"_c_{name}") for name, expr in plan.derived.items())
            .with_columns(gate.alias("_bad"))
        )
        valid = lf.filter(~pl.col("_bad"))
        if cutoff is not None:  # data after the as-of date is not in the data: left out and counted
            later_parts.append(valid.filter(C(when) >= cutoff).select(pl.len().alias("rows")))
            valid = valid.filter(C(when) < cutoff)
        row_parts.append(valid.select(C(name).alias(name) for name in plan.outputs))
        raw_cols = [pl.col(h).cast(pl.String) for h in schemas[src.path].names() if h not in REJECT_COLUMNS]
        reject_parts.append(
            lf.filter(pl.col("_bad"))
            .with_columns(_first_reason(plan.checks, mapping))
            .select(
                pl.lit(str(src.path)).alias("source_file"),
                pl.col("_row").cast(pl.Int64).alias("source_row"),
                pl.col("_reason").alias("reject_reason"),
                pl.col("_column").alias("reject_column"),
                pl.col("_value").alias("reject_value"),
                *raw_cols,
            )
        )
    rows, overlap = row_parts[0], None
    if len(row_parts) > 1 and table in _OVERLAP_CHECKED:
        rows, overlap = find_overlaps(row_parts, [s.path for s in filled], date_column=when, policy=options.on_overlap)
    elif len(row_parts) > 1:
        rows = pl.concat(row_parts, how="vertical")
    rejects = reject_parts[0] if len(reject_parts) == 1 else pl.concat(reject_parts, how="diagonal_relaxed")
    return Scan(
        table=table,
        rows=rows,
        rejects=rejects,
        sources=tuple(filled),
        mapping=mapping,
        date_formats=formats,
        as_of=as_of,
        notes=tuple(notes),
        later=pl.concat(later_parts).select(pl.col("rows").sum()) if later_parts else None,
        overlap=overlap,
    )


_DATE_FIELD = {"transactions": "order_date", "surveys": "responded_at"}
_FORMAT_HINT = "Use strftime codes, e.g. '%Y-%m-%d', '%d/%m/%Y %H:%M' or '%m/%d/%Y'."
# Inputs whose lines repeated across files are an error (or left out): a repeated transaction is counted twice.
_OVERLAP_CHECKED = ("transactions",)


def read_transactions(
    inputs: Sequence[str | Path], options: ReadOptions | None = None, *, as_of: date | None = None
) -> Scan:
    """Transaction lines: ``customer_id, order_date, amount_cents`` (+ ``order_id, category, channel,
    email`` when present). Cancellation invoices (``C``-prefixed) are made negative so they net."""
    return read_table("transactions", inputs, options, as_of=as_of)


def read_surveys(
    inputs: Sequence[str | Path], options: ReadOptions | None = None, *, as_of: date | None = None
) -> Scan:
    """Survey answers: ``responded_at, score`` (null = non-response) (+ optional columns)."""
    return read_table("surveys", inputs, options, as_of=as_of)


def read_contacts(inputs: Sequence[str | Path], options: ReadOptions | None = None) -> Scan:
    """Customer/contact exports: ``customer_id`` (+ email, sign-up date, birthday, consent)."""
    return read_table("contacts", inputs, options)


# ------------------------------------------------------------------------------ loyalty programme exports
POINT_TYPES: dict[str, tuple[str, ...]] = {  # canonical type -> words exports use for it (lower case)
    "earn": (
        "earn",
        "earned",
        "earning",
        "accrual",
        "accrue",
        "accrued",
        "award",
        "awarded",
        "issue",
        "issued",
        "credit",
    ),
    "redeem": ("redeem", "redeemed", "redemption", "burn", "burned", "spend", "spent", "debit"),
    "expire": ("expire", "expired", "expiry", "expiration", "lapse", "lapsed", "breakage"),
    "adjust": ("adjust", "adjusted", "adjustment", "correction", "manual", "bonus", "reversal", "refund", "return"),
}


def _members(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> _Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    _required_id(schema, mapping, out, checks, src)
    _required_date("enrolled_at", "enrolment date", schema, cols, formats, out, checks, src)
    if "tier" in cols:
        out["tier"] = parse_text(cols["tier"])
    if "tier_since" in cols:
        out["tier_since"] = parse_date(cols["tier_since"], schema[cols["tier_since"]], formats.get("tier_since"))
        checks.append(
            _Check(
                parse_text(cols["tier_since"]).is_not_null() & C("tier_since").is_null(),
                "unparseable tier date",
                "tier_since",
            )
        )
        _not_future("tier_since", "tier date", src, checks)
    if "channel" in cols:
        out["channel"] = parse_text(cols["channel"])
    return _Plan(out, {}, checks)


def _points(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> _Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    _required_id(schema, mapping, out, checks, src)
    _required_date("at", "points date", schema, cols, formats, out, checks, src)
    out["_points"] = parse_number(cols["points"], schema[cols["points"]], decimal_comma=options.decimal_comma)
    checks.append(_Check(parse_text(cols["points"]).is_null(), "missing points", "points", gate=False))
    checks.append(_Check(C("_points").is_null() | ~C("_points").is_finite(), "unparseable points", "points"))
    checks.append(_Check(~C("_points").is_between(-MAX_AMOUNT, MAX_AMOUNT), _beyond("points"), "points"))
    raw_type = parse_text(cols["type"]).str.to_lowercase()
    kind = pl.lit(None, dtype=pl.String)
    for name, words in reversed(POINT_TYPES.items()):
        kind = pl.when(raw_type.is_in(list(words))).then(pl.lit(name)).otherwise(kind)
    out["type"] = kind
    checks.append(_Check(raw_type.is_null(), "missing points type", "type", gate=False))
    checks.append(_Check(C("type").is_null(), "unknown points type (expected earn, redeem, expire or adjust)", "type"))
    checks.append(
        _Check(
            (C("type") == "earn") & (C("_points") < 0),
            "negative points on an earn row (record reversals as adjust)",
            "points",
        )
    )
    # Signed points, so that a balance is a sum: earn +, redeem and expire - (whatever sign the export
    # uses for them), adjust as given.
    derived = {
        "points": pl.when(C("type").is_in(["redeem", "expire"])).then(-C("_points").abs()).otherwise(C("_points"))
    }
    if "order_id" in cols:
        out["order_id"] = parse_text(cols["order_id"])
    return _Plan(out, derived, checks)


_BUILDERS.update({"members": _members, "points": _points})
_DATE_FIELDS.update({"members": ("enrolled_at", "tier_since"), "points": ("at",)})
_DATE_FIELD.update({"members": "enrolled_at", "points": "at"})


def read_members(
    inputs: Sequence[str | Path], options: ReadOptions | None = None, *, as_of: date | None = None
) -> Scan:
    """Loyalty programme members: ``customer_id, enrolled_at`` (+ ``tier, tier_since, channel``). Members who
    enrolled on or after ``as_of`` are left out and counted. Several rows per member (one per ``tier_since``)
    make a tier history."""
    return read_table("members", inputs, options, as_of=as_of)


def read_points(inputs: Sequence[str | Path], options: ReadOptions | None = None, *, as_of: date | None = None) -> Scan:
    """A points ledger: ``customer_id, at, points, type`` (+ ``order_id``). ``type`` is one of earn, redeem,
    expire, adjust (usual synonyms accepted); ``points`` is signed so a balance is a sum: earn +, redeem and
    expire - whatever their sign in the export, adjust as given. Negative earn rows are bad rows."""
    return read_table("points", inputs, options, as_of=as_of)


__all__ = [
    "TABLES",
    "ReadOptions",
    "Scan",
    "read_contacts",
    "read_members",
    "read_points",
    "read_surveys",
    "read_table",
    "read_transactions",
]
