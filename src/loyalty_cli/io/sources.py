"""Find the files behind an input argument and work out how to read each one.

An input is a file, a glob (``exports/*.csv``) or a folder (every CSV/Parquet file in it, e.g. one CSV per
day). CSV dialect (delimiter, gzip, encoding) is sniffed from the first bytes; encodings Polars cannot read
natively (latin-1, cp1252, ...) are transcoded to a temporary UTF-8 file once, in a streaming way.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import glob
import gzip
import io
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from loyalty_cli.errors import ConfigError, DataError, UsageError, setting

if TYPE_CHECKING:
    import polars as pl

Format = Literal["csv", "parquet"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
SEPARATORS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
WHITESPACE = "whitespace"  # the separator of files aligned with runs of spaces
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
    with _open_bytes(src.scan_path) as raw:
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


# What reading a damaged gzip file raises: a truncated one EOFError, a bad header or checksum OSError
# (BadGzipFile), bad compressed data zlib.error.
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def _gzip_error(path: Path, exc: BaseException) -> DataError:
    return DataError(
        f"{path} is a truncated or corrupt gzip file ({exc})",
        hint=f"Copy or download the file again (gzip -t {path} checks it), or pass the uncompressed export.",
    )


def check_gzip(path: Path) -> None:
    """Raise :class:`DataError` when ``path`` is a gzip file that does not decompress to its end (truncated,
    or corrupt: a checksum that does not match). Reads the whole file: for error paths only."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
    try:
        with gzip.open(path, "rb") as gz:
            while gz.read(1 << 20):
                pass
    except _GZIP_ERRORS as exc:
        raise _gzip_error(path, exc) from None


def _open_bytes(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _check_magic(path: Path) -> Format:
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        raise DataError(
            f"{path} looks like an Excel workbook or a zip archive, not a CSV or Parquet file",
            hint="Save the sheet as CSV (File > Save as > CSV UTF-8) and pass that file.",
        )
    if head.startswith(b"\x1f\x8b"):
        return "csv"
    return "csv"


def detect_format(path: Path) -> Format:
    name = path.name.lower()
    sniffed = _check_magic(path)
    if name.endswith(PARQUET_SUFFIXES):
        if sniffed != "parquet":
            raise DataError(
                f"{path} has a Parquet name but is not a Parquet file",
                hint="Re-export the file, or rename it to .csv if it holds comma-separated text.",
            )
        return "parquet"
    return sniffed


def _decode_sample(raw: bytes, encoding: str, path: Path) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(raw, final=False)
    except LookupError:
        raise UsageError(f"Unknown encoding {encoding!r}", hint="Use e.g. utf-8, latin-1 or cp1252.") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not valid {encoding} text (byte 0x{raw[exc.start]:02x} at position {exc.start:,})",
            hint="Exports from Excel or older systems are often latin-1: pass "
            f"{setting('encoding')} latin-1 (or cp1252).",
        ) from None


def _looks_binary(raw: bytes) -> bool:
    return b"\x00" in raw[:8192]


