"""The plain data of the report's products section (filled by :mod:`loyalty_cli.app.report_products` from
``loyalty products``'s tables; rendered by :mod:`loyalty_cli.report.products`). Nothing here computes.

Every table names its items in two columns, ``item`` (the product code, or the category) and ``name`` (the
product's name, null without a name column), so the page needs no knowledge of the level."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class ProductsData:
    """``level``: the first-item table's level (``product``, or ``category`` when there are many first products and
    the lines have categories); ``first``: its rows, ``(all)`` first then the top ones by customers (item, name,
    customers, share, observed_365d, repurchased_365d, repurchase_rate_365d, repurchase_rate_low/high,
    mean_value_365d, mean_value_low/high); ``first_items``: the first items at that level, ``first_products``:
    at the product level; ``next``: the top next products of the leading first products (first_item, first_name,
    rank, item, name, customers, repeaters, share, lift); ``pairs``: the top pairs (item_a, name_a, item_b, name_b,
    orders, share_of_orders, confidence_ab, confidence_ba, lift) of ``pairs_found``; ``cycle``: the most repurchased
    products (item, name, buyers, repeat_customers, repeat_share, gap_p25_days, gap_median_days, gap_p75_days);
    ``counts``: customers, orders, items (products), no_item_lines, observed_365d; the thresholds used."""

    level: str
    first: pl.DataFrame
    first_items: int
    first_products: int
    next: pl.DataFrame
    pairs: pl.DataFrame
    pairs_found: int
    cycle: pl.DataFrame
    counts: dict[str, int]
    min_n: int
    min_support: int
    confidence: float
    leading: int  # first products whose next products are shown
