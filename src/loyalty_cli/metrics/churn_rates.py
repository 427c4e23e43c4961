"""Churn rate by period: of the customers *at the start* of a period (acquired before it and not lapsed), the
share who are lapsed at its end. Each customer's history is replayed with today's thresholds (their IPT as of
the as-of date, from :func:`~loyalty_cli.metrics.churn.churn_status`), so a past period can move a little as
new purchases change an IPT. Only periods that are over before the as-of date are reported.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from loyalty_cli.metrics.churn import each_part_days, own_gaps, purchase_days, same_customer
from loyalty_cli.metrics.churn_narrow import Statuses, aligned_own, narrow_status
from loyalty_cli.metrics.periods import Period, check_period, period_index, period_label, period_start
from loyalty_cli.rules.churn import ChurnRules
from loyalty_cli.stage1.activity_parts import Activity, in_parts


def churn_tables(
    customers: pl.LazyFrame | pl.DataFrame,
    activity: Activity,
    *,
    rules: ChurnRules,
    period: Period = "month",
    reasons: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The status table (:func:`~loyalty_cli.metrics.churn.churn_status`) and the churn rates
    (:func:`churn_rates`), each intermediate computed once: :func:`status_and_rates`, the status completed.
    ``reasons=False``: the status without its ``reason`` column (:func:`~loyalty_cli.metrics.churn.reason` adds
    it, e.g. once sorted)."""
    statuses, rates = status_and_rates(customers, activity, rules=rules, period=period)
    return statuses.complete(statuses.table.lazy(), reasons=reasons).collect(), rates


def status_and_rates(
    customers: pl.LazyFrame | pl.DataFrame, activity: Activity, *, rules: ChurnRules, period: Period = "month"
) -> tuple[Statuses, pl.DataFrame]:
    """The status table, narrow (:class:`~loyalty_cli.metrics.churn_narrow.Statuses`: its other columns are made
    for the rows at hand), and the churn rates (:func:`churn_rates`).

    The customers' purchase days are numbered and sorted (:func:`~loyalty_cli.metrics.churn.purchase_days`, on
    the collected customer table, so the numbers stay theirs) and serve both the inter-purchase times of the
    status and the rates' purchase periods; the rates are derived from frames collected once (given lazy
    inputs, Polars recomputed them in several branches of the rates' plan: 10M lines, 14.5 s against 6.0 s).

    The activity in parts (:mod:`loyalty_cli.stage1.activity_parts`) is read one part at a time, twice: each
    part's purchase days give its customers' inter-purchase times (set in their rows), then the status of all customers,
    then, each part read again, its customers' lapsed thresholds (gathered by their numbers, no join) and its
    counts per period (:func:`_counts`), added up: whole numbers, so the rates are those of one table. One
    part's days are held at a time (reading them twice is ~10% of the time; held, the days of 50M lines are
    ~0.2 GB more at the peak). A single table's days are held and read once."""
    period = check_period(period)
    table = customers.collect() if isinstance(customers, pl.LazyFrame) else customers
    held: list[pl.DataFrame] = []

    def owns() -> Iterator[pl.DataFrame]:
        for days in each_part_days(table, activity):
            yield own_gaps(days.lazy(), how=rules.own_ipt).collect()
            if not in_parts(activity):
                held.append(days)

    statuses = narrow_status(table, aligned_own(table.height, owns()), rules=rules)
    lapsed, as_of = statuses.column("lapsed_after_days"), statuses.table["as_of"]
    counts = []
    for days in held or each_part_days(table, activity):
        mine = days["_i"]
        dated = days.hstack([lapsed.gather(mine), as_of.gather(mine)]).lazy()
        dated = dated.with_columns(_thresholds(period)[1])
        counts.append(pl.collect_all(list(_counts(_periods(dated, period).collect().lazy()))))
    held.clear()
    return statuses, _rates_of(*_added(counts), period).collect()


