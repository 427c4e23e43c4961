"""Members close to the next tier, from a points ledger and the programme's tiers
(:class:`loyalty_cli.rules.programme.ProgrammeRules`).

Definitions (the README repeats them). ``points_earned`` = the points of every earn row before ``as_of``
(lifetime; redemptions, expiries and adjusts do not change it). The tier is the highest threshold at or below
it; the next tier the lowest threshold above it (none at the top tier); ``points_to_next_tier`` = its
threshold - ``points_earned``. Near: ``points_to_next_tier <= near.points`` or ``<= near.share x`` the next
threshold. Customers of ``people`` (the members) without a ledger row have earned 0.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from loyalty_cli.rules.programme import Near, Tier

#: the columns of the near-tier list, in order
COLUMNS = ("customer_id", "tier", "next_tier", "points_earned", "next_tier_points", "points_to_next_tier")


def tier_of(earned: pl.Expr, tiers: tuple[Tier, ...]) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(tier, next tier, next tier's threshold) of ``earned`` points: the highest threshold at or below it, the
    lowest above it (null at the top tier)."""
    tier: pl.Expr = pl.lit(tiers[0].name)
    following: pl.Expr = pl.lit(None, dtype=pl.String)
    threshold: pl.Expr = pl.lit(None, dtype=pl.Float64)
    for t in tiers[1:]:
        tier = pl.when(earned >= t.points).then(pl.lit(t.name)).otherwise(tier)
    for t in reversed(tiers[1:]):
        following = pl.when(earned < t.points).then(pl.lit(t.name)).otherwise(following)
        threshold = pl.when(earned < t.points).then(pl.lit(t.points, dtype=pl.Float64)).otherwise(threshold)
    return tier, following, threshold


def earned_points(points: pl.LazyFrame, *, as_of: date, people: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """``customer_id, points_earned``: the points of every earn row before ``as_of``, per customer of the ledger,
    or per customer of ``people`` (``customer_id``; 0 for those without earn rows; others left out)."""
    earned = (
        points.filter(pl.col("at").cast(pl.Date) < as_of)
        .group_by("customer_id")
        .agg(pl.col("points").filter(pl.col("type") == "earn").sum().cast(pl.Float64).alias("points_earned"))
    )
    if people is None:
        return earned
    return (
        people.select("customer_id")
        .unique()
        .join(earned, on="customer_id", how="left")
        .with_columns(pl.col("points_earned").fill_null(0.0))
    )


def tier_progress(earned: pl.LazyFrame, *, tiers: tuple[Tier, ...]) -> pl.LazyFrame:
    """:data:`COLUMNS` for every customer of ``earned`` (:func:`earned_points`); next tier and points to it null
    at the top tier."""
    tier, following, threshold = tier_of(pl.col("points_earned"), tiers)
    return (
        earned.with_columns(tier.alias("tier"), following.alias("next_tier"), threshold.alias("next_tier_points"))
        .with_columns((pl.col("next_tier_points") - pl.col("points_earned")).alias("points_to_next_tier"))
        .select(COLUMNS)
    )


def near_tier(progress: pl.LazyFrame, *, near: Near) -> pl.LazyFrame:
    """The customers of ``progress`` (:func:`tier_progress`) near their next tier, fewest points needed first
    (then the customer id)."""
    needed = pl.col("points_to_next_tier")
    close = pl.lit(False)
    if near.points is not None:
        close = close | (needed <= near.points)
    if near.share is not None:
        close = close | (needed <= near.share * pl.col("next_tier_points"))
    return progress.filter(needed.is_not_null() & close).sort("points_to_next_tier", "customer_id")
