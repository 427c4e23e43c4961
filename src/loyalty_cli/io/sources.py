"""Find the files behind an input argument and work out how to read each one.

An input is a file, a glob (``exports/*.csv``) or a folder (every CSV/Parquet file in it, e.g. one CSV per
day). CSV dialect (delimiter, gzip, encoding) is sniffed from the first bytes; encodings Polars cannot read
natively (latin-1, cp1252, ...) are transcoded to a temporary UTF-8 file once, in a streaming way.
"""

from __future__ import annotations

import atexit
import csv
import glob
import io
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.io.sniff import (
    CSV_SUFFIXES,
    GZIP_ERRORS,
    PARQUET_SUFFIXES,
    SNIFF_BYTES,
    WHITESPACE,
    Format,
    check_gzip,
    decode_sample,
    detect_format,
    first_lines,
    gzip_error,
    looks_binary,
    normal_encoding,
    open_bytes,
    sniff_header,
    sniff_separator,
    sniff_unicode,
    split_fields,
)

if TYPE_CHECKING:
    import polars as pl

_NATIVE_ENCODINGS = {"utf8", "utf-8", "utf_8", "utf-8-sig", "utf8-sig", "utf_8_sig"}


@dataclass(frozen=True)
class Source:
    """One file and how to read it."""

    path: Path  # what the user gave (used in every message)
    format: Format
    separator: str = ","
    read_path: Path | None = None  # a transcoded UTF-8 copy, when the encoding needed one
    empty: bool = False  # a header and no rows (CSV) or zero rows (Parquet)
    header: bool = True  # False: the first line is data; columns are named column_1, column_2, ...
    fields: int = 0  # fields of the first line (CSV)
    names: tuple[str, ...] = ()  # the header's column names of a whitespace-aligned file (read by position)
    headers: tuple[str, ...] = ()  # the header's names as written, repeats included (CSV and Parquet)
    encoding: str | None = None  # the encoding found from the bytes (UTF-16/32) when it is not the one given

    @property
    def scan_path(self) -> Path:
        return self.read_path or self.path

    @property
    def header_rows(self) -> int:
        return 1 if self.format == "csv" and self.header else 0

    @property
    def whitespace(self) -> bool:
        """Fields separated by runs of spaces or tabs (e.g. CDNOW_sample.txt), not by one character."""
        return self.separator == WHITESPACE


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files behind the arguments, in a stable (sorted) order, without duplicates."""
    found: list[Path] = []
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _is_data_file(p))
            if not files:
                raise DataError(
                    f"No CSV or Parquet files in folder {text}",
                    hint="Files must end in .csv, .tsv, .txt, .csv.gz or .parquet.",
                )
            found.extend(files)
        elif path.is_file():  # before globbing: "export[1].csv" is a file name, not a pattern
            found.append(path)
        elif _has_glob(text):  # like a folder: only data files (not a README or .DS_Store beside the exports)
            matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matched:
                raise DataError(f"No files match {text}", hint="Check the pattern and quote it in the shell.")
            files = [p for p in matched if _is_data_file(p)]
            if not files:
                raise DataError(
                    f"No CSV or Parquet files match {text} (it matches {len(matched)} other file"
                    f"{'s' if len(matched) > 1 else ''}, e.g. {matched[0]})",
                    hint="Files must end in .csv, .tsv, .txt, .csv.gz or .parquet; name a file on its own to read "
                    "it whatever its name.",
                )
            found.extend(files)
        else:
            raise DataError(f"File not found: {text}", hint="Check the path, or pass a folder or a glob.")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise UsageError("No input files given", hint="Pass a file, a folder or a glob.")
    return unique


def first_ragged_line(src: Source, *, records: int | None = None) -> tuple[int, int, int] | None:
    """The first line of a CSV whose number of fields differs from the first line's (more or fewer): (line
    number, its fields, the expected fields), looking at the first ``records`` records when given. Streams
    the file; used only to explain a read error or rejected rows. A truncated or corrupt gzip file raises
    :class:`DataError` first (its garbage would look like ragged lines)."""
    if src.format != "csv":
        return None
    check_gzip(src.path)
    if src.whitespace:
        return None
    with open_bytes(src.scan_path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter=src.separator)
        expected = None
        try:
            for i, row in enumerate(reader):
                if records is not None and i > records:
                    break
                if not row:
                    continue
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    return reader.line_num, len(row), expected
        except csv.Error:  # e.g. a field over the csv module's size limit: nothing more to say
            return None
    return None


def ragged_error(src: Source, *, records: int | None = None) -> DataError | None:
    """The error for the first line of ``src`` whose fields do not match the header's (see
    :func:`first_ragged_line`), or ``None``."""
    found = first_ragged_line(src, records=records)
    if found is None:
        return None
    line, fields, expected = found
    return DataError(
        f"{src.path}, line {line}: {fields} {'field' if fields == 1 else 'fields'} where the "
        f"{'header' if src.header else 'first line'} has {expected}",
        hint=f"A value with the delimiter in it needs quotes; check the delimiter ({setting('delimiter')}) and "
        "that the export was not cut or joined.",
    )


def short_rows_error(sources: Sequence[Source], rejects: pl.DataFrame, *, limit: int = 10) -> DataError | None:
    """Polars reads the missing fields of a line with too few fields as empty, so such a line is a rejected
    row (e.g. "missing amount", or a misplaced value) with its last column empty. Streaming each CSV file up to
    the first ``limit`` such rows (this runs only when rows were rejected), the error naming the first line
    whose fields do not match the header's, or ``None``."""
    import polars as pl

    for src in sources:
        if src.format != "csv" or src.whitespace or not src.headers or src.headers[-1] not in rejects.columns:
            continue
        rows = rejects.filter((pl.col("source_file") == str(src.path)) & pl.col(src.headers[-1]).is_null())
        if rows.height:
            error = ragged_error(src, records=int(rows["source_row"].sort().head(limit).max()))  # type: ignore[arg-type]
            if error is not None:
                return error
    return None


