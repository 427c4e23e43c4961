"""Products: hand-computed first-item, next-item, pair, cycle and next-best tables on a tiny shop."""

from __future__ import annotations

import math
from datetime import date, datetime

import polars as pl
import pytest

from loyalty_cli.metrics import first_products as firsts
from loyalty_cli.metrics import product_baskets as baskets
from loyalty_cli.metrics import products as m

AS_OF = date(2025, 1, 1)  # exclusive: observed 365 days = first purchase on or before 2024-01-01

# customer, order, time, product, cents. The orders:
#   A  o1 2023-01-10 X 10.00 + Y 5.00 (first: largest line X) | o2 2023-02-10 Y, Z (second day, gap 31) | o3 X
#   B  o4 2023-01-15 10:00 Y (first) | o5 same day, later: X (not a second purchase) | o6 2024-03-01 X, Y (gap 411)
#   C  o7 2023-06-01 X 5.00 + Y 5.00 (a tie: X) | C7 2023-06-20 returns X (-5.00): no purchase, in the 365-day value
#   D  o8 2024-06-01 Z (not observed 365 days) | o9 2024-07-01 Z 9.00, Z -9.00 (returned in the order: not bought), W
#   E  o10 2023-02-01 a line without a product (20.00, the largest) and X 1.00: no first product
LINES = [
    ("A", "o1", datetime(2023, 1, 10, 10), "X", 1000),
    ("A", "o1", datetime(2023, 1, 10, 10), "Y", 500),
    ("A", "o2", datetime(2023, 2, 10, 9), "Y", 300),
    ("A", "o2", datetime(2023, 2, 10, 9), "Z", 300),
    ("A", "o3", datetime(2023, 3, 12, 9), "X", 800),
    ("B", "o4", datetime(2023, 1, 15, 10), "Y", 700),
    ("B", "o5", datetime(2023, 1, 15, 18), "X", 200),
    ("B", "o6", datetime(2024, 3, 1, 12), "X", 400),
    ("B", "o6", datetime(2024, 3, 1, 12), "Y", 100),
    ("C", "o7", datetime(2023, 6, 1, 12), "Y", 500),
    ("C", "o7", datetime(2023, 6, 1, 12), "X", 500),
    ("C", "C7", datetime(2023, 6, 20, 12), "X", -500),
    ("D", "o8", datetime(2024, 6, 1, 12), "Z", 900),
    ("D", "o9", datetime(2024, 7, 1, 12), "Z", 900),
    ("D", "o9", datetime(2024, 7, 1, 12), "Z", -900),
    ("D", "o9", datetime(2024, 7, 1, 12), "W", 100),
    ("E", "o10", datetime(2023, 2, 1, 12), None, 2000),
    ("E", "o10", datetime(2023, 2, 1, 12), "X", 100),
]
Z975 = 1.959963984540054
T975 = {1: 12.706204736174698, 2: 4.302652729749464}  # Student t quantiles, 1 and 2 degrees of freedom


def lines(rows=LINES, *, emails: dict[str, str] | None = None) -> pl.LazyFrame:
    frame = pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "order_id": pl.String,
            "order_date": pl.Datetime("us"),
            "product": pl.String,
            "amount_cents": pl.Int64,
        },
        orient="row",
    )
    if emails is not None:
        frame = frame.with_columns(pl.col("customer_id").replace_strict(emails, default=None).alias("email"))
    return frame.lazy()


