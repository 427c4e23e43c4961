"""Time to second purchase: when first-time buyers come back, and who to nudge now.

Stage 2: everything here starts from the per-customer summary (:func:`~loyalty_cli.stage1.customers.
customer_summary`) and, for value, the customer x day activity table (:func:`~loyalty_cli.stage1.customers.
customer_activity`); never from raw lines.

Definitions (the README repeats them):

- ``gap_days`` = second purchase day - first purchase day (a purchase on a later day, so >= 1); null for a
  one-time buyer.
- ``observed_days`` = the last day in the data (``as_of - 1``; as_of is exclusive) - first purchase day: the
  longest gap the data could show for that customer. A customer is *observed d days* when
  ``observed_days >= d``. One-time buyers are right-censored at ``observed_days``: they may still come back,
  so they are never counted as "did not come back" before that.
- The Kaplan-Meier curve of "not yet repurchased": at each day t with events, ``S(t) = S(t-) x (1 - d/n)``
  with d second purchases on day t and n customers still at risk (time >= t; a customer censored on day t
  is at risk on day t). Quantile pXX = the first day with ``S <= 1 - XX/100``: the day by which XX% of all
  first-time buyers have bought again. Null when the curve never gets that low (fewer than XX% come back
  within the time observed).
- Share within d days = customers with ``gap_days <= d`` among customers observed d days (both counts
  leave out customers observed less, whatever they did).
- Repeaters-only mean/median gap: among customers with a second purchase only. Biased low on its own (it
  leaves out everyone who has not come back yet); always shown beside the curve.
- The window: ``[from, to]`` days after the first purchase, from percentiles of the repeaters' gap
  (default p25-p75; pXX = the smallest gap g with at least XX% of repeaters at or below g) or fixed days.
  Per group; a group with fewer than ``min_n`` repeaters uses the window of all customers.
- A history that starts before the data (a left-truncated export, e.g. a shop's orders of the last two years,
  not since it opened): a customer who bought before the data starts shows a later purchase as "first", and
  the first days of the data collect most such customers. Flagged when the first 30 days of the data hold at
  least 40% of the first purchases of its first 90 days (a steady flow of new customers gives a third), more
  than chance would give (z >= 3 against a third), with at least ``min_n`` of them and 90 days of data. A
  shop that opens, or a cohort acquired over a few months, shows no such step. Those customers overstate the
  shares (the 365-day share most: it counts only customers first seen in the data's first year) and the
  value by timing.
- 365-day value: net spend (returns included) of the first purchase day and the 365 days after it
  (``spend``), and of those 365 days alone (``repeat_spend``), for customers observed 365 days, by when their
  second purchase came (0-30, 31-60, 61-90, 91-180, 181-365 days, never = none within 365 days). A
  correlation, not the effect of a nudge.

Any number computed from fewer than ``min_n`` customers is left empty (its count is shown beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import UsageError, setting

WITHIN_DAYS = (7, 14, 30, 60, 90, 180, 365)
PERCENTILES = (25, 50, 75, 90)
VALUE_DAYS = 365
BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (365, "181-365"))
NEVER = "never"
BUCKET_NAMES = (*(name for _, name in BUCKETS), NEVER)
ALL = "(all)"  # the group of every customer
MISSING = "(missing)"  # the group of customers whose value of the grouping column is empty
EPS = 1e-9  # S(t) <= 1 - p up to rounding: 1 - 1/4 must count as reaching 0.75
#: a history that starts before the data: the first START_DAYS days of the data hold at least START_PCT% of the
#: first purchases of its first EARLY_DAYS days, START_Z standard errors above a steady flow (see
#: :func:`history_start`)
START_DAYS, EARLY_DAYS, START_PCT, START_Z = 30, 90, 40, 3.0


@dataclass(frozen=True)
class Window:
    """The second-purchase window: percentiles of the repeaters' gap, or fixed days after the first purchase."""

    kind: Literal["percentile", "days"] = "percentile"
    low: int = 25
    high: int = 75

    def __post_init__(self) -> None:
        if self.kind == "percentile" and not 0 < self.low <= self.high <= 100:
            raise UsageError(
                f"{setting('window')} p{self.low}-p{self.high}: percentiles must satisfy 0 < low <= high <= 100",
                hint=f"e.g. {setting('window')} p25-p75",
            )
        if self.kind == "days" and not 0 <= self.low <= self.high:
            raise UsageError(
                f"{setting('window')} {self.low}-{self.high}: days must satisfy 0 <= from <= to",
                hint=f"e.g. {setting('window')} 20-60 (days after the first purchase)",
            )

    def describe(self) -> str:
        if self.kind == "percentile":
            return f"p{self.low}-p{self.high} of the repeaters' gap"
        return f"{self.low}-{self.high} days after the first purchase"


