"""Generic reading of one source: the lazy scan of a file, its columns, the clear error for a file Polars
cannot read, repeated headers, and the date format of each text date column (given, or detected from a sample
across files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import polars as pl

from loyalty_cli.errors import DataError, setting
from loyalty_cli.io.columns import ColumnChoice
from loyalty_cli.io.dates import detect_date_format
from loyalty_cli.io.parse import is_temporal
from loyalty_cli.io.sniff import check_gzip
from loyalty_cli.io.sources import Source

DATE_SAMPLE_ROWS = 20_000
DATE_SAMPLE_FILES = 8


def scan(src: Source) -> pl.LazyFrame:
    offset = 1 + src.header_rows  # row numbers as a spreadsheet shows them (header = row 1)
    if src.format == "parquet":
        return pl.scan_parquet(src.scan_path, glob=False, row_index_name="_row", row_index_offset=offset)
    if src.whitespace:  # one text column, split on runs of whitespace: named by the header, or column_1, ...
        return pl.scan_csv(
            src.scan_path,
            glob=False,  # a file, even when its name has [ ] * or ?
            separator="\x1f",
            has_header=False,
            new_columns=["_line"],
            quote_char=None,
            infer_schema=False,
            row_index_name="_row",
            row_index_offset=offset,
            raise_if_empty=False,
            skip_rows=src.header_rows,
        ).select("_row", *whitespace_fields(src))
    return pl.scan_csv(
        src.scan_path,
        glob=False,  # a file, even when its name has [ ] * or ?
        separator=src.separator,
        has_header=src.header,
        infer_schema=False,
        row_index_name="_row",
        row_index_offset=offset,
        raise_if_empty=False,
    )


def whitespace_fields(src: Source) -> list[pl.Expr]:
    """The columns of a whitespace-aligned file from its lines (``_line``): split on runs of whitespace, named
    by the header, or column_1, ..."""
    fields = pl.col("_line").str.strip_chars().str.replace_all(r"\s+", "\x1f").str.split("\x1f")
    names = src.names or tuple(f"column_{i + 1}" for i in range(src.fields))
    return [fields.list.get(i, null_on_oob=True).alias(name) for i, name in enumerate(names)]


def schema_of(src: Source) -> pl.Schema:
    try:
        schema = scan(src).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: a damaged gzip file
        read_error(src, exc)
    schema.pop("_row", None)
    return schema


def read_error(src: Source, exc: Exception) -> NoReturn:
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


def refuse_repeated(src: Source, columns: Mapping[str, str] | None) -> None:
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


def date_formats(
    sources: Sequence[Source],
    schemas: Mapping[Path, pl.Schema],
    mapping: ColumnChoice,
    date_fields: Sequence[str],
    given: str | None,
    table: str = "transactions",
) -> dict[str, str]:
    """The format for each text date column of ``table``: the one given, or detected from a sample across files
    (only the files that hold it as text: a folder may mix Parquet and CSV)."""
    formats: dict[str, str] = {}
    # the transactions' date has a column option; the other inputs' dates are mapped in the mapping file only
    remap = setting("date_col") if table == "transactions" else f"[{table}] in the mapping file, {setting('mapping')}"
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
                    f"integer column are read as yyyymmdd), or map the date column (e.g. {remap}).",
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
                    scan(text[i])
                    .select("_row", pl.col(header).cast(pl.String))
                    .head(DATE_SAMPLE_ROWS)
                    .collect()
                    .drop_nulls(header)
                )
            except (pl.exceptions.PolarsError, OSError) as exc:
                read_error(text[i], exc)
            values.extend(frame[header])
            at = "" if len(text) == 1 else f"{text[i].path} "
            rows.extend(f"{at}row {r}" for r in frame["_row"])
        where = str(text[0].path) if len(text) == 1 else f"{len(text)} files"
        formats[name] = detect_date_format(values, column=header, where=where, rows=rows)
    return formats
