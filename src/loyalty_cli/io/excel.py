"""Tables as Excel workbooks (``.xlsx``), for people who open results in a spreadsheet.

One sheet named after the file; the header row bold, frozen and with filter buttons; columns as wide as their
longest value (at most 60 characters). Cells keep their types:

- **Text** is always a text cell. Nothing is written as a formula (``strings_to_formulas`` off) or a link
  (``strings_to_urls`` off), so ``=HYPERLINK(...)`` from the data is shown, never run, and reads back as it was
  (no apostrophe, unlike CSV: an xlsx cell says whether it is text). Lists are joined with ``'; '``.
- **Numbers** are numbers. By the column's name (:func:`number_style`): shares, rates and probabilities
  (``share_*``, ``*_rate``, ``retention``, ``p_alive``) as percentages (the value stays the fraction: 0.25 shows
  as 25.0%); money (``*spend*``, ``revenue``, ``*_value``, ``clv`` ...) rounded to cents, with two decimals;
  whole numbers with thousands separators (ids without); p-values as they are; other decimals in full, shown
  with two to four decimals. Integers that a spreadsheet cannot hold exactly (16 digits and more) are written
  as text, and so are NaN and infinity (``NaN``, ``inf``, ``-inf``, as in CSV). No cell is a formula.
- **Dates** are Excel dates (``yyyy-mm-dd``; with a time ``yyyy-mm-dd hh:mm:ss``, in the time zone of the data);
  a column with dates before 1 March 1900, which Excel cannot show, is written as ISO text.
- **Times and durations** are Excel times (``hh:mm:ss``, ``[h]:mm:ss``).
- **Booleans** are TRUE/FALSE, missing values empty cells.

Limits: a sheet holds 1,048,576 rows (the header included) and 16,384 columns, and a cell 32,767 characters;
beyond them the write is a :class:`UsageError` before anything is written. Rows are streamed (XlsxWriter's
``constant_memory``), so a large table does not have to fit in memory as cells.

The bytes are reproducible: the workbook's creation time (``docProps/core.xml``) is the constant
:data:`CREATED`, and XlsxWriter dates the zip entries 1980-01-01, so the same table gives the same file.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, Literal

import polars as pl

from loyalty_cli.errors import UsageError
from loyalty_cli.io.precision import MONEY_WORDS, NOT_MONEY, SHARE_WORDS
from loyalty_cli.words import count

MAX_ROWS = 1_048_576  # rows of a sheet, the header included
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767  # characters in a cell
MAX_EXACT = 10**15  # integers from here on lose digits in a spreadsheet (doubles, 15 significant digits)
CREATED = datetime(1980, 1, 1, tzinfo=UTC)  # the workbook's creation time: fixed, so the bytes are reproducible
MAX_WIDTH = 60
_SLICE = 50_000  # rows converted to Python values at a time

Style = Literal["percent", "money", "integer", "id", "date", "datetime", "time", "duration", "decimal", "general"]
_FORMATS: dict[str, str] = {
    "percent": "0.0%",
    "money": "#,##0.00",
    "integer": "#,##0",
    "id": "0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "time": "hh:mm:ss",
    "duration": "[h]:mm:ss",
    "decimal": "#,##0.00##",
}
_SHARE_WORDS = SHARE_WORDS | {"lift"}  # a lift shows as a percentage too
_EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's dates (1900 system, from 1 March 1900 on)
_FIRST_DATE = date(1900, 3, 1)
_PER_MICRO = {"ns": 1_000, "us": 1, "ms": 0.001}  # a Duration's ticks per microsecond
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def number_style(name: str, dtype: pl.DataType) -> Style:
    """How a numeric column of this name shows. Whole numbers: ``id`` (a word ``id``: no thousands separator)
    or ``integer``. Decimals: ``general`` for a p-value (``*_p_value``: Excel shows 1.2E-07); ``percent`` for a
    share, rate or probability (a word ``share``, ``rate``, ``retention`` or ``lift`` in its snake_case name, or
    a first word ``p``: ``p_alive``); ``money`` for an amount (a word ``spend``, ``revenue``, ``value``, ``clv`` ...,
    but not in an NPS, a score or a rank; a column named just ``value``, a long table of mixed figures, is
    not); else ``decimal``."""
    words = name.lower().split("_")
    if dtype.is_integer():
        return "id" if "id" in words else "integer"
    if words[-2:] == ["p", "value"]:
        return "general"
    if set(words) & _SHARE_WORDS or (words[0] == "p" and len(words) > 1):
        return "percent"
    if words != ["value"] and set(words) & MONEY_WORDS and not set(words) & NOT_MONEY:
        return "money"
    return "decimal"


def sheet_name(stem: str) -> str:
    """A valid sheet name from a file name's stem: no ``[ ] : * ? / \\``, no apostrophe at either end, at most 31
    characters; ``Sheet1`` when nothing is left (and for ``History``, which Excel keeps for itself)."""
    name = _BAD_SHEET_CHARS.sub("_", stem).strip("'")[:31].strip("'")
    return name if name and name.lower() != "history" else "Sheet1"


def check_fits(df: pl.DataFrame) -> None:
    """A :class:`UsageError` for a table that one sheet cannot hold: too many rows or columns, or text longer
    than a cell takes."""
    other = "Write it as .csv or .parquet instead."
    if df.height + 1 > MAX_ROWS:
        raise UsageError(
            f"{count(df.height, 'row')} do not fit in an Excel sheet: it holds {count(MAX_ROWS - 1, 'row')} under "
            "the header",
            hint=f"{other} (Or write fewer rows: a filter, a smaller list.)",
        )
    if df.width > MAX_COLUMNS:
        raise UsageError(
            f"{count(df.width, 'column')} do not fit in an Excel sheet (at most {MAX_COLUMNS:,})", hint=other
        )
    for name in df.columns:
        if len(name) > MAX_TEXT:
            raise UsageError(f"A column name has {len(name):,} characters: an Excel cell holds {MAX_TEXT:,}")
    text = [n for n, t in df.schema.items() if t == pl.String]
    if text and df.height:
        longest = df.select(pl.col(text).str.len_chars().max()).row(0)
        for name, length in zip(text, longest, strict=True):
            if length is not None and length > MAX_TEXT:
                raise UsageError(
                    f"Column {name!r} has text of {length:,} characters: an Excel cell holds {MAX_TEXT:,}",
                    hint=other,
                )


@dataclass(frozen=True)
class _Column:
    name: str
    kind: Literal["text", "number", "bool", "blank"]  # how its cells are written
    style: Style | None  # the number format (None: General)
    special: bool = False  # a number column with NaN or infinity (written as text)


def _plain(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as a type a cell takes: text, a number, a boolean (dates: see :func:`_cells`)."""
    col = pl.col(name)
    if isinstance(dtype, pl.List | pl.Array):
        return col.cast(pl.List(pl.String)).list.join("; ")
    if isinstance(dtype, pl.Struct):
        return pl.when(col.is_not_null()).then(col.struct.json_encode())
    if dtype.is_decimal():
        return col.cast(pl.Float64)
    if dtype == pl.Binary:
        return col.bin.encode("hex")
    if dtype == pl.String or dtype.is_numeric() or dtype.is_temporal() or dtype in (pl.Boolean, pl.Null):
        return col
    return col.cast(pl.String)