def tables(rows=LINES, *, as_of=AS_OF, exact=False, min_n=2, min_support=1, top=10, emails=None) -> dict:
    """Every table, decoded, as the application computes them."""
    config = m.ProductConfig(min_n=min_n, min_support=min_support, top=top)
    read = lines(rows, emails=emails)
    items = m.item_lines(read).collect().lazy()
    codes = m.item_codes(items).collect().lazy()
    keyed = m.keyed_items(items, codes, exact=exact).collect().lazy()
    orders = m.order_table(keyed).collect().lazy()
    customers = m.customer_table(orders, as_of=as_of).collect().lazy()
    bought = m.purchase_items(keyed, orders, customers).collect().lazy()
    edges = m.edge_items(bought).collect().lazy()
    nexts = firsts.next_items(bought, customers, edges, top=top).collect().lazy()
    basket = baskets.baskets(bought)
    counts = baskets.basket_counts(orders, basket)
    ids = m.customer_ids(read)
    found = {
        "customers": customers,
        "edges": edges,
        "counts": counts,
        "first": m.decoded(firsts.first_item_table(customers, edges, config=config), codes, {"i": "first_product"}),
        "next": m.decoded(nexts, codes, {"first_i": "first_product", "i": "next_product"}),
        "pairs": m.decoded(
            baskets.pair_table(basket, counts, min_support=min_support), codes, {"a": "product_a", "b": "product_b"}
        ),
        "cycle": m.decoded(baskets.cycle_table(bought), codes, {"i": "product"}),
        "list": m.decoded(
            firsts.next_best_items(bought, customers, edges, nexts, ids=ids, exact=exact),
            codes,
            {"next_i": "next_product", "last_i": "last_product"},
        ),
    }
    return dict(zip(found, pl.collect_all(list(found.values())), strict=True))


@pytest.fixture(scope="module")
def shop() -> dict:
    return tables()


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    return frame.select(columns).rows()


def wilson(x: int, n: int, z: float = Z975) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_customers_first_second_and_value(shop) -> None:
    c = shop["customers"].join(shop["edges"], on="c").sort("first_day")
    assert c.height == 5  # C7 (a return) is no purchase, but C bought before
    # first day, second day, gap, observed days (2024-12-31 - first day), 365-day value in cents
    assert rows(c, "first_day", "second_day", "gap_days", "observed_days", "value_365d_cents", "orders") == [
        (date(2023, 1, 10), date(2023, 2, 10), 31, 721, 2900, 3),  # A: o1 + o2 + o3
        (date(2023, 1, 15), date(2024, 3, 1), 411, 716, 900, 3),  # B: o4 + o5; o6 is day 411
        (date(2023, 2, 1), None, None, 699, 2100, 1),  # E
        (date(2023, 6, 1), None, None, 579, 500, 1),  # C: 10.00 - 5.00 returned
        (date(2024, 6, 1), date(2024, 7, 1), 30, 213, 1000, 2),  # D: not observed 365 days
    ]
    assert not c["shared_hash"].any()


def test_as_of_defaults_to_the_day_after_the_last_order() -> None:
    later = [*LINES, ("C", "C8", datetime(2024, 8, 3, 23), "Y", -100)]  # a return is an order too
    customers = tables(later, as_of=None)["customers"]
    assert customers["as_of"].unique().to_list() == [date(2024, 8, 4)]


def test_first_and_last_items(shop) -> None:
    codes = {0: "W", 1: "X", 2: "Y", 3: "Z"}  # alphabetical
    edges = shop["edges"].join(shop["customers"].select("c", "first_day"), on="c").sort("first_day")
    got = [(codes.get(f), codes.get(la)) for f, la in rows(edges, "first_i", "last_i")]
    # A: X then X (o3); B: Y (o4 at the first time, not o5) then X (o6's largest line); E: the product-less line is
    # the largest; C: the tie X = Y is X; D: Z, and its last order's largest line is Z (bought and returned)
    assert got == [("X", "X"), ("Y", "X"), (None, None), ("X", "X"), ("Z", "Z")]


