"""Each product's category (:mod:`loyalty_cli.metrics.product_categories`), by hand."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from loyalty_cli.metrics.product_categories import category_items, category_table, item_categories

LINES = pl.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "c", "c", "d"],
        "product": ["P1", "P1", "P1", "P2", "P2", None, "P3"],
        "category": ["Tea", "Tea", "Coffee", "Mugs", "Cups", "Tea", None],
    }
)


def test_lines_per_product_and_category() -> None:
    found = item_categories(LINES.lazy()).collect().sort("product", "category")
    # the line without a product and the one without a category are not counted
    assert found.rows() == [("P1", "Coffee", 1), ("P1", "Tea", 2), ("P2", "Cups", 1), ("P2", "Mugs", 1)]


def test_no_column_no_row() -> None:
    assert item_categories(LINES.drop("category").lazy()).collect().height == 0
    assert item_categories(LINES.drop("product").lazy()).collect().height == 0


def test_the_category_most_lines_give_ties_alphabetical() -> None:
    # P1: Tea on 2 lines, Coffee on 1 -> Tea; P2: Cups and Mugs on 1 each -> Cups (alphabetical); P3: no category
    found = category_table(item_categories(LINES.lazy())).collect().sort("product")
    assert found.rows() == [("P1", "Tea"), ("P2", "Cups")]


def test_parts_are_summed() -> None:
    # two parts (e.g. two passes): P1 Coffee 1 + 2 = 3 lines beats Tea 2
    part = pl.DataFrame({"product": ["P1"], "category": ["Coffee"], "lines": [2]})
    both = pl.concat([item_categories(LINES.lazy()).collect(), part])
    assert category_table(both.lazy()).collect().filter(pl.col("product") == "P1")["category"].item() == "Coffee"


def test_item_lines_take_their_products_category() -> None:
    items = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "order_key": pl.Series([1, 2, 3, 4], dtype=pl.UInt64),
            "item": ["P2", "P1", None, "P9"],
            "order_date": [datetime(2024, 1, d) for d in (1, 2, 3, 4)],
            "amount_cents": [100, 200, 300, 400],
        }
    )
    table = pl.DataFrame({"product": ["P1", "P2"], "category": ["Tea", "Cups"]})
    found = category_items(items.lazy(), table.lazy()).collect()
    assert found.columns == items.columns  # the same lines, in order; the item replaced
    assert found["item"].to_list() == ["Cups", "Tea", None, None]  # P9 has no category
    assert found.drop("item").equals(items.drop("item"))