def _cells(df: pl.DataFrame) -> tuple[pl.DataFrame, list[_Column]]:
    """The table as cell values (text, numbers, booleans; dates as Excel serial numbers) and how each column is
    written."""
    plain = df.select(_plain(n, t).alias(n) for n, t in df.schema.items())
    exprs: list[pl.Expr] = []
    columns: list[_Column] = []
    for name, dtype in plain.schema.items():
        col = pl.col(name)
        if dtype == pl.Null:
            exprs.append(col)
            columns.append(_Column(name, "blank", None))
        elif dtype == pl.Boolean:
            exprs.append(col)
            columns.append(_Column(name, "bool", None))
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            day = col.dt.date() if isinstance(dtype, pl.Datetime) else col
            if plain.select((day < _FIRST_DATE).any()).item():
                exprs.append(col.cast(pl.String))  # ISO text: Excel shows no date before 1 March 1900
                columns.append(_Column(name, "text", None))
                continue
            if isinstance(dtype, pl.Datetime):
                local = col.dt.replace_time_zone(None) if dtype.time_zone else col  # wall time of its zone
                serial = local.dt.epoch("us").cast(pl.Float64) / 86_400_000_000 + (date(1970, 1, 1) - _EXCEL_EPOCH).days
                exprs.append(serial)
                columns.append(_Column(name, "number", "datetime"))
            else:
                exprs.append((col - pl.lit(_EXCEL_EPOCH)).dt.total_days().cast(pl.Float64))
                columns.append(_Column(name, "number", "date"))
        elif dtype == pl.Time or isinstance(dtype, pl.Duration):  # Excel times: fractions of a day
            micros = col.cast(pl.Int64) / (1_000 if dtype == pl.Time else _PER_MICRO[dtype.time_unit or "us"])
            exprs.append(micros / 86_400_000_000)
            columns.append(_Column(name, "number", "time" if dtype == pl.Time else "duration"))
        elif dtype.is_numeric():
            style = number_style(name, dtype)
            if dtype.is_integer() and plain.select((col.cast(pl.Float64).abs() >= MAX_EXACT).any()).item():
                exprs.append(col.cast(pl.String))  # a 16-digit id would lose its last digits as a number
                columns.append(_Column(name, "text", None))
                continue
            exprs.append(col.round(2) if style == "money" else col)
            special = dtype.is_float() and plain.select((~col.is_finite()).any()).item()
            columns.append(_Column(name, "number", style, special=bool(special)))
        else:
            exprs.append(col)
            columns.append(_Column(name, "text", None))
    return plain.select(e.alias(c.name) for e, c in zip(exprs, columns, strict=True)), columns


