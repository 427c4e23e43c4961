"""Cohort retention: acquisition cohorts, customer and revenue retention, repeat purchase rate.

Stage 2: everything starts from the per-customer summary (:func:`~loyalty_cli.stage1.customers.
customer_summary`: cohort = period of the first purchase, ``as_of``) and the customer x day activity table
(:func:`~loyalty_cli.stage1.customers.customer_activity`: purchases and net value per day); never from raw
lines.

Definitions (the README repeats them):

- Periods are calendar weeks (Monday to Sunday), months or quarters. A customer's *cohort* is the period of
  their first purchase; *period k* is the k-th calendar period after it (k = 0 is the cohort's own period).
- A cell (cohort, k) is *mature* when period cohort + k is over before ``as_of`` (as_of is exclusive: data
  before it counts), i.e. the whole period is in the data. Cells that are not mature are **null**, never 0:
  the cohort has not had the chance yet. A cohort acquired in the period that holds ``as_of`` has no
  mature cell at all (its size is still growing).
- ``retention`` ("on"): share of the cohort with a purchase day in exactly period k. Period 0 is 100%.
- ``retention_within`` ("within h"): share of the cohort with a purchase day in any of the ``horizon`` (h)
  periods k .. k + h - 1. Its cell is mature (non-null) only when period k + h - 1 is over, so, like every
  mature cell, it never changes when as_of moves later. The open-ended "on or after" (period k or any later
  one) is never final: it grows with every later purchase, and older cohorts have had longer to show one,
  so its columns do not compare cohorts like for like. With h = 1 it is "on". Unlike "on or after" it can
  rise from k to k + 1 (a customer silent for h periods or more who comes back counts again).
  Default h: :data:`DEFAULT_HORIZON` (about a quarter: 13 weeks, 3 months; 2 quarters, as 1 would be "on").
- ``revenue``: net value (returns and cancellations included) of the cohort's customers in period k;
  ``revenue_retention`` = revenue in k / revenue in period 0 (null when period 0's revenue is <= 0);
  ``cumulative_revenue_per_customer`` = revenue of periods 0..k / cohort customers.
- The ``average`` rows pool, for each k, the cohorts whose cell k is mature: customer-weighted (sum of
  active customers / sum of cohort customers), true zeros included, immature cells left out; revenue
  retention is revenue-weighted the same way. ``retention_within`` pools the cohorts whose "within" cell is
  mature (``cohorts_within`` of them: fewer than ``cohorts`` for the last h - 1 periods).
- Repeat purchase rate within N days (default 90): among customers whose window has closed (first purchase
  + N days is before as_of, so the whole window is in the data), the share with a second purchase day
  within N days of the first (a purchase on a later day: two orders on the first day are one purchase day,
  as in ``second_purchase`` and the BTYD models). Customers whose window is still open are not counted.

Money is summed in integer cents and turned into currency units at the end.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.errors import ConfigError, UsageError
from loyalty_cli.metrics.periods import Period, check_period, period_index, period_label, period_start
from loyalty_cli.stage1.activity_parts import Activity, with_customers

AVERAGE = "average"  # the cohort label of the pooled rows of the long table
ALL = "all"  # the cohort label of the row of all customers in the cohort table
PREFIX = {"week": "w", "month": "m", "quarter": "q"}  # wide column names: m0, m1, ...
#: periods in the "within" window by default: about a quarter, the usual gap between a repeat customer's
#: purchases, so a customer buying once a quarter counts in every period; 2 quarters, since 1 would be "on"
DEFAULT_HORIZON = {"week": 13, "month": 3, "quarter": 2}

#: Metrics of the long table, in the order the wide table stacks them.
METRICS: tuple[str, ...] = (
    "retention",
    "retention_within",
    "active_customers",
    "active_within_customers",
    "revenue",
    "revenue_retention",
    "cumulative_revenue_per_customer",
)
LABELS = {
    "retention": "customer retention, active ON period k",
    "retention_within": "customer retention, active WITHIN {horizon} {period}s from period k (k to k+{last})",
    "active_customers": "customers active ON period k",
    "active_within_customers": "customers active WITHIN {horizon} {period}s from period k (k to k+{last})",
    "revenue": "net revenue in period k",
    "revenue_retention": "revenue retention (revenue in k / revenue in period 0)",
    "cumulative_revenue_per_customer": "cumulative net revenue per acquired customer",
}


def check_horizon(horizon: int | None, period: Period) -> int:
    """The periods in the "within" window: ``horizon``, or the period's default."""
    if horizon is None:
        return DEFAULT_HORIZON[period]
    if horizon < 1:
        raise UsageError(f"The retention horizon must be at least 1 {period}, got {horizon}")
    return horizon


