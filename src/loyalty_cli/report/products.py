"""The products section: what customers buy first and what it is worth, what they buy next, what goes together in
one order, and how often the same product is bought again (``loyalty products``'s tables, cut to their top rows by
:mod:`loyalty_cli.app.report_products`). Product codes and names come from the data: they stay raw text here (the
template and the chart engine escape them)."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_money, fmt_num, fmt_pct, make_section, make_table, rounded
from loyalty_cli.report.product_data import ProductsData
from loyalty_cli.words import count

PLURAL = {"product": "products", "category": "categories"}
ALL = "(all)"


def item_label(item: str | None, name: str | None) -> str:
    """A product as the page shows it: ``name (code)``, or its code (a category: itself)."""
    if item is None:
        return ""
    return f"{name} ({item})" if name else item


def _interval(low: float | None, high: float | None, fmt: Any) -> str:
    return "" if low is None or high is None else f"{fmt(low)} to {fmt(high)}"


def products_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    found: ProductsData | None = data.products
    if found is None:
        return make_section("products", "Products", missing=f"Products: not available: {data.products_missing}")
    level, money = found.level, settings.money
    counts = found.counts
    intro = [
        f"{count(counts['customers'], 'customer')} with a purchase bought {count(counts['items'], 'product')} in "
        f"{count(counts['orders'], 'purchase order')}."
        + (
            f" {count(counts['no_item_lines'], 'line')} without a product count in order values only."
            if counts["no_item_lines"]
            else ""
        )
    ]
    if level == "category":
        intro.append(
            f"The customers' first orders began with {found.first_products:,} different products: the first table "
            "is by first category (each product's category: the one most of its lines give)."
        )
    if not counts["observed_365d"]:
        intro.append(
            "No customer's first 365 days are over by the as-of date yet: the repurchase rate and the 365-day value "
            "are empty."
        )
    charts, tables = [], [_first_table(found, money)]
    rates = found.first.filter(pl.col("repurchase_rate_365d").is_not_null())
    if rates.height:
        charts.append(_first_chart(found, rates))
    notes = [
        f"First {level}: the {level} of the largest line of the customer's first purchase order. Repurchase and "
        f"365-day value (net value of every order from the first purchase day to 365 days after it) over the "
        f"customers whose 365 days are over ({count(counts['observed_365d'], 'customer')}); "
        f"{found.confidence:.0%} intervals from {count(found.min_n, 'customer')} observed. A correlation: the first "
        f"{level} is not shown to cause it."
    ]
    if found.next.height:
        tables.append(_next_table(found))
        notes.append(
            "Next products: bought on the second purchase day; share of the first product's repeaters (customers "
            "with a second purchase day); lift = that share / the share among all repeaters (above 1: bought next "
            "more often after this first product)."
        )
    if found.pairs.height:
        tables.append(_pairs_table(found))
        notes.append(
            "Pairs: bought together in one purchase order; confidence a to b = share of the orders with a that also "
            "have b; lift = how many times more often together than by chance (1: as by chance)."
        )
    else:
        intro.append(f"No two products were bought together in {count(found.min_support, 'order')} or more.")
    if found.cycle.height:
        tables.append(_cycle_table(found))
        notes.append(
            "Replenishment cycle: days between purchase days of the same product by the same customer. Gaps not "
            "over by the as-of date are not seen, so long cycles are under-counted: read the median with the "
            "repeat share."
        )
    return make_section("products", "Products", intro=intro, charts=charts, tables=tables, notes=notes)


def _first_label(item: str, name: str | None) -> str:
    return "all customers" if item == ALL else item_label(item, name)


def _first_chart(found: ProductsData, rates: pl.DataFrame) -> dict[str, Any]:
    level, shown = found.level, rates.height - 1
    return {
        "kind": "bars",
        "id": "products-first",
        "title": f"Repurchase within 365 days by first {level}",
        "subtitle": "Share of the customers observed 365 days who bought again within them, by first "
        + (
            level
            if shown == found.first_items
            else f"{level}: the {shown} with most customers of {found.first_items:,}"
        ),
        "labels": [_first_label(r["item"], r["name"]) for r in rates.iter_rows(named=True)],
        "series": [
            {
                "name": "repurchase rate",
                "values": [rounded(v) for v in rates["repurchase_rate_365d"]],
                "text": [
                    f"{fmt_pct(r['repurchase_rate_365d'])} of {r['observed_365d']:,}"
                    for r in rates.iter_rows(named=True)
                ],
            }
        ],
        "x_title": "bought again within 365 days (%)",
        "x_format": "pct",
        "y_title": f"first {level}",
    }


def _first_table(found: ProductsData, money: Any) -> dict[str, Any]:
    level = found.level
    rows = [
        [
            _first_label(r["item"], r["name"]),
            fmt_int(r["customers"]),
            fmt_pct(r["share"]),
            fmt_int(r["observed_365d"]),
            fmt_pct(r["repurchase_rate_365d"]),
            _interval(r["repurchase_rate_low"], r["repurchase_rate_high"], fmt_pct),
            fmt_money(r["mean_value_365d"]) if r["mean_value_365d"] is not None else "",
            _interval(r["mean_value_low"], r["mean_value_high"], fmt_money),
        ]
        for r in found.first.iter_rows(named=True)
    ]
    shown = found.first.height - 1
    title = f"Repurchase and 365-day value by first {level}"
    if found.first_items > shown:
        title += f" (the top {shown} of {count(found.first_items, f'first {level}', f'first {PLURAL[level]}')})"
    return make_table(
        title,
        [
            f"first {level}",
            "customers",
            "share",
            "observed 365 days",
            "bought again",
            f"{found.confidence:.0%} interval",
            money.header("mean 365-day value"),
            f"{found.confidence:.0%} interval",
        ],
        rows,
        [False] + [True] * 7,
        long=[0],
    )


def _next_table(found: ProductsData) -> dict[str, Any]:
    rows, before = [], None
    for r in found.next.iter_rows(named=True):  # each first product named once, on its first row
        first = r["first_item"] != before
        rows.append(
            [
                item_label(r["first_item"], r["first_name"]) if first else "",
                fmt_int(r["repeaters"]) if first else "",
                item_label(r["item"], r["name"]),
                fmt_int(r["customers"]),
                fmt_pct(r["share"]),
                fmt_num(r["lift"], 2),
            ]
        )
        before = r["first_item"]
    return make_table(
        f"What the customers of the {count(found.leading, 'leading first product')} bought next",
        ["first product", "repeaters", "next product", "customers", "share of repeaters", "lift"],
        rows,
        [False, True, False, True, True, True],
        long=[0, 2],
    )


def _pairs_table(found: ProductsData) -> dict[str, Any]:
    rows = [
        [
            item_label(r["item_a"], r["name_a"]),
            item_label(r["item_b"], r["name_b"]),
            fmt_int(r["orders"]),
            fmt_pct(r["share_of_orders"], 2),
            fmt_pct(r["confidence_ab"]),
            fmt_pct(r["confidence_ba"]),
            fmt_num(r["lift"], 2),
        ]
        for r in found.pairs.iter_rows(named=True)
    ]
    title = "Products bought together in one order"
    if found.pairs_found > found.pairs.height:
        title += f" (top {found.pairs.height} of {count(found.pairs_found, 'pair')} by orders)"
    return make_table(
        title,
        ["product a", "product b", "orders", "support", "confidence a to b", "confidence b to a", "lift"],
        rows,
        [False, False] + [True] * 5,
        f"Pairs bought together in at least {count(found.min_support, 'order')}; support: share of all "
        f"{fmt_int(found.counts['orders'])} purchase orders with a product.",
        long=[0, 1],
    )


def _cycle_table(found: ProductsData) -> dict[str, Any]:
    rows = [
        [
            item_label(r["item"], r["name"]),
            fmt_int(r["buyers"]),
            fmt_int(r["repeat_customers"]),
            fmt_pct(r["repeat_share"]),
            fmt_num(r["gap_median_days"], 0),
            _interval(r["gap_p25_days"], r["gap_p75_days"], lambda v: fmt_num(v, 0)),
        ]
        for r in found.cycle.iter_rows(named=True)
    ]
    return make_table(
        f"Replenishment cycle of the {count(found.cycle.height, 'most repurchased product')}",
        ["product", "buyers", "bought on 2+ days", "repeat share", "median days between", "middle half (days)"],
        rows,
        [False] + [True] * 5,
        long=[0],
    )