def _shown(value: float, style: Style | None) -> int:
    """How many characters a number takes as the sheet shows it."""
    if not math.isfinite(value):
        return 4  # -inf
    if style == "percent":
        return len(f"{value:.1%}")
    if style == "money":
        return len(f"{value:,.2f}")
    if style == "integer":
        return len(f"{value:,.0f}")
    if style == "id":
        return len(f"{value:.0f}")
    if style == "decimal":
        return len(f"{value:,.4f}")
    if style == "date":
        return 10
    if style == "datetime":
        return 19
    if style == "time":
        return 8
    if style == "duration":
        return len(f"-{abs(value) * 24:.0f}:00:00")
    return min(11, len(f"{value:.10g}"))  # General shows at most about 11 characters


def _widths(cells: pl.DataFrame, columns: list[_Column]) -> list[float]:
    """Column widths (in characters) that fit the header (bold, with its filter button) and the longest value."""
    longest: dict[str, int] = {}
    text = [c.name for c in columns if c.kind == "text"]
    numbers = [c.name for c in columns if c.kind == "number"]
    if cells.height and text:
        longest |= dict(zip(text, cells.select(pl.col(text).str.len_chars().max()).row(0), strict=True))
    if cells.height and numbers:
        finite = [pl.col(n).filter(pl.col(n).is_finite()) for n in numbers]
        lows = cells.select(e.min() for e in finite).row(0)
        highs = cells.select(e.max() for e in finite).row(0)
        for column in (c for c in columns if c.kind == "number"):
            seen = [v for v in (lows[numbers.index(column.name)], highs[numbers.index(column.name)]) if v is not None]
            longest[column.name] = max((_shown(float(v), column.style) for v in seen), default=0)
    for column in columns:
        if column.kind == "bool":
            longest[column.name] = 5
    widths = []
    for column in columns:
        values = longest.get(column.name) or 0
        widths.append(float(min(MAX_WIDTH, max(8, len(column.name) * 1.1 + 3, values + 2))))
    return widths


def write_xlsx(df: pl.DataFrame, fh: BinaryIO, *, sheet: str = "data") -> None:
    """Write ``df`` to ``fh`` as an Excel workbook of one sheet (see the module docstring). A table that does not
    fit is a :class:`UsageError` before anything is written."""
    check_fits(df)
    cells, columns = _cells(df)
    try:
        data = _workbook(cells, columns, sheet_name(sheet), zip64=False)
    except _TooLarge:  # over 4 GiB of XML: the zip needs its 64-bit extensions
        data = _workbook(cells, columns, sheet_name(sheet), zip64=True)
    view = memoryview(data)
    for start in range(0, len(view), 1 << 20):
        fh.write(view[start : start + (1 << 20)])


def _number_or_text(ws: Any) -> Callable[..., Any]:
    """``write_number``, but NaN and infinity as text (as CSV shows them), not as error formulas."""

    def write(row: int, col: int, value: float, fmt: Any) -> None:
        if math.isfinite(value):
            ws.write_number(row, col, value, fmt)
        else:
            ws.write_string(row, col, "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf"))

    return write


class _TooLarge(Exception):
    pass


def _workbook(cells: pl.DataFrame, columns: list[_Column], sheet: str, *, zip64: bool) -> bytes:
    import xlsxwriter
    from xlsxwriter.exceptions import FileSizeError

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,  # rows go to a temporary file as they are written
            "strings_to_formulas": False,  # text from the data is never a formula ...
            "strings_to_urls": False,  # ... nor a link
            "strings_to_numbers": False,
            "use_zip64": zip64,
        },
    )
    book.set_properties({"created": CREATED})
    header = book.add_format({"bold": True})
    formats = {style: book.add_format({"num_format": spec}) for style, spec in _FORMATS.items()}
    ws = book.add_worksheet(sheet)
    for index, width in enumerate(_widths(cells, columns)):
        ws.set_column(index, index, width)
    if columns:
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, cells.height, len(columns) - 1)
    for index, column in enumerate(columns):
        ws.write_string(0, index, column.name, header)
    writers: list[tuple[int, Callable[..., Any], Any]] = []
    for index, column in enumerate(columns):
        if column.kind == "text":
            writers.append((index, ws.write_string, None))
        elif column.kind == "bool":
            writers.append((index, ws.write_boolean, None))
        elif column.kind == "number":
            number = _number_or_text(ws) if column.special else ws.write_number
            writers.append((index, number, formats.get(column.style) if column.style else None))
    wanted = [cells.columns[index] for index, _, _ in writers]
    row = 1
    for chunk in cells.select(wanted).iter_slices(_SLICE):
        values = [series.to_list() for series in chunk.get_columns()]
        for cells_of_row in zip(*values, strict=True):
            for (index, write, fmt), value in zip(writers, cells_of_row, strict=True):
                if value is not None:
                    write(row, index, value, fmt)
            row += 1
    try:
        book.close()
    except FileSizeError:
        raise _TooLarge from None
    return out.getvalue()
