"""Value tiers and ranking of the churn status (:func:`~loyalty_cli.metrics.churn.churn_status`), and the summary
per status.

Value tiers rank customers by historical net spend (or predicted value): ``high`` at or above the
``[value] high`` quantile of all customers (default 0.8), ``medium`` at or above the ``medium`` quantile
(0.5), else ``low`` (quantiles interpolate linearly; ties share a tier). Lapsing and lapsed customers in a
tier outside ``[value] costly_offer`` are marked as not worth a costly win-back offer.

The status itself: :mod:`loyalty_cli.metrics.churn`; the model-based predicted value:
:mod:`loyalty_cli.metrics.churn_model`.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.io.rows import aligned, beside, order_by
from loyalty_cli.rules.churn import TIERS, ChurnRules

TIER = pl.Enum(list(TIERS))


def value_tier(rules: ChurnRules, value: str) -> pl.Expr:
    """value_tier: high/medium/low by quantiles of ``value`` over all customers (null without a value)."""
    v = pl.col(value)
    tier = (
        pl.when(v.is_null())
        .then(None)
        .when(v >= v.quantile(rules.high, "linear"))
        .then(pl.lit("high"))
        .when(v >= v.quantile(rules.medium, "linear"))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    return tier.cast(TIER).alias("value_tier")


def _worth_costly_offer(rules: ChurnRules) -> pl.Expr:
    at_risk = pl.col("status").is_in(["lapsing", "lapsed"])
    return (
        pl.when(at_risk)
        .then(pl.col("value_tier").cast(pl.String).is_in(list(rules.costly_offer)))
        .alias("worth_costly_offer")
    )


def rank_by_value(status: pl.LazyFrame, *, rules: ChurnRules, value: str = "net_spend") -> pl.LazyFrame:
    """Add value_tier (high/medium/low by quantiles of ``value`` over all customers), value_rank (1 = most
    valuable within the status; ties by customer id) and worth_costly_offer (lapsing/lapsed customers only).
    Rows are sorted by status (active, lapsing, lapsed), then by rank."""
    return (
        status.with_columns(value_tier(rules, value))
        .sort("status", value, "customer_id", descending=[False, True, False], nulls_last=True)
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("status").alias("value_rank"),
            _worth_costly_offer(rules),
        )
    )


def rank_in_place(
    status: pl.DataFrame, *, rules: ChurnRules, value: str = "net_spend"
) -> tuple[pl.DataFrame, pl.Series]:
    """:func:`rank_by_value` without sorting the table: ``status`` with the same value_tier, value_rank and
    worth_costly_offer, its rows where they are, and the order that :func:`rank_by_value` gives them (row
    positions: ``table[order]`` is its table). A sorted copy of 4.8M customers was a second copy of every column
    (~0.5 GB); the order is 4 bytes a row, and a writer gathers the rows a slice at a time
    (:class:`~loyalty_cli.io.rows.Rows`). The new columns are computed lazily and put beside ``status``'s
    (:func:`~loyalty_cli.io.rows.beside`): eager steps on a table whose columns are cut differently copied every
    column (4.8M customers: ~0.4 GB)."""
    tier = status.lazy().select(value_tier(rules, value)).collect().to_series()
    tiered = status.lazy().with_columns(tier)
    order = order_by(status, "status", value)  # by status, value (highest first), id
    place = pl.col("_place")  # each row's place in the order; a status's rows are consecutive there
    found = (
        tiered.select("status", "value_tier", order.arg_sort().alias("_place"))
        .select(
            (place - place.min().over("status") + 1).cast(pl.UInt32).alias("value_rank"), _worth_costly_offer(rules)
        )
        .collect()
    )
    if {"value_tier", *found.columns} & set(status.columns):  # replaced where they are, as with_columns does
        return aligned(status.lazy().with_columns(tier, *found.get_columns()).collect()), order.alias("order")
    return beside(status, [tier, *found.get_columns()]), order.alias("order")


def status_summary(ranked: pl.LazyFrame) -> pl.LazyFrame:
    """One row per status: customers, their share, net spend (summed in whole cents: the same in any row order) and
    its share, and how many are high value."""
    return (
        ranked.group_by("status")
        .agg(
            pl.len().cast(pl.UInt32).alias("customers"),
            # in whole cents: exact whatever the rows' order (the customers' order from one pass is not fixed)
            ((pl.col("net_spend") * 100).round().cast(pl.Int64).sum() / 100).round(2).alias("net_spend"),
            (pl.col("value_tier") == "high").sum().cast(pl.UInt32).alias("high_value"),
            pl.col("worth_costly_offer").sum().cast(pl.UInt32).alias("worth_costly_offer"),
        )
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum()).alias("share_customers"),
            (pl.col("net_spend") / pl.col("net_spend").sum()).alias("share_net_spend"),
        )
        .sort("status")
        .select(
            "status", "customers", "share_customers", "net_spend", "share_net_spend", "high_value", "worth_costly_offer"
        )
    )
