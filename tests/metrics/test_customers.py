"""Per-customer summary: hand-computed expectations."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.stage1.customers import (
    _resolve_as_of,
    btyd_summary,
    customer_activity,
    customer_summary,
    order_table,
    stage1_plans,
    summary_parts,
    summary_with_no_purchase,
    transaction_profile,
)


def lines(rows, *, order_id=True, category=True):
    cols = ["customer_id", "order_id", "order_date", "amount_cents", "category"]
    frame = pl.DataFrame(
        rows,
        schema=dict(zip(cols, [pl.String, pl.String, pl.Datetime("us"), pl.Int64, pl.String], strict=True)),
        orient="row",
    )
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
        ("C4", 1, -500, False),
        ("O1", 2, 1500, True),
        ("O2", 1, 2000, True),
        ("O3", 1, 3000, True),
        ("O5", 1, 0, True),
        ("O6", 2, 0, False),
        ("C8", 1, -900, False),
        ("O7", 1, 700, True),
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


def test_customer_activity_hand_computed():
    act = customer_activity(lines(SHOP)).collect().sort("customer_id", "day")
    assert act.rows() == [
        ("A", date(2024, 1, 1), 2, 3500),
        ("A", date(2024, 1, 10), 1, 3000),
        ("A", date(2024, 1, 12), 0, -500),
        ("B", date(2024, 1, 5), 1, 0),
        ("C", date(2024, 1, 3), 0, 0),
        ("D", date(2024, 1, 2), 1, 700),
        ("D", date(2024, 1, 9), 0, -900),
    ]
    # consistent with the summary: purchase days and net spend per customer
    s = summary(as_of=None)
    per_customer = (
        act.group_by("customer_id")
        .agg(
            (pl.col("purchases") > 0).sum().alias("purchase_days"), (pl.col("net_cents").sum() / 100).alias("net_spend")
        )
        .filter(pl.col("purchase_days") > 0)
        .sort("customer_id")
    )
    assert per_customer.rows() == s.select("customer_id", "purchase_days", "net_spend").rows()


def test_transaction_profile():
    p = transaction_profile(lines(SHOP)).collect().row(0, named=True)
    assert p["lines"] == 10 and p["orders"] == 8 and p["purchase_orders"] == 5 and p["return_orders"] == 2
    assert p["returns_value"] == 14.0 and p["net_revenue"] == 58.0
    assert (p["customers"], p["buying_customers"]) == (4, 3)
    assert (p["first_date"], p["last_date"]) == (date(2024, 1, 1), date(2024, 1, 12))


# E returned two items without ever buying (an Online Retail cancellation of an order before the data starts)
RETURNS_ONLY = [
    *SHOP,
    ("E", "C9", datetime(2024, 1, 4), -1200, "X"),
    ("E", "C10", datetime(2024, 1, 6), -300, "Y"),
]


def test_customers_with_no_purchase_are_counted_not_dropped_silently():
    summary_lf, left_lf = summary_with_no_purchase(lines(RETURNS_ONLY), as_of=date(2024, 1, 15))
    s, left = pl.collect_all([summary_lf, left_lf])
    assert s.sort("customer_id")["customer_id"].to_list() == ["A", "B", "D"]
    # C (an order refunded inside itself: net 0) and E (two cancellations: -12.00 and -3.00)
    assert left.rows(named=True) == [{"customers": 2, "return_orders": 2, "net_cents": -1500, "net_value": -15.0}]
    # together they are the whole data: the profile's net revenue and return orders
    p = transaction_profile(lines(RETURNS_ONLY)).collect().row(0, named=True)
    assert s["net_spend"].sum() + left["net_value"].item() == p["net_revenue"] == 43.0
    assert s["return_orders"].sum() + left["return_orders"].item() == p["return_orders"] == 4
    assert (p["no_purchase_customers"], p["no_purchase_net"]) == (2, -15.0)
    assert p["customers"] - p["buying_customers"] == p["no_purchase_customers"]
    # nobody left out: one row of zeros
    _, none = summary_with_no_purchase(lines(SHOP[:5]), as_of=None)
    assert none.collect().rows() == [(0, 0, 0, 0.0)]


def test_no_purchase_row_shares_the_summary_plan():
    """Collected together, the summary and the no-purchase row read the lines once (a cached sub-plan)."""
    summary_lf, left_lf = summary_with_no_purchase(lines(RETURNS_ONLY), as_of=None)
    plan = pl.explain_all([summary_lf, left_lf])
    assert "CACHE" in plan and plan.count("DF [") == 1, plan


@pytest.mark.parametrize("as_of", [date(2024, 1, 15), None])
def test_stage1_plans_are_the_tables_of_one_order_table(as_of):
    """With the activity table, every stage-1 plan is built over one order table: collected together they read
    the lines once (each plan used to group them into orders again), and they are the same tables as the
    summary's and the activity's own plans."""
    plans = stage1_plans(lines(RETURNS_ONLY), as_of=as_of, activity=True)
    assert plans.activity is not None
    plan = pl.explain_all(list(plans))
    assert plan.count('DF ["customer_id"') == 1 and plan.count("AGGREGATE") == 3, plan  # orders, customers, days
    found = pl.collect_all(list(plans))
    alone = pl.collect_all([*summary_parts(lines(RETURNS_ONLY), as_of=as_of), customer_activity(lines(RETURNS_ONLY))])
    for shared, own in zip(found, alone, strict=True):
        assert shared.sort(shared.columns).equals(own.sort(own.columns))
    assert found[3].height == 9  # A: 3 days, B, C, D: 2, E: 2
    without = stage1_plans(lines(RETURNS_ONLY), as_of=as_of, activity=False)
    assert without.activity is None and pl.collect_all(list(without[:3]))[0].equals(found[0], null_equal=True)


def test_sums_beyond_int64_do_not_wrap_around():
    # Each order is within Int64 cents, but the customer's spend and the totals are not: in Int64 two orders
    # of 5e16 gave a negative net spend. (The readers refuse such lines; a customer with 92 million lines at
    # their bound would get there.)
    big = 5 * 10**18
    rows = [
        ("A", "O1", datetime(2024, 1, 1), big, "X"),
        ("A", "O2", datetime(2024, 1, 2), big, "X"),
        ("B", "O3", datetime(2024, 1, 1), 100, "X"),
        ("B", "C4", datetime(2024, 1, 2), -big, "X"),
        ("B", "C5", datetime(2024, 1, 3), -big, "X"),
    ]
    s = summary(rows)
    a, b = s.row(0, named=True), s.row(1, named=True)
    assert (a["net_spend"], a["gross_spend"], a["repeat_spend"], a["mean_order_value"]) == (1e17, 1e17, 5e16, 5e16)
    assert (b["net_spend"], b["returns_value"]) == (1.0 - 1e17, 1e17)
    p = transaction_profile(lines(rows)).collect().row(0, named=True)
    assert (p["net_revenue"], p["returns_value"]) == (1.0, 1e17)


def reference_summary(lines: pl.LazyFrame, *, as_of: date | None) -> pl.LazyFrame:
    """The straightforward formulation customer_summary replaced for speed (Date/Datetime windows); the
    optimised one must give identical frames."""
    day = pl.col("order_date").dt.date()
    orders = order_table(lines)
    names = orders.collect_schema().names()
    purchase = pl.col("is_purchase")
    per_order = [
        pl.when(purchase).then(day).alias("pday"),
        pl.when(purchase).then(pl.col("order_date")).alias("pts"),
        pl.when(purchase).then(pl.col("value_cents")).alias("pcents"),
        pl.when(pl.col("value_cents") < 0).then(-pl.col("value_cents")).alias("rcents"),
    ]
    windows = [pl.col("pts").min().over("customer_id").alias("first_ts")]
    if "email" in names:
        windows.append(
            pl.when(pl.col("email").is_not_null())
            .then(pl.col("order_date"))
            .max()
            .over("customer_id")
            .alias("email_ts")
        )
    repeat = pl.col("pday") > pl.col("first_ts").dt.date()
    first_order = pl.col("pts") == pl.col("first_ts")
    aggs = [
        pl.col("pday").min().alias("first_purchase"),
        pl.when(repeat).then(pl.col("pday")).min().alias("second_purchase"),
        pl.col("pday").max().alias("last_purchase"),
        purchase.sum().cast(pl.UInt32).alias("orders"),
        (pl.col("pday").n_unique() - (pl.col("pday").null_count() > 0)).cast(pl.UInt32).alias("purchase_days"),
        pl.col("value_cents").sum().alias("net_cents"),
        pl.col("pcents").sum().alias("gross_cents"),
        pl.col("rcents").sum().alias("returns_cents"),
        (pl.col("value_cents") < 0).sum().cast(pl.UInt32).alias("return_orders"),
        pl.when(repeat).then(pl.col("pcents")).sum().alias("repeat_cents"),
        pl.col("order_date").max().alias("last_activity"),
    ]
    for col in ("category", "channel"):
        if col in names:
            aggs.append(pl.when(first_order).then(pl.col(col)).min().alias(f"first_{col}"))
    if "email" in names:
        aggs.append(pl.when(pl.col("order_date") == pl.col("email_ts")).then(pl.col("email")).max().alias("email"))
    customers = orders.with_columns(per_order).with_columns(windows).group_by("customer_id").agg(aggs)
    money = [
        (pl.col(f"{c}_cents") / 100).round(2).alias(name)
        for c, name in (
            ("net", "net_spend"),
            ("gross", "gross_spend"),
            ("returns", "returns_value"),
            ("repeat", "repeat_spend"),
        )
    ]
    leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
    extra = [f"first_{c}" for c in ("category", "channel") if c in names]
    return (
        customers.with_columns(_resolve_as_of(as_of).alias("as_of"))
        .filter(pl.col("first_purchase").is_not_null())
        .with_columns(
            *money,
            (pl.col("net_cents") / pl.col("orders") / 100).alias("mean_order_value"),
            (pl.col("as_of") - pl.col("last_purchase")).dt.total_days().cast(pl.Int32).alias("recency_days"),
            (pl.col("as_of") - pl.col("first_purchase")).dt.total_days().cast(pl.Int32).alias("tenure_days"),
        )
        .select(
            *leading,
            "first_purchase",
            "second_purchase",
            "last_purchase",
            "orders",
            "purchase_days",
            "net_spend",
            "gross_spend",
            "returns_value",
            "return_orders",
            "repeat_spend",
            "mean_order_value",
            *extra,
            "as_of",
            "recency_days",
            "tenure_days",
        )
    )


random_line = st.tuples(
    st.sampled_from(["a", "b", "c"]),  # customer
    st.integers(0, 8),  # order number (shared across customers on purpose)
    # hours since the start: several orders per day, often at the same time (hours 37-38 fall on the
    # local day after hour 39 in Antarctica/Casey)
    st.one_of(st.integers(0, 96), st.sampled_from([37, 38, 39, 48])),
    st.sampled_from([-500, -100, 0, 0, 100, 250, 500, 1000, 3000]),  # cents: returns, free lines, ties
    st.sampled_from(["X", "Y", None]),  # category / channel
    st.sampled_from(["p@x", "q@x", None]),  # email
)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(random_line, min_size=1, max_size=50),
    order_id=st.booleans(),
    extras=st.booleans(),
    email=st.booleans(),
    tz=st.sampled_from([None, "UTC", "Antarctica/Casey"]),
    given_as_of=st.booleans(),
)
def test_summary_matches_reference_implementation(rows, order_id, extras, email, tz, given_as_of):
    # Antarctica/Casey went from +11 to +8 at 2010-03-05 02:00 local (15:00 UTC the day before): local days
    # go backwards there, so the day of the first purchase is not always the first purchase day.
    start = datetime(2010, 3, 3)
    frame = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [f"O{r[1]}" for r in rows],
            "order_date": [start + timedelta(hours=r[2]) for r in rows],
            "amount_cents": [r[3] for r in rows],
            "category": [r[4] for r in rows],
            "channel": [r[4] and r[4].lower() for r in rows],
            "email": [r[5] for r in rows],
        },
        schema={
            "customer_id": pl.String,
            "order_id": pl.String,
            "order_date": pl.Datetime("us"),
            "amount_cents": pl.Int64,
            "category": pl.String,
            "channel": pl.String,
            "email": pl.String,
        },
    )
    if tz:
        frame = frame.with_columns(pl.col("order_date").dt.replace_time_zone("UTC").dt.convert_time_zone(tz))
    drop = [
        c
        for c, keep in (("order_id", order_id), ("category", extras), ("channel", extras), ("email", email))
        if not keep
    ]
    lf = frame.drop(drop).lazy()
    as_of = date(2010, 3, 10) if given_as_of else None
    for engine in ("streaming", "in-memory"):
        got = customer_summary(lf, as_of=as_of).collect(engine=engine).sort("customer_id")
        want = reference_summary(lf, as_of=as_of).collect(engine=engine).sort("customer_id")
        assert got.schema == want.schema
        assert got.equals(want), (got, want)


@pytest.mark.parametrize("tz", [None, "Antarctica/Casey"])
@pytest.mark.parametrize("columns", [("order_id", "category", "channel", "email"), ("order_id",), ()])
@pytest.mark.parametrize("given_as_of", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_summary_matches_reference_on_larger_random_data(tz, columns, given_as_of, seed):
    rng = np.random.default_rng(seed)
    n = 3000
    hours = np.where(rng.random(n) < 0.3, rng.choice([37, 38, 39, 48], n), rng.integers(0, 96, n))
    frame = pl.DataFrame(
        {
            "customer_id": rng.integers(0, 60, n).astype(str),
            "order_id": rng.integers(0, 400, n).astype(str),
            "order_date": (np.datetime64("2010-03-03T00:00", "us") + hours.astype("timedelta64[h]")).tolist(),
            "amount_cents": rng.choice([-500, -100, 0, 0, 100, 250, 500, 1000, 3000], n),
            "category": rng.choice(["X", "Y", "Z", None], n).tolist(),
            "channel": rng.choice(["web", "shop", None], n).tolist(),
            "email": rng.choice(["p@x", "q@x", "r@x", None], n).tolist(),
        },
        schema_overrides={"order_date": pl.Datetime("us")},
    )
    # customers whose only orders are returns (never customers, but they can be the last activity), and one
    # whose first purchase (hour 37, the 5th in Casey) is on a later local day than the next (hour 39, the 4th)
    special = pl.DataFrame(
        {
            "customer_id": ["ret1", "ret2", "casey", "casey", "casey"],
            "order_id": ["R1", "R2", "K1", "K2", "K3"],
            "order_date": [
                datetime(2010, 3, 8, 5),
                datetime(2010, 3, 2),
                datetime(2010, 3, 4, 13),
                datetime(2010, 3, 4, 15),
                datetime(2010, 3, 5, 12),
            ],
            "amount_cents": [-100, -200, 100, 200, 400],
        },
        schema_overrides={"order_date": pl.Datetime("us")},
    )
    frame = pl.concat([frame, special], how="diagonal")
    if tz:
        frame = frame.with_columns(pl.col("order_date").dt.replace_time_zone("UTC").dt.convert_time_zone(tz))
    lf = frame.select("customer_id", "order_date", "amount_cents", *columns).lazy()
    as_of = date(2010, 3, 10) if given_as_of else None
    got = customer_summary(lf, as_of=as_of).collect(engine="streaming").sort("customer_id")
    want = reference_summary(lf, as_of=as_of).collect(engine="in-memory").sort("customer_id")
    assert got.schema == want.schema
    assert got.equals(want)
