"""What the second purchase is worth and who to nudge: the 365-day value by second-purchase timing, the action
list of one-time buyers whose window is open or closing, and the plans of ``loyalty second-purchase``. The
definitions are in :mod:`loyalty_cli.metrics.second_purchase`.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.metrics.second_purchase import (
    ALL,
    BUCKET_NAMES,
    BUCKETS,
    NEVER,
    VALUE_DAYS,
    SecondPurchaseConfig,
    _enough,
    _stacked,
    group_column,
    history_start,
    km_curve,
    repurchase_shares,
    timing_summary,
)
from loyalty_cli.stage1.activity_parts import Activity, each_part, in_parts, stacked, with_customers


def first_year_value(
    activity: Activity, *, days: int = VALUE_DAYS, customers: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Per customer with a purchase: ``customer_id, first_purchase, first_day_cents, after_first_cents``: the
    net value (returns included) of the first purchase day, and of the ``days`` days after it (day 1 to day
    ``days`` included), from :func:`~loyalty_cli.stage1.customers.customer_activity`. ``customers``: the
    customer summary of the same lines, whose ``first_purchase`` is that first purchase day: joined to the
    activity rather than found again by a window over every customer's days (10M lines: 2 s against 7 s). The
    activity in parts (:mod:`loyalty_cli.stage1.activity_parts`): one part at a time (with its customers), the
    parts' customers stacked, collected."""
    if in_parts(activity):
        pairs = (
            with_customers(customers, activity) if customers is not None else [(None, p) for p in each_part(activity)]
        )
        return stacked([first_year_value(part, days=days, customers=mine).collect() for mine, part in pairs]).lazy()
    activity = each_part(activity)[0]
    day = pl.col("day")
    first = pl.col("first_purchase")
    if customers is None:
        dated = activity.with_columns(
            pl.when(pl.col("purchases") > 0).then(day).min().over("customer_id").alias("first_purchase")
        )
    else:
        dated = activity.join(customers.select("customer_id", "first_purchase"), on="customer_id", how="inner")
    return (
        dated.filter(first.is_not_null() & (day <= first + pl.duration(days=days)))
        .group_by("customer_id")
        .agg(
            first.first(),
            pl.when(day == first).then(pl.col("net_cents")).sum().alias("first_day_cents"),
            pl.when(day > first).then(pl.col("net_cents")).sum().alias("after_first_cents"),
        )
    )


def _bucket() -> pl.Expr:
    gap = pl.col("gap_days")
    expr = pl.when(gap <= BUCKETS[0][0]).then(pl.lit(BUCKETS[0][1]))
    for limit, name in BUCKETS[1:]:
        expr = expr.when(gap <= limit).then(pl.lit(name))
    return expr.otherwise(pl.lit(NEVER)).cast(pl.Enum(BUCKET_NAMES))


def value_by_bucket(
    customers: pl.LazyFrame, value: pl.LazyFrame, *, by: str | None = None, min_n: int = 30
) -> pl.LazyFrame:
    """Per group and second-purchase bucket, customers observed 365 days only: ``customers``, their share,
    the mean and median net spend of the first purchase day and the 365 days after it
    (``mean_spend_365d``, ``median_spend_365d``), the mean of the 365 days after the first purchase day alone
    (``mean_repeat_spend_365d``), and the total. ``value`` is :func:`first_year_value`. Means and medians
    are null below ``min_n`` customers. Every bucket is listed."""
    return _bucket_table(customers, _value_rows(customers, value, by), by=by, min_n=min_n)