def label(metric: str, *, horizon: int, period: Period) -> str:
    """The title of a metric of the long table (the "within" ones name their window)."""
    return LABELS[metric].format(horizon=horizon, period=period, last=horizon - 1)


def _money(cents: pl.Expr) -> pl.Expr:
    return (cents / 100).round(2)


def _cohorts(customers: pl.LazyFrame, period: Period, split: list[str]) -> pl.LazyFrame:
    """customer_id, [the split column], cohort (period index of the first purchase), now (of as_of), as_of."""
    return customers.select(
        "customer_id",
        *split,
        period_index(pl.col("first_purchase"), period).alias("cohort"),
        period_index(pl.col("as_of"), period).alias("now"),
        "as_of",
    )


def cohort_retention(
    customers: pl.LazyFrame,
    activity: Activity,
    *,
    period: Period = "month",
    horizon: int | None = None,
    by: str | None = None,
) -> pl.LazyFrame:
    """The long retention table: one row per cohort and period k, then the ``average`` rows.

    Columns: cohort (label), cohort_start, period (k), period_start, mature, cohorts (1, or the number of
    cohorts pooled in an average row), cohort_customers, active_customers, retention, horizon (h, periods in
    the "within" window; default :data:`DEFAULT_HORIZON`), mature_within (period k + h - 1 is over),
    cohorts_within, active_within_customers, retention_within, revenue, revenue_retention,
    cumulative_revenue_per_customer, as_of. Every cohort has the same periods k = 0 .. K, where K is the last
    mature period of the oldest cohort; cells that are not mature are null. ``by``: a column of ``customers``
    that splits every cohort (and average) by its values: the group keys are (by, cohort), ``by`` comes first."""
    period = check_period(period)
    horizon = check_horizon(horizon, period)
    split = [by] if by is not None else []
    keys = [*split, "cohort"]
    cust = _cohorts(customers, period, split)
    sizes = cust.group_by(keys).agg(pl.len().alias("cohort_customers"), pl.col("now", "as_of").first())
    # every cohort gets k = 0 .. K (K = the oldest cohort's last mature period, at least 0)
    grid = (
        sizes.with_columns(
            pl.int_ranges(0, (pl.col("now").max() - pl.col("cohort").min()).clip(lower_bound=1)).alias("period")
        )
        .explode("period")
        .with_columns(pl.col("period").cast(pl.Int32))
    )
    # per part of the activity (its customers only: each customer is in one part), counts and cents added up
    cells = _added([_cells(c, part, keys, period, horizon) for c, part in with_customers(cust, activity)], keys)
    mature = (pl.col("cohort") + pl.col("period")) < pl.col("now")
    mature_within = (pl.col("cohort") + pl.col("period") + (horizon - 1)) < pl.col("now")
    in_cell = pl.when(mature)
    table = (
        grid.join(cells, on=[*keys, "period"], how="left")
        .with_columns(
            mature.alias("mature"),
            mature_within.alias("mature_within"),
            pl.col("active").fill_null(0),
            pl.col("revenue_cents").fill_null(0),
            (pl.col("starts").fill_null(0) - pl.col("active").fill_null(0))
            .cum_sum()
            .over(keys, order_by="period")
            .alias("_within"),
        )
        .with_columns(
            pl.col("revenue_cents").cum_sum().over(keys, order_by="period").alias("cumulative_cents"),
            pl.col("revenue_cents").filter(pl.col("period") == 0).first().over(keys).alias("revenue0_cents"),
        )
        .with_columns(
            *(
                in_cell.then(pl.col(c)).alias(c)
                for c in ("active", "revenue_cents", "cumulative_cents", "revenue0_cents")
            ),
            pl.when(mature_within).then(pl.col("_within") + pl.col("active")).alias("active_within"),
            pl.col("cohort_customers").alias("within_customers"),
        )
    )
    shaped = _shape(
        table.with_columns(
            pl.lit(1, dtype=pl.UInt32).alias("cohorts"), pl.lit(1, dtype=pl.UInt32).alias("cohorts_within")
        ),
        period,
        horizon,
        split,
    )
    pooled = (
        table.filter(pl.col("mature"))
        .group_by(*split, "period")
        .agg(
            pl.len().cast(pl.UInt32).alias("cohorts"),
            pl.col("cohort_customers").sum(),
            *(pl.col(c).sum() for c in ("active", "revenue_cents", "cumulative_cents", "revenue0_cents")),
        )
    )
    pooled_within = (
        table.filter(pl.col("mature_within"))
        .group_by(*split, "period")
        .agg(
            pl.len().cast(pl.UInt32).alias("cohorts_within"),
            pl.col("cohort_customers").sum().alias("within_customers"),
            pl.col("active_within").sum(),
        )
    )
    # an average row for every k (null where no cohort is mature yet)
    average = (
        table.select(*split, "period", "as_of")
        .unique()
        .join(pooled, on=[*split, "period"], how="left")
        .join(pooled_within, on=[*split, "period"], how="left")
        .with_columns(
            pl.lit(None, dtype=pl.Int32).alias("cohort"),
            (pl.col("cohorts").fill_null(0) > 0).alias("mature"),
            (pl.col("cohorts_within").fill_null(0) > 0).alias("mature_within"),
            pl.col("cohorts").fill_null(0),
            pl.col("cohorts_within").fill_null(0),
            pl.col("cohort_customers").fill_null(0),
        )
    )
    return pl.concat([shaped, _shape(average, period, horizon, split)], how="vertical").sort(
        *split, pl.col("cohort_start").is_null(), "cohort_start", "period"
    )