@dataclass(frozen=True)
class SecondPurchaseConfig:
    by: str | None = None  # a column of the customer summary, e.g. first_category
    min_n: int = 30
    window: Window = Window()
    closing_days: int = 14

    def __post_init__(self) -> None:
        if self.min_n < 1:
            raise UsageError(f"{setting('min_n')} must be at least 1, got {self.min_n}")
        if self.closing_days < 0:
            raise UsageError(f"{setting('closing')} must be 0 days or more, got {self.closing_days}")


def group_column(by: str | None) -> pl.Expr:
    """A customer's group: the ``by`` column as text (``(missing)`` when empty), or ``(all)`` without ``by``."""
    if by is None:
        return pl.lit(ALL).alias("group")
    return pl.col(by).cast(pl.String).fill_null(MISSING).alias("group")


def second_purchase_gaps(customers: pl.LazyFrame, *, by: str | None = None) -> pl.LazyFrame:
    """One row per customer: ``customer_id, group, first_purchase, second_purchase, gap_days, observed_days``.

    ``group`` is the ``by`` column as text (``(missing)`` when empty), or ``(all)`` without ``by``."""
    first = pl.col("first_purchase")
    return customers.select(
        "customer_id",
        group_column(by),
        "first_purchase",
        "second_purchase",
        (pl.col("second_purchase") - first).dt.total_days().cast(pl.Int32).alias("gap_days"),
        ((pl.col("as_of") - first).dt.total_days() - 1).cast(pl.Int32).alias("observed_days"),
    )