def test_first_item_table(shop) -> None:
    first = shop["first"]
    assert rows(first, "first_product", "customers", "observed_365d", "repurchased_365d") == [
        ("(all)", 4, 3, 1),
        ("X", 2, 2, 1),  # A (gap 31), C (none)
        ("Y", 1, 1, 0),  # B (gap 411 > 365)
        ("Z", 1, 0, 0),  # D, not observed 365 days
    ]
    assert first["share"].to_list() == [1.0, 0.5, 0.25, 0.25]
    assert first["repurchase_rate_365d"].to_list()[:3] == pytest.approx([1 / 3, 0.5, 0.0])
    assert first["repurchase_rate_365d"][3] is None
    # 365-day values of the observed: A 29.00, B 9.00, C 5.00
    assert first["mean_value_365d"].to_list()[:3] == pytest.approx([43 / 3, 17.0, 9.0])
    assert first["median_value_365d"].to_list()[:3] == pytest.approx([9.0, 17.0, 9.0])
    assert first["mean_value_365d"][3] is None
    # Intervals from min_n = 2 observed: (all) and X; Y (1) and Z (0) have none
    low, high = wilson(1, 3)
    assert (first["repurchase_rate_low"][0], first["repurchase_rate_high"][0]) == pytest.approx((low, high))
    low, high = wilson(1, 2)
    assert (first["repurchase_rate_low"][1], first["repurchase_rate_high"][1]) == pytest.approx((low, high))
    sd_all = math.sqrt(((29 - 43 / 3) ** 2 + (9 - 43 / 3) ** 2 + (5 - 43 / 3) ** 2) / 2)
    half = T975[2] * sd_all / math.sqrt(3)
    assert (first["mean_value_low"][0], first["mean_value_high"][0]) == pytest.approx((43 / 3 - half, 43 / 3 + half))
    half = T975[1] * math.sqrt(288) / math.sqrt(2)  # X: 29 and 5, sd = sqrt(12^2 + 12^2)
    assert (first["mean_value_low"][1], first["mean_value_high"][1]) == pytest.approx((17 - half, 17 + half))
    for column in ("repurchase_rate_low", "repurchase_rate_high", "mean_value_low", "mean_value_high"):
        assert first[column].to_list()[2:] == [None, None], column


def test_min_n_hides_intervals_only() -> None:
    first = tables(min_n=3)["first"]
    assert first["repurchase_rate_low"].to_list() == [pytest.approx(wilson(1, 3)[0]), None, None, None]
    assert first["repurchase_rate_365d"].to_list()[:2] == pytest.approx([1 / 3, 0.5])


def test_next_items(shop) -> None:
    # Repeaters: A (first X; second day Y, Z), B (first Y; X, Y), D (first Z; W: Z was returned in the order)
    assert rows(shop["next"], "first_product", "rank", "next_product", "customers", "repeaters") == [
        ("X", 1, "Z", 1, 1),
        ("X", 2, "Y", 1, 1),
        ("Y", 1, "X", 1, 1),
        ("Y", 2, "Y", 1, 1),
        ("Z", 1, "W", 1, 1),
    ]
    # base share among the 3 repeaters: Y 2/3, the others 1/3; lift = share / base share; ties on support by lift
    assert shop["next"]["base_share"].to_list() == pytest.approx([1 / 3, 2 / 3, 1 / 3, 2 / 3, 1 / 3])
    assert shop["next"]["lift"].to_list() == pytest.approx([3.0, 1.5, 3.0, 1.5, 3.0])
    assert shop["next"]["share"].to_list() == [1.0] * 5


def test_top_keeps_the_best_ranked() -> None:
    assert rows(tables(top=1)["next"], "first_product", "next_product") == [("X", "Z"), ("Y", "X"), ("Z", "W")]


def test_pairs(shop) -> None:
    # 10 purchase orders with a product bought (o1-o10; C7 is a return); X in 6, Y in 5, Z in 2 (o9's is returned)
    assert shop["counts"]["orders"].to_list() == [10]
    pairs = shop["pairs"]
    assert rows(pairs, "product_a", "product_b", "orders", "orders_a", "orders_b") == [
        ("X", "Y", 3, 6, 5),  # o1, o6, o7
        ("Y", "Z", 1, 5, 2),  # o2
    ]
    assert pairs["confidence_ab"].to_list() == pytest.approx([3 / 6, 1 / 5])
    assert pairs["confidence_ba"].to_list() == pytest.approx([3 / 5, 1 / 2])
    assert pairs["lift"].to_list() == pytest.approx([3 * 10 / (6 * 5), 1 * 10 / (5 * 2)])
    assert pairs["share_of_orders"].to_list() == pytest.approx([0.3, 0.1])


def test_min_support_counts_orders() -> None:
    assert rows(tables(min_support=2)["pairs"], "product_a", "product_b", "orders") == [("X", "Y", 3)]
    assert tables(min_support=4)["pairs"].height == 0


