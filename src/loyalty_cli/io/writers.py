"""Write tables safely: CSV, Parquet, JSON or Excel (:mod:`loyalty_cli.io.excel`) by suffix or ``fmt``; ``-``
for stdout; atomic on disk.

Atomic: the table is written to a temporary file in the target's folder, flushed to disk, then renamed
over the target, so a killed run leaves the old file or the new one, never half of one; several files can be
written as one unit (:class:`FileSet`). A symbolic link's target is replaced, not the link; a FIFO or a device
(``/dev/null``, ``/dev/stdout``) is written straight through. Temporary files name their host and process, so
that stale ones (the process gone) are removed by a later run while those of a run going on are left alone.
A failed write (full disk, read-only folder) is a :class:`DataError` naming the file. Where the bytes go is
decided in :mod:`loyalty_cli.io.destinations`.

CSV cells and headers that a spreadsheet would run as a formula get a leading apostrophe
(:func:`~loyalty_cli.io.formulas.neutralise_formulas`); in an Excel file text is a text cell, never a formula.

CSV and JSON numbers are rounded for reading (money to cents, other decimals to 4 places, p-values to 4
significant digits: :func:`~loyalty_cli.io.precision.readable_numbers`); Parquet keeps full precision.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import polars as pl

from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.io.destinations import copy_aside, destination, file_mode
from loyalty_cli.io.formulas import neutralise_formulas
from loyalty_cli.io.precision import readable_numbers
from loyalty_cli.io.rows import CHUNK_ROWS, WHOLE_ROWS, Rows
from loyalty_cli.io.tempfiles import TEMP_FILE, owner_tag, remove_stale, terminate_as_interrupt, write_error

Format = Literal["csv", "parquet", "json", "xlsx"]
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".xlsx": "xlsx",
}


def output_format(path: str | Path, fmt: str | None = None) -> Format:
    if fmt:
        if fmt not in ("csv", "parquet", "json", "xlsx"):
            raise UsageError(f"Unknown format {fmt!r}", hint="Use csv, parquet, json or xlsx.")
        return fmt  # type: ignore[return-value]
    if str(path) == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(
            f"Cannot tell the output format of {path}",
            hint=f"End the name in .csv, .parquet, .json or .xlsx, or pass {setting('fmt')}.",
        )
    return _SUFFIXES[suffix]


def csv_ready(df: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs cannot go to CSV: join lists with '; '."""
    cols = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.List):
            cols.append(pl.col(name).cast(pl.List(pl.String)).list.join("; ").alias(name))
    return df.with_columns(cols) if cols else df


def _serialise(df: pl.DataFrame | Rows, fmt: Format, fh: BinaryIO, name: str = "data") -> None:
    """``df`` in ``fmt`` to ``fh``; ``name``: the sheet of an Excel file (the file's stem). A large
    :class:`~loyalty_cli.io.rows.Rows` goes to CSV or Parquet a slice at a time."""
    if isinstance(df, Rows):
        if df.height > WHOLE_ROWS and fmt in ("csv", "parquet"):
            _serialise_slices(df, fmt, fh)
            return
        df = df.collect()
    if fmt == "csv":
        neutralise_formulas(csv_ready(readable_numbers(df))).write_csv(fh)
    elif fmt == "parquet":
        df.write_parquet(fh)
    elif fmt == "xlsx":
        from loyalty_cli.io.excel import write_xlsx

        write_xlsx(df, fh, sheet=name)
    else:
        fh.write(readable_numbers(df).write_json().encode("utf-8"))
        fh.write(b"\n")


def _serialise_slices(rows: Rows, fmt: Format, fh: BinaryIO) -> None:
    """A CSV file as :func:`_serialise` writes the whole table, byte for byte (each value is formatted on its
    own); a Parquet file with a row group per slice."""
    if fmt == "csv":
        for i, part in enumerate(rows.slices(CHUNK_ROWS)):
            neutralise_formulas(csv_ready(readable_numbers(part))).write_csv(fh, include_header=i == 0)
        return
    import pyarrow.parquet as pq

    writer = None
    for part in rows.slices(CHUNK_ROWS):
        table = part.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(fh, table.schema, compression="zstd")
        writer.write_table(table)
    if writer is not None:
        writer.close()


