"""Is the loyalty programme working? Enrolment, points, tiers, and members against comparable non-members.

Pure functions over the stage-1 tables (customer summary, customer x day activity) and the canonical
members and points tables (:func:`loyalty_cli.io.readers.read_members`, ``read_points``). Every table is
*long*: ``section, metric, group, period, value, n, ci_low, ci_high`` (``n`` is the denominator or the
customers behind the value), so one file holds every figure and the CLI shows slices of it.

Definitions (the README repeats them):

- *Customers* bought before ``as_of``; *members* enrolled before ``as_of`` (with or without a purchase).
  Enrolment rate = members who bought / customers. Active members bought in the last ``active_days``.
- Points are signed (earn +, redeem and expire -, adjust as given). Outstanding = the sum of positive
  balances; liability = outstanding x point value. Breakage rate = expired / earned; the share of points
  that leave the ledger redeemed, redeemed / (redeemed + expired), gives the liability after breakage.
- Tiers at a day D: each member's tier row with the latest ``tier_since`` (or enrolment) before D.
- Members vs non-members, like for like: members are measured from enrolment (or from their first
  purchase when they enrolled before buying), non-members from their first purchase plus the members'
  median days from first purchase to enrolment. A customer counts in a window only once it has closed
  before ``as_of``. Repeat purchase = a purchase day in (start, start + window]; retention from k months
  over a horizon of h months (``retained_{k}m_to_{k+h}m``) = a purchase in [start + k months,
  start + k + h months), counted for customers whose horizon ended before ``as_of`` (the same "within"
  definition as cohort retention: final once counted, where an open-ended "on or after k months" would keep
  growing with every later purchase). Orders and net spend per customer over (start, start + window]. Intervals: Wilson
  for rates, Newcombe for their difference, normal for means (Welch for the difference).
  Members choose to join, so these are correlations, not the programme's effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist
from typing import Literal

import polars as pl

from loyalty_cli.errors import ConfigError, UsageError, setting
from loyalty_cli.metrics.periods import Period, period_index, period_label, period_start

COLUMNS = ("section", "metric", "group", "period", "value", "n", "ci_low", "ci_high")
SCHEMA = pl.Schema(
    {
        "section": pl.String,
        "metric": pl.String,
        "group": pl.String,
        "period": pl.String,
        "value": pl.Float64,
        "n": pl.Int64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
    }
)
MEMBERS, OTHERS, DIFFERENCE = "members", "non-members", "difference"
NO_TIER, NOT_MEMBER = "(no tier)", "(not a member)"
CAVEAT = (
    "Members chose to join, so the differences between members and non-members are correlations, not "
    "the programme's effect: customers who were going to buy again anyway are more likely to enrol. "
    f"To measure the effect, hold out a random control group ({setting('holdout_share')} on the list commands) and "
    "compare with `loyalty uplift`."
)


@dataclass(frozen=True)
class ProgramConfig:
    period: Period = "month"
    point_value: float | None = None  # money per point, for the liability
    active_days: int = 365
    window_days: int = 365
    retention_months: tuple[int, ...] = (3, 6, 12)
    retention_horizon_months: int = 3  # retained from k months = a purchase in months k .. k + 3 (exclusive)
    confidence: float = 0.95
    tiers_from: date | None = None  # default: one year before tiers_to
    tiers_to: date | None = None  # default: as_of

    def __post_init__(self) -> None:
        if self.point_value is not None and not (self.point_value >= 0 and self.point_value < float("inf")):
            raise ConfigError("point_value", f"must be 0 or more, got {self.point_value!r}", hint="e.g. 0.01")
        if self.active_days < 1:
            raise ConfigError("active_days", f"must be 1 or more, got {self.active_days}")
        if self.window_days < 1:
            raise ConfigError("window", f"must be 1 or more days, got {self.window_days}")
        if not self.retention_months or any(k < 1 for k in self.retention_months):
            raise UsageError("Retention months must be 1 or more", hint="e.g. 3,6,12")
        if self.retention_horizon_months < 1:
            raise UsageError(f"The retention horizon must be 1 or more months, got {self.retention_horizon_months}")
        if not 0 < self.confidence < 1:
            raise UsageError(f"The confidence level must be between 0 and 1, got {self.confidence}")

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)

    def tier_dates(self, as_of: date) -> tuple[date, date]:
        to = self.tiers_to or as_of
        if to > as_of:
            raise UsageError(
                f"The tier movement must end by the as-of date {as_of}, got {to}",
                hint=f"Data on or after the as-of date is not read: use an earlier {setting('tiers_to')}.",
            )
        start = self.tiers_from or _years_before(to, 1)
        if start >= to:
            raise UsageError(f"The tier movement needs a start date before its end date, got {start} and {to}")
        return start, to


def metric_kind(metric: str) -> Literal["share", "money", "number", "count"]:
    """How a figure of the programme table reads: a share (rates), money, a number with decimals (means of
    counts, medians, NPS) or a whole count."""
    if "rate" in metric or metric.startswith("retained") or metric == "share_of_members":
        return "share"
    if metric.startswith(("liability", "net_spend", "mean_predicted")):
        return "money"
    if metric.startswith(("orders_per", "median")) or metric == "nps":
        return "number"
    return "count"


def retained(k: int, config: ProgramConfig) -> str:
    """The name of the retention from k months: ``retained_3m_to_6m`` (a purchase in [start + 3 months,
    start + 6 months))."""
    return f"retained_{k}m_to_{k + config.retention_horizon_months}m"


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _long(frame: pl.LazyFrame, section: str) -> pl.LazyFrame:
    """A frame with some of ``metric, group, period, value, n, ci_low, ci_high`` in the long schema."""
    names = frame.collect_schema().names()
    return frame.select(
        pl.lit(section).alias("section"),
        *(pl.col(c).cast(SCHEMA[c]) if c in names else pl.lit(None, dtype=SCHEMA[c]).alias(c) for c in COLUMNS[1:]),
    )


def _figures(
    frame: pl.LazyFrame, section: str, figures: list[tuple[str, pl.Expr, pl.Expr | None]], group: str | None = None
) -> pl.LazyFrame:
    """One long row per ``(metric, value, n)``, each an aggregation over ``frame``."""
    parts = [
        frame.select(
            pl.lit(name).alias("metric"),
            pl.lit(group, dtype=pl.String).alias("group"),
            _finite(value.cast(pl.Float64)).alias("value"),
            (n if n is not None else pl.lit(None)).cast(pl.Int64).alias("n"),
        )
        for name, value, n in figures
    ]
    return _long(pl.concat(parts), section)


def _finite(value: pl.Expr) -> pl.Expr:
    """A ratio over an empty denominator (NaN, infinity) as null: no figure rather than a made-up one."""
    return pl.when(value.is_finite()).then(value)


# ------------------------------------------------------------------------------------------ members
def _day(col: str) -> pl.Expr:
    return pl.col(col).dt.date()


def tiers_at(members: pl.LazyFrame, day: date) -> pl.LazyFrame:
    """``customer_id, tier`` of every member enrolled before ``day``: the tier of their row with the latest
    ``tier_since`` (or enrolment date) before ``day`` (ties: the alphabetically last tier); ``(no tier)``
    when none."""
    names = members.collect_schema().names()
    enrolled = (
        members.group_by("customer_id")
        .agg(_day("enrolled_at").min().alias("enrolled"))
        .filter(pl.col("enrolled") < day)
    )
    if "tier" not in names:
        return enrolled.select("customer_id", pl.lit(NO_TIER).alias("tier"))
    since = _day("tier_since") if "tier_since" in names else pl.lit(None, dtype=pl.Date)
    effective = pl.coalesce(since, _day("enrolled_at"))
    latest = (
        members.filter(pl.col("tier").is_not_null())
        .with_columns(effective.alias("_since"))
        .filter(pl.col("_since") < day)
        .group_by("customer_id")
        .agg(pl.col("tier").sort_by("_since", "tier").last())
    )
    return enrolled.join(latest, on="customer_id", how="left").select("customer_id", pl.col("tier").fill_null(NO_TIER))


def member_table(members: pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """One row per member enrolled before ``as_of``: ``customer_id, enrolled, tier`` (as of ``as_of``)
    ``, channel`` (of the earliest row that has one), sorted by customer id."""
    names = members.collect_schema().names()
    aggs = [_day("enrolled_at").min().alias("enrolled")]
    if "channel" in names:
        aggs.append(pl.col("channel").sort_by("enrolled_at", "channel", nulls_last=True).drop_nulls().first())
    table = members.group_by("customer_id").agg(aggs).filter(pl.col("enrolled") < as_of)
    return table.join(tiers_at(members, as_of), on="customer_id", how="left").sort("customer_id")


def program_customers(customers: pl.LazyFrame, members: pl.LazyFrame) -> pl.LazyFrame:
    """Customers (bought before as_of) and members (:func:`member_table`) side by side: ``customer_id,
    member, enrolled, first_purchase, last_purchase, bought`` (members with no purchase included)."""
    return (
        customers.select("customer_id", "first_purchase", "last_purchase")
        .join(members.select("customer_id", "enrolled"), on="customer_id", how="full", coalesce=True)
        .with_columns(
            pl.col("enrolled").is_not_null().alias("member"), pl.col("first_purchase").is_not_null().alias("bought")
        )
        .select("customer_id", "member", "enrolled", "first_purchase", "last_purchase", "bought")
    )


# ------------------------------------------------------------------------------------------- programme
def program_summary(
    people: pl.LazyFrame, balances: pl.LazyFrame | None, *, as_of: date, config: ProgramConfig
) -> pl.LazyFrame:
    """Headline figures: customers, members, enrolment rate, active members and (with a ledger) points,
    redemption, outstanding balance, liability and breakage. ``balances`` is :func:`point_balances`."""
    member, bought = pl.col("member"), pl.col("bought")
    active = member & (pl.col("last_purchase") >= as_of - timedelta(days=config.active_days))
    customers, members = bought.sum(), member.sum()
    lag = (pl.col("enrolled") - pl.col("first_purchase")).dt.total_days()
    figures: list[tuple[str, pl.Expr, pl.Expr | None]] = [
        ("customers", customers, None),
        ("members", members, None),
        ("members_who_bought", (member & bought).sum(), None),
        ("members_without_purchase", (member & ~bought).sum(), None),
        ("enrolment_rate", (member & bought).sum() / customers, customers),
        ("enrolled_before_first_purchase", (member & bought & (lag < 0)).sum(), None),
        ("median_days_first_purchase_to_enrolment", lag.filter(member & bought).median(), (member & bought).sum()),
        (f"active_members_{config.active_days}d", active.sum(), None),
        (f"active_member_rate_{config.active_days}d", active.sum() / members, members),
    ]
    parts = [_figures(people, "programme", figures)]
    if balances is not None:
        parts.append(_points_summary(balances, config=config))
    return pl.concat(parts)


def point_balances(points: pl.LazyFrame, members: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer in the ledger: ``earned, redeemed, expired, adjusted`` (redeemed and expired as positive
    numbers), ``balance`` (their signed sum), ``redeemer`` (any redeem row) and ``member``."""
    kind = pl.col("type")
    return (
        points.group_by("customer_id")
        .agg(
            pl.col("points").filter(kind == "earn").sum().alias("earned"),
            (-pl.col("points").filter(kind == "redeem").sum()).alias("redeemed"),
            (-pl.col("points").filter(kind == "expire").sum()).alias("expired"),
            pl.col("points").filter(kind == "adjust").sum().alias("adjusted"),
            pl.col("points").sum().alias("balance"),
            (kind == "redeem").any().alias("redeemer"),
        )
        .join(members.select("customer_id", pl.lit(True).alias("member")), on="customer_id", how="left")
        .with_columns(pl.col("member").fill_null(False))
    )


