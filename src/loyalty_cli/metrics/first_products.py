"""What customers buy first, what they buy next, and the next item to offer each customer: the tables of
:mod:`loyalty_cli.metrics.products` (where the definitions are) over its customer table, items of purchase orders
and first and last items, by item codes (:func:`~loyalty_cli.metrics.products.decoded` names them)."""

from __future__ import annotations

import numpy as np
import polars as pl

from loyalty_cli.metrics.products import CUSTOMER, VALUE_DAYS, ProductConfig


def _wilson(x: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    p = x / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * (p * (1 - p) / n + z**2 / (4 * n**2)).sqrt()
    return centre - half, centre + half


def _t_quantile(n: pl.Expr, confidence: float) -> pl.Expr:
    """Student's t quantile ``1 - (1 - confidence) / 2`` with ``n - 1`` degrees of freedom (null for n < 2)."""
    from scipy.special import stdtrit  # not scipy.stats: a fifth of the time to import

    def quantile(s: pl.Series) -> pl.Series:
        df = s.cast(pl.Float64).to_numpy() - 1
        out = stdtrit(np.where(df >= 1, df, 1.0), 0.5 + confidence / 2)
        return pl.Series(np.where(df >= 1, out, np.nan)).fill_nan(None)

    return n.map_batches(quantile, return_dtype=pl.Float64)


def first_item_table(customers: pl.LazyFrame, edges: pl.LazyFrame, *, config: ProductConfig) -> pl.LazyFrame:
    """Per first item code ``i`` and ``(all)`` (``i`` null: every customer with a first item): ``customers, share,
    observed_365d, repurchased_365d, repurchase_rate_365d`` (with ``_low``/``_high``: Wilson), ``mean_value_365d``
    (with ``_low``/``_high``: t), ``median_value_365d``; intervals empty below ``min_n`` observed customers.
    Sorted by customers (then code), ``(all)`` first."""
    observed = pl.col("observed_days") >= VALUE_DAYS
    cents = pl.col("value_365d_cents").filter(observed).cast(pl.Int128)
    rows = customers.join(edges.select("c", "first_i"), on="c", how="inner").filter(pl.col("first_i").is_not_null())
    everyone = rows.with_columns(pl.lit(None, dtype=pl.UInt32).alias("first_i"), pl.lit(True).alias("all"))
    stacked = pl.concat([everyone, rows.with_columns(pl.lit(False).alias("all"))])
    stats = stacked.group_by("all", "first_i").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        observed.sum().cast(pl.Int64).alias("observed_365d"),
        (observed & (pl.col("gap_days") <= VALUE_DAYS)).sum().cast(pl.Int64).alias("repurchased_365d"),
        cents.sum().alias("_sum"),
        (cents * cents).sum().alias("_squares"),
        (pl.col("value_365d_cents").filter(observed).median() / 100).alias("median_value_365d"),
    )
    n, x, z = pl.col("observed_365d"), pl.col("repurchased_365d"), config.z
    enough = n >= config.min_n
    low, high = _wilson(x, n, z)
    # exact integer sums (the same figures whatever the row order); the variance from them, in currency units
    mean = pl.col("_sum").cast(pl.Float64) / n / 100
    wide_n = n.cast(pl.Int128)
    spread = wide_n * pl.col("_squares") - pl.col("_sum") * pl.col("_sum")  # n(n - 1) s^2, in cents^2: exact
    variance = spread.cast(pl.Float64) / (n * (n - 1)).cast(pl.Float64) / 10_000
    half = _t_quantile(n, config.confidence) * variance.sqrt() / n.sqrt()
    total = pl.col("customers").filter(pl.col("all")).first()
    return (
        stats.with_columns(pl.when(n > 0).then(mean).alias("mean_value_365d"))
        .with_columns(
            (pl.col("customers") / total).alias("share"),
            pl.when(n > 0).then(x / n).alias("repurchase_rate_365d"),
            pl.when(enough).then(low).alias("repurchase_rate_low"),
            pl.when(enough).then(high).alias("repurchase_rate_high"),
            pl.when(enough & (n > 1)).then(pl.col("mean_value_365d") - half).alias("mean_value_low"),
            pl.when(enough & (n > 1)).then(pl.col("mean_value_365d") + half).alias("mean_value_high"),
        )
        .sort("all", "customers", "first_i", descending=[True, True, False])
        .select(
            pl.col("first_i").alias("i"),
            "customers",
            "share",
            "observed_365d",
            "repurchased_365d",
            "repurchase_rate_365d",
            "repurchase_rate_low",
            "repurchase_rate_high",
            "mean_value_365d",
            "mean_value_low",
            "mean_value_high",
            "median_value_365d",
        )
    )