# --- writing: one file or a set of files, all or nothing ----------------------------------------------------


@dataclass(frozen=True)
class Written:
    """One file of a :class:`FileSet`: its path as given, size and SHA-256 (hex) of the bytes written."""

    path: Path
    bytes: int
    sha256: str


class _Sink:
    """The file a serialiser writes to: counts and hashes the bytes, and keeps the operating-system error of a
    failed write (Polars' Parquet writer wraps it in an error of its own, which would hide a full disk)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.size = 0
        self.hash = hashlib.sha256()
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            written = self._fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise
        self.hash.update(data)
        self.size += memoryview(data).nbytes
        return written

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            self.error = self.error or exc
            raise

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:  # asked by pyarrow's Parquet writer
        return False

    def tell(self) -> int:
        return self.size


class FileSet:
    """Files written as one unit (a list, its control group, its manifest ...), all or nothing.

    Use as a context manager. :meth:`add` writes a file to a temporary one beside it (``.NAME.loyalty-<host>-
    <pid>-<random>.tmp``, flushed to disk) and returns its size and hash; :meth:`commit` renames them all into
    place and removes the files given as no longer belonging. Until the commit nothing a user sees has changed;
    an error or an interrupt (Ctrl-C; SIGTERM, see :func:`terminate_as_interrupt`) before or during it removes
    the temporary files and leaves the old files as they were (renames already done are rolled back from the old
    files, kept aside first: :meth:`_backup`). An operating-system failure is a :class:`DataError` naming the file
    (:func:`write_error`).

    Paths that are not regular files are not replaced: a symbolic link's target is replaced (the link stays),
    and a FIFO, a device or /dev/stdout is written straight through when added (it cannot be staged). Stale
    temporary files of our naming, whose process is gone, are removed from every folder written to."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path, Path]] = []  # (path as given, final path, temporary file)
        self._temps: list[Path] = []
        self._cleaned: set[Path] = set()
        self._guard = terminate_as_interrupt()

    def __enter__(self) -> FileSet:
        self._guard.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for tmp in self._temps:
                with suppress(OSError):
                    tmp.unlink(missing_ok=True)
            self._temps.clear()
        finally:
            self._guard.__exit__(None, None, None)

    def add_table(self, path: str | Path, df: pl.DataFrame | Rows, *, fmt: str | None = None) -> Written:
        kind = output_format(path, fmt)
        return self.add(path, lambda fh: _serialise(df, kind, fh, Path(path).stem))

    def add(self, path: str | Path, write: Callable[[BinaryIO], object]) -> Written:
        given = Path(path)
        try:
            final, through = destination(given)
            if through:
                return self._write_through(given, write)
            return self._stage(given, final, write)
        except OSError as exc:
            raise write_error(given, exc) from None

    def _stage(self, given: Path, final: Path, write: Callable[[BinaryIO], object]) -> Written:
        folder = final.parent
        folder.mkdir(parents=True, exist_ok=True)
        if folder not in self._cleaned:
            remove_stale(folder, TEMP_FILE)
            self._cleaned.add(folder)
        mode = file_mode(final)
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.loyalty-{owner_tag()}-", suffix=".tmp", dir=folder)
        tmp = Path(name)
        self._temps.append(tmp)
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, mode)
            sink = _serialise_to(fh, write)
            os.fsync(fh.fileno())
        self._staged.append((given, final, tmp))
        return Written(given, sink.size, sink.hash.hexdigest())

    @staticmethod
    def _write_through(given: Path, write: Callable[[BinaryIO], object]) -> Written:
        with os.fdopen(os.open(given, os.O_WRONLY | os.O_APPEND), "wb") as fh:
            sink = _serialise_to(fh, write)
        return Written(given, sink.size, sink.hash.hexdigest())

    def _backup(self, given: Path, path: Path, *, verb: str = "write") -> Path | None:
        """The file at ``path`` kept aside under a temporary name, to put back if the commit fails: a hard link
        (no copy), else, where the file system or its settings refuse one (a file of another user under
        ``fs.protected_hardlinks``, SMB, some FUSE), a copy with its mode and times. None when there is no file.
        A file that cannot be kept aside is a :class:`DataError`: the commit must not replace it."""
        backup = path.with_name(f".{path.name}.loyalty-{owner_tag()}-{secrets.token_hex(4)}.tmp")
        try:
            os.link(path, backup, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError:
            self._temps.append(backup)
            try:
                copy_aside(path, backup)
            except FileNotFoundError:
                return None
            except OSError as exc:
                with suppress(OSError):
                    backup.unlink(missing_ok=True)
                if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                    fix = "Free some space (the copy needs as much as the old file), or write to another folder."
                else:
                    fix = "Write to another folder, or remove the old file (or have its owner make it readable) first."
                raise DataError(
                    f"Could not {verb} {given}: the file there could not be kept aside to put back if the set of "
                    f"files fails part-way (no hard link, and a copy failed: {exc.strerror or exc})",
                    hint=f"Nothing was changed. {fix}",
                ) from None
            return backup
        self._temps.append(backup)
        return backup

    def commit(self, remove: Iterable[Path] = ()) -> list[Path]:
        """Rename every added file into place, then remove those of ``remove`` that exist (files of an earlier
        set that no longer belong to it). All or nothing: every file replaced or removed is kept aside first
        (:meth:`_backup`), before the first rename, and put back if a later step fails; a file that cannot be
        kept aside stops the commit with nothing changed. Returns the files removed."""
        # (path as given, final path, temporary file; None: a file to remove)
        steps: list[tuple[Path, Path, Path | None]] = [*self._staged, *((path, path, None) for path in remove)]
        kept: list[Path | None] = []
        done: list[tuple[Path, Path | None, bool]] = []  # (path, backup of what was there, whether there was)
        removed: list[Path] = []
        current = Path()
        try:
            for given, final, tmp in steps:
                current = given
                if tmp is None and not final.is_symlink() and not final.is_file():
                    kept.append(None)  # nothing to remove
                    continue
                kept.append(self._backup(given, final, verb="write" if tmp is not None else "remove"))
            for (given, final, tmp), backup in zip(steps, kept, strict=True):
                current = given
                if tmp is not None:
                    done.append((final, backup, backup is not None))  # before: undone if cut
                    os.replace(tmp, final)
                elif backup is not None:
                    done.append((final, backup, True))
                    os.unlink(final)
                    removed.append(final)
        except BaseException as exc:
            self._roll_back(done)
            if isinstance(exc, OSError):
                raise write_error(current, exc) from None
            raise
        finally:
            self._staged.clear()
        return removed

    @staticmethod
    def _roll_back(done: list[tuple[Path, Path | None, bool]]) -> None:
        for path, backup, existed in reversed(done):
            with suppress(OSError):
                if backup is not None:
                    os.replace(backup, path)
                elif not existed:
                    path.unlink(missing_ok=True)


def _serialise_to(fh: BinaryIO, write: Callable[[BinaryIO], object]) -> _Sink:
    """Run ``write`` on ``fh`` through a :class:`_Sink`, flushed; a failed write raises its ``OSError``."""
    sink = _Sink(fh)
    try:
        write(sink)  # type: ignore[arg-type]
        sink.flush()
    except Exception:
        if sink.error is not None:
            raise sink.error from None
        raise
    return sink


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path`` (see
    :class:`FileSet`: symbolic links are followed, FIFOs and devices written straight through).

    An operating-system failure (folder not writable, disk full, the target is a folder) raises a
    :class:`DataError` naming the file, and leaves the old file, if any, as it was."""
    with FileSet() as files:
        files.add(path, write)
        files.commit()
    return Path(path)


def write_table(df: pl.DataFrame | Rows, path: str | Path, *, fmt: str | None = None) -> Path | None:
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
    return atomic_write(path, lambda fh: _serialise(df, kind, fh, Path(path).stem))


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