def _points_summary(balances: pl.LazyFrame, *, config: ProgramConfig) -> pl.LazyFrame:
    earned, redeemed, expired = pl.col("earned").sum(), pl.col("redeemed").sum(), pl.col("expired").sum()
    outstanding = pl.col("balance").clip(lower_bound=0).sum()
    redeemers = (pl.col("redeemer") & pl.col("member")).sum()
    left = redeemed + expired
    figures: list[tuple[str, pl.Expr, pl.Expr | None]] = [
        ("points_earned", earned, None),
        ("points_redeemed", redeemed, None),
        ("points_expired", expired, None),
        ("points_adjusted", pl.col("adjusted").sum(), None),
        ("ledger_customers_not_members", (~pl.col("member")).sum(), None),
        ("redeemers", redeemers, None),
        ("points_redemption_rate", redeemed / earned, None),
        ("breakage_rate", expired / earned, None),
        ("outstanding_points", outstanding, (pl.col("balance") > 0).sum()),
        ("negative_balance_points", pl.col("balance").clip(upper_bound=0).sum(), (pl.col("balance") < 0).sum()),
    ]
    if config.point_value is not None:
        figures += [
            ("liability", outstanding * config.point_value, None),
            ("liability_after_breakage", outstanding * config.point_value * redeemed / left, None),
        ]
    return _figures(balances, "points", figures)