_BOMS = (  # longest first: the UTF-32 LE mark starts like the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def sniff_unicode(raw: bytes) -> str | None:
    """``utf-16``/``utf-32`` for text that starts with their byte-order mark; ``utf-16-le``/``utf-16-be`` for
    text without one whose every other byte is NUL (Latin text in UTF-16, as Excel's "Unicode text" and
    some Windows tools write it); else ``None``."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    head = raw[: 8192 - 8192 % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for data, nul, name in ((even, odd, "utf-16-le"), (odd, even, "utf-16-be")):
        if nul.count(0) >= 0.9 * len(nul) and data.count(0) <= 0.1 * len(data):
            return name
    return None


def _normal_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def _first_lines(sample: str) -> list[str]:
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    return [line for line in lines[:50] if line.strip()]


def split_fields(line: str, separator: str) -> list[str]:
    if separator == WHITESPACE:
        return line.split()
    return next(csv.reader([line], delimiter=separator))


def sniff_header(sample: str, separator: str) -> bool:
    """Whether the first line is a header: a header names its columns, so some field has a letter; a first
    line of only numbers and dates (``00004 0001 19970101 2 29.33``) is data."""
    lines = _first_lines(sample)
    if not lines:
        return True
    return any(ch.isalpha() for field in split_fields(lines[0], separator) for ch in field)


def sniff_separator(sample: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields, the most fields;
    runs of whitespace (``WHITESPACE``) when no single character does."""
    lines = _first_lines(sample)
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for sep in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        consistent = all(c == counts[0] for c in counts)
        score = (int(consistent and counts[0] > 1), counts[0])
        if score > best_score:
            best, best_score = sep, score
    if best_score[0] == 0:
        counts = [len(line.split()) for line in lines]
        if counts[0] > 1 and all(c == counts[0] for c in counts):
            return WHITESPACE
    return best


_tmpdir: tempfile.TemporaryDirectory[str] | None = None


def _transcode(path: Path, encoding: str) -> Path:
    """Write a UTF-8 copy of a CSV in another encoding, chunk by chunk (never the whole file in memory)."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.TemporaryDirectory(prefix="loyalty-")
        atexit.register(_tmpdir.cleanup)
    target = Path(_tmpdir.name) / f"{len(list(Path(_tmpdir.name).iterdir()))}-{path.name}.utf8.csv"
    with _open_bytes(path) as raw, target.open("w", encoding="utf-8", newline="") as out:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            shutil.copyfileobj(text, out, length=1 << 20)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not valid {encoding} text ({exc.reason})",
                hint=f"Check the file's encoding and pass it with {setting('encoding')}.",
            ) from None
        except _GZIP_ERRORS as exc:
            raise _gzip_error(path, exc) from None
    return target


def inspect_source(path: Path, *, separator: str | None = None, encoding: str = "utf-8") -> Source:
    """Format, delimiter and emptiness of one file; a clear error for what we cannot read."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)", hint="Check that the export finished writing.")
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(path)
            headers = tuple(meta.schema.to_arrow_schema().names)
        except Exception as exc:  # pyarrow raises several types for a corrupt footer
            raise DataError(f"{path} is not a readable Parquet file ({exc})", hint="Re-export the file.") from None
        return Source(path=path, format="parquet", empty=meta.num_rows == 0, headers=headers)
    with _open_bytes(path) as fh:
        try:
            raw = fh.read(SNIFF_BYTES)
        except _GZIP_ERRORS as exc:
            raise _gzip_error(path, exc) from None
    # UTF-16/32 (a byte-order mark, or every other byte NUL) is read as such whatever encoding was given:
    # no other encoding reads those bytes as text.
    found = sniff_unicode(raw)
    given = encoding
    if found is not None and not _normal_encoding(encoding).startswith(found[:6]):
        encoding = found
    if _looks_binary(raw) and not _normal_encoding(encoding).startswith(("utf-16", "utf-32")):
        raise DataError(
            f"{path} is not a text file (it contains binary data)",
            hint="Pass a CSV (comma, semicolon or tab separated) or a Parquet file. UTF-16 text is read as such "
            f"when it starts with a byte-order mark or is mostly Latin; else pass {setting('encoding')} utf-16-le (or "
            "utf-16-be).",
        )
    sample = _decode_sample(raw, encoding, path).lstrip("\ufeff")
    if not sample.strip():
        raise DataError(f"{path} has no header and no rows", hint="Check that the export finished writing.")
    if len(raw) == SNIFF_BYTES and not any(ch in sample for ch in "\r\n"):
        raise DataError(
            f"No line break in the first {SNIFF_BYTES // 1024:,} KB of {path}: is this a CSV?",
            hint="A CSV holds one row per line. Check that this is the export you meant (a JSON or XML export, "
            "or a file whose line breaks were lost, has none).",
        )
    if separator is not None and separator.lower() in ("whitespace", "space", "spaces"):
        separator = WHITESPACE
    if separator is not None and len(separator) != 1 and separator != WHITESPACE:
        raise ConfigError("delimiter", f"must be one character or 'whitespace', got {separator!r}")
    try:
        sep = separator if separator is not None else sniff_separator(sample)
        header = sniff_header(sample, sep)
        first = _first_lines(sample)
        split = split_fields(first[0], sep) if first else []
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit (128 KB)
        raise DataError(
            f"Could not read the first lines of {path} as CSV ({exc})",
            hint=f"Check that this is the export you meant, its delimiter ({setting('delimiter')}) and its quotes.",
        ) from None
    fields = len(split)
    lines = [line for line in sample.splitlines() if line.strip()]
    empty = len(lines) <= (1 if header else 0)
    read_path = None
    if _normal_encoding(encoding) not in _NATIVE_ENCODINGS:
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
