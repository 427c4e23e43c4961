"""Stage 1 on Spark: :func:`load_transactions_spark`, the same :class:`~loyalty_cli.stage1.Loaded` as
:func:`~loyalty_cli.stage1.load_transactions` for the same inputs.

Stage 1 is written once, in Polars; Spark distributes it. The driver plans the reading as the Polars engine
does (:func:`loyalty_cli.io.readers.plan_table`: files, column mapping, date formats, each file's parse
expressions and checks); the executors run those plans on the rows Spark reads, then the Polars summary on
buckets of customers (see :mod:`loyalty_cli.spark.jobs`). Only customer-sized tables and the rejected rows
come back to the driver.

What differs from the Polars engine: a remote CSV must be UTF-8; the tables come sorted by customer (the
activity table by customer and day). A CSV is read line by line, in blocks, except one with a value broken
over lines inside quotes: such a file is read whole, by one task (and at most 2 GB), as the Polars engine reads
it; when the break is past the first 64 KB the read finds it and is done again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.io.checks import C
from loyalty_cli.io.overlap import OverlapCheck, overlap_error
from loyalty_cli.io.readers import ReadOptions, Scan, plan_table
from loyalty_cli.io.sources import ragged_error, short_rows_error
from loyalty_cli.io.table_plans import REJECT_COLUMNS, TablePlan, parse_frame
from loyalty_cli.io.validate import BadRows, problems_error, summarise_rejects
from loyalty_cli.spark.files import Finder, RemotePath, estimate_lines, first_bytes, is_remote, quoted_breaks
from loyalty_cli.spark.parse import BLOCK, PROBLEM, RAGGED, REJECT, UNREADABLE, ParseJob, file_key, raw_name
from loyalty_cli.spark.session import SparkSettings, get_session, quiet
from loyalty_cli.spark.summary import Overlaps, PerCustomer, SummaryJob
from loyalty_cli.stage1.customers import _resolve_as_of
from loyalty_cli.stage1.load import Loaded, _cache, _key

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LinesPlan = Callable[[pl.LazyFrame], pl.LazyFrame]
#: the order of the tables the Spark engine returns
CUSTOMER_ORDER = ("customer_id",)
ACTIVITY_ORDER = ("customer_id", "day")


def load_transactions_spark(
    inputs: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    as_of: date | None,
    on_bad_rows: BadRows = "error",
    activity: bool = False,
    lines: Mapping[str, LinesPlan] | None = None,
    on_scan: Callable[[Scan], None] | None = None,
    settings: SparkSettings | None = None,
    stop_on_overlap: bool = True,
) -> Loaded:
    """:func:`~loyalty_cli.stage1.load_transactions` on Spark (``settings``: where; default ``local[*]``).
    ``lines``: per-customer plans only (:func:`loyalty_cli.spark.per_customer`); rejected rows come with
    their row numbers, as on the Polars engine. Not ``stop_on_overlap``: lines repeated across files under the
    error policy are recorded in the scan, not raised (``loyalty validate``)."""
    options = options or ReadOptions()
    settings = settings or SparkSettings()
    named = dict(lines or {})
    _refuse_global_plans(named)
    local = not any(is_remote(p) for p in inputs)
    cache = _cache.get() if not named and local else None
    key = (*_key(inputs, options, as_of, on_bad_rows), "spark") if cache is not None else None
    if cache is not None and key in cache:
        return cache[key]
    keep_activity = activity or cache is not None  # a pipeline keeps both: later steps may need the activity
    spark = get_session(settings)
    with tempfile.TemporaryDirectory(prefix="loyalty-spark-") as tmp:
        finder = Finder(spark, Path(tmp))
        with quiet(), _spark_errors(None, spark):
            planned = plan_table("transactions", inputs, options, as_of=as_of, inspect=finder)
        scan = _scan(planned)
        if on_scan is not None:
            on_scan(scan)
        with quiet(), _spark_errors(planned, spark):
            loaded = _run(spark, planned, finder, scan, on_bad_rows, keep_activity, named, settings, stop_on_overlap)
    if cache is not None and key is not None:
        cache[key] = loaded
        if as_of is None and loaded.as_of is not None:  # the same data under its resolved as-of date
            cache[(*_key(inputs, options, loaded.as_of, on_bad_rows), "spark")] = loaded
    return loaded


def _refuse_global_plans(plans: Mapping[str, LinesPlan]) -> None:
    others = [name for name, plan in plans.items() if not isinstance(plan, PerCustomer)]
    if others:
        raise UsageError(
            f"The Spark engine runs per-customer plans over the lines only; {', '.join(others)} is not marked as one",
            hint="Mark a plan whose rows for a customer depend only on that customer's lines with "
            f"loyalty_cli.spark.per_customer, or run this command with {setting('engine')} polars.",
        )


def _spark_errors(planned: TablePlan | None, spark: SparkSession) -> AbstractContextManager[None]:
    from loyalty_cli.spark.jobs import spark_errors

    return spark_errors(planned, spark)


def lines_schema(planned: TablePlan) -> pl.Schema:
    """The canonical columns of the valid lines and their types: the first file's plan run on no rows."""
    first = planned.files[0]
    raw = pl.LazyFrame(schema={**first.schema, "_row": pl.Int64})
    return parse_frame(raw, first.plan).select(C(n).alias(n) for n in first.plan.outputs).collect_schema()


