"""When the repeat customers are due, in a few numbers: the report's summary of the next-order table
(:func:`loyalty_cli.metrics.next_order.next_order_table`, where the method is).

- **Likely active**: P(alive) >= a floor (default 0.5, as ``loyalty next-order``'s due list): the dates hold only
  for a customer still buying; below the floor the customer is more likely gone than due (a win-back, not a
  reminder).
- **Due within N days**: as :func:`~loyalty_cli.metrics.next_order.due`: the contact window opens by
  as_of + N - 1 and the customer is likely active.
- **Overdue**: likely active, and more days since the last purchase than the customer's usual gap
  (``shrunk_gap_days``: the reciprocal of their own purchase rate shrunk toward the population's). The dates
  are memoryless (a next order is never dated before the as-of date), so "overdue" is said against the usual
  gap, not against the date; an overdue customer is usually due too.
- **By week**: the likely active customers by the week of their expected next-order date, week k holding the
  days as_of + 7k to as_of + 7k + 6 (week 0 starts on the as-of date); the dates from ``weeks`` weeks on in one
  row, ``later``.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.metrics.next_order import window_opens

#: the P(alive) a customer needs to be counted as due (as ``loyalty next-order``'s default)
MIN_P_ALIVE = 0.5
#: the weeks shown one by one (13: a quarter); the later dates are one row
WEEKS = 13


def _alive(min_p_alive: float) -> pl.Expr:
    return pl.col("p_alive") >= min_p_alive


def due_overview(
    table: pl.LazyFrame, *, days: tuple[int, ...] = (7, 30), min_p_alive: float = MIN_P_ALIVE
) -> pl.LazyFrame:
    """One row: ``repeat_customers`` (the rows of the next-order table, which has ``p_alive``), ``likely_active``
    (P(alive) >= ``min_p_alive``), ``due_<n>d`` for each of ``days`` and ``overdue`` (see the top)."""
    alive = _alive(min_p_alive)
    opens = [window_opens(n) & alive for n in days]
    overdue = alive & (pl.col("days_since_last").cast(pl.Float64) > pl.col("shrunk_gap_days"))
    return table.select(
        pl.len().cast(pl.Int64).alias("repeat_customers"),
        alive.sum().cast(pl.Int64).alias("likely_active"),
        *(due.sum().cast(pl.Int64).alias(f"due_{n}d") for n, due in zip(days, opens, strict=True)),
        overdue.sum().cast(pl.Int64).alias("overdue"),
    )


def weekly_dates(table: pl.LazyFrame, *, weeks: int = WEEKS, min_p_alive: float = MIN_P_ALIVE) -> pl.LazyFrame:
    """``week`` (0 to ``weeks``; ``weeks``: that week or later), ``week_start`` (as_of + 7 x week) and ``customers``:
    the likely active customers whose expected next-order date falls in it; every week a row (0 when none), in
    order. No row when the table is empty."""
    days = (pl.col("next_order_date") - pl.col("as_of")).dt.total_days()
    counted = (
        table.filter(_alive(min_p_alive))
        .select((days // 7).clip(0, weeks).cast(pl.Int64).alias("week"))
        .group_by("week")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )
    as_of = table.select(pl.col("as_of").first()).filter(pl.col("as_of").is_not_null())
    every = as_of.join(pl.LazyFrame({"week": pl.int_range(0, weeks + 1, eager=True, dtype=pl.Int64)}), how="cross")
    return (
        every.join(counted, on="week", how="left")
        .select(
            "week",
            (pl.col("as_of") + pl.duration(days=7 * pl.col("week"))).alias("week_start"),
            pl.col("customers").fill_null(0),
        )
        .sort("week")
    )
