"""The loyalty programme of the synthetic shop (members and points): see the module doc of
:mod:`loyalty_cli.sample`, which draws it last, from a random stream of its own."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

MEMBER_WINDOW_DAYS = 365
MEMBER_ENROL = {True: 0.6, False: 0.2}  # enrolment probability by "buys again within the window"
PROSPECT_ENROL = 0.1
WELCOME_POINTS = 100
REWARD_POINTS = 500  # one reward, redeemed with probability REDEEM_SHARE when it becomes available
REDEEM_SHARE = 0.7
EXPIRY_DAYS = 365
TIERS = (("Bronze", 0), ("Silver", 500), ("Gold", 1500))  # tier, points earned to reach it
MEMBER_CHANNELS = ("store", "web", "app")


def _programme(
    rng: np.random.Generator, transactions: pl.DataFrame, contacts: pl.DataFrame, end: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(members, points ledger) for the synthetic shop; see the module doc. Vectorised over frames."""
    orders = (
        transactions.group_by("order_id", maintain_order=True)
        .agg(pl.col("customer_id").first(), pl.col("order_date").first(), pl.col("amount").sum())
        .with_columns(pl.col("order_date").dt.date().alias("day"))
    )
    buys = orders.filter(pl.col("amount") > 0)
    buyers = buys.group_by("customer_id").agg(pl.col("day").min().alias("first")).sort("customer_id")
    n = buyers.height
    lag = np.where(rng.random(n) < 0.6, 0, rng.integers(1, 15, n))
    buyers = buyers.with_columns((pl.col("first") + pl.duration(days=pl.Series("lag", lag))).alias("anchor"))
    again = (
        buys.join(buyers, on="customer_id")
        .filter(
            (pl.col("day") > pl.col("anchor"))
            & (pl.col("day") <= pl.col("anchor") + pl.duration(days=MEMBER_WINDOW_DAYS))
        )
        .select("customer_id")
        .unique()
        .with_columns(pl.lit(True).alias("again"))
    )
    buyers = buyers.join(again, on="customer_id", how="left").with_columns(pl.col("again").fill_null(False))
    chance = np.where(buyers["again"].to_numpy(), MEMBER_ENROL[True], MEMBER_ENROL[False])
    joined = buyers.filter(pl.Series(rng.random(n) < chance) & (pl.col("anchor") <= end)).select(
        "customer_id", pl.col("anchor").alias("enrolled_at")
    )
    prospects = contacts.join(buyers, on="customer_id", how="anti").sort("customer_id")
    keep = rng.random(prospects.height) < PROSPECT_ENROL
    enrolled = pl.concat(
        [joined, prospects.filter(pl.Series(keep)).select("customer_id", pl.col("signed_up_at").alias("enrolled_at"))]
    ).sort("customer_id")
    enrolled = enrolled.with_columns(
        pl.Series("channel", MEMBER_CHANNELS).gather(rng.choice(3, enrolled.height, p=[0.4, 0.4, 0.2]))
    )

    # Ledger: earn per order and negative adjust per return from the enrolment day on, welcome bonus.
    start_ts = pl.col("enrolled_at").cast(pl.Datetime("us"))
    mine = orders.join(enrolled.select("customer_id", "enrolled_at"), on="customer_id").filter(
        pl.col("day") >= pl.col("enrolled_at")
    )
    events = pl.concat(
        [
            enrolled.select(
                "customer_id",
                start_ts.alias("at"),
                pl.lit(WELCOME_POINTS, pl.Int64).alias("points"),
                pl.lit("adjust").alias("type"),
                pl.lit(None, pl.String).alias("order_id"),
            ),
            mine.select(
                "customer_id",
                pl.col("order_date").alias("at"),
                pl.col("amount").abs().floor().cast(pl.Int64).alias("points"),
                pl.when(pl.col("amount") > 0).then(pl.lit("earn")).otherwise(pl.lit("adjust")).alias("type"),
                "order_id",
            ).with_columns(
                pl.when(pl.col("type") == "adjust").then(-pl.col("points")).otherwise("points").alias("points")
            ),
        ]
    ).sort("customer_id", "at", "type", "order_id", nulls_last=False)
    running = pl.col("points").cum_sum().over("customer_id")
    events = events.with_columns(
        (running.cum_max().over("customer_id") // REWARD_POINTS).alias("_cap"),
        pl.when(pl.col("type") == "earn")
        .then(pl.col("points"))
        .otherwise(0)
        .cum_sum()
        .over("customer_id")
        .alias("_earned"),
    ).with_columns((pl.col("_cap") - pl.col("_cap").shift(1, fill_value=0).over("customer_id")).alias("_new"))
    rewards = rng.binomial(events["_new"].clip(lower_bound=0).to_numpy(), REDEEM_SHARE)
    redeem = (
        events.with_columns(pl.Series("_r", rewards))
        .filter(pl.col("_r") > 0)
        .select(
            "customer_id",
            "at",
            (-REWARD_POINTS * pl.col("_r")).alias("points"),
            pl.lit("redeem").alias("type"),
            "order_id",
        )
    )
    ledger = pl.concat([events.select("customer_id", "at", "points", "type", "order_id"), redeem])
    last = ledger.group_by("customer_id").agg(pl.col("at").max(), pl.col("points").sum().alias("balance"))
    expiry_at = pl.col("at") + pl.duration(days=EXPIRY_DAYS)
    expired = last.filter((pl.col("balance") > 0) & (expiry_at.dt.date() <= end)).select(
        "customer_id",
        expiry_at.alias("at"),
        (-pl.col("balance")).alias("points"),
        pl.lit("expire").alias("type"),
        pl.lit(None, pl.String).alias("order_id"),
    )
    type_order = pl.col("type").replace_strict({"adjust": 0, "earn": 1, "redeem": 2, "expire": 3})
    points = pl.concat([ledger, expired]).sort("at", "customer_id", type_order, "order_id", nulls_last=False)

    # Tiers: one row per tier reached, from the points earned.
    reached = [
        enrolled.select("customer_id", pl.col("enrolled_at").alias("tier_since"), pl.lit(TIERS[0][0]).alias("tier"))
    ]
    for name, threshold in TIERS[1:]:
        reached.append(
            events.filter(pl.col("_earned") >= threshold)
            .group_by("customer_id")
            .agg(pl.col("at").min().dt.date().alias("tier_since"))
            .with_columns(pl.lit(name).alias("tier"))
        )
    tiers = pl.concat(reached, how="vertical")
    members = (
        enrolled.join(tiers, on="customer_id")
        .select("customer_id", "enrolled_at", "tier", "tier_since", "channel")
        .sort("customer_id", "tier_since", "tier")
    )
    return members, points