def _raw_headers(planned: TablePlan) -> tuple[str, ...]:
    """Every file's raw columns (those a rejected row shows), in order of appearance."""
    names: dict[str, None] = {}
    for file in planned.files:
        names.update((h, None) for h in file.schema.names() if h not in REJECT_COLUMNS)
    return tuple(names)


def _sorted_paths(planned: TablePlan) -> list[int]:
    """The files' indexes in sorted path order (the rank of lines repeated across files)."""
    return sorted(range(len(planned.files)), key=lambda i: str(planned.files[i].source.path))


def _scan(planned: TablePlan) -> Scan:
    """The scan the Polars engine would give (how the input was read), without lazy rows: they are Spark's."""
    overlap = None
    if planned.overlap_checked:
        paths = tuple(planned.files[i].source.path for i in _sorted_paths(planned))
        overlap = OverlapCheck(summary=pl.LazyFrame(), paths=paths, policy=planned.on_overlap)
    return Scan(
        table=planned.table,
        rows=pl.LazyFrame(schema=lines_schema(planned)),
        rejects=pl.LazyFrame(),
        sources=planned.sources,
        mapping=planned.mapping,
        date_formats=planned.date_formats,
        as_of=planned.as_of,
        notes=planned.notes,
        overlap=overlap,
    )


def _parse_job(planned: TablePlan, finder: Finder) -> ParseJob:
    ranks = None
    if planned.overlap_checked:
        order = _sorted_paths(planned)
        ranks = tuple(order.index(i) for i in range(len(planned.files)))
    keys = {file_key(finder.located.read_path(f.source)): i for i, f in enumerate(planned.files)}
    return ParseJob(
        files=planned.files,
        keys=keys,
        mapping=planned.mapping,
        lines=lines_schema(planned),
        raw=_raw_headers(planned),
        cutoff=planned.cutoff,
        date_field=planned.date_field,
        ranks=ranks,
    )


def _run(
    spark: SparkSession,
    planned: TablePlan,
    finder: Finder,
    scan: Scan,
    on_bad_rows: BadRows,
    activity: bool,
    plans: Mapping[str, LinesPlan],
    settings: SparkSettings,
    stop_on_overlap: bool = True,
) -> Loaded:
    from loyalty_cli.spark import jobs

    job = _parse_job(planned, finder)
    heads = first_bytes(planned.sources)
    count = jobs.bucket_count(estimate_lines(planned.sources, heads), settings.bucket_lines)
    whole = quoted_breaks(planned.sources, heads)  # CSVs read whole: a line break inside quotes in the first lines
    buckets, side = jobs.parse(spark, planned, finder.located, job, count, whole)
    try:
        offsets = jobs.block_offsets(side)
        _raise_unreadable(planned, side, offsets)
        if planned.cutoff is not None:
            scan.left_out[:] = [int(side["_later"].sum())]
        rejects = _rejects(planned, job, side, offsets)
        if scan.overlap is None:  # lines repeated across files are told before bad rows: known after the summary
            _raise_rows(scan, rejects, on_bad_rows)
        overlaps = None
        if scan.overlap is not None:
            overlaps = Overlaps(tuple(str(p) for p in scan.overlap.paths), planned.date_field, planned.on_overlap)
        summary = SummaryJob(lines=job.lines, as_of=planned.as_of, activity=activity, plans=plans, overlaps=overlaps)
        if int(side.filter(pl.col("_kind") == BLOCK)["_valid"].sum()) == 0:
            results = summary.empty()
        else:
            if planned.as_of is None:  # one date for every bucket: the day after the last order
                last = jobs.last_order(buckets, job.lines)
                resolved = last.select(_resolve_as_of(None)).item()
                summary = SummaryJob(job.lines, resolved, activity, plans, overlaps)
            results = jobs.summaries(buckets, summary)
    finally:
        buckets.rows.unpersist()
    if scan.overlap is not None:
        scan.overlap.settle(_merged_repeats(results[-1]))
        results = results[:-1]
        _raise_rows(scan, rejects, on_bad_rows, stop_on_overlap)
    customers, no_purchase = results[0].sort(CUSTOMER_ORDER), _no_purchase(results[1])
    table = results[2].sort(ACTIVITY_ORDER) if activity else None
    found = results[3 if activity else 2 :]
    return Loaded(
        scan=scan,
        customers=customers,
        activity=table,
        rejects=[rejects],
        no_purchase=no_purchase,
        lines=dict(zip(plans, found, strict=True)),
    )