def churn_rates(
    status: pl.DataFrame | pl.LazyFrame, activity: pl.LazyFrame, *, period: Period = "month"
) -> pl.LazyFrame:
    """Churn rate per calendar period, replaying each customer's purchase days against their lapsed threshold.

    ``status`` should be the collected status table: a lazy one is recomputed by the branches of this plan
    (:func:`churn_tables` collects it, and the purchase periods, once).

    A customer is *lapsed at* the start of day s when s - (their last purchase day before s) > their
    lapsed threshold. At the start of each period (a boundary): customers_at_start = acquired before it and
    not lapsed. Per period: new_customers (first purchase in it), churned (at the start, lapsed at the end),
    reactivated (lapsed at the start, not at the end), lapsed_at_end, active_at_end, churn_rate = churned /
    customers_at_start. Only periods over before as_of are reported.

    Computed from one row per customer and purchase period (no customer x period grid): between two
    purchase periods q < q' a customer is lapsed at boundaries m .. q', where m is the first boundary on or
    after the day they cross the threshold."""
    period = check_period(period)
    return _rates(_purchase_periods(status, activity, period), period)


def _thresholds(period: Period) -> list[pl.Expr]:
    """A customer's lapsed threshold and the period holding the as-of date (``now``), from the status."""
    return [pl.col("lapsed_after_days"), period_index(pl.col("as_of"), period).alias("now")]