def redemption_rate(balances: pl.LazyFrame, people: pl.LazyFrame) -> pl.LazyFrame:
    """Redeemers among members: members with a redeem row / members (its own row: members come from
    ``people``, not the ledger)."""
    joined = people.filter(pl.col("member")).join(
        balances.filter("redeemer").select("customer_id", pl.lit(True).alias("_redeemer")), on="customer_id", how="left"
    )
    return _figures(
        joined, "points", [("member_redemption_rate", pl.col("_redeemer").fill_null(False).mean(), pl.len())]
    )


def enrolment_by_cohort(people: pl.LazyFrame, *, period: Period = "month") -> pl.LazyFrame:
    """Per first-purchase period: new customers (``n``) and the share of them enrolled by ``as_of``."""
    index = period_index(pl.col("first_purchase"), period)
    return _long(
        people.filter("bought")
        .group_by(index.alias("_index"))
        .agg(pl.len().alias("n"), pl.col("member").mean().alias("value"))
        .sort("_index")
        .select(
            pl.lit("enrolment_rate").alias("metric"),
            period_label(period_start(pl.col("_index"), period), period).alias("period"),
            "value",
            "n",
        ),
        "enrolment_by_cohort",
    )


def points_by_period(points: pl.LazyFrame, *, period: Period = "month") -> pl.LazyFrame:
    """Per period of ``at``: points earned, redeemed, expired (positive numbers), adjusted (signed), and
    the balance of the whole ledger at the end of the period."""
    kind = pl.col("type")
    index = period_index(_day("at"), period)
    wide = (
        points.group_by(index.alias("_index"))
        .agg(
            pl.col("points").filter(kind == "earn").sum().alias("earned"),
            (-pl.col("points").filter(kind == "redeem").sum()).alias("redeemed"),
            (-pl.col("points").filter(kind == "expire").sum()).alias("expired"),
            pl.col("points").filter(kind == "adjust").sum().alias("adjusted"),
            pl.col("points").sum().alias("_net"),
        )
        .sort("_index")
        .with_columns(
            pl.col("_net").cum_sum().alias("balance"),
            period_label(period_start(pl.col("_index"), period), period).alias("period"),
        )
    )
    metrics = ["earned", "redeemed", "expired", "adjusted", "balance"]
    return _long(
        wide.unpivot(metrics, index=["_index", "period"], variable_name="metric", value_name="value")
        .with_columns(pl.col("metric").replace_strict(metrics, list(range(len(metrics)))).alias("_order"))
        .sort("_index", "_order")
        .with_columns(("points_" + pl.col("metric")).alias("metric")),
        "points_by_period",
    )


