"""Each product's category, for the products tables at the category level from the product lines alone.

- :func:`item_categories`: a plan over all the transaction lines (read in the same pass as the rest):
  ``product, category, lines``, how many lines give each product each category.
- :func:`category_table`: one category per product, the one most of its lines give (ties: alphabetical).
- :func:`category_items`: the product lines of :func:`~loyalty_cli.metrics.products.item_lines` with each line's
  item replaced by its product's category (null for a product without one, or a line without a product): the
  lines as ``loyalty products`` reads them at the category level when every product has one category.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.metrics.products import item_names, name_table


def item_categories(lines: pl.LazyFrame) -> pl.LazyFrame:
    """``product, category, lines`` over the valid transaction lines with both (no rows without both columns)."""
    return item_names(lines, column="category")


def category_table(categories: pl.LazyFrame) -> pl.LazyFrame:
    """``product, category``: the category most lines give each product (ties: the alphabetically first), from
    :func:`item_categories` (also several of its tables, summed)."""
    return name_table(categories, column="category").select(
        pl.col("item").alias("product"), pl.col("name").alias("category")
    )


def category_items(items: pl.LazyFrame, categories: pl.LazyFrame) -> pl.LazyFrame:
    """``items`` (:func:`~loyalty_cli.metrics.products.item_lines` at the product level) with ``item`` the
    product's category of :func:`category_table` (``categories``)."""
    named = categories.select(pl.col("product").alias("item"), pl.col("category").alias("_category"))
    columns = items.collect_schema().names()
    return items.join(named, on="item", how="left", maintain_order="left").select(
        *(pl.col("_category").alias("item") if c == "item" else pl.col(c) for c in columns)
    )
