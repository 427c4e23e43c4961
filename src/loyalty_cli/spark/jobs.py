"""The Spark jobs of stage 1 (the driver's side; the executors run :mod:`.parse` and :mod:`.summary`).

1. **Parse**: Spark reads every file (a CSV as text lines, Parquet as its columns) with where each row came
   from; ``mapInArrow`` runs each file's Polars plan (:func:`.parse.parse_batches`): the valid lines, and the
   side rows packed in a few values. A CSV with a line break inside a quoted value is read whole instead
   (``binaryFile``, a task per file: :func:`.parse.parse_files`): known from its first lines before the read
   (:func:`.files.quoted_breaks`), or found by the read, which is then done again (:func:`parse`).
2. **Buckets**: the parse, hash-partitioned by customer into buckets of about
   :attr:`SparkSettings.bucket_lines` lines (from the inputs' size), bucket ``i`` in partition ``i``, and
   persisted: the files are read once, and nothing is shuffled after.
3. **Side rows**: the rejected rows, one row per block read (lines, valid lines, rows left out) and the
   problems come back to the driver (small: the lines stay on the cluster). This job reads the files.
4. **As-of**: when not given, the day after the last order (one aggregation over the buckets, no shuffle).
5. **Summary**: ``groupBy(bucket).applyInArrow`` runs the Polars stage 1 on each bucket
   (:func:`.summary.summarise`); the customer-sized results come back packed, through Arrow.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial, reduce
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.errors import DataError, LoyaltyError, setting
from loyalty_cli.io.sniff import check_gzip
from loyalty_cli.io.sources import Source
from loyalty_cli.io.table_plans import TablePlan
from loyalty_cli.spark.files import Located, RemotePath, file_size, spark_path
from loyalty_cli.spark.frames import conform, ddl, spark_schema, unpack_frames
from loyalty_cli.spark.parse import (
    BLOCK,
    BLOCK_START,
    CONTENT,
    LINE,
    PACKED,
    PATH,
    PROBLEM,
    QUOTED_BREAK,
    SIDE,
    TEXT,
    ParseJob,
    parse_batches,
    parse_files,
    read_name,
)
from loyalty_cli.spark.session import keep_log
from loyalty_cli.spark.summary import BUCKET, OUTPUT, SummaryJob, bucket_function, unpack

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def parsed_rows(
    spark: SparkSession, planned: TablePlan, located: Located, job: ParseJob, whole: frozenset[int] = frozenset()
) -> DataFrame:
    """Every file read by Spark and parsed by its Polars plan (rows of :attr:`ParseJob.schema`); the CSV files
    of ``whole`` (indexes in ``planned.files``) read whole, a task each."""
    from pyspark.sql import functions as F  # noqa: N812

    where = [F.col("_metadata.file_path").alias(PATH), F.col("_metadata.file_block_start").alias(BLOCK_START)]
    reads = []
    text = [f.source for i, f in enumerate(planned.files) if f.source.format == "csv" and i not in whole]
    if text:
        read = spark.read.text([spark_path(located.read_path(s)) for s in text])
        reads.append(read.select(*where, F.col(TEXT)))
    parsed = []
    if whole:
        files = [planned.files[i].source for i in sorted(whole)]
        read = spark.read.format("binaryFile").load([spark_path(located.read_path(_held(s, located))) for s in files])
        found = read.select(F.col("path").alias(PATH), F.col("content").alias(CONTENT))
        parsed.append(found.mapInArrow(partial(parse_files, job=job), ddl(spark_schema(job.schema))))
    groups: dict[tuple[object, ...], list[int]] = {}  # Parquet files of the same columns are read together
    for i, file in enumerate(planned.files):
        if file.source.format == "parquet":
            groups.setdefault(tuple(file.schema.items()), []).append(i)
    for members in groups.values():
        names = planned.files[members[0]].schema.names()
        read = spark.read.parquet(*(spark_path(located.read_path(planned.files[i].source)) for i in members))
        reads.append(read.select(*where, *(F.col(_quoted(n)).alias(read_name(k)) for k, n in enumerate(names))))
    schema = ddl(spark_schema(job.schema))
    parsed += [r.mapInArrow(partial(parse_batches, job=job), schema) for r in reads]
    return reduce(lambda a, b: a.unionByName(b), parsed)


#: the largest file Spark reads whole (``binaryFile`` holds a file in one value)
WHOLE_LIMIT = (1 << 31) - 1


def _held(src: Source, located: Located) -> Source:
    """``src``, a CSV to read whole, if Spark can hold it in one value; else a :class:`DataError`."""
    size = file_size(src, located)
    if size > WHOLE_LIMIT:
        raise DataError(
            f"{src.path} has a line break inside a quoted value, and the Spark engine reads such a CSV whole: "
            f"it is {size / (1 << 30):.1f} GB, over Spark's 2 GB for one value",
            hint=f"Split the export into smaller files, remove the line breaks from its values, or read it with "
            f"{setting('engine')} polars.",
        )
    return src


def quoted_files(side: pl.DataFrame) -> frozenset[int]:
    """The files (indexes) whose read, line by line, found a line break inside quotes."""
    problems = side.filter((pl.col("_kind") == PROBLEM) & (pl.col("_problem") == QUOTED_BREAK))
    return frozenset(int(i) for i in problems["_src"].unique())


def parse(
    spark: SparkSession, planned: TablePlan, located: Located, job: ParseJob, count: int, whole: frozenset[int]
) -> tuple[Buckets, pl.DataFrame]:
    """The files parsed into ``count`` buckets, and the side rows; a CSV read line by line that has a line break
    inside quotes after all is read again, whole, with the others (the buckets are made again: their lines do
    not say which file they came from). The caller unpersists the buckets."""
    while True:
        buckets = bucketed(parsed_rows(spark, planned, located, job, whole), count)
        try:
            side = side_rows(buckets, job)  # reads the files, once: the buckets are kept
        except BaseException:
            buckets.rows.unpersist()
            raise
        found = quoted_files(side) - whole
        if not found:
            return buckets, side
        buckets.rows.unpersist()
        whole = whole | found


def collect(frame: DataFrame, schema: pl.Schema | None = None) -> pl.DataFrame:
    """A (small) Spark result as a Polars frame (in ``schema``'s exact types when given)."""
    found = pl.from_arrow(frame.toArrow())
    assert isinstance(found, pl.DataFrame)
    return conform(found, schema) if schema is not None else found


@dataclass(frozen=True)
class Buckets:
    """The parse hash-partitioned by customer: ``count`` buckets, bucket ``i`` in partition ``i`` (the side
    rows with bucket 0), persisted."""

    rows: DataFrame
    count: int

    @property
    def lines(self) -> DataFrame:
        from pyspark.sql import functions as F  # noqa: N812

        return self.rows.filter(F.col("_kind") == LINE)


def bucket_count(lines: int, bucket_lines: int) -> int:
    return max(1, math.ceil(lines / bucket_lines))


def bucketed(parsed: DataFrame, count: int) -> Buckets:
    """The parse with ``_bucket`` (a hash of the customer id), repartitioned so that each bucket is one
    partition, and persisted: the side rows, the as-of aggregation and the summary read it without a shuffle."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    labels = bucket_labels(count)
    slot = F.pmod(F.hash(F.col("customer_id")), F.lit(count)) + F.lit(1)
    label = F.element_at(F.array(*(F.lit(v) for v in labels)), slot)
    bucket = F.when(F.col("_kind") == LINE, label).otherwise(F.lit(labels[0])).cast("int")
    spread = parsed.withColumn(BUCKET, bucket).repartition(count, F.col(BUCKET))
    return Buckets(spread.persist(StorageLevel.MEMORY_AND_DISK), count)


def side_rows(buckets: Buckets, job: ParseJob) -> pl.DataFrame:
    """Everything the parse returned but the valid lines (rejected rows, blocks, problems)."""
    from pyspark.sql import functions as F  # noqa: N812

    packed = buckets.rows.filter(F.col("_kind") == SIDE).select(PACKED).toArrow()
    return unpack_frames(packed.column(PACKED).to_pylist(), job.side_schema)


def last_order(buckets: Buckets, lines: pl.Schema) -> pl.DataFrame:
    """``last_activity``: the latest order's timestamp (an order's is its first line's, as in
    :func:`~loyalty_cli.stage1.customers.order_table`), one row, in the lines' timestamp type."""
    from pyspark.sql import functions as F  # noqa: N812

    frame = buckets.lines
    if "order_id" in lines.names():
        frame = frame.groupBy(BUCKET, "customer_id", "order_id").agg(F.min("order_date").alias("order_date"))
    last = frame.agg(F.max("order_date").alias("last_activity"))
    return collect(last, pl.Schema({"last_activity": lines["order_date"]}))


