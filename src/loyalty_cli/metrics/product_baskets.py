"""Items bought together in one order, and how often the same customer buys the same item again.

From the items of purchase orders (:func:`loyalty_cli.metrics.products.purchase_items`: each row one item of one
order, with ``bought``; the definitions are at the top of :mod:`loyalty_cli.metrics.products`; items by their
codes ``i``, which sort as the names do):

- **Pairs** (market baskets): over the purchase orders with at least one item bought (``orders`` = N), an item's
  support is the number of those orders in which it was bought, a pair's the number in which both were.
  ``confidence_ab`` = support(a, b) / support(a) (of the orders with a, the share that also had b),
  ``confidence_ba`` the other way, ``lift`` = support(a, b) x N / (support(a) x support(b)) (1: as often together
  as by chance). Only pairs bought together in at least ``min_support`` orders; counted exactly by joining
  each order's items to themselves, after leaving out the items bought in fewer than ``min_support`` orders
  (no pair of theirs can reach it) and the orders left with one item. ``a`` < ``b`` alphabetically.
- **Replenishment cycle**: per item, the days between consecutive purchase days of that item by the same customer
  (the next day the customer bought it again, minus the day before; two orders of it on one day are one
  purchase day). ``buyers`` bought it at all, ``repeat_customers`` on two days or more (``repeat_share`` of the
  buyers: consumables stand out), ``repeats`` = the gaps counted; their quartiles and mean (quantiles interpolate
  linearly). Gaps that have not ended by the as-of date are not seen, so long cycles are under-counted: read
  the median with the repeat share beside it.
"""

from __future__ import annotations

import polars as pl


def baskets(bought: pl.LazyFrame) -> pl.LazyFrame:
    """``o, i, items, netted``: each item bought in each purchase order (once: :func:`~loyalty_cli.metrics.products.
    purchase_items` has one row per item and order)."""
    return bought.filter(pl.col("bought")).select("o", "i", "items", "netted")


def basket_counts(orders: pl.LazyFrame, basket: pl.LazyFrame) -> pl.LazyFrame:
    """One row: ``orders``, the purchase orders with an item bought (``orders``: :func:`~loyalty_cli.metrics.
    products.order_table`; ``basket``: :func:`baskets`). In an order that is not ``netted`` every item is bought."""
    plain = orders.filter(pl.col("is_purchase") & ~pl.col("netted") & (pl.col("items") > 0)).select(pl.len())
    netted = basket.filter(pl.col("netted")).select(pl.col("o").n_unique())
    return pl.concat([plain, netted], how="horizontal").select(
        (pl.col("len") + pl.col("o")).cast(pl.Int64).alias("orders")
    )


def pair_table(basket: pl.LazyFrame, counts: pl.LazyFrame, *, min_support: int) -> pl.LazyFrame:
    """``a, b, orders, share_of_orders, orders_a, orders_b, confidence_ab, confidence_ba, lift`` (item codes ``a``
    < ``b``; see the top), by orders (most first), then lift, then codes; ``basket``: :func:`baskets`;
    ``counts``: :func:`basket_counts`."""
    total = counts.select(pl.col("orders").alias("all_orders"))
    support = basket.group_by("i").agg(pl.len().cast(pl.Int64).alias("item_orders"))
    frequent = support.filter(pl.col("item_orders") >= min_support).select("i")
    kept = (
        basket.filter(pl.col("items") >= 2)  # an order of one item makes no pair
        .select("o", "i")
        .join(frequent, on="i", how="semi")
    )
    pairs = (
        kept.join(kept, on="o", suffix="_b")
        .filter(pl.col("i") < pl.col("i_b"))
        .group_by("i", "i_b")
        .agg(pl.len().cast(pl.Int64).alias("orders"))
        .filter(pl.col("orders") >= min_support)
    )
    a = support.select(pl.col("i"), pl.col("item_orders").alias("orders_a"))
    b = support.select(pl.col("i").alias("i_b"), pl.col("item_orders").alias("orders_b"))
    n = pl.col("all_orders")
    return (
        pairs.join(a, on="i")
        .join(b, on="i_b")
        .join(total, how="cross")
        .with_columns(
            (pl.col("orders") / n).alias("share_of_orders"),
            (pl.col("orders") / pl.col("orders_a")).alias("confidence_ab"),
            (pl.col("orders") / pl.col("orders_b")).alias("confidence_ba"),
            (pl.col("orders") * n / (pl.col("orders_a") * pl.col("orders_b"))).alias("lift"),
        )
        .sort("orders", "lift", "i", "i_b", descending=[True, True, False, False])
        .select(
            pl.col("i").alias("a"),
            pl.col("i_b").alias("b"),
            "orders",
            "share_of_orders",
            "orders_a",
            "orders_b",
            "confidence_ab",
            "confidence_ba",
            "lift",
        )
    )


def cycle_table(bought: pl.LazyFrame) -> pl.LazyFrame:
    """``i, buyers, repeat_customers, repeat_share, repeats, gap_p25_days, gap_median_days, gap_p75_days,
    gap_mean_days`` for every item bought (see the top), by repeat customers (most first), then repeats, then
    code."""
    days = bought.filter(pl.col("bought")).select("c", "i", "day")
    # Counts from one group-by; the gaps from the purchase days of the (customer, item) pairs bought on two days or
    # more only, sorted: most pairs are bought once, and sorting every row took twice as long.
    pairs = days.group_by("c", "i").agg(pl.col("day").n_unique().cast(pl.Int64).alias("days"))
    counts = pairs.group_by("i").agg(
        pl.len().cast(pl.Int64).alias("buyers"),
        (pl.col("days") >= 2).sum().cast(pl.Int64).alias("repeat_customers"),
        (pl.col("days") - 1).sum().cast(pl.Int64).alias("repeats"),
    )
    again = (pl.col("c") == pl.col("c").shift()) & (pl.col("i") == pl.col("i").shift())
    gap = pl.col("gap")
    gaps = (
        days.join(pairs.filter(pl.col("days") >= 2).select("c", "i"), on=["c", "i"], how="semi")
        .sort("c", "i", "day")
        .with_columns(pl.when(again).then(pl.col("day") - pl.col("day").shift()).alias("gap"))
        .filter(gap > 0)  # not the first day of a pair, nor a second order on the same day
        .group_by("i")
        .agg(
            gap.quantile(0.25, "linear").alias("gap_p25_days"),
            gap.median().alias("gap_median_days"),
            gap.quantile(0.75, "linear").alias("gap_p75_days"),
            gap.mean().alias("gap_mean_days"),
        )
    )
    return (
        counts.join(gaps, on="i", how="left")
        .with_columns((pl.col("repeat_customers") / pl.col("buyers")).alias("repeat_share"))
        .sort("repeat_customers", "repeats", "i", descending=[True, True, False])
        .select(
            "i",
            "buyers",
            "repeat_customers",
            "repeat_share",
            "repeats",
            "gap_p25_days",
            "gap_median_days",
            "gap_p75_days",
            "gap_mean_days",
        )
    )
