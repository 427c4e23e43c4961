"""Rejected rows written to a cluster path (``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``, ``file://``) by
the Spark session of the run: :func:`write_rejects_spark`.

The file is the one the Polars engine writes locally (:func:`loyalty_cli.io.writers.write_table`: the same
columns in the same order, CSV with formulas defused, or Parquet by the suffix), byte for byte: it is written
on the driver to a temporary file, then put on the cluster by the session's Hadoop file system (its settings
and credentials), under a hidden name beside the target and then renamed into place, so that no reader sees
half a file.

On Spark Connect the client has no Hadoop file system: the rows go to the server as a DataFrame and Spark
writes them as it writes any table, a folder of the given name with one part file (a CSV's text exactly the
CSV file's, in a part file Spark names ``.txt``; Parquet as Spark writes it). The message names that part file.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from loyalty_cli.errors import DataError
from loyalty_cli.io.writers import write_table
from loyalty_cli.spark.frames import to_arrow
from loyalty_cli.spark.session import SparkSettings, get_session, quiet

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PARQUET_SUFFIXES = (".parquet", ".pq")


def write_rejects_spark(table: pl.DataFrame, uri: str, settings: SparkSettings, *, folder: bool | None = None) -> str:
    """Write ``table`` (rejected rows) to ``uri``, Parquet when its name ends in .parquet (or .pq), else CSV;
    through the session of ``settings``. ``folder``: as Spark writes a table (a folder with one part file),
    always on Spark Connect (None: there only). Returns where the rows are, as a message names it."""
    kind = "parquet" if uri.lower().endswith(PARQUET_SUFFIXES) else "csv"
    spark = get_session(settings)
    if folder is None:
        folder = _jvm(spark) is None
    with tempfile.TemporaryDirectory(prefix="loyalty-rejects-") as tmp:
        local = Path(tmp) / f"rejects.{kind}"
        write_table(table, local, fmt=kind)
        with quiet(), _write_errors(uri):
            if folder:
                part = _as_folder(spark, local, uri, kind)
                return f"{part} (Spark writes a folder: {uri} holds this one part file)"
            _as_file(spark, local, uri)
    return uri


def _jvm(spark: SparkSession) -> Any:
    """The JVM of a classic session (None on Spark Connect, whose client has none)."""
    try:
        return getattr(spark, "_jvm", None) if getattr(spark, "_jsc", None) is not None else None
    except Exception:  # a Connect session may refuse the attribute
        return None


def _as_file(spark: SparkSession, local: Path, uri: str) -> None:
    """``local`` copied to the file ``uri`` by the session's Hadoop file system: beside it under a hidden name
    (readers of the folder skip it), then renamed over it."""
    jvm = _jvm(spark)
    hadoop = jvm.org.apache.hadoop.fs
    target = hadoop.Path(uri)
    fs = target.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    if fs.getClass().getName() == "org.apache.hadoop.fs.LocalFileSystem":
        fs = fs.getRawFileSystem()  # no .crc file beside the rejects
    if fs.exists(target) and fs.getFileStatus(target).isDirectory():
        raise DataError(
            f"Could not write the rejected rows to {uri}: it is a folder",
            hint="Remove the folder (an earlier write by Spark?) or name another file.",
        )
    hidden = hadoop.Path(target.getParent(), f".{target.getName()}.{uuid.uuid4().hex}.tmp")
    try:
        fs.copyFromLocalFile(False, True, hadoop.Path(local.as_uri()), hidden)
        fs.delete(target, False)  # a rename does not replace a file
        if not fs.rename(hidden, target):
            raise DataError(
                f"Could not write the rejected rows to {uri}: the file system did not move them into place",
                hint="Check that the cluster may write and rename files there.",
            )
    finally:
        with contextlib.suppress(Exception):
            fs.delete(hidden, False)


def _as_folder(spark: SparkSession, local: Path, uri: str, kind: str) -> str:
    """``local``'s rows written by Spark as a folder ``uri`` with one part file: the part file's URL."""
    if kind == "parquet":
        rows = spark.createDataFrame(to_arrow(pl.read_parquet(local)))
        rows.coalesce(1).write.mode("overwrite").parquet(uri)
    else:
        # the CSV's text in pieces cut at line breaks: Spark's text writer puts one back after each piece
        text = local.read_text(encoding="utf-8")
        pieces = text.removesuffix("\n").split("\n")
        rows = spark.createDataFrame(pa.table({"value": pa.array(pieces, pa.string())}))
        rows.coalesce(1).write.mode("overwrite").text(uri)
    files = spark.read.format("binaryFile").load(uri).select("path").toArrow().column("path").to_pylist()
    return str(files[0]) if len(files) == 1 else uri


@contextlib.contextmanager
def _write_errors(uri: str) -> Iterator[None]:
    """Spark's and the file system's failures as a :class:`DataError` naming the rejects file."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise DataError(
            f"Could not write the rejected rows to {uri}: {_java_message(exc)}",
            hint="Check the path and that the cluster may write there (its credentials and permissions).",
        ) from None


def _java_message(exc: BaseException) -> str:
    """The line of a Spark or Java error that says what went wrong (``java.io.IOException: ...``)."""
    lines = [line.strip().lstrip(": ") for line in str(exc).splitlines() if line.strip()]
    said = [line for line in lines if "Exception:" in line or "Error:" in line]
    return (said[0] if said else lines[0] if lines else type(exc).__name__)[:500]
