"""The report's products section: ``loyalty products``'s tables (:func:`loyalty_cli.app.products.products`) on the
product lines read in the report's one pass over the transactions, cut to what a page shows.

The report asks for the product lines (:func:`product_lines`, ``InputSpec.lines``) whatever the file holds: the
plans give no line when the transactions have no product column, and the section then says so instead of its
tables. The tables are the products command's, at the product level; the first-item table is by first category
instead when more products come first than the page shows (:attr:`ProductSettings.rows`) and the lines have
categories (each product's category: the one most of its lines give, :mod:`loyalty_cli.metrics.product_categories`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.products import ITEMS, NAMES, TABLES, ProductsConfig, ProductsResult, products
from loyalty_cli.errors import setting
from loyalty_cli.metrics import product_categories as pc
from loyalty_cli.metrics import products as m
from loyalty_cli.report.product_data import ProductsData
from loyalty_cli.spark import per_customer

#: the plan of the products' categories (``Inputs.tables``)
CATEGORIES = "product_categories"


@dataclass(frozen=True)
class ProductSettings:
    """``rows``: rows of the first-item, pairs and cycle tables; ``leading``: first products whose next products
    are shown, ``next_items`` of each; ``min_n``: observed customers below which an interval is left empty, and
    the orders a pair needs (the report's ``min_n``: no number from fewer); ``confidence`` of the intervals."""

    rows: int = 10
    leading: int = 3
    next_items: int = 3
    min_n: int = 30
    confidence: float = 0.95

    @property
    def config(self) -> ProductsConfig:
        return ProductsConfig(
            level="product", top=self.next_items, min_n=self.min_n, min_support=self.min_n, confidence=self.confidence
        )


def product_lines(*, names: bool = True) -> dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]]:
    """The plans over the transaction lines that the section reads (``InputSpec.lines``): the lines with their
    product (none without a product column) and, with ``names`` (the Polars engine only: plans over all the
    lines), the products' names and categories."""
    plans: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {ITEMS: per_customer(_item_lines)}
    if names:
        plans[NAMES] = _item_names
        plans[CATEGORIES] = pc.item_categories
    return plans


def _item_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    schema = lines.collect_schema()
    if "product" in schema.names():
        return m.item_lines(lines, level="product")
    return pl.LazyFrame(
        schema={
            m.CUSTOMER: schema[m.CUSTOMER],
            m.ORDER: pl.UInt64,
            "item": pl.String,
            "order_date": schema["order_date"],
            "amount_cents": schema["amount_cents"],
        }
    )


def _item_names(lines: pl.LazyFrame) -> pl.LazyFrame:
    if "product" not in lines.collect_schema().names():
        return pl.LazyFrame(schema={"product": pl.String, "product_name": pl.String, "lines": pl.Int64})
    return m.item_names(lines)


def products_data(inputs: Inputs, settings: ProductSettings) -> tuple[ProductsData | None, str | None]:
    """The section's tables, or None and why not (no product column, no line with a product)."""
    items = inputs.get(ITEMS)
    scan = inputs.scans.get("transactions")
    if items is None or scan is None:
        return None, "the transactions were read without their product lines"
    if "product" not in scan.mapping.columns:
        return None, (
            "the transactions have no product column (a SKU or product code such as sku or StockCode; name it in "
            f"the [transactions] table of the mapping file, {setting('mapping')})"
        )
    if items.get_column("item").null_count() == items.height:
        return None, f"no line of the transactions has a product (column {scan.mapping.columns['product']!r})"
    config = settings.config
    result = products(inputs, config)
    assert result.first is not None and result.next is not None and result.pairs is not None
    assert result.cycle is not None
    first_products = result.first.height - 1  # without (all)
    level, first = "product", result.first
    by_category = _by_category(inputs, items, settings) if first_products > settings.rows else None
    if by_category is not None and by_category.height - 1 >= 2:  # (all) and two categories at least
        level, first = "category", by_category
    leading = result.first.slice(1, settings.leading)["first_product"]
    nexts = (
        result.next.join(leading.to_frame().with_row_index("_lead"), on="first_product", how="inner")
        .sort("_lead", "rank")
        .select(
            *_item(result.next, "first_product", "first_item", "first_name"),
            "rank",
            *_item(result.next, "next_product"),
            "customers",
            "repeaters",
            "share",
            "lift",
        )
    )
    counts = result.counts
    found = ProductsData(
        level=level,
        first=first.head(settings.rows + 1).select(
            *_item(first, f"first_{level}"),
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
        ),
        first_items=first.height - 1,
        first_products=first_products,
        next=nexts,
        pairs=result.pairs.head(settings.rows).select(
            *_item(result.pairs, "product_a", "item_a", "name_a"),
            *_item(result.pairs, "product_b", "item_b", "name_b"),
            "orders",
            "share_of_orders",
            "confidence_ab",
            "confidence_ba",
            "lift",
        ),
        pairs_found=result.pairs.height,
        cycle=_cycle(result, settings.rows),
        counts={
            name: int(counts.get(name, 0))
            for name in ("customers", "orders", "items", "no_item_lines", "observed_365d")
        },
        min_n=config.min_n,
        min_support=config.min_support,
        confidence=config.confidence,
        leading=leading.len(),
    )
    return found, None


def release_product_lines(inputs: Inputs) -> None:
    """Take the section's line plans out of ``inputs.tables`` once it has read them: the product lines are as many
    as the transaction lines (10M lines: ~400 MB), and the sections computed after it need none of them."""
    for name in product_lines():
        inputs.tables.pop(name, None)


def _item(frame: pl.DataFrame, code: str, item: str = "item", name: str = "name") -> list[pl.Expr]:
    """An item's code column and its name (null without names) as ``item`` and ``name``."""
    named = pl.col(f"{code}_name") if f"{code}_name" in frame.columns else pl.lit(None, dtype=pl.String)
    return [pl.col(code).alias(item), named.alias(name)]


def _cycle(result: ProductsResult, rows: int) -> pl.DataFrame:
    """The replenishment cycle of the products most customers bought on two days or more."""
    cycle = result.cycle
    assert cycle is not None
    return (
        cycle.filter(pl.col("repeat_customers") > 0)
        .head(rows)
        .select(
            *_item(cycle, "product"),
            "buyers",
            "repeat_customers",
            "repeat_share",
            "gap_p25_days",
            "gap_median_days",
            "gap_p75_days",
        )
    )


def _by_category(inputs: Inputs, items: pl.DataFrame, settings: ProductSettings) -> pl.DataFrame | None:
    """The first-item table by first category (each line's item its product's category), or None without
    categories."""
    found = inputs.get(CATEGORIES)
    if found is None or found.is_empty():
        return None
    lines = pc.category_items(items.lazy(), pc.category_table(found.lazy())).collect()
    config = dataclasses.replace(settings.config, level="category", tables=("first",))
    result = products(dataclasses.replace(inputs, tables={ITEMS: lines}), config)
    return result.first


__all__ = ["CATEGORIES", "TABLES", "ProductSettings", "product_lines", "products_data", "release_product_lines"]
