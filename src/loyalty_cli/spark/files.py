"""The files of an input on the Spark engine: found and inspected on the driver as the Polars engine does, and
what Spark reads for each.

A local path (a file, a folder or a glob) is found and inspected exactly as on the Polars engine
(:func:`loyalty_cli.io.sources.expand_inputs`, :func:`~loyalty_cli.io.sources.inspect_source`). A path with a
scheme (``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``, ``file://``) cannot be opened here: Spark lists it
(a file, a folder or a glob, with each file's size and modification time), and the first rows of each file
are read through Spark into a local sample that is inspected in its place (delimiter, header, columns, date
formats); the file keeps its URL in every message (:class:`RemotePath`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.io.readers import ReadOptions
from loyalty_cli.io.scanning import DATE_SAMPLE_ROWS
from loyalty_cli.io.sniff import CSV_SUFFIXES, PARQUET_SUFFIXES, open_bytes
from loyalty_cli.io.sources import Source, expand_inputs, inspect_source
from loyalty_cli.spark.parse import file_key

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: the lines of a remote CSV read into its sample: a header and as many rows as date formats are detected from
SAMPLE_LINES = DATE_SAMPLE_ROWS + 1
_NATIVE = {"utf8", "utf-8", "utf_8", "utf-8-sig", "utf8-sig", "utf_8_sig"}


def is_remote(path: str | Path) -> bool:
    """A path with a scheme (``s3a://bucket/x.csv``, ``file:///data/x.csv``): Spark reads it, not the driver."""
    return bool(_SCHEME.match(str(path)))


class RemotePath(PurePosixPath):
    """A file only Spark can open, shown as its URL; ``stat()`` gives the size and modification time Spark
    listed (the check of dates in the future counts from it, as from a local file's)."""

    _uri: str = ""
    _size: int = 0
    _mtime: float = 0.0

    def __new__(cls, uri: str, size: int = 0, mtime: float = 0.0) -> RemotePath:
        self = super().__new__(cls, uri.split("://", 1)[-1])
        self._uri, self._size, self._mtime = uri, size, mtime
        return self

    def __init__(self, uri: str, size: int = 0, mtime: float = 0.0) -> None:  # Python 3.12+ calls it
        try:
            super().__init__(uri.split("://", 1)[-1])
        except TypeError:  # Python 3.11: PurePath has no __init__ taking the parts
            pass

    def __str__(self) -> str:
        return self._uri or super().__str__()

    def __repr__(self) -> str:
        return f"RemotePath({self._uri!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (RemotePath, (self._uri, self._size, self._mtime))

    def stat(self) -> os.stat_result:
        return os.stat_result((0o100644, 0, 0, 1, 0, 0, self._size, self._mtime, self._mtime, self._mtime))


@dataclass(frozen=True)
class Located:
    """Where Spark reads each file of an input: its source (as the driver inspected it) -> the file Spark reads
    (a local path or a URL, as it is: :func:`spark_path` makes it a path for Spark's readers)."""

    reads: dict[str, str]  # str(source.path) -> the file Spark reads

    def read_path(self, src: Source) -> str:
        return self.reads[str(src.path)]


class Finder:
    """The ``inspect`` of :func:`loyalty_cli.io.readers.plan_table` on Spark: local paths as on the Polars
    engine, remote ones through Spark (samples written to ``workspace``). Remembers what Spark reads for each
    file (:attr:`located`)."""

    def __init__(self, spark: SparkSession, workspace: Path) -> None:
        self.spark = spark
        self.workspace = workspace
        self.located = Located({})

    def __call__(self, inputs: Sequence[str | Path], options: ReadOptions) -> list[Source]:
        sources: list[Source] = []
        local: list[str | Path] = []
        for item in inputs:
            if not is_remote(item):
                local.append(item)
                continue
            if local:  # the inputs' order is kept
                sources.extend(self._local(local, options))
                local = []
            sources.extend(self._remote(str(item), options))
        if local:
            sources.extend(self._local(local, options))
        unique = {str(s.path): s for s in sources}
        return list(unique.values())

    def _local(self, inputs: Sequence[str | Path], options: ReadOptions) -> list[Source]:
        found = []
        for path in expand_inputs(inputs):
            src = inspect_source(path, separator=options.separator, encoding=options.encoding)
            self.located.reads[str(src.path)] = self._local_read(src)
            found.append(src)
        return found

    def _local_read(self, src: Source) -> str:
        """The path Spark reads for a local file: the file (or its UTF-8 copy), absolute; a gzip file whose name
        does not end in .gz through a link that does (Spark picks the codec by the name)."""
        path = Path(os.path.abspath(src.scan_path))
        if src.format == "csv" and not path.name.lower().endswith(".gz"):
            with path.open("rb") as fh:
                gzipped = fh.read(2) == b"\x1f\x8b"
            if gzipped:
                link = self.workspace / f"{len(self.located.reads)}-{path.name}.gz"
                link.symlink_to(path)
                path = link
        return str(path)

    def _remote(self, uri: str, options: ReadOptions) -> list[Source]:
        if options.encoding.lower().replace("_", "-") not in _NATIVE:
            raise UsageError(
                f"The Spark engine reads remote CSV files as UTF-8 only, not {options.encoding} ({uri})",
                hint=f"Convert the export to UTF-8, or read a local copy ({setting('encoding')} works there).",
            )
        found = []
        for path, size, mtime in list_files(self.spark, uri):
            sample = self._sample(path, len(found))
            src = inspect_source(sample, separator=options.separator, encoding="utf-8")
            src = replace(src, path=RemotePath(path, size, mtime), read_path=sample)  # type: ignore[arg-type]
            self.located.reads[str(src.path)] = path
            found.append(src)
        return found

    def _sample(self, uri: str, index: int) -> Path:
        """The first rows of a remote file, read through Spark into a local file of the same kind."""
        from loyalty_cli.spark.session import quiet

        name = uri.rstrip("/").rsplit("/", 1)[-1]
        parquet = name.lower().endswith(PARQUET_SUFFIXES)
        plain = re.sub(r"(?i)\.gz$", "", name) or "file"  # Spark reads the text decompressed
        target = self.workspace / f"sample-{index}-{plain}"
        with quiet():
            if parquet:
                import polars as pl

                table = self.spark.read.parquet(spark_path(uri)).limit(SAMPLE_LINES).toArrow()
                frame = pl.from_arrow(table)
                assert isinstance(frame, pl.DataFrame)
                frame.write_parquet(target)
            else:
                table = self.spark.read.text(spark_path(uri)).limit(SAMPLE_LINES).toArrow()
                try:
                    lines = table.column("value").to_pylist()
                except UnicodeDecodeError:
                    raise DataError(
                        f"{uri} is not valid UTF-8 text (in its first lines)",
                        hint="The Spark engine reads remote CSV files as UTF-8 only: convert the export to UTF-8, or "
                        f"read a local copy ({setting('encoding')} works there).",
                    ) from None
                target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return target


def list_files(spark: SparkSession, uri: str) -> list[tuple[str, int, float]]:
    """The files behind a remote input (a file, a folder or a glob) as Spark lists them: (path, size, modification
    time in seconds), sorted by path; a folder's or a glob's data files only (as on the Polars engine)."""
    from pyspark.errors import AnalysisException

    from loyalty_cli.spark.session import quiet

    try:
        with quiet():
            rows = (
                spark.read.format("binaryFile")
                .load(uri)
                .select("path", "length", "modificationTime")
                .toArrow()
                .to_pylist()
            )
    except AnalysisException as exc:
        text = str(exc)
        if "PATH_NOT_FOUND" in text or "does not exist" in text.lower():
            raise DataError(f"File not found: {uri}", hint="Check the path, or pass a folder or a glob.") from None
        raise DataError(f"Could not list {uri}: {text.splitlines()[0]}") from None
    files = sorted((r["path"], int(r["length"]), r["modificationTime"].timestamp()) for r in rows)
    if len(files) == 1 and file_key(files[0][0]) == file_key(uri):
        return [(uri, files[0][1], files[0][2])]  # a file named on its own: read whatever its name, named as given
    data = [f for f in files if _is_data_name(f[0])]
    if not data:
        what = "match" if any(ch in uri for ch in "*?[{") else "in folder"
        raise DataError(
            f"No CSV or Parquet files {what} {uri}",
            hint="Files must end in .csv, .tsv, .txt, .csv.gz or .parquet.",
        )
    return data


def _is_data_name(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    return not name.startswith((".", "_")) and name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def spark_path(path: str) -> str:
    """A file as Spark's readers take it: glob characters in its name taken literally."""
    return re.sub(r"([\[\]*?{}\\])", r"\\\1", path)


#: how much larger a gzip CSV is once decompressed, about (to estimate its lines from its size)
GZIP_RATIO = 5


def estimate_lines(sources: Sequence[Source], heads: Sequence[bytes] | None = None) -> int:
    """About how many lines the files hold, without reading them: a Parquet file's row count (its footer, or its
    size at its sample's bytes per row), a CSV's size at its first lines' bytes per line (``heads``: each file's
    :func:`first_bytes`, when read already)."""
    import pyarrow.parquet as pq

    heads = heads if heads is not None else first_bytes(sources)
    total = 0.0
    for src, head in zip(sources, heads, strict=True):
        remote = isinstance(src.path, RemotePath)
        size = src.path.stat().st_size if remote else os.path.getsize(src.scan_path)
        if src.format == "parquet":
            rows = pq.read_metadata(src.scan_path).num_rows
            total += rows * size / max(os.path.getsize(src.scan_path), 1) if remote else rows
            continue
        if str(src.path).lower().endswith(".gz") or _gzipped(src.scan_path):
            size *= GZIP_RATIO
        total += size / max(len(head) / max(head.count(b"\n"), 1), 1)
    return int(total)


#: the first bytes of a CSV looked at (to estimate its lines, and for a line break inside quotes)
HEAD_BYTES = 1 << 16


def first_bytes(sources: Sequence[Source]) -> list[bytes]:
    """The first :data:`HEAD_BYTES` of each CSV, decompressed (a remote file's: its sample's); nothing of a
    Parquet file."""
    heads = []
    for src in sources:
        if src.format != "csv":
            heads.append(b"")
            continue
        with open_bytes(src.scan_path) as fh:
            heads.append(fh.read(HEAD_BYTES))
    return heads


def quoted_breaks(sources: Sequence[Source], heads: Sequence[bytes] | None = None) -> frozenset[int]:
    """The CSV files (indexes in ``sources``) whose first lines show a value with a line break inside quotes (a
    line with an odd number of quotes): read whole from the start (:func:`loyalty_cli.spark.jobs.parse`)."""
    heads = heads if heads is not None else first_bytes(sources)
    found = set()
    for i, (src, head) in enumerate(zip(sources, heads, strict=True)):
        if src.format != "csv" or src.whitespace or b'"' not in head:
            continue
        if len(head) == HEAD_BYTES:
            head = head[: head.rfind(b"\n") + 1]  # the last line may be cut
        # the quotes and line breaks only, then quotes in pairs taken out: a quote left is a line's odd one
        if b'"' in head.translate(None, _NOT_QUOTES).replace(b'""', b""):
            found.add(i)
    return frozenset(found)


_NOT_QUOTES = bytes(b for b in range(256) if b not in b'"\n')


def file_size(src: Source, located: Located) -> int:
    """The bytes of the file Spark reads for ``src`` (a local file's: that file, e.g. its UTF-8 copy)."""
    if isinstance(src.path, RemotePath):
        return src.path.stat().st_size
    return os.path.getsize(located.read_path(src))


def _gzipped(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"