def summaries(buckets: Buckets, job: SummaryJob) -> list[pl.DataFrame]:
    """Every bucket's results (:meth:`SummaryJob.frames`), put together, in their exact Polars types."""
    columns = [BUCKET, *job.input_schema().names()]
    grouped = buckets.lines.select(*(_quoted(c) for c in columns)).groupBy(BUCKET)
    packed = grouped.applyInArrow(bucket_function(job), OUTPUT)
    return unpack(collect(packed), job.schemas())


def bucket_labels(count: int) -> list[int]:
    """For each partition ``p`` of ``count``, a small number Spark's hash partitioning sends to ``p``
    (``pmod(murmur3(value), count) == p``): buckets labelled so fill every partition, one each."""
    labels: dict[int, int] = {}
    value = 0
    while len(labels) < count:
        labels.setdefault(murmur3_int(value) % count, value)
        value += 1
    return [labels[p] for p in range(count)]


def murmur3_int(value: int, seed: int = 42) -> int:
    """Spark's hash of an int column (Murmur3 x86 32-bit, seed 42, as ``hash()`` and hash partitioning use)."""
    mask = 0xFFFFFFFF

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & mask

    k1 = (value & mask) * 0xCC9E2D51 & mask
    k1 = rotl(k1, 15) * 0x1B873593 & mask
    h1 = seed ^ k1
    h1 = (rotl(h1, 13) * 5 + 0xE6546B64) & mask
    h1 ^= 4
    h1 ^= h1 >> 16
    h1 = h1 * 0x85EBCA6B & mask
    h1 ^= h1 >> 13
    h1 = h1 * 0xC2B2AE35 & mask
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def block_offsets(blocks: pl.DataFrame) -> dict[tuple[int, int], int]:
    """(file, block) -> the lines of the file before that block (from the BLOCK rows)."""
    offsets: dict[tuple[int, int], int] = {}
    for (src,), rows in blocks.filter(pl.col("_kind") == BLOCK).sort("_src", "_block").group_by("_src"):
        seen = 0
        for block, lines in rows.select("_block", "_line").iter_rows():
            offsets[(int(src), int(block))] = seen  # type: ignore[call-overload]
            seen += int(lines)
    return offsets