def _value_rows(customers: pl.LazyFrame, value: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
    """The rows :func:`value_by_bucket` counts, one per customer observed 365 days and group: ``group, bucket,
    spend_cents, after_first_cents`` (whole cents: counted over parts of the customers, they add up)."""
    observed = (
        _stacked(customers, by)
        .filter(pl.col("observed_days") >= VALUE_DAYS)
        .join(value.select("customer_id", "first_day_cents", "after_first_cents"), on="customer_id", how="left")
        .with_columns(pl.col("first_day_cents", "after_first_cents").fill_null(0))
    )
    return observed.select(
        "group",
        _bucket().alias("bucket"),
        (pl.col("first_day_cents") + pl.col("after_first_cents")).alias("spend_cents"),
        "after_first_cents",
    )


def _bucket_table(
    customers: pl.LazyFrame,
    observed: pl.LazyFrame,
    *,
    by: str | None,
    min_n: int,
    groups: pl.LazyFrame | None = None,
    medians: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """:func:`value_by_bucket` from its rows (:func:`_value_rows`): the means of whole cents are exact (below
    2**53), so they do not depend on the order of the rows. ``groups``: every customer's group (``group``, unique)
    and ``medians`` (:func:`_medians`) when found already, else from ``customers`` and ``observed``."""
    groups = groups if groups is not None else _stacked(customers, by).select(pl.col("group").unique())
    spend, repeat = pl.col("spend_cents"), pl.col("after_first_cents")
    aggs = [
        pl.len().cast(pl.Int64).alias("customers"),
        (spend.mean() / 100).alias("mean_spend_365d"),
        (spend.median() / 100).alias("median_spend_365d"),
        (repeat.mean() / 100).alias("mean_repeat_spend_365d"),
        (spend.sum() / 100).alias("total_spend_365d"),
    ]
    if medians is None:
        stats = observed.group_by("group", "bucket").agg(aggs)
    else:
        stats = observed.group_by("group", "bucket").agg(*aggs[:2], *aggs[3:]).join(medians, on=["group", "bucket"])
    grid = groups.join(
        pl.LazyFrame({"bucket": list(BUCKET_NAMES)}, schema={"bucket": pl.Enum(BUCKET_NAMES)}), how="cross"
    )
    n = pl.col("customers")
    return (
        grid.join(stats, on=["group", "bucket"], how="left")
        .with_columns(n.fill_null(0), pl.col("total_spend_365d").fill_null(0.0))
        .select(
            "group",
            "bucket",
            "customers",
            pl.when(n.sum().over("group") > 0).then(n / n.sum().over("group")).alias("share_customers"),
            *(
                _enough(n, pl.col(c), min_n).alias(c)
                for c in ("mean_spend_365d", "median_spend_365d", "mean_repeat_spend_365d")
            ),
            "total_spend_365d",
        )
        .sort(pl.col("group") != ALL, "group", "bucket")
    )


def _medians(observed: pl.DataFrame) -> pl.LazyFrame:
    """``group, bucket, median_spend_365d`` of collected rows (:func:`_value_rows`), one group and bucket at a
    time: the group-by's median held several times the rows (4.2M rows of 50M lines: +300 MB at the peak; a sort
    by group, bucket and spend +180 MB), these one copy of them. The same medians (one per group and bucket: a
    loop over at most 6 buckets per group, not over rows)."""
    rows = [
        (group, bucket, part["spend_cents"].median())
        for (group, bucket), part in observed.select("group", "bucket", "spend_cents")
        .partition_by("group", "bucket", as_dict=True)
        .items()
    ]
    schema = observed.select("group", "bucket").schema
    frame = pl.DataFrame(rows, schema={**schema, "_median": pl.Float64}, orient="row")
    return frame.lazy().select("group", "bucket", (pl.col("_median") / 100).alias("median_spend_365d"))


def action_list(customers: pl.LazyFrame, summary: pl.LazyFrame, *, config: SecondPurchaseConfig) -> pl.LazyFrame:
    """One-time buyers to nudge: their window (from ``summary`` = :func:`timing_summary`, by their group) is
    open on ``as_of``, or its last day falls within the next ``closing_days`` days (counting as_of) even if
    it has not opened yet, so a run every ``closing_days`` days misses no window.

    Columns: customer_id, [email], first_purchase, [first_category, first_channel, the by column],
    days_since_first, status (``open`` or ``upcoming``), nudge_date (as_of, or the day the window opens),
    window_opens, window_closes (its last day), window_from_days, window_to_days, window_source, orders,
    net_spend, returns_value. Sorted by nudge_date, window_closes, net_spend (largest first), customer_id."""
    names = customers.collect_schema().names()
    first = pl.col("first_purchase")
    since = pl.col("days_since_first")
    lo, hi = pl.col("window_from_days"), pl.col("window_to_days")
    opens = first + pl.duration(days=lo)
    closes = first + pl.duration(days=hi)
    windows = summary.select("group", "window_from_days", "window_to_days", "window_source")
    if config.by is not None:
        windows = windows.filter(pl.col("group") != ALL)
    leading = [c for c in ("customer_id", "email") if c in names]
    about = [c for c in ("first_category", "first_channel") if c in names]
    value = [c for c in ("orders", "net_spend", "returns_value") if c in names]
    if config.by is not None and config.by not in (*leading, "first_purchase", *about, *value):
        about.append(config.by)
    return (
        customers.filter(pl.col("second_purchase").is_null())
        .with_columns(
            group_column(config.by), (pl.col("as_of") - first).dt.total_days().cast(pl.Int32).alias("days_since_first")
        )
        .join(windows, on="group", how="inner")
        .filter(lo.is_not_null() & (since <= hi) & ((since >= lo) | (hi - since < config.closing_days)))
        .select(
            *leading,
            "first_purchase",
            *about,
            "days_since_first",
            pl.when(since >= lo).then(pl.lit("open")).otherwise(pl.lit("upcoming")).alias("status"),
            pl.max_horizontal(pl.col("as_of"), opens).alias("nudge_date"),
            opens.alias("window_opens"),
            closes.alias("window_closes"),
            "window_from_days",
            "window_to_days",
            "window_source",
            *value,
        )
        .sort(
            "nudge_date",
            "window_closes",
            *(["net_spend"] if "net_spend" in value else []),
            "customer_id",
            descending=[False, False, *([True] if "net_spend" in value else []), False],
        )
    )


def second_purchase_tables(
    customers: pl.LazyFrame, activity: Activity, *, config: SecondPurchaseConfig
) -> list[pl.LazyFrame]:
    """The plans of ``loyalty second-purchase``, to collect together: the timing summary, the repurchase
    shares, the Kaplan-Meier curve, value by timing, the action list and whether the history starts before
    the data (:func:`history_start`), in that order. The activity in parts is read one part at a time (value by
    timing: each part's rows without customer ids, stacked; joined whole, the ids of 4.8M customers cost
    ~0.5 GB more at the peak)."""
    summary = timing_summary(customers, config=config)
    if in_parts(activity):  # each part's rows (its customers', without their ids) and groups, stacked
        rows, groups = [], []
        for mine, part in with_customers(customers, activity):
            found = _value_rows(mine, first_year_value(part, customers=mine), config.by)
            rows.append(found.collect())
            groups.append(_stacked(mine, config.by).select(pl.col("group").unique()).collect())
        found, groups = stacked(rows), stacked(groups).lazy().unique()
        del rows
        kept = {"groups": groups, "medians": _medians(found)}
        value = _bucket_table(customers, found.lazy(), by=config.by, min_n=config.min_n, **kept)
        value = value.collect().lazy()  # now: its rows are gone before the other plans run
    else:
        value = value_by_bucket(
            customers, first_year_value(activity, customers=customers), by=config.by, min_n=config.min_n
        )
    return [
        summary,
        repurchase_shares(customers, by=config.by, min_n=config.min_n),
        km_curve(customers, by=config.by),
        value,
        action_list(customers, summary, config=config),
        history_start(customers, min_n=config.min_n),
    ]
