"""The churn status kept narrow, for a list of millions of customers: :class:`Statuses` (the customers' own
columns, their own IPT and status; the other columns made for the rows at hand), :func:`narrow_status` and
:func:`aligned_own`. The same statuses as :func:`~loyalty_cli.metrics.churn.status_of`, whose definitions and
expressions (:mod:`loyalty_cli.metrics.churn`) they reuse; :mod:`loyalty_cli.metrics.churn_rates` builds on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from loyalty_cli.io.rows import beside
from loyalty_cli.metrics.churn import (
    STATUS,
    STATUS_COLUMNS,
    IptConstants,
    percentile_expr,
    population_expr,
    reason,
    status_expr,
    with_ipt,
)
from loyalty_cli.rules.churn import ChurnRules

#: those made from the others and the :class:`IptConstants` (:meth:`Statuses.complete`)
DERIVED_COLUMNS = ("gaps", "ipt_days", "ipt_source", "lapsing_after_days", "lapsed_after_days")


# ------------------------------------------------------------------------------------- the status, narrow
#: rows whose statuses are computed at a time by :func:`narrow_status` (each slice's thresholds are ~40 bytes a
#: row while they are compared)
STATUS_ROWS = 1_000_000


@dataclass(frozen=True)
class Statuses:
    """The status table of :func:`churn_status` kept narrow, for a list of millions of customers: ``table``
    holds, in the customers' rows, the customers' columns that the status shows (their own buffers, not copies),
    ``own_ipt_days`` and ``status``; the other columns (:data:`DERIVED_COLUMNS`, the reason) are made from those
    and ``constants`` by :meth:`complete` for the rows at hand, e.g. a slice being written. 4.8M customers: the
    thresholds, IPT and its source were ~0.2 GB, copied again by every operation that aligned the columns."""

    table: pl.DataFrame
    rules: ChurnRules
    constants: IptConstants

    def complete(
        self, part: pl.LazyFrame, *, reasons: bool = False, columns: Sequence[str] | None = None
    ) -> pl.LazyFrame:
        """``part`` (rows of :attr:`table`, maybe with more columns) with every column of :func:`churn_status`
        in its order (``reasons``: with the reason; ``columns``: only these of them), its other columns last."""
        names = part.collect_schema().names()
        leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
        known = {*leading, "status", "reason", *STATUS_COLUMNS}
        wanted = [*leading, "status", *(["reason"] if reasons else []), *STATUS_COLUMNS]
        return (
            with_ipt(part, self.rules, self.constants)
            .with_columns(*([reason(self.rules)] if reasons else []))
            .select(
                *(c for c in wanted if columns is None or c in columns or c == "reason"),
                *(c for c in names if c not in known),
            )
        )

    def column(self, name: str) -> pl.Series:
        """One column of :meth:`complete` for every customer (e.g. a threshold)."""
        return self.complete(self.table.lazy()).select(name).collect().to_series()


def narrow_status(customers: pl.DataFrame, own: pl.Series, *, rules: ChurnRules) -> Statuses:
    """:class:`Statuses` of a collected customer table from their own IPT in its rows (``own``, e.g.
    :func:`aligned_own`): the same statuses as :func:`status_of`, the constants computed over all customers, the
    statuses a slice of rows at a time (:data:`STATUS_ROWS`)."""
    names = customers.columns
    leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
    kept = [c for c in (*leading, *STATUS_COLUMNS) if c not in DERIVED_COLUMNS and c != "own_ipt_days"]
    gaps = (pl.col("purchase_days").cast(pl.Int32) - 1).alias("gaps")
    masked = pl.when(pl.col("gaps") >= 1).then(pl.col("own_ipt_days")).alias("own_ipt_days")
    own_ipt = customers.lazy().select(gaps).with_columns(own.alias("own_ipt_days")).select(masked).collect().to_series()
    percentiles = [
        percentile_expr(r) if r.kind == "percentile" else pl.lit(None, pl.Float64)
        for r in (rules.lapsing, rules.lapsed)
    ]
    found = (
        customers.lazy()
        .select(gaps)
        .with_columns(own_ipt)
        .select(population_expr(), *(p.alias(f"_{k}") for k, p in enumerate(percentiles)))
        .collect()
        .row(0)
        if customers.height
        else None
    )
    constants = IptConstants(*found) if found is not None else IptConstants(None, None, None)
    # the customers' columns selected lazily: an eager select of columns cut differently copies them
    narrow = beside(customers.lazy().select(kept).collect(), [own_ipt])
    # the statuses a slice at a time: each slice's thresholds and IPTs exist only while it is compared
    found_status = [
        with_ipt(narrow.lazy().slice(start, STATUS_ROWS), rules, constants).select(status_expr()).collect()
        for start in range(0, narrow.height, STATUS_ROWS)
    ]
    status = pl.concat(found_status).to_series().rechunk() if found_status else pl.Series("status", [], dtype=STATUS)
    return Statuses(beside(narrow, [status]), rules, constants)


def aligned_own(height: int, owns: Iterable[pl.DataFrame]) -> pl.Series:
    """``own_ipt_days`` in the rows of a customer table of ``height`` rows, from :func:`own_gaps` of its customers
    (``_i``, ``own_ipt_days``; e.g. of each part of the activity, as they come): set in place where each row's
    number says, null for a customer with none. A join of the rows' numbers with them all took ~0.2 GB more at
    4.8M customers."""
    own = pl.repeat(None, height, dtype=pl.Float64, eager=True).alias("own_ipt_days")
    for found in owns:
        own.scatter(found["_i"], found["own_ipt_days"])
    return own