def _stacked(customers: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
    """The gaps with every customer in group ``(all)``, and also in its own group when ``by`` is given."""
    gaps = second_purchase_gaps(customers, by=by)
    if by is None:
        return gaps
    return pl.concat([gaps.with_columns(pl.lit(ALL).alias("group")), gaps])


def _enough(n: pl.Expr, value: pl.Expr, min_n: int) -> pl.Expr:
    """``value`` where ``n >= min_n``, else null."""
    return pl.when(n >= min_n).then(value)


def km_curve(customers: pl.LazyFrame, *, by: str | None = None) -> pl.LazyFrame:
    """Kaplan-Meier curve of "not yet repurchased", per group: one row per day with a second purchase or a
    censoring: ``group, day, at_risk, repurchased, censored, not_repurchased, repurchased_share``."""
    gaps = _stacked(customers, by)
    event = pl.col("gap_days").is_not_null()
    left = pl.col("repurchased") + pl.col("censored")
    return (
        gaps.group_by("group", pl.coalesce("gap_days", "observed_days").alias("day"))
        .agg(event.sum().cast(pl.Int64).alias("repurchased"), (~event).sum().cast(pl.Int64).alias("censored"))
        .sort("group", "day")
        .with_columns(left.cum_sum(reverse=True).over("group").alias("at_risk"))  # time >= day
        .with_columns((1 - pl.col("repurchased") / pl.col("at_risk")).cum_prod().over("group").alias("not_repurchased"))
        .select(
            "group",
            "day",
            "at_risk",
            "repurchased",
            "censored",
            "not_repurchased",
            (1 - pl.col("not_repurchased")).alias("repurchased_share"),
        )
    )


def repurchase_shares(
    customers: pl.LazyFrame, *, by: str | None = None, min_n: int = 30, within: Sequence[int] = WITHIN_DAYS
) -> pl.LazyFrame:
    """Per group and horizon d: ``observed`` (customers observed d days), ``returned`` (of them, a second
    purchase within d days), ``share`` = returned / observed, and ``km_share`` = 1 - S(d) from the curve.
    Both shares are null when fewer than ``min_n`` customers were observed d days."""
    gaps = _stacked(customers, by)
    days = pl.LazyFrame({"within_days": list(within)}, schema={"within_days": pl.Int32})
    observed = pl.col("observed_days") >= pl.col("within_days")
    counts = (
        gaps.join(days, how="cross")
        .group_by("group", "within_days")
        .agg(
            observed.sum().cast(pl.Int64).alias("observed"),
            (observed & (pl.col("gap_days") <= pl.col("within_days")).fill_null(False))
            .sum()
            .cast(pl.Int64)
            .alias("returned"),
        )
    )
    # S(d) = the curve's value at the last day <= d (it never increases), 1 before the first day
    at_day = (
        km_curve(customers, by=by)
        .join(days, how="cross")
        .filter(pl.col("day") <= pl.col("within_days"))
        .group_by("group", "within_days")
        .agg(pl.col("not_repurchased").min())
    )
    enough = pl.col("observed")
    return (
        counts.join(at_day, on=["group", "within_days"], how="left")
        .select(
            "group",
            "within_days",
            "observed",
            "returned",
            _enough(enough, pl.col("returned") / pl.col("observed"), max(min_n, 1)).alias("share"),
            _enough(enough, 1 - pl.col("not_repurchased").fill_null(1.0), max(min_n, 1)).alias("km_share"),
        )
        .sort("group", "within_days")
    )


def _gap_percentile(pct: int) -> pl.Expr:
    """Inverse CDF of the repeaters' gap: the smallest gap with at least pct% of repeaters at or below it
    (integer arithmetic: index ceil(pct x n / 100) - 1 of the sorted gaps)."""
    n = pl.col("gap_days").count().cast(pl.Int64)
    return pl.col("gap_days").drop_nulls().sort().get((n * pct + 99) // 100 - 1, null_on_oob=True)


def _counts(customers: pl.LazyFrame, *, config: SecondPurchaseConfig) -> pl.LazyFrame:
    """Per group (and ``(all)``): first-time buyers, repeaters, their mean and median gap, and the gap
    percentiles of a percentile window (``_own_from``, ``_own_to``)."""
    window = config.window
    return (
        _stacked(customers, config.by)
        .group_by("group")
        .agg(
            pl.len().cast(pl.Int64).alias("first_buyers"),
            pl.col("gap_days").count().cast(pl.Int64).alias("repeaters"),
            pl.col("gap_days").mean().alias("repeaters_mean_gap_days"),
            pl.col("gap_days").median().alias("repeaters_median_gap_days"),
            *(
                [_gap_percentile(window.low).alias("_own_from"), _gap_percentile(window.high).alias("_own_to")]
                if window.kind == "percentile"
                else []
            ),
        )
    )


def _window_columns(config: SecondPurchaseConfig) -> list[pl.Expr]:
    """``window_from_days, window_to_days, window_source`` over :func:`_counts`: the group's own percentiles
    with ``min_n`` repeaters or more, else those of ``(all)``, else none; or the fixed window."""
    window, min_n = config.window, config.min_n
    if window.kind != "percentile":
        return [
            pl.lit(window.low, pl.Int32).alias("window_from_days"),
            pl.lit(window.high, pl.Int32).alias("window_to_days"),
            pl.lit("fixed").alias("window_source"),
        ]
    own = pl.col("repeaters") >= min_n
    fallback = pl.col("repeaters").filter(pl.col("group") == ALL).first() >= min_n  # (all) has a window

    def overall(col: str) -> pl.Expr:
        return pl.col(col).filter(pl.col("group") == ALL).first()

    return [
        pl.when(own).then(pl.col("_own_from")).when(fallback).then(overall("_own_from")).alias("window_from_days"),
        pl.when(own).then(pl.col("_own_to")).when(fallback).then(overall("_own_to")).alias("window_to_days"),
        pl.when(own).then(pl.col("group")).when(fallback).then(pl.lit(ALL)).alias("window_source"),
    ]


def second_purchase_windows(customers: pl.LazyFrame, *, config: SecondPurchaseConfig) -> pl.LazyFrame:
    """The window columns of :func:`timing_summary` alone (``group, window_from_days, window_to_days,
    window_source``), without the Kaplan-Meier curve and shares it also computes."""
    return (
        _counts(customers, config=config)
        .with_columns(_window_columns(config))
        .select("group", "window_from_days", "window_to_days", "window_source")
    )


def timing_summary(customers: pl.LazyFrame, *, config: SecondPurchaseConfig) -> pl.LazyFrame:
    """One row per group (``(all)`` first, then groups by size): counts, the shares within 7..365 days
    (``share_<d>d``), Kaplan-Meier quantiles over all first-time buyers (``p<XX>_days``), where the curve
    ends, the repeaters-only mean/median gap, and the window (``window_from_days``, ``window_to_days``,
    ``window_source``: the group whose repeaters set it, ``(all)`` as a fallback, or ``fixed``)."""
    by, min_n = config.by, config.min_n
    counts = _counts(customers, config=config)
    curve = km_curve(customers, by=by)
    quantiles = curve.group_by("group").agg(
        *(
            pl.col("day").filter(pl.col("not_repurchased") <= 1 - p / 100 + EPS).min().alias(f"p{p}_days")
            for p in PERCENTILES
        ),
        pl.col("day").max().alias("km_last_day"),
        pl.col("not_repurchased").min().alias("km_not_repurchased"),
    )
    shares = (
        repurchase_shares(customers, by=by, min_n=min_n)
        .group_by("group")
        .agg(pl.col("share").filter(pl.col("within_days") == d).first().alias(f"share_{d}d") for d in WITHIN_DAYS)
    )
    table = counts.join(quantiles, on="group", how="left").join(shares, on="group", how="left")
    buyers, repeaters = pl.col("first_buyers"), pl.col("repeaters")
    return (
        table.with_columns(_window_columns(config))
        .select(
            "group",
            "first_buyers",
            "repeaters",
            (buyers - repeaters).alias("one_time_buyers"),
            *(pl.col(f"share_{d}d") for d in WITHIN_DAYS),
            *(_enough(buyers, pl.col(f"p{p}_days"), min_n).alias(f"p{p}_days") for p in PERCENTILES),
            "km_last_day",
            "km_not_repurchased",
            _enough(repeaters, pl.col("repeaters_mean_gap_days"), min_n),
            _enough(repeaters, pl.col("repeaters_median_gap_days"), min_n),
            "window_from_days",
            "window_to_days",
            "window_source",
        )
        .sort(pl.col("group") != ALL, "first_buyers", "group", descending=[False, True, False])
    )


def history_start(customers: pl.LazyFrame, *, min_n: int = 30) -> pl.LazyFrame:
    """Whether the customers' history starts before the data (see the module notes). One row:
    ``data_start`` (the first purchase day in the data), ``start_buyers`` (customers whose first purchase falls
    in its first 30 days), ``early_buyers`` (in its first 90 days), ``start_share`` (start / early buyers; a
    steady flow of new customers gives a third), ``observed_365d`` (customers observed 365 days: the base of the
    365-day share and of the value by timing), ``observed_365d_from_start`` (of them, first purchase in the
    first 30 days), and ``truncated``: true when the start share is at least 40% and 3 standard errors above a
    third, false when not, null when the data is too short (< 90 days) or small (< ``min_n`` start buyers) to
    tell."""
    first = pl.col("first_purchase")
    start = first.min()
    day = (first - start).dt.total_days()
    observed = (pl.col("as_of") - first).dt.total_days() - 1 >= VALUE_DAYS
    counts = customers.filter(first.is_not_null()).select(
        start.alias("data_start"),
        (day < START_DAYS).sum().cast(pl.Int64).alias("start_buyers"),
        (day < EARLY_DAYS).sum().cast(pl.Int64).alias("early_buyers"),
        observed.sum().cast(pl.Int64).alias("observed_365d"),
        (observed & (day < START_DAYS)).sum().cast(pl.Int64).alias("observed_365d_from_start"),
        ((pl.col("as_of").max() - start).dt.total_days() >= EARLY_DAYS).alias("_long_enough"),
    )
    k, n = pl.col("start_buyers"), pl.col("early_buyers")
    p = START_DAYS / EARLY_DAYS  # the share of a steady flow
    z = (k - n * p) / (n * p * (1 - p)).sqrt()  # binomial: how far above a steady flow, in standard errors
    return counts.select(
        "data_start",
        "start_buyers",
        "early_buyers",
        pl.when(n > 0).then(k / n).alias("start_share"),
        "observed_365d",
        "observed_365d_from_start",
        pl.when(pl.col("_long_enough") & (k >= min_n))
        .then((k * 100 >= n * START_PCT) & (z >= START_Z))
        .alias("truncated"),
    )


def history_start_caveat(row: dict[str, object]) -> str | None:
    """What a flagged :func:`history_start` row means, in words (None when it is not flagged)."""
    if row["truncated"] is not True:
        return None
    start, early, share = row["start_buyers"], row["early_buyers"], row["start_share"]
    observed, from_start = row["observed_365d"], row["observed_365d_from_start"]
    most = (
        f"; the {VALUE_DAYS}-day share most ({from_start:,} of the {words.count(observed, 'customer')} it counts "
        f"first bought in those {START_DAYS} days)"
        if observed
        else ""
    )
    return (
        f"The customers' history may start before the data: {start:,} of the {early:,} first purchases in the "
        f"first {EARLY_DAYS} days of the data (from {row['data_start']}) fall in its first {START_DAYS} days "
        f"({share:.1%}; a steady flow of new customers gives {START_DAYS / EARLY_DAYS:.0%}). A customer who bought "
        "before the data starts shows a later purchase as the first, so the shares bought again and the value by "
        f"timing overstate how often first-time buyers come back{most}. Read the order history from the shop's "
        "first order if you can."
    )


def first_year_value(activity: pl.LazyFrame, *, days: int = VALUE_DAYS) -> pl.LazyFrame:
    """Per customer with a purchase: ``customer_id, first_purchase, first_day_cents, after_first_cents``: the
    net value (returns included) of the first purchase day, and of the ``days`` days after it (day 1 to day
    ``days`` included), from :func:`~loyalty_cli.stage1.customers.customer_activity`."""
    day = pl.col("day")
    first = pl.when(pl.col("purchases") > 0).then(day).min().over("customer_id")
    after = (day > pl.col("first_purchase")) & (day <= pl.col("first_purchase") + pl.duration(days=days))
    return (
        activity.with_columns(first.alias("first_purchase"))
        .filter(pl.col("first_purchase").is_not_null())
        .group_by("customer_id")
        .agg(
            pl.col("first_purchase").first(),
            pl.col("net_cents").filter(day == pl.col("first_purchase")).sum().alias("first_day_cents"),
            pl.col("net_cents").filter(after).sum().alias("after_first_cents"),
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
    gaps = _stacked(customers, by)
    spend, repeat = pl.col("spend_cents"), pl.col("after_first_cents")
    observed = (
        gaps.filter(pl.col("observed_days") >= VALUE_DAYS)
        .join(value.select("customer_id", "first_day_cents", "after_first_cents"), on="customer_id", how="left")
        .with_columns(pl.col("first_day_cents", "after_first_cents").fill_null(0))
        .with_columns((pl.col("first_day_cents") + repeat).alias("spend_cents"), _bucket().alias("bucket"))
    )
    stats = observed.group_by("group", "bucket").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        (spend.mean() / 100).alias("mean_spend_365d"),
        (spend.median() / 100).alias("median_spend_365d"),
        (repeat.mean() / 100).alias("mean_repeat_spend_365d"),
        (spend.sum() / 100).alias("total_spend_365d"),
    )
    grid = gaps.select(pl.col("group").unique()).join(
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
    customers: pl.LazyFrame, activity: pl.LazyFrame, *, config: SecondPurchaseConfig
) -> list[pl.LazyFrame]:
    """The plans of ``loyalty second-purchase``, to collect together: the timing summary, the repurchase
    shares, the Kaplan-Meier curve, value by timing, the action list and whether the history starts before
    the data (:func:`history_start`), in that order."""
    summary = timing_summary(customers, config=config)
    return [
        summary,
        repurchase_shares(customers, by=config.by, min_n=config.min_n),
        km_curve(customers, by=config.by),
        value_by_bucket(customers, first_year_value(activity), by=config.by, min_n=config.min_n),
        action_list(customers, summary, config=config),
        history_start(customers, min_n=config.min_n),
    ]