def _cells(cust: pl.LazyFrame, activity: pl.LazyFrame, keys: list[str], period: Period, horizon: int) -> pl.LazyFrame:
    """The cells of ``activity``'s customers (``cust``: customer_id, the keys): ``keys, period, active,
    revenue_cents, starts`` (whole numbers, which add up over customers: see :func:`_added`)."""
    # one pass over the activity (a row per customer and day), customers as row numbers (hashing string ids is
    # the cost): each purchase day knows the period of the customer's previous purchase day ("previous"), from
    # the days sorted by customer and day (one Int64 key; a window over the customer ordered by day cost twice
    # as much): the last purchase period before the row, when that purchase was the same customer's
    bought_then = pl.when("bought")
    seen = bought_then.then(pl.col("cix")).forward_fill().shift(1)
    previous = pl.when(seen == pl.col("cix")).then(bought_then.then(pl.col("period")).forward_fill().shift(1))
    days = (
        activity.join(cust.select("customer_id", *keys).with_row_index("cix"), on="customer_id", how="inner")
        .select(
            "cix",
            *keys,
            "day",
            (period_index(pl.col("day"), period) - pl.col("cohort")).alias("period"),
            (pl.col("purchases") > 0).alias("bought"),
            "net_cents",
        )
        .filter(pl.col("period") >= 0)  # a return dated before the first purchase belongs to no cell
        .sort(pl.col("cix").cast(pl.Int64) * (1 << 32) + pl.col("day").cast(pl.Int32))
        .with_columns(previous.alias("previous"))
    )
    # The customer's first purchase day in a period counts them as active in it. "Within h": a purchase in
    # period p counts the customer in the cells k = p - h + 1 .. p, from after their previous purchase period
    # on, so the spans of one customer never overlap: customers counted in k = spans started by k - spans
    # ended before k, and a span ends (at p) once for every customer active in p. One group-by over the days
    # by cell and span start (``lag`` = p - start; null: no span), then, on its small result, each row adds
    # its cell's active customers and revenue and its span starts (one consumer, so the days are read once).
    first = pl.col("bought") & (pl.col("previous").is_null() | (pl.col("previous") < pl.col("period")))
    lag = pl.col("period") - pl.max_horizontal(pl.col("previous").fill_null(-1) + 1, pl.col("period") - (horizon - 1))
    spans = pl.col("lag").is_not_null()
    cells = (
        days.group_by(*keys, "period", pl.when(first).then(lag).alias("lag"))
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("net_cents").sum().alias("revenue_cents"))
        .select(
            *keys,
            pl.concat_list("period", pl.col("period") - pl.col("lag")).alias("period"),
            pl.concat_list(pl.when(spans).then("n").otherwise(0), pl.lit(0, dtype=pl.Int64)).alias("active"),
            pl.concat_list("revenue_cents", pl.lit(0, dtype=pl.Int64)).alias("revenue_cents"),
            pl.concat_list(pl.lit(0, dtype=pl.Int64), pl.when(spans).then("n").otherwise(0)).alias("starts"),
        )
        .explode("period", "active", "revenue_cents", "starts")
        .drop_nulls("period")
        .group_by(*keys, "period")
        .agg(pl.col("active", "revenue_cents", "starts").sum())
    )
    return cells