@contextlib.contextmanager
def spark_errors(planned: TablePlan | None, spark: SparkSession) -> Iterator[None]:
    """Spark's failures as our errors: a file it could not read is a :class:`DataError` naming the files (a
    damaged local gzip file says so, as on the Polars engine); Ctrl-C cancels the running jobs."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            spark.sparkContext.cancelAllJobs()
        raise
    except LoyaltyError:
        raise
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        sources = planned.sources if planned is not None else ()
        text = str(exc)
        if not any(sign in text for sign in _READ_ERRORS):
            log = keep_log()
            raise LoyaltyError(
                f"Spark failed: {_first_line(exc)}",
                hint=(f"Spark's log is in {log}. " if log else "")
                + "Check the cluster's settings (memory, the executors' Python with polars and loyalty-cli); "
                f"{setting('engine')} polars reads the same files on one machine.",
            ) from None
        for src in sources:
            if src.format == "csv" and not isinstance(src.path, RemotePath):
                check_gzip(src.path)
        what = _names(sources) if sources else "the input"
        raise DataError(
            f"Could not read {what}: {_first_line(exc)}",
            hint="Check that every file is a readable CSV or Parquet export.",
        ) from None


# What Spark's errors about files it could not read say
_READ_ERRORS = ("FAILED_READ_FILE", "PATH_NOT_FOUND", "CANNOT_READ", "FileNotFoundException", "IOException")


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("pyspark", "py4j"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    errors = [line for line in lines if line.endswith("Error") or "Error:" in line or "Exception:" in line]
    return (errors[-1] if "Traceback" in text and errors else lines[0])[:500]


def _names(sources: Sequence[object]) -> str:
    names = [str(getattr(s, "path", s)) for s in sources[:3]]
    return ", ".join(names) + (" ..." if len(sources) > 3 else "")