def next_items(bought: pl.LazyFrame, customers: pl.LazyFrame, edges: pl.LazyFrame, *, top: int) -> pl.LazyFrame:
    """``first_i, rank, i, customers, repeaters, share, base_customers, base_share, lift``: the top ``top`` next
    items of each first item (see the top), by codes."""
    repeat = customers.filter(pl.col("second_day").is_not_null()).join(
        edges.filter(pl.col("first_i").is_not_null()).select("c", "first_i"), on="c", how="inner"
    )
    second = (
        bought.filter(pl.col("second") & pl.col("bought"))
        .select("c", "i")
        .unique()
        .join(repeat.select("c", "first_i"), on="c", how="inner")
    )
    repeaters = repeat.group_by("first_i").agg(pl.len().cast(pl.Int64).alias("repeaters"))
    all_repeaters = repeat.select(pl.len().cast(pl.Int64).alias("all_repeaters"))
    base = second.group_by("i").agg(pl.len().cast(pl.Int64).alias("base_customers"))
    support = second.group_by("first_i", "i").agg(pl.len().cast(pl.Int64).alias("customers"))
    share, base_share = pl.col("customers") / pl.col("repeaters"), pl.col("base_customers") / pl.col("all_repeaters")
    return (
        support.join(repeaters, on="first_i")
        .join(base, on="i")
        .join(all_repeaters, how="cross")
        .with_columns(share.alias("share"), base_share.alias("base_share"))
        .with_columns((pl.col("share") / pl.col("base_share")).alias("lift"))
        .sort("first_i", "customers", "lift", "i", descending=[False, True, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("first_i").alias("rank"))
        .filter(pl.col("rank") <= top)
        .select("first_i", "rank", "i", "customers", "repeaters", "share", "base_customers", "base_share", "lift")
    )


def next_best_items(
    bought: pl.LazyFrame,
    customers: pl.LazyFrame,
    edges: pl.LazyFrame,
    nexts: pl.LazyFrame,
    *,
    ids: pl.LazyFrame,
    exact: bool = False,
) -> pl.LazyFrame:
    """One row per customer with a next best item (see the top): ``customer_id, [email], next_i, last_i,
    last_purchase, next_rank, next_customers, next_share, next_lift, orders, net_spend``, by next item, then net
    spend (highest first), then id. ``ids``: :func:`customer_ids` (``exact``: customers keyed by their ids)."""
    offers = (
        edges.filter(pl.col("last_i").is_not_null())
        .select("c", "last_i")
        .join(nexts.select(pl.col("first_i").alias("last_i"), "rank", "i", "customers", "share", "lift"), on="last_i")
    )
    owned = bought.filter(pl.col("bought")).select("c", "i").join(offers.select("c", "i"), on=["c", "i"], how="semi")
    best = (
        offers.join(owned, on=["c", "i"], how="anti")
        .group_by("c")
        .agg(pl.all().sort_by("rank").first())
        .join(customers.select("c", "last_day", "orders", "net_cents"), on="c", how="inner")
    )
    with_email = "email" in ids.collect_schema().names()
    key = pl.col(CUSTOMER) if exact else pl.col(CUSTOMER).hash()
    best = best.join(ids.with_columns(key.alias("c")), on="c", how="inner")
    return best.sort("i", "net_cents", CUSTOMER, descending=[False, True, False]).select(
        CUSTOMER,
        *(["email"] if with_email else []),
        pl.col("i").alias("next_i"),
        "last_i",
        pl.col("last_day").alias("last_purchase"),
        pl.col("rank").alias("next_rank"),
        pl.col("customers").alias("next_customers"),
        pl.col("share").alias("next_share"),
        pl.col("lift").alias("next_lift"),
        "orders",
        (pl.col("net_cents") / 100).round(2).alias("net_spend"),
    )