_tmpdir: tempfile.TemporaryDirectory[str] | None = None


def _transcode(path: Path, encoding: str) -> Path:
    """Write a UTF-8 copy of a CSV in another encoding, chunk by chunk (never the whole file in memory)."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.TemporaryDirectory(prefix="loyalty-")
        atexit.register(_tmpdir.cleanup)
    target = Path(_tmpdir.name) / f"{len(list(Path(_tmpdir.name).iterdir()))}-{path.name}.utf8.csv"
    with open_bytes(path) as raw, target.open("w", encoding="utf-8", newline="") as out:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            shutil.copyfileobj(text, out, length=1 << 20)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not valid {encoding} text ({exc.reason})",
                hint=f"Check the file's encoding and pass it with {setting('encoding')}.",
            ) from None
        except GZIP_ERRORS as exc:
            raise gzip_error(path, exc) from None
    return target


def inspect_source(path: Path, *, separator: str | None = None, encoding: str = "utf-8") -> Source:
    """Format, delimiter and emptiness of one file; a clear error for what we cannot read."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)", hint="Check that the export finished writing.")
    fmt = detect_format(path)
    if fmt == "parquet":
        return _parquet_source(path)
    given = encoding
    sample, encoding = _text_sample(path, encoding)
    separator = _separator_option(separator)
    sep, header, split = _dialect(path, sample, separator)
    fields = len(split)
    lines = [line for line in sample.splitlines() if line.strip()]
    empty = len(lines) <= (1 if header else 0)
    read_path = None
    if normal_encoding(encoding) not in _NATIVE_ENCODINGS:
        read_path = _transcode(path, encoding)
    names = tuple(split) if header and sep == WHITESPACE else ()
    return Source(
        path=path,
        format="csv",
        separator=sep,
        read_path=read_path,
        empty=empty,
        header=header,
        fields=fields,
        names=names,
        headers=tuple(split) if header else (),
        encoding=encoding if encoding != given else None,
    )


def _parquet_source(path: Path) -> Source:
    """A Parquet file: its columns and whether it has rows, from its footer."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        headers = tuple(meta.schema.to_arrow_schema().names)
    except Exception as exc:  # pyarrow raises several types for a corrupt footer
        raise DataError(f"{path} is not a readable Parquet file ({exc})", hint="Re-export the file.") from None
    return Source(path=path, format="parquet", empty=meta.num_rows == 0, headers=headers)


def _text_sample(path: Path, encoding: str) -> tuple[str, str]:
    """The first :data:`SNIFF_BYTES` of a CSV as text, and the encoding they are read in; a clear error for a
    file that is not text, has nothing in it or no line break."""
    with open_bytes(path) as fh:
        try:
            raw = fh.read(SNIFF_BYTES)
        except GZIP_ERRORS as exc:
            raise gzip_error(path, exc) from None
    # UTF-16/32 (a byte-order mark, or every other byte NUL) is read as such whatever encoding was given:
    # no other encoding reads those bytes as text.
    found = sniff_unicode(raw)
    if found is not None and not normal_encoding(encoding).startswith(found[:6]):
        encoding = found
    if looks_binary(raw) and not normal_encoding(encoding).startswith(("utf-16", "utf-32")):
        raise DataError(
            f"{path} is not a text file (it contains binary data)",
            hint="Pass a CSV (comma, semicolon or tab separated) or a Parquet file. UTF-16 text is read as such "
            f"when it starts with a byte-order mark or is mostly Latin; else pass {setting('encoding')} utf-16-le (or "
            "utf-16-be).",
        )
    sample = decode_sample(raw, encoding, path).lstrip("\ufeff")
    if not sample.strip():
        raise DataError(f"{path} has no header and no rows", hint="Check that the export finished writing.")
    if len(raw) == SNIFF_BYTES and not any(ch in sample for ch in "\r\n"):
        raise DataError(
            f"No line break in the first {SNIFF_BYTES // 1024:,} KB of {path}: is this a CSV?",
            hint="A CSV holds one row per line. Check that this is the export you meant (a JSON or XML export, "
            "or a file whose line breaks were lost, has none).",
        )
    return sample, encoding


def _separator_option(separator: str | None) -> str | None:
    """The delimiter given (whitespace under any of its names), checked."""
    if separator is not None and separator.lower() in ("whitespace", "space", "spaces"):
        separator = WHITESPACE
    if separator is not None and len(separator) != 1 and separator != WHITESPACE:
        raise ConfigError("delimiter", f"must be one character or 'whitespace', got {separator!r}")
    return separator


def _dialect(path: Path, sample: str, separator: str | None) -> tuple[str, bool, list[str]]:
    """The delimiter (the one given, or sniffed), whether the first line is a header, and its fields."""
    try:
        sep = separator if separator is not None else sniff_separator(sample)
        header = sniff_header(sample, sep)
        first = first_lines(sample)
        split = split_fields(first[0], sep) if first else []
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit (128 KB)
        raise DataError(
            f"Could not read the first lines of {path} as CSV ({exc})",
            hint=f"Check that this is the export you meant, its delimiter ({setting('delimiter')}) and its quotes.",
        ) from None
    return sep, header, split