def test_a_product_twice_in_an_order_is_one_basket_item() -> None:
    twice = [*LINES, ("A", "o1", datetime(2023, 1, 10, 10), "Y", 200)]
    got = tables(twice)
    assert rows(got["pairs"], "product_a", "product_b", "orders", "orders_b") == [("X", "Y", 3, 5), ("Y", "Z", 1, 2)]
    assert got["counts"]["orders"].to_list() == [10]


def test_replenishment_cycle(shop) -> None:
    cycle = shop["cycle"]
    assert rows(cycle, "product", "buyers", "repeat_customers", "repeats") == [
        ("X", 4, 2, 2),  # A (61 days), B (411; o5 and o6); C, E once
        ("Y", 3, 2, 2),  # A (31), B (411); C once
        ("W", 1, 0, 0),
        ("Z", 2, 0, 0),  # A, D (o9's Z returned in the order)
    ]
    assert rows(cycle, "gap_p25_days", "gap_median_days", "gap_p75_days", "gap_mean_days")[:2] == [
        (61 + 350 / 4, 236.0, 61 + 350 * 3 / 4, 236.0),
        (31 + 380 / 4, 221.0, 31 + 380 * 3 / 4, 221.0),
    ]
    assert rows(cycle, "gap_median_days")[2:] == [(None,), (None,)]
    assert cycle["repeat_share"].to_list() == pytest.approx([0.5, 2 / 3, 0.0, 0.0])


def test_same_day_orders_are_one_purchase_day() -> None:
    again = [*LINES, ("A", "o11", datetime(2023, 3, 12, 20), "X", 100)]  # X twice on 2023-03-12
    cycle = tables(again)["cycle"]
    assert rows(cycle.filter(pl.col("product") == "X"), "repeats", "gap_median_days") == [(2, 236.0)]


def test_next_best_items(shop) -> None:
    # A's last product X offers Z then Y: both bought. B (last X): Z. C (last X): Z. D's last Z offers W: bought.
    # E has no last product. By next product, then net spend (B 14.00, C 5.00).
    assert rows(shop["list"], "customer_id", "next_product", "last_product", "next_rank", "orders", "net_spend") == [
        ("B", "Z", "X", 1, 3, 14.0),
        ("C", "Z", "X", 1, 1, 5.0),
    ]
    assert rows(shop["list"], "last_purchase", "next_customers", "next_lift") == [
        (date(2024, 3, 1), 1, 3.0),
        (date(2023, 6, 1), 1, 3.0),
    ]


def test_next_best_items_carry_the_latest_email() -> None:
    listed = tables(emails={"B": "b@example.com", "C": "c@example.com"})["list"]
    assert listed.columns[:3] == ["customer_id", "email", "next_product"]
    assert listed["email"].to_list() == ["b@example.com", "c@example.com"]


def test_the_ids_themselves_give_the_same_tables(shop) -> None:
    exact = tables(exact=True)
    for name in ("first", "next", "pairs", "cycle", "list"):
        assert exact[name].equals(shop[name]), name


def test_row_order_does_not_matter(shop) -> None:
    shuffled = tables(list(reversed(LINES)))
    for name in ("first", "next", "pairs", "cycle", "list"):
        assert shuffled[name].equals(shop[name]), name


def test_without_order_ids_lines_group_by_time() -> None:
    read = lines().drop("order_id")
    items = m.item_lines(read).collect()
    # o1's two lines share a time: one order key; o4 and o5 differ by time
    keys = items.group_by("customer_id").agg(pl.col("order_key").n_unique()).sort("customer_id")
    assert keys.rows() == [("A", 3), ("B", 3), ("C", 2), ("D", 2), ("E", 1)]


def test_names_the_most_common_name_of_a_product() -> None:
    read = pl.LazyFrame({"product": ["X", "X", "X", "Y", None], "product_name": ["Mug", "Cup", "Mug", None, "Lost"]})
    assert m.name_table(m.item_names(read)).collect().rows() == [("X", "Mug")]
    parts = pl.concat([m.item_names(read), m.item_names(read.slice(1, 1))])  # e.g. two passes: Mug 2, Cup 2
    assert m.name_table(parts).collect().rows() == [("X", "Cup")]  # a tie: alphabetical
    assert m.item_names(pl.LazyFrame({"product": ["X"]})).collect().height == 0
