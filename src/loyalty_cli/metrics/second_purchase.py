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
