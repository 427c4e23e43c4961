"""The plan of a read that any engine runs: an input's :class:`TablePlan` (every file's :class:`FilePlan`, the
column mapping, the date formats, the as-of cut) and a planned file's rows parsed by it (:func:`parse_frame`) with
their rejected rows worded (:func:`rejected_rows`). The plan is made, and run by Polars, in
:mod:`loyalty_cli.io.readers`; ``loyalty_cli.spark`` runs the same plans on its own reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from loyalty_cli.io.checks import Plan, first_reason
from loyalty_cli.io.columns import ColumnChoice
from loyalty_cli.io.plans import DATE_FIELD
from loyalty_cli.io.sources import Source

# Columns of every rejects table, ahead of the raw columns of the rejected row.
REJECT_COLUMNS = ("source_file", "source_row", "reject_reason", "reject_column", "reject_value")


@dataclass(frozen=True)
class FilePlan:
    """How one file of an input is parsed: the file, its columns as read, and its plan (parse expressions,
    checks, outputs)."""

    source: Source
    schema: pl.Schema
    plan: Plan


@dataclass(frozen=True)
class TablePlan:
    """How an input is read, decided before any row is: every file's plan, the column mapping, the date
    formats, the notes, and the as-of date rows are cut at. Polars runs it lazily
    (:func:`~loyalty_cli.io.readers.read_table`); another engine may run the same per-file plans on its own reads
    (``loyalty_cli.spark``)."""

    table: str
    files: tuple[FilePlan, ...]
    mapping: ColumnChoice
    date_formats: dict[str, str]
    notes: tuple[str, ...]
    as_of: date | None
    on_overlap: str

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(f.source for f in self.files)

    @property
    def date_field(self) -> str | None:
        """The date column rows are dated by (lines repeated across files are reported by its days)."""
        return DATE_FIELD.get(self.table)

    @property
    def cutoff(self) -> datetime | None:
        """Valid rows dated on or after this are left out and counted (None: none are). Only when the date is
        there: answers of a survey without a date column cannot be left out by it."""
        when, as_of = self.date_field, self.as_of
        if as_of is None or when not in self.mapping.columns:
            return None
        return datetime(as_of.year, as_of.month, as_of.day)

    @property
    def overlap_checked(self) -> bool:
        """Whether lines repeated across the files are looked for (several files of transactions or of a points
        ledger)."""
        return len(self.files) > 1 and self.table in _OVERLAP_CHECKED


def parse_frame(raw: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """The rows of a file as read (``raw``: its columns, and ``_row``) with the plan's columns parsed and
    ``_bad`` set on the rows failing a check. Row-local: any slice of a file's rows gives the same rows."""
    # Each value is parsed once (phase 1, then phase 2 from phase 1); valid rows pay only for that and
    # a cheap gate; the wording of each reason is worked out on the rejected rows alone.
    gate = pl.any_horizontal([c.failed for c in plan.checks if c.gate]).fill_null(True)
    return (
        raw.with_columns(expr.alias(f"_c_{name}") for name, expr in plan.parsed.items())
        .with_columns(expr.alias(f"_c_{name}") for name, expr in plan.derived.items())
        .with_columns(gate.alias("_bad"))
    )


def rejected_rows(lf: pl.LazyFrame, src: Source, schema: pl.Schema, plan: Plan, mapping: ColumnChoice) -> pl.LazyFrame:
    """The rejected rows of one file (``lf``: :func:`parse_frame`'s): where, why, and the raw columns as text."""
    raw_cols = [pl.col(h).cast(pl.String) for h in schema.names() if h not in REJECT_COLUMNS]
    return (
        lf.filter(pl.col("_bad"))
        .with_columns(first_reason(plan.checks, mapping))
        .select(
            pl.lit(str(src.path)).alias("source_file"),
            pl.col("_row").cast(pl.Int64).alias("source_row"),
            pl.col("_reason").alias("reject_reason"),
            pl.col("_column").alias("reject_column"),
            pl.col("_value").alias("reject_value"),
            *raw_cols,
        )
    )


# Inputs whose lines repeated across files are an error (or left out): a repeated transaction is counted twice,
# a repeated points ledger row summed twice into a balance. (Surveys are deduplicated by their own rule; members
# and contacts come down to one row per customer.)
_OVERLAP_CHECKED = ("transactions", "points")