def _added(parts: list[pl.LazyFrame], keys: list[str]) -> pl.LazyFrame:
    """The cells of several parts of the customers, added up (exact: counts and cents); one part as it is."""
    if len(parts) == 1:
        return parts[0]
    found = pl.concat([part.collect() for part in parts], how="vertical")
    return found.lazy().group_by(*keys, "period").agg(pl.col("active", "revenue_cents", "starts").sum())


def _share(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def _shape(frame: pl.LazyFrame, period: Period, horizon: int, split: list[str]) -> pl.LazyFrame:
    start = period_start(pl.col("cohort"), period)
    return frame.select(
        *split,
        pl.when(pl.col("cohort").is_null())
        .then(pl.lit(AVERAGE))
        .otherwise(period_label(start, period))
        .alias("cohort"),
        start.alias("cohort_start"),
        pl.col("period").cast(pl.Int32),
        period_start(pl.col("cohort") + pl.col("period"), period).alias("period_start"),
        pl.col("mature").fill_null(False),
        pl.col("cohorts").cast(pl.UInt32),
        pl.col("cohort_customers").cast(pl.UInt32),
        pl.col("active").cast(pl.UInt32).alias("active_customers"),
        _share("active", "cohort_customers").alias("retention"),
        pl.lit(horizon, dtype=pl.UInt32).alias("horizon"),
        pl.col("mature_within").fill_null(False),
        pl.col("cohorts_within").cast(pl.UInt32),
        pl.col("active_within").cast(pl.UInt32).alias("active_within_customers"),
        _share("active_within", "within_customers").alias("retention_within"),
        _money(pl.col("revenue_cents")).alias("revenue"),
        _share("revenue_cents", "revenue0_cents").alias("revenue_retention"),
        (pl.col("cumulative_cents") / pl.col("cohort_customers") / 100).alias("cumulative_revenue_per_customer"),
        "as_of",
    )


def repeat_rate(customers: pl.LazyFrame, *, window_days: int = 90, period: Period = "month") -> pl.LazyFrame:
    """Repeat purchase rate within ``window_days`` of the first purchase, per cohort and for all customers.

    Columns: cohort, cohort_start, customers, window_closed (customers whose whole window is before as_of),
    repeat_customers (of those, with a second purchase day within the window), repeat_rate (null when no
    window has closed)."""
    period = check_period(period)
    if window_days < 1:
        raise ConfigError("repeat_window", f"must be at least 1 day, got {window_days}")
    closed = pl.col("tenure_days") > window_days  # first + window <= as_of - 1: the window is all in the data
    repeated = closed & ((pl.col("second_purchase") - pl.col("first_purchase")).dt.total_days() <= window_days)
    aggs = [
        pl.len().cast(pl.UInt32).alias("customers"),
        closed.sum().cast(pl.UInt32).alias("window_closed"),
        repeated.fill_null(False).sum().cast(pl.UInt32).alias("repeat_customers"),
    ]
    base = customers.with_columns(period_index(pl.col("first_purchase"), period).alias("cohort"))
    per_cohort = (
        base.group_by("cohort").agg(aggs).with_columns(period_start(pl.col("cohort"), period).alias("cohort_start"))
    )
    per_cohort = per_cohort.with_columns(period_label(pl.col("cohort_start"), period).alias("cohort"))
    overall = base.select(aggs).with_columns(
        pl.lit(ALL).alias("cohort"), pl.lit(None, dtype=pl.Date).alias("cohort_start")
    )
    columns = ["cohort", "cohort_start", "customers", "window_closed", "repeat_customers"]
    return pl.concat([per_cohort.select(columns).sort("cohort_start"), overall.select(columns)]).with_columns(
        pl.when(pl.col("window_closed") > 0)
        .then(pl.col("repeat_customers") / pl.col("window_closed"))
        .alias("repeat_rate")
    )


def cohort_table(long: pl.LazyFrame, repeat: pl.LazyFrame) -> pl.LazyFrame:
    """One row per cohort, then one for ``all`` customers: size, mature periods, period-0 net revenue (null
    while period 0 is not over) and the repeat purchase rate."""
    per = (
        long.filter(pl.col("cohort") != AVERAGE)
        .group_by("cohort", maintain_order=True)
        .agg(
            pl.col("cohort_start").first(),
            pl.col("mature").sum().cast(pl.UInt32).alias("mature_periods"),
            pl.col("revenue").filter(pl.col("period") == 0).first().alias("first_period_revenue"),
        )
    )
    total = per.select(
        pl.lit(ALL).alias("cohort"),
        pl.lit(None, dtype=pl.Date).alias("cohort_start"),
        pl.lit(None, dtype=pl.UInt32).alias("mature_periods"),
        pl.col("first_period_revenue").sum().round(2),
    )
    joined = pl.concat([per, total], how="vertical").join(
        repeat.drop("cohort_start"), on="cohort", how="left", maintain_order="left"
    )
    return joined.select(
        "cohort",
        "cohort_start",
        "customers",
        "mature_periods",
        "first_period_revenue",
        "window_closed",
        "repeat_customers",
        "repeat_rate",
    )


def retention_wide(long: pl.DataFrame, metric: str, *, period: Period = "month") -> pl.DataFrame:
    """One metric of the long table as a cohort x period matrix: cohort, cohort_customers, m0, m1, ...

    A reshape of collected results (for the terminal and the wide file), so it takes a DataFrame."""
    if metric not in METRICS:
        raise UsageError(f"Unknown retention metric {metric!r}", hint=f"Use one of {', '.join(METRICS)}.")
    prefix = PREFIX[period]
    sizes = long.filter(pl.col("period") == 0).select("cohort", "cohort_customers")
    matrix = long.select("cohort", pl.format(prefix + "{}", pl.col("period")).alias("k"), metric).pivot(
        on="k", index="cohort", values=metric, maintain_order=True
    )
    columns = [c for c in matrix.columns if c != "cohort"]
    columns.sort(key=lambda c: int(c[len(prefix) :]))
    return sizes.join(matrix, on="cohort", how="left", maintain_order="left").select(
        "cohort", "cohort_customers", *columns
    )


def retention_wide_all(long: pl.DataFrame, *, period: Period = "month") -> pl.DataFrame:
    """Every metric as a matrix, stacked: metric, cohort, cohort_customers, m0, m1, ... (numbers as floats)."""
    parts = []
    for metric in METRICS:
        wide = retention_wide(long, metric, period=period)
        values = [c for c in wide.columns if c not in ("cohort", "cohort_customers")]
        parts.append(
            wide.select(
                pl.lit(metric).alias("metric"),
                "cohort",
                "cohort_customers",
                *(pl.col(c).cast(pl.Float64) for c in values),
            )
        )
    return pl.concat(parts, how="vertical")
