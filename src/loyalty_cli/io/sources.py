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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loyalty_cli.errors import DataError, UsageError

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


def first_ragged_line(src: Source) -> tuple[int, int, int] | None:
    """The first line of a CSV whose number of fields differs from the first line's: (line number, its
    fields, the expected fields). Streams the file; used only to explain a read error."""
    if src.format != "csv" or src.whitespace:
        return None
    with _open_bytes(src.scan_path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter=src.separator)
        expected = None
        for row in reader:
            if not row:
                continue
            if expected is None:
                expected = len(row)
            elif len(row) != expected:
                return reader.line_num, len(row), expected
    return None


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
            hint="Exports from Excel or older systems are often latin-1: pass --encoding latin-1 (or cp1252).",
        ) from None


def _looks_binary(raw: bytes) -> bool:
    return b"\x00" in raw[:8192]


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
                hint="Check the file's encoding and pass it with --encoding.",
            ) from None
    return target


def inspect_source(path: Path, *, separator: str | None = None, encoding: str = "utf-8") -> Source:
    """Format, delimiter and emptiness of one file; a clear error for what we cannot read."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)", hint="Check that the export finished writing.")
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_metadata(path).num_rows
        except Exception as exc:  # pyarrow raises several types for a corrupt footer
            raise DataError(f"{path} is not a readable Parquet file ({exc})", hint="Re-export the file.") from None
        return Source(path=path, format="parquet", empty=rows == 0)
    with _open_bytes(path) as fh:
        try:
            raw = fh.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} could not be read ({exc})", hint="Is the gzip file complete?") from None
    if _looks_binary(raw) and not encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        raise DataError(
            f"{path} is not a text file (it contains binary data)",
            hint="Pass a CSV (comma, semicolon or tab separated) or a Parquet file.",
        )
    sample = _decode_sample(raw, encoding, path).lstrip("\ufeff")
    if not sample.strip():
        raise DataError(f"{path} has no header and no rows", hint="Check that the export finished writing.")
    if separator is not None and separator.lower() in ("whitespace", "space", "spaces"):
        separator = WHITESPACE
    sep = separator if separator is not None else sniff_separator(sample)
    if separator is not None and len(separator) != 1 and separator != WHITESPACE:
        raise UsageError(f"--delimiter must be one character or 'whitespace', got {separator!r}")
    header = sniff_header(sample, sep)
    first = _first_lines(sample)
    fields = len(split_fields(first[0], sep)) if first else 0
    lines = [line for line in sample.splitlines() if line.strip()]
    empty = len(lines) <= (1 if header else 0)
    read_path = None
    if encoding.lower().replace("_", "-") not in _NATIVE_ENCODINGS:
        read_path = _transcode(path, encoding)
    elif raw[:2] == b"\x1f\x8b":
        read_path = None
    names = tuple(split_fields(first[0], sep)) if header and sep == WHITESPACE and first else ()
    return Source(
        path=path,
        format="csv",
        separator=sep,
        read_path=read_path,
        empty=empty,
        header=header,
        fields=fields,
        names=names,
    )
