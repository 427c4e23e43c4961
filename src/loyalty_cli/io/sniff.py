"""Work out how a file is written from its first bytes: Parquet or CSV (a workbook refused), gzip (and whether
a gzip file is damaged), the encoding (UTF-16/32 found from the bytes), the delimiter and whether the first
line is a header."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from pathlib import Path
from typing import Literal

from loyalty_cli.errors import DataError, UsageError, setting

Format = Literal["csv", "parquet"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
SEPARATORS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
WHITESPACE = "whitespace"  # the separator of files aligned with runs of spaces

# What reading a damaged gzip file raises: a truncated one EOFError, a bad header or checksum OSError
# (BadGzipFile), bad compressed data zlib.error.
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def gzip_error(path: Path, exc: BaseException) -> DataError:
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
    except GZIP_ERRORS as exc:
        raise gzip_error(path, exc) from None


def open_bytes(path: Path) -> io.BufferedIOBase:
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


def decode_sample(raw: bytes, encoding: str, path: Path) -> str:
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


def looks_binary(raw: bytes) -> bool:
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


def normal_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def first_lines(sample: str) -> list[str]:
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
    lines = first_lines(sample)
    if not lines:
        return True
    return any(ch.isalpha() for field in split_fields(lines[0], separator) for ch in field)


def sniff_separator(sample: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields, the most fields;
    runs of whitespace (``WHITESPACE``) when no single character does."""
    lines = first_lines(sample)
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
