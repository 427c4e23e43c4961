"""A previous lifecycle snapshot (an earlier ``loyalty lifecycle -o`` output): checked as read back
(:func:`check_previous`: one stage per customer, as of a date not after this run's) and the transitions from it
to this snapshot (:func:`transitions`, long; :func:`transition_matrix`, wide). The stages themselves:
:mod:`loyalty_cli.metrics.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, setting

NOT_BEFORE = "(not in previous)"  # transition matrix: customer absent from the previous snapshot
NOT_NOW = "(not in this snapshot)"


def check_previous(previous: pl.DataFrame, *, source: str, as_of: date | None) -> pl.DataFrame:
    """A previous lifecycle output as ``customer_id, previous_stage, previous_as_of``: one row per customer,
    with a stage and an as-of date not after ``as_of``. Problems raise :class:`DataError` naming ``source``.
    ``customer_id`` and ``stage`` come as read back (:func:`loyalty_cli.io.snapshots.read_snapshot`: trimmed
    text, the CSV writer's formula guard taken off)."""
    missing = [c for c in ("customer_id", "stage", "as_of") if c not in previous.columns]
    if missing:
        raise DataError(
            f"The previous snapshot {source} has no column {', '.join(map(repr, missing))}",
            hint="Pass a file written by `loyalty lifecycle -o` (it has customer_id, stage and as_of).",
        )
    as_of_col = pl.col("as_of")
    if previous.schema["as_of"] != pl.Date:
        as_of_col = as_of_col.cast(pl.String).str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    frame = previous.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("stage").cast(pl.String).alias("previous_stage"),
        as_of_col.alias("previous_as_of"),
    )
    bad = frame.with_row_index("row", offset=2).filter(
        pl.col("customer_id").is_null() | pl.col("previous_stage").is_null() | pl.col("previous_as_of").is_null()
    )
    if bad.height:
        raise DataError(
            f"The previous snapshot {source} has {words.count(bad.height, 'row')} without a customer id, stage or "
            f"readable as_of date (YYYY-MM-DD), e.g. row {bad['row'][0]}",
            hint="Pass a file written by `loyalty lifecycle -o`.",
        )
    dupes = frame.filter(pl.col("customer_id").is_duplicated())
    if dupes.height:
        raise DataError(
            f"The previous snapshot {source} has customer {dupes['customer_id'][0]!r} more than once",
            hint=f"Pass the full output of one `loyalty lifecycle` run (no {setting('stages')} filter needed, "
            "but one row per customer).",
        )
    latest = frame["previous_as_of"].max()
    if latest is not None and as_of is not None and latest > as_of:  # type: ignore[operator]
        raise DataError(
            f"The previous snapshot {source} is as of {latest}, after this run's as-of date {as_of}",
            hint=f"Pass an older snapshot, or {setting('as_of')} a later date.",
        )
    return frame


def transitions(table: pl.LazyFrame, previous: pl.LazyFrame) -> pl.LazyFrame:
    """Customers per (previous stage, stage), long: ``previous_stage, stage, customers, share_of_previous``.
    ``(not in previous)``: customers the previous snapshot did not have; ``(not in this snapshot)``:
    customers it had that this one does not."""
    now = table.select("customer_id", pl.col("stage").cast(pl.String))
    before = previous.select("customer_id", "previous_stage")
    return (
        before.join(now, on="customer_id", how="full", coalesce=True)
        .with_columns(pl.col("previous_stage").fill_null(NOT_BEFORE), pl.col("stage").fill_null(NOT_NOW))
        .group_by("previous_stage", "stage")
        .agg(pl.len().cast(pl.UInt32).alias("customers"))
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("previous_stage")).alias("share_of_previous")
        )
    )


def transition_matrix(long: pl.DataFrame, *, stages: Sequence[str]) -> pl.DataFrame:
    """The long :func:`transitions` table as a matrix: one row per previous stage, one column per stage
    (rule order, then stages of neither kind alphabetically), and ``total``. Empty cells are 0."""

    def ordered(values: list[str], first: Sequence[str], last: str) -> list[str]:
        known = [s for s in first if s in values]
        extra = sorted(v for v in values if v not in first and v != last)
        return known + extra + ([last] if last in values else [])

    rows = ordered(long["previous_stage"].unique().to_list(), stages, NOT_BEFORE)
    cols = ordered(long["stage"].unique().to_list(), stages, NOT_NOW)
    wide = long.pivot(on="stage", index="previous_stage", values="customers", aggregate_function="sum")
    for col in cols:
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.UInt32).alias(col))
    order = pl.DataFrame({"previous_stage": rows, "_order": list(range(len(rows)))})
    return (
        wide.join(order, on="previous_stage")
        .sort("_order")
        .select("previous_stage", *(pl.col(c).fill_null(0).cast(pl.UInt32) for c in cols))
        .with_columns(pl.sum_horizontal(cols).cast(pl.UInt32).alias("total"))
    )
