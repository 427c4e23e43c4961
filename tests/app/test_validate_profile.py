"""The transaction profile of ``loyalty validate`` from per-customer parts (so that it runs on Spark's buckets
of customers): hand-computed parts and totals, and the same figures as the profile over all the lines at once."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.app.validate import PROFILES, customer_profiles, transaction_profile
from loyalty_cli.spark import PerCustomer
from loyalty_cli.stage1.customers import transaction_profile as profile_of_all_lines

COLUMNS = {
    "customer_id": pl.String,
    "order_id": pl.String,
    "order_date": pl.Datetime("us"),
    "amount_cents": pl.Int64,
}
SHOP = [
    # A: O1 of two lines, O2, and a return C3
    ("A", "O1", datetime(2024, 1, 1, 10), 1000),
    ("A", "O1", datetime(2024, 1, 1, 10), 500),
    ("A", "O2", datetime(2024, 1, 10, 9), 3000),
    ("A", "C3", datetime(2024, 1, 12, 9), -500),
    # B: one free order (a purchase: no negative line)
    ("B", "O4", datetime(2024, 1, 5), 0),
    # C: an order refunded inside itself (not a purchase) and a cancellation: no purchase, net -2.50
    ("C", "O5", datetime(2024, 1, 3), 1000),
    ("C", "O5", datetime(2024, 1, 3), -1000),
    ("C", "C6", datetime(2023, 12, 30), -250),
]


def lines(rows: list[tuple]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=COLUMNS, orient="row").lazy()


def test_each_customers_part() -> None:
    parts = customer_profiles(lines(SHOP)).collect().sort("customer_id")
    assert parts.select("customer_id", "lines", "orders", "purchase_orders", "return_orders").rows() == [
        ("A", 4, 3, 2, 1),
        ("B", 1, 1, 1, 0),
        ("C", 3, 2, 0, 1),
    ]
    assert parts.select("returns_cents", "net_cents", "bought").rows() == [
        (500, 4000, True),
        (0, 0, True),
        (250, -250, False),
    ]
    assert parts["first"].to_list() == [datetime(2024, 1, 1, 10), datetime(2024, 1, 5), datetime(2023, 12, 30)]
    assert parts["last"].to_list() == [datetime(2024, 1, 12, 9), datetime(2024, 1, 5), datetime(2024, 1, 3)]


def test_the_parts_add_up_to_the_profile() -> None:
    p = transaction_profile(customer_profiles(lines(SHOP)).collect()).row(0, named=True)
    assert p == {
        "lines": 8,
        "orders": 6,
        "purchase_orders": 3,
        "return_orders": 2,
        "returns_value": 7.5,
        "net_revenue": 37.5,
        "customers": 3,
        "buying_customers": 2,
        "no_purchase_customers": 1,
        "no_purchase_net": -2.5,
        "first_date": date(2023, 12, 30),
        "last_date": date(2024, 1, 12),
    }


BIG = 5 * 10**18
CASES = {
    "shop": SHOP,
    "no lines": [],
    "beyond Int64": [
        ("A", "O1", datetime(2024, 1, 1), BIG),
        ("A", "O2", datetime(2024, 1, 2), BIG),
        ("B", "C3", datetime(2024, 1, 3), -BIG),
        ("B", "C4", datetime(2024, 1, 4), -BIG),
    ],
}


@pytest.mark.parametrize("rows", list(CASES.values()), ids=list(CASES))
def test_the_same_figures_as_the_profile_of_all_the_lines(rows: list[tuple]) -> None:
    """As ``validate`` shows them (text), whatever buckets the customers are split into (as on Spark)."""
    whole = profile_of_all_lines(lines(rows)).collect()
    one = transaction_profile(customer_profiles(lines(rows)).collect())
    by_bucket = [customer_profiles(lines([r for r in rows if (r[0] == "A") == first])).collect() for first in (1, 0)]
    two = transaction_profile(pl.concat(by_bucket))
    as_text = pl.all().cast(pl.String)
    assert_frame_equal(whole.select(as_text), one.select(as_text))
    assert_frame_equal(one, two)
    assert one.columns == whole.columns


def test_the_transaction_plan_is_marked_per_customer() -> None:
    """So that the Spark engine runs it (it refuses plans over all the lines); surveys and contacts are read here."""
    assert isinstance(PROFILES["transactions"], PerCustomer)
    assert not isinstance(PROFILES["surveys"], PerCustomer)
