"""Per-customer summary: hand-computed expectations."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from loyalty_cli.metrics.customers import btyd_summary, customer_summary, order_table, transaction_profile


def lines(rows, *, order_id=True, category=True):
    cols = ["customer_id", "order_id", "order_date", "amount_cents", "category"]
    frame = pl.DataFrame(rows, schema=dict(zip(cols, [pl.String, pl.String, pl.Datetime("us"), pl.Int64,
                                                      pl.String], strict=True)), orient="row")
    if not order_id:
        frame = frame.drop("order_id")
    if not category:
        frame = frame.drop("category")
    return frame.lazy()


SHOP = [
    # A: two orders on Jan 1 (one of two lines), one on Jan 10, a return on Jan 12
    ("A", "O1", datetime(2024, 1, 1, 10), 1000, "X"),
    ("A", "O1", datetime(2024, 1, 1, 10), 500, "Y"),
    ("A", "O2", datetime(2024, 1, 1, 15), 2000, "Y"),
    ("A", "O3", datetime(2024, 1, 10, 9), 3000, "Z"),
    ("A", "C4", datetime(2024, 1, 12, 9), -500, "Z"),
    # B: one free order (a purchase: no negative line)
    ("B", "O5", datetime(2024, 1, 5), 0, "X"),
    # C: one order fully refunded inside the same order: not a purchase, C is not a customer
    ("C", "O6", datetime(2024, 1, 3), 1000, "X"),
    ("C", "O6", datetime(2024, 1, 3), -1000, "X"),
    # D: bought 7.00, returned 9.00 later (net negative)
    ("D", "O7", datetime(2024, 1, 2), 700, "Y"),
    ("D", "C8", datetime(2024, 1, 9), -900, "Y"),
]


def summary(rows=SHOP, as_of=date(2024, 1, 15), **kw):
    return customer_summary(lines(rows, **kw), as_of=as_of).collect().sort("customer_id")


def test_orders_collapse_lines_and_flag_purchases():
    orders = order_table(lines(SHOP)).collect().sort("customer_id", "order_id")
    assert orders.select("order_id", "lines", "value_cents", "is_purchase").rows() == [
        ("C4", 1, -500, False), ("O1", 2, 1500, True), ("O2", 1, 2000, True), ("O3", 1, 3000, True),
        ("O5", 1, 0, True), ("O6", 2, 0, False), ("C8", 1, -900, False), ("O7", 1, 700, True),
    ]
    # the category of an order is that of its largest line
    assert orders.filter(pl.col("order_id") == "O1")["category"].item() == "X"


def test_summary_hand_computed():
    s = summary()
    assert s["customer_id"].to_list() == ["A", "B", "D"]  # C never made a purchase
    a = s.row(0, named=True)
    assert a["first_purchase"] == date(2024, 1, 1)
    assert a["second_purchase"] == date(2024, 1, 10)
    assert a["last_purchase"] == date(2024, 1, 10)
    assert (a["orders"], a["purchase_days"]) == (3, 2)
    assert (a["net_spend"], a["gross_spend"], a["returns_value"], a["return_orders"]) == (60.0, 65.0, 5.0, 1)
    assert a["repeat_spend"] == 30.0
    assert a["mean_order_value"] == pytest.approx(20.0)
    assert a["first_category"] == "X"
    assert (a["as_of"], a["recency_days"], a["tenure_days"]) == (date(2024, 1, 15), 5, 14)
    b = s.row(1, named=True)
    assert (b["orders"], b["net_spend"], b["second_purchase"], b["recency_days"]) == (1, 0.0, None, 10)
    d = s.row(2, named=True)
    assert (d["net_spend"], d["gross_spend"], d["returns_value"], d["mean_order_value"]) == (-2.0, 7.0, 9.0, -2.0)


def test_default_as_of_is_day_after_last_transaction():
    s = summary(as_of=None)
    assert s["as_of"].unique().to_list() == [date(2024, 1, 13)]  # the last line is A's return on Jan 12
    assert s.filter(pl.col("customer_id") == "A")["recency_days"].item() == 3


def test_without_order_id_lines_group_by_customer_and_timestamp():
    s = summary(order_id=False, category=False)
    a = s.row(0, named=True)
    # O1's two lines share a timestamp -> one order; O2 at 15:00 is another; C4 is a negative "order"
    assert (a["orders"], a["purchase_days"], a["net_spend"]) == (3, 2, 60.0)
    assert "first_category" not in s.columns


def test_money_is_exact_whatever_the_row_order():
    rows = [("A", f"O{i}", datetime(2024, 1, 1 + i % 20), 10, "X") for i in range(1000)]
    forward = summary(rows)
    backward = summary(rows[::-1])
    assert forward.equals(backward)
    assert forward["net_spend"].item() == 100.0


def test_btyd_summary_in_weeks():
    b = btyd_summary(customer_summary(lines(SHOP), as_of=date(2024, 1, 15)), unit_days=7).collect()
    a = b.sort("customer_id").row(0, named=True)
    assert a["frequency"] == 1
    assert a["recency"] == pytest.approx(9 / 7)
    assert a["T"] == pytest.approx(13 / 7)  # end = as_of - 1 day = Jan 14
    assert a["monetary_value"] == 30.0
    assert b.filter(pl.col("customer_id") == "B")["monetary_value"].item() == 0.0


def test_transaction_profile():
    p = transaction_profile(lines(SHOP)).collect().row(0, named=True)
    assert p["lines"] == 10 and p["orders"] == 8 and p["purchase_orders"] == 5 and p["return_orders"] == 2
    assert p["returns_value"] == 14.0 and p["net_revenue"] == 58.0
    assert (p["customers"], p["buying_customers"]) == (4, 3)
    assert (p["first_date"], p["last_date"]) == (date(2024, 1, 1), date(2024, 1, 12))
