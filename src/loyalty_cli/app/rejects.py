"""Where a command's rejected rows go (under the skip policy for bad rows): :func:`write_rejects`.

A local file is written as every output is (:func:`loyalty_cli.io.writers.write_table`: CSV with formulas
defused, or Parquet, by its suffix; atomic). A cluster path (``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``,
``file://``: a path with a scheme) is written by the Spark session of the run, the engine's seam for writing
(:func:`loyalty_cli.spark.rejects.write_rejects_spark`): the same file, through the cluster's file system. Only
a run on the Spark engine has that session: elsewhere a cluster path is a :class:`ConfigError`, found before
anything is read (:func:`rejects_target`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from loyalty_cli.errors import ConfigError, setting

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.spark.session import SparkSettings

# a path with a scheme, as loyalty_cli.spark.files.is_remote tells it; a cluster file: a name after the authority
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FILE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*/(?:.*/)?[^/]+$")
#: the suffixes of a rejects file on a cluster: CSV, or Parquet
CLUSTER_SUFFIXES = (".csv", ".parquet", ".pq")


def is_cluster_path(path: str | Path) -> bool:
    """A path with a scheme (``s3a://bucket/rejects.csv``, ``file:///data/rejects.csv``): only Spark writes it."""
    return bool(_SCHEME.match(str(path)))


@dataclass(frozen=True)
class ClusterPath:
    """A rejects file on a cluster (its URL, ``uri``) and the Spark settings of the run that writes it. Named as
    given in every message; ``name``, ``stem``, ``suffix`` and ``with_name`` as a :class:`~pathlib.Path`'s, for
    the files named beside it (``rejects.contacts.csv``). Not a local path: ``open`` refuses it."""

    uri: str
    spark: SparkSettings = field(compare=False)

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    def with_name(self, name: str) -> ClusterPath:
        return replace(self, uri=f"{self.uri.rsplit('/', 1)[0]}/{name}")

    def __str__(self) -> str:
        return self.uri


def rejects_target(path: str | Path | ClusterPath, spark: SparkSettings | None) -> Path | ClusterPath:
    """Where rejected rows given as ``path`` go: a local file, or a cluster file that the Spark session of
    ``spark`` (the run's Spark settings; None: the run is not on Spark) writes. A cluster path off the Spark
    engine, or one that names no CSV or Parquet file, is a :class:`ConfigError` naming the rejects setting."""
    if isinstance(path, ClusterPath):
        return path
    text = str(path)
    if not is_cluster_path(text):
        return Path(text)
    if spark is None:
        raise ConfigError(
            "rejects",
            f"{text} is a cluster path: only the Spark engine writes there",
            hint=f"Give a local file, or run the command with {setting('engine')} spark where it takes one: its Spark "
            "session writes the rejected rows.",
        )
    if not _FILE.match(text) or not text.lower().endswith(CLUSTER_SUFFIXES):
        raise ConfigError(
            "rejects",
            f"{text} must name a .csv or .parquet file",
            hint="e.g. s3a://bucket/exports/rejects.csv (Spark writes the file there).",
        )
    return ClusterPath(text, spark)


@dataclass(frozen=True)
class RejectsWritten:
    """Rejected rows written: all of them (``table``) and where, as a message names it (``where``: the file, or
    the part file of the folder Spark wrote)."""

    table: pl.DataFrame
    where: str


def write_rejects(
    frames: Sequence[pl.DataFrame], path: str | Path | ClusterPath, spark: SparkSettings | None = None
) -> RejectsWritten | None:
    """Write the rejected rows of ``frames`` (each input's, in order; columns as they come) to ``path`` (see
    :func:`rejects_target`): None when there are none."""
    import polars as pl

    found = [f for f in frames if f.height]
    if not found:
        return None
    table = pl.concat(found, how="diagonal_relaxed")
    target = rejects_target(path, spark)
    if isinstance(target, ClusterPath):
        from loyalty_cli.spark.rejects import write_rejects_spark  # the engine's seam, for writing

        return RejectsWritten(table, write_rejects_spark(table, target.uri, target.spark))
    from loyalty_cli.io.writers import write_table

    write_table(table, target)
    return RejectsWritten(table, str(target))