def _purchase_periods(status: pl.DataFrame | pl.LazyFrame, activity: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """:func:`_periods` of the customers of ``status`` (read once: see :func:`purchase_days`)."""
    base = status.lazy().select("customer_id", *_thresholds(period))
    return _periods(purchase_days(base, activity, keep=["lapsed_after_days", "now"]), period)


def _periods(days: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """One row per customer (with a lapsed threshold) and period with a purchase: q, the period's last
    purchase day, m (the first boundary at which they are lapsed if they buy nothing more), the next purchase
    period (q_next, m_next), end (q_next, or the period holding as_of) and whether q is their first.

    From the customers' purchase days in order (:func:`~loyalty_cli.metrics.churn.purchase_days`, with each
    customer's ``lapsed_after_days`` and ``now``): the last day of each run of one customer and period, and the
    next run's values by shifting (windows over the customer id ordered by period cost several times as much)."""
    q = pl.col("q")
    next_run = same_customer(-1)
    return (
        days.filter(pl.col("lapsed_after_days").is_not_null())  # whole customers: still sorted by customer
        .with_columns(period_index(pl.col("_day").cast(pl.Date), period).alias("q"))
        .filter(~(next_run & (q == q.shift(-1))))  # the period's last purchase day
        .with_columns(
            # first day lapsed: last + floor(threshold) + 1 (capped to stay a valid date)
            (
                pl.col("_day").cast(pl.Int64)
                + pl.col("lapsed_after_days").floor().clip(upper_bound=1e6).cast(pl.Int64)
                + 1
            ).alias("lapse_day"),
        )
        .with_columns(
            (period_index((pl.col("lapse_day") - 1).cast(pl.Int32).cast(pl.Date), period) + 1).alias("m"),
            pl.when(next_run).then(q.shift(-1)).alias("q_next"),
            (~same_customer(1)).alias("first"),
        )
        .with_columns(
            pl.when(next_run).then(pl.col("m").shift(-1)).alias("m_next"),
            pl.coalesce("q_next", "now").alias("end"),
        )
        .select("q", "m", "q_next", "first", "m_next", "end", "now")  # what the rates read
    )


def _rates(segments: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """The churn rate table from :func:`_purchase_periods` (see :func:`churn_rates`)."""
    return _rates_of(*_counts(segments), period)


Counts = tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]


def _counts(segments: pl.LazyFrame) -> Counts:
    """What the rates count from :func:`_purchase_periods`: the steps of the stocks at each boundary (``p,
    acquired, lapsed``), the flows of each period (``p, new_customers, new_lapsed, reactivated``) and the range
    of periods (``lo, hi``). Counts of customers: those of parts of the customers add up (:func:`_added`)."""
    one = pl.lit(1, dtype=pl.Int64)
    # stocks at boundaries, as +1/-1 steps: acquired from first period + 1; lapsed on [m, end]
    steps = (
        pl.concat(
            [
                segments.filter("first").select(
                    (pl.col("q") + 1).alias("p"), one.alias("acquired"), pl.lit(0, dtype=pl.Int64).alias("lapsed")
                ),
                segments.filter(pl.col("m") <= pl.col("end")).select(
                    pl.col("m").alias("p"), pl.lit(0, dtype=pl.Int64).alias("acquired"), one.alias("lapsed")
                ),
                segments.filter(pl.col("m") <= pl.col("end")).select(
                    (pl.col("end") + 1).alias("p"), pl.lit(0, dtype=pl.Int64).alias("acquired"), (-one).alias("lapsed")
                ),
            ]
        )
        .group_by("p")
        .agg(pl.col("acquired").sum(), pl.col("lapsed").sum())
    )
    flows = (
        pl.concat(
            [
                segments.filter("first").select(
                    pl.col("q").alias("p"),
                    one.alias("new_customers"),
                    (pl.col("m") == pl.col("q") + 1).cast(pl.Int64).alias("new_lapsed"),
                    pl.lit(0, dtype=pl.Int64).alias("reactivated"),
                ),
                segments.filter(
                    pl.col("q_next").is_not_null()
                    & (pl.col("m") <= pl.col("q_next"))
                    & (pl.col("m_next") > pl.col("q_next") + 1)
                ).select(
                    pl.col("q_next").alias("p"),
                    pl.lit(0, dtype=pl.Int64).alias("new_customers"),
                    pl.lit(0, dtype=pl.Int64).alias("new_lapsed"),
                    one.alias("reactivated"),
                ),
            ]
        )
        .group_by("p")
        .agg(pl.all().sum())
    )
    bounds = segments.select(pl.col("q").min().alias("lo"), pl.col("now").max().alias("hi"))
    return steps, flows, bounds


def _added(found: list[list[pl.DataFrame]]) -> Counts:
    """The :func:`_counts` of parts of the customers (none in two parts), collected, added up."""
    steps, flows, bounds = (pl.concat([part[k] for part in found], how="vertical") for k in range(3))
    return (
        steps.lazy().group_by("p").agg(pl.col("acquired").sum(), pl.col("lapsed").sum()),
        flows.lazy().group_by("p").agg(pl.all().sum()),
        bounds.lazy().select(pl.col("lo").min(), pl.col("hi").max()),
    )


def _rates_of(steps: pl.LazyFrame, flows: pl.LazyFrame, bounds: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """The churn rate table from its :func:`_counts`."""
    boundaries = (
        bounds.select(pl.int_ranges("lo", pl.col("hi") + 1).alias("p"))
        .explode("p")
        .filter(pl.col("p").is_not_null())
        .with_columns(pl.col("p").cast(pl.Int32))
        .join(steps.with_columns(pl.col("p").cast(pl.Int32)), on="p", how="left")
        .sort("p")
        .select(
            "p",
            pl.col("acquired").fill_null(0).cum_sum().alias("acquired_at"),
            pl.col("lapsed").fill_null(0).cum_sum().alias("lapsed_at"),
        )
    )
    return (
        boundaries.join(flows.with_columns(pl.col("p").cast(pl.Int32)), on="p", how="left")
        .sort("p")
        .with_columns(
            pl.col("new_customers", "new_lapsed", "reactivated").fill_null(0),
            pl.col("lapsed_at").shift(-1).alias("lapsed_at_end"),
            pl.col("acquired_at").shift(-1).alias("acquired_at_end"),
        )
        .filter(pl.col("lapsed_at_end").is_not_null())  # the period holding as_of is not over
        .with_columns(
            (pl.col("acquired_at") - pl.col("lapsed_at")).alias("customers_at_start"),
            (pl.col("lapsed_at_end") - pl.col("lapsed_at") + pl.col("reactivated") - pl.col("new_lapsed")).alias(
                "churned"
            ),
            (pl.col("acquired_at_end") - pl.col("lapsed_at_end")).alias("active_at_end"),
        )
        .select(
            period_label(period_start(pl.col("p"), period), period).alias("period"),
            period_start(pl.col("p"), period).alias("period_start"),
            *(
                pl.col(c).cast(pl.UInt32)
                for c in (
                    "customers_at_start",
                    "new_customers",
                    "churned",
                    "reactivated",
                    "lapsed_at_end",
                    "active_at_end",
                )
            ),
            pl.when(pl.col("customers_at_start") > 0)
            .then(pl.col("churned") / pl.col("customers_at_start"))
            .alias("churn_rate"),
        )
    )