def tier_distribution(members: pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """Members per tier as of ``as_of`` (value: share of members, n: members in the tier)."""
    return _long(
        tiers_at(members, as_of)
        .group_by("tier")
        .agg(pl.len().alias("n"))
        .with_columns((pl.col("n") / pl.col("n").sum()).alias("value"))
        .sort("tier")
        .select(pl.lit("share_of_members").alias("metric"), pl.col("tier").alias("group"), "value", "n"),
        "tiers",
    )


def tier_movement(members: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """Members by tier at ``start`` and at ``end`` (the start of each day): ``group`` is ``from -> to``
    (``(not a member)`` for members who enrolled in between), ``value`` the count, ``period`` the dates."""
    before = tiers_at(members, start).rename({"tier": "from"})
    after = tiers_at(members, end).rename({"tier": "to"})
    moved = after.join(before, on="customer_id", how="left").with_columns(pl.col("from").fill_null(NOT_MEMBER))
    return _long(
        moved.group_by("from", "to")
        .agg(pl.len().alias("n"))
        .sort("from", "to")
        .select(
            pl.lit("members").alias("metric"),
            pl.format("{} -> {}", "from", "to").alias("group"),
            pl.lit(f"{start} to {end}").alias("period"),
            pl.col("n").alias("value"),
            "n",
        ),
        "tier_movement",
    )