def _no_purchase(rows: pl.DataFrame) -> pl.DataFrame:
    """The no-purchase rows of every bucket as one (see summary_with_no_purchase): counts and cents summed, the
    net value from the sum."""
    return rows.select(
        pl.col("customers").sum().cast(rows.schema["customers"]),
        pl.col("return_orders").sum().cast(rows.schema["return_orders"]),
        pl.col("net_cents").sum().cast(rows.schema["net_cents"]),
    ).with_columns((pl.col("net_cents") / 100).round(2).alias("net_value"))


def _merged_repeats(summaries: pl.DataFrame) -> pl.DataFrame:
    """The summaries of lines repeated across files of every bucket as one (a line and its repeats are in the
    same bucket: they have the same customer)."""
    return (
        summaries.group_by("_first", "_file")
        .agg(pl.col("lines").sum(), pl.col("start").min(), pl.col("end").max())
        .sort("_first", "_file")
    )


def _rejects(
    planned: TablePlan, job: ParseJob, side: pl.DataFrame, offsets: dict[tuple[int, int], int]
) -> pl.DataFrame:
    """The rejected rows as the Polars engine gives them: file, row number (1 + the lines before it in its
    file, the header included), reason, column, value, and the raw columns as text; in file and row order."""
    rows = side.filter(pl.col("_kind") == REJECT)
    starts = pl.DataFrame(
        [(src, block, start) for (src, block), start in offsets.items()],
        schema={"_src": pl.Int32, "_block": pl.Int64, "_start": pl.Int64},
        orient="row",
    )
    names = pl.DataFrame(
        {"_src": list(range(len(planned.files))), "source_file": [str(f.source.path) for f in planned.files]},
        schema={"_src": pl.Int32, "source_file": pl.String},
    )
    raw = [pl.col(raw_name(i)).alias(name) for i, name in enumerate(job.raw)]
    return (
        rows.join(starts, on=["_src", "_block"], how="left")
        .join(names, on="_src", how="left")
        .sort("_src", "_start", "_line")
        .select(
            "source_file",
            (pl.col("_start") + pl.col("_line") + 1).alias("source_row"),
            "reject_reason",
            "reject_column",
            "reject_value",
            *raw,
        )
    )


def _raise_unreadable(planned: TablePlan, side: pl.DataFrame, offsets: dict[tuple[int, int], int]) -> None:
    """A file that cannot be read as the Polars engine reads it stops the command, as it does there."""
    problems = side.filter(pl.col("_kind") == PROBLEM).sort("_src", "_block", "_line")
    if problems.is_empty():
        return
    row = problems.row(0, named=True)
    if row["_src"] < 0:
        raise DataError(str(row["_problem"]))
    src = planned.files[row["_src"]].source
    line = offsets.get((row["_src"], row["_block"]), 0) + row["_line"] + 1
    text = str(row["_problem"])
    if text.startswith(RAGGED):
        error = ragged_error(src) if not isinstance(src.path, RemotePath) else None
        if error is not None:
            raise error
        fields, expected = int(text[len(RAGGED) :]), len(planned.files[row["_src"]].schema)
        raise DataError(
            f"{src.path}, line {line}: {fields} fields where the {'header' if src.header else 'first line'} has "
            f"{expected}",
            hint=f"A value with the delimiter in it needs quotes; check the delimiter ({setting('delimiter')}) and "
            "that the export was not cut or joined.",
        )
    # a file read whole (as the Polars engine reads it: its error, worded as there), or a line Polars could not read
    whole = text.startswith(UNREADABLE)
    where = f"{src.path}: {text[len(UNREADABLE) :]}" if whole else f"{src.path}, line {line}: {text}"
    raise DataError(
        f"Could not read {where}",
        hint=f"Check the delimiter ({setting('delimiter')}), the encoding ({setting('encoding')}) and that every "
        "line has the same number of fields.",
    )


def _raise_rows(scan: Scan, rejects: pl.DataFrame, on_bad_rows: BadRows, stop_on_overlap: bool = True) -> None:
    """The checks of the Polars engine, in its order: lines repeated across files (error policy, when
    ``stop_on_overlap``), lines with too few fields (local files: they are streamed), then bad rows (error
    policy)."""
    if stop_on_overlap and scan.overlap is not None and scan.overlap.found and scan.overlap.policy == "error":
        raise overlap_error(scan.overlap.found, scan.table)
    if rejects.height:
        local = [s for s in scan.sources if not isinstance(s.path, RemotePath)]
        short = short_rows_error(local, rejects)
        if short is not None:
            raise short
    if on_bad_rows == "error" and rejects.height:
        raise problems_error(summarise_rejects(rejects), scan.table)
