"""Write tables safely: CSV, Parquet or JSON by suffix or ``fmt``; ``-`` for stdout; atomic on disk.

Atomic: the table is written to a temporary file in the target's folder, flushed to disk, then renamed
over the target, so a killed run leaves the old file or the new one, never half of one.

CSV cells that a spreadsheet would run as a formula (text starting with ``= + - @``, tab or carriage
return) get a leading apostrophe (OWASP's advice). Numbers stay numbers: only text columns are touched, and
text that is a plain number (``-3.50``, ``+44``, as in a rejects file) is left as it is.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

import polars as pl

from loyalty_cli.errors import LoyaltyError, UsageError

Format = Literal["csv", "parquet", "json"]
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}
FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"  # a spreadsheet reads it as a number


def output_format(path: str | Path, fmt: str | None = None) -> Format:
    if fmt:
        if fmt not in ("csv", "parquet", "json"):
            raise UsageError(f"Unknown format {fmt!r}", hint="Use csv, parquet or json.")
        return fmt  # type: ignore[return-value]
    if str(path) == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(
            f"Cannot tell the output format of {path}",
            hint="End the name in .csv, .parquet or .json, or pass --format.",
        )
    return _SUFFIXES[suffix]


def neutralise_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """Prefix an apostrophe to text cells that start like a formula. Numeric columns are left alone, and
    so is text that is a plain number (``-3.50``): a spreadsheet reads it as that number, not a formula."""
    text_cols = [
        name for name, dtype in df.schema.items() if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    if not text_cols:
        return df
    exprs = []
    for c in text_cols:
        text = pl.col(c).cast(pl.String)
        exprs.append(pl.when(formula_like(text)).then("'" + text).otherwise(text).alias(c))
    return df.with_columns(exprs)


def formula_like(expr: pl.Expr) -> pl.Expr:
    """Text a spreadsheet would run as a formula (plain numbers such as -3.50 are not)."""
    text = expr.cast(pl.String)
    return text.str.contains(FORMULA_START) & ~text.str.contains(PLAIN_NUMBER)


def restore_neutralised(expr: pl.Expr) -> pl.Expr:
    """Text as it was before :func:`neutralise_formulas`: the apostrophe is dropped only before text that
    starts like a formula (= + - @, tab, CR), where such an apostrophe is added, so an id such as 'abc is kept."""
    text = expr.cast(pl.String)
    rest = text.str.slice(1)
    return pl.when(text.str.starts_with("'") & rest.str.contains(FORMULA_START)).then(rest).otherwise(text)


def csv_ready(df: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs cannot go to CSV: join lists with '; '."""
    cols = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.List):
            cols.append(pl.col(name).cast(pl.List(pl.String)).list.join("; ").alias(name))
    return df.with_columns(cols) if cols else df


def _serialise(df: pl.DataFrame, fmt: Format, fh: BinaryIO) -> None:
    if fmt == "csv":
        neutralise_formulas(csv_ready(df)).write_csv(fh)
    elif fmt == "parquet":
        df.write_parquet(fh)
    else:
        fh.write(df.write_json().encode("utf-8"))
        fh.write(b"\n")


def _file_mode(target: Path) -> int:
    """The mode the written file gets: that of the file it replaces, else what ``open`` would give
    (0o666 less the umask). ``mkstemp`` alone would leave every output readable by its owner only."""
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    An operating-system failure (folder not writable, disk full, the target is a folder) raises a
    :class:`LoyaltyError` naming the file, and leaves the old file, if any, as it was."""
    target = Path(path)
    try:
        return _atomic_write(target, write)
    except OSError as exc:
        raise LoyaltyError(
            f"Could not write {target}: {exc.strerror or exc}",
            hint="Check the output path, that its folder is writable and that the disk has space.",
        ) from None


def _atomic_write(target: Path, write: Callable[[BinaryIO], None]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, mode)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_table(df: pl.DataFrame, path: str | Path, *, fmt: str | None = None) -> Path | None:
    """Write ``df`` to ``path`` (``-`` = stdout). Returns the path written, or None for stdout."""
    kind = output_format(path, fmt)
    if str(path) == "-":
        buffer = io.BytesIO()
        _serialise(df, kind, buffer)
        out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
        if out is None:
            sys.stdout.write(buffer.getvalue().decode("utf-8"))
        else:
            out.write(buffer.getvalue())
            out.flush()
        return None
    return atomic_write(path, lambda fh: _serialise(df, kind, fh))


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
