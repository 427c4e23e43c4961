"""What the executors run on one bucket of customers: the Polars stage 1, unchanged.

Every customer's lines are in one bucket (the bucket is a hash of the customer id), so per-customer tables
computed bucket by bucket and put together are the tables of all the lines: :func:`summarise` runs
:func:`~loyalty_cli.stage1.customers.summary_with_no_purchase` (at the as-of date resolved beforehand, the same
for every bucket), :func:`~loyalty_cli.stage1.customers.customer_activity`, the per-customer ``lines`` plans
and, for several files, the check of lines repeated across them (a line and its repeat have the same
customer: :func:`~loyalty_cli.io.overlap.find_overlaps` on the bucket's lines, file by file). Its results
travel as one row each (:data:`OUTPUT`: ``_table``, which result, and the frame packed in ``_frame``), in their
exact types. Pure Polars (no pyspark here): the executors import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

import polars as pl
import pyarrow as pa

from loyalty_cli.io.overlap import find_overlaps
from loyalty_cli.spark.frames import pack_frame, unpack_frames
from loyalty_cli.spark.parse import RANK
from loyalty_cli.stage1.customers import stage1_plans
from loyalty_cli.stage1.plans import LinesPlan, PerCustomer, per_customer

__all__ = ["LinesPlan", "PerCustomer", "per_customer"]  # at home in stage1.plans; the Spark engine's words too

BUCKET, TABLE = "_bucket", "_table"


@dataclass(frozen=True)
class Overlaps:
    """The check of lines repeated across files: the files in rank order (sorted paths, as text), the date the
    repeats' days are read from, and the policy (``keep-first`` leaves the repeats out of the tables)."""

    paths: tuple[str, ...]
    date_column: str | None
    policy: str


@dataclass(frozen=True)
class SummaryJob:
    """What :func:`summarise` needs, shipped to the executors."""

    lines: pl.Schema  # the canonical columns of the lines, and their types
    as_of: date | None
    activity: bool
    plans: Mapping[str, LinesPlan]
    overlaps: Overlaps | None = None

    def frames(self, lines: pl.LazyFrame) -> list[pl.LazyFrame]:
        """The plans over ``lines`` (with ``_rank``, each line's file, when repeats are looked for): the summary,
        its no-purchase row, [the activity table], the ``lines`` plans, [the summary of the repeats]."""
        summary_of_repeats = None
        if self.overlaps is not None:
            parts = [lines.filter(pl.col(RANK) == i).drop(RANK) for i in range(len(self.overlaps.paths))]
            paths = [PurePosixPath(p) for p in self.overlaps.paths]  # in rank order: find_overlaps ranks them so
            lines, check = find_overlaps(
                parts, paths, date_column=self.overlaps.date_column, policy=self.overlaps.policy
            )
            summary_of_repeats = check.summary
        tables = stage1_plans(lines, as_of=self.as_of, activity=self.activity)
        frames = [tables.summary, tables.no_purchase, *([tables.activity] if tables.activity is not None else [])]
        frames.extend(plan(lines) for plan in self.plans.values())
        if summary_of_repeats is not None:
            frames.append(summary_of_repeats)
        return frames

    def input_schema(self) -> pl.Schema:
        """The columns :func:`summarise` reads: the lines' (and ``_rank``)."""
        return pl.Schema({**self.lines, **({RANK: pl.Int32()} if self.overlaps is not None else {})})

    def schemas(self) -> list[pl.Schema]:
        """The exact schema of each result (the plans run on no lines)."""
        return [frame.schema for frame in self.empty()]

    def empty(self) -> list[pl.DataFrame]:
        """The results for no lines at all."""
        return pl.collect_all(self.frames(pl.LazyFrame(schema=self.input_schema())))


#: the schema of :func:`summarise`'s table (Spark DDL): which result, and the result packed
OUTPUT = "_table tinyint, _frame binary"


def summarise(table: pa.Table, job: SummaryJob) -> pa.Table:
    """``applyInArrow`` over one bucket of customers: the lines -> every result, one row each."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    schema = job.input_schema()
    lines = frame.select(schema.names()).cast(dict(schema))
    results = pl.collect_all(job.frames(lines.lazy()))
    return pa.table(
        {
            TABLE: pa.array(range(len(results)), pa.int8()),
            "_frame": pa.array([pack_frame(r) for r in results], pa.binary()),
        }
    )


def bucket_function(job: SummaryJob) -> Callable[[pa.Table], pa.Table]:
    """:func:`summarise` for ``job`` as ``applyInArrow`` takes it: a plain function (pyspark reads the kind of
    function from its annotations, and cannot from a ``partial``; none means a table in, a table out)."""

    def run(table):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        return summarise(table, job)

    return run


def unpack(packed: pl.DataFrame, schemas: Sequence[pl.Schema]) -> list[pl.DataFrame]:
    """The results of every bucket (rows of :data:`OUTPUT`), by result, in their exact Polars schemas."""
    return [
        unpack_frames(packed.filter(pl.col(TABLE) == j)["_frame"].to_list(), schema) for j, schema in enumerate(schemas)
    ]
