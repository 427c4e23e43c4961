"""Retention by acquisition: the first order's value of a column (stage 1's rule), membership, folding small
groups into (other), and the split long table, each checked against hand-computed figures."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from loyalty_cli.metrics.retention import AVERAGE, cohort_retention
from loyalty_cli.metrics.retention_splits import (
    MISSING,
    OTHER,
    first_order_values,
    membership,
    split_customers,
    split_label,
    split_matrix,
    split_retention,
    split_sizes,
    split_wide,
)
from loyalty_cli.stage1.customers import customer_activity, customer_summary


def order_lines(rows) -> pl.LazyFrame:
    """Lines from (customer, order id, 'YYYY-MM-DD HH:MM', category, amount in currency units)."""
    return pl.DataFrame(
        [(c, o, datetime.fromisoformat(ts), cat, round(a * 100)) for c, o, ts, cat, a in rows],
        schema={
            "customer_id": pl.String,
            "order_id": pl.String,
            "order_date": pl.Datetime("us"),
            "category": pl.String,
            "amount_cents": pl.Int64,
        },
        orient="row",
    ).lazy()


# The first purchase order's value: the value of its largest line (ties alphabetical), and of several purchase
# orders at the same first time the alphabetically first value.
FIRSTS = [
    # A: first order 1 has Tea 30 and Coffee 50: the largest line is Coffee (order 2's Gifts 100 comes later)
    ("A", "1", "2024-01-05 10:00", "Tea", 30),
    ("A", "1", "2024-01-05 10:00", "Coffee", 50),
    ("A", "2", "2024-02-01 10:00", "Gifts", 100),
    # B: Tea 40 and Accessories 40 tie: alphabetical, Accessories
    ("B", "3", "2024-01-06 10:00", "Tea", 40),
    ("B", "3", "2024-01-06 10:00", "Accessories", 40),
    # C: order 4 is a return only (no purchase); the first purchase order is 5: Gifts
    ("C", "4", "2024-01-07 10:00", "Tea", -20),
    ("C", "5", "2024-01-08 10:00", "Gifts", 10),
    # D: the largest line (60) has no category: none (Tea 20 is smaller)
    ("D", "6", "2024-01-09 10:00", None, 60),
    ("D", "6", "2024-01-09 10:00", "Tea", 20),
    # E: two purchase orders at the same first time, Tea 10 and Coffee 5: alphabetical, Coffee
    ("E", "7", "2024-01-10 12:00", "Tea", 10),
    ("E", "8", "2024-01-10 12:00", "Coffee", 5),
    # F: two Coffee lines 50 + 30 = 80 against one Tea line of 70: the largest *line* is Tea's
    ("F", "9", "2024-01-11 10:00", "Coffee", 50),
    ("F", "9", "2024-01-11 10:00", "Coffee", 30),
    ("F", "9", "2024-01-11 10:00", "Tea", 70),
]


def test_first_order_values_follow_stage_1s_rule():
    got = first_order_values(order_lines(FIRSTS), "category").collect().sort("customer_id")
    assert got.columns == ["customer_id", "first_category"]
    assert got.rows() == [
        ("A", "Coffee"),
        ("B", "Accessories"),
        ("C", "Gifts"),
        ("D", None),
        ("E", "Coffee"),
        ("F", "Tea"),
    ]
    # the same as the customer summary's first_category: one rule
    summary = customer_summary(order_lines(FIRSTS), as_of=date(2024, 3, 1)).collect().sort("customer_id")
    assert summary["first_category"].to_list() == got["first_category"].to_list()


def test_first_order_values_of_any_column_and_row_order():
    renamed = order_lines(FIRSTS).rename({"category": "shelf"})
    shuffled = renamed.collect().sample(fraction=1.0, shuffle=True, seed=3).lazy()
    got = first_order_values(shuffled, "shelf").collect().sort("customer_id")
    assert got["first_shelf"].to_list() == ["Coffee", "Accessories", "Gifts", None, "Coffee", "Tea"]


def test_membership_at_the_as_of_date():
    customers = pl.LazyFrame({"customer_id": ["A", "B", "C"]})
    members = pl.LazyFrame(
        {
            "customer_id": ["A", "C", "X"],  # C enrols on the as-of date: not yet a member; X never bought
            "enrolled_at": [datetime(2023, 5, 1), datetime(2024, 3, 1), datetime(2023, 1, 1)],
        }
    )
    got = membership(customers, members, as_of=date(2024, 3, 1)).collect().sort("customer_id")
    assert got.rows() == [("A", "members"), ("B", "non-members"), ("C", "non-members")]


def test_small_values_are_folded_into_other():
    # a x3, b x2, c x1, empty x1 with a minimum of 2: a and b stay; c and no value make (other), 2 customers
    customers = pl.LazyFrame({"customer_id": list("1234567"), "x": ["a", "a", "a", "b", "b", "c", None]})
    split = split_customers(customers, "x", min_customers=2).collect().sort("customer_id")
    # the made-up group holds no value in split: its group says what it is
    assert split["split"].to_list() == ["a", "a", "a", "b", "b", None, None]
    assert split["group"].to_list() == ["value"] * 5 + ["other", "other"]
    assert split["value"].to_list()[-2:] == ["c", None]
    sizes = split_sizes(split.lazy()).collect()
    assert sizes.rows() == [("a", "value", 3, ["a"]), ("b", "value", 2, ["b"]), (None, "other", 2, ["c", None])]
    # a minimum of 1 folds nothing (no value: its own group, missing); one above every size folds everything
    assert split_sizes(split_customers(customers, "x", min_customers=1)).collect().select("split", "group").rows() == [
        ("a", "value"),
        ("b", "value"),
        ("c", "value"),
        (None, "missing"),
    ]
    everything = split_sizes(split_customers(customers, "x", min_customers=4)).collect()
    assert everything.rows() == [(None, "other", 7, ["a", "b", "c", None])]


def test_values_spelt_like_made_up_groups_stay_apart():
    # values "all" x2, "(other)" x2, "(missing)" x2, '"q"' x2, rare x1, no value x2; a minimum of 2: rare folds
    # into the made-up (other), 1 customer, which stays apart from the value "(other)" (2 customers)
    values = ["all", "all", "(other)", "(other)", "(missing)", "(missing)", '"q"', '"q"', "rare", None, None]
    customers = pl.LazyFrame({"customer_id": [f"c{i:02}" for i in range(11)], "x": values})
    sizes = split_sizes(split_customers(customers, "x", min_customers=2)).collect()
    # largest first (ties: by value; no value last among them), the made-up (other) last
    assert sizes.select("split", "group", "customers").rows() == [
        ('"q"', "value", 2),
        ("(missing)", "value", 2),
        ("(other)", "value", 2),
        ("all", "value", 2),
        (None, "missing", 2),
        (None, "other", 1),
    ]
    # one label per row: the made-up groups as (missing) and (other), the data's look-alikes quoted
    labels = sizes.select(split_label().alias("label"))["label"].to_list()
    assert labels == ['"""q"""', '"(missing)"', '"(other)"', '"all"', MISSING, OTHER]
    assert pl.select(split_label(pl.lit(None, pl.String), pl.lit("all")).alias("label")).item() == "all"


# As of 2024-04-01 (exclusive): January, February and March are over; periods k = 0, 1, 2.
#   web   A  Jan cohort: Jan 5 (100), Feb 10 (50)
#   web   B  Jan cohort: Jan 20 (200)
#   web   E  Feb cohort: Feb 15 (20)
#   store C  Jan cohort: Jan 3 (80), Mar 2 (40)
#   store D  Feb cohort: Feb 3 (70)
SHOP = [
    ("A", "2024-01-05", 100),
    ("A", "2024-02-10", 50),
    ("B", "2024-01-20", 200),
    ("E", "2024-02-15", 20),
    ("C", "2024-01-03", 80),
    ("C", "2024-03-02", 40),
    ("D", "2024-02-03", 70),
]
CHANNELS = pl.LazyFrame({"customer_id": list("ABECD"), "channel": ["web"] * 3 + ["store"] * 2})
AS_OF = date(2024, 4, 1)


def shop() -> tuple[pl.LazyFrame, pl.LazyFrame]:
    tx = pl.DataFrame(
        [(c, datetime.fromisoformat(d).replace(hour=12), round(a * 100)) for c, d, a in SHOP],
        schema={"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64},
        orient="row",
    ).lazy()
    return customer_summary(tx, as_of=AS_OF), customer_activity(tx)


def split_long() -> pl.DataFrame:
    customers, activity = shop()
    split = split_customers(customers, "channel", min_customers=1, values=CHANNELS)
    return split_retention(split, activity, by="first_channel").collect()


def column(long: pl.DataFrame, split: str, cohort: str, name: str) -> list:
    return long.filter((pl.col("split") == split) & (pl.col("cohort") == cohort)).sort("period")[name].to_list()


def test_split_long_table_by_hand():
    long = split_long()
    assert long.columns[:5] == ["by", "split", "group", "cohort", "cohort_start"]
    assert long["group"].unique().to_list() == ["value"]
    assert long["by"].unique().to_list() == ["first_channel"]
    # web (3 customers) before store (2); each value's cohorts, then its average rows
    assert long.select("split", "cohort").unique(maintain_order=True).rows() == [
        ("web", "2024-01"),
        ("web", "2024-02"),
        ("web", AVERAGE),
        ("store", "2024-01"),
        ("store", "2024-02"),
        ("store", AVERAGE),
    ]
    # web January {A, B}: k0 2 of 2, revenue 300; k1 (Feb) A: 1/2, revenue 50 -> 50/300; k2 (Mar) nobody
    assert column(long, "web", "2024-01", "active_customers") == [2, 1, 0]
    assert column(long, "web", "2024-01", "retention") == [1.0, 0.5, 0.0]
    assert column(long, "web", "2024-01", "revenue_retention") == pytest.approx([1.0, 50 / 300, 0.0])
    # cumulative per acquired customer: 300/2, 350/2, 350/2
    assert column(long, "web", "2024-01", "cumulative_revenue_per_customer") == pytest.approx([150.0, 175.0, 175.0])
    # web February {E}: k0 1; k1 (Mar) 0; k2 (Apr) not over: null, not 0
    assert column(long, "web", "2024-02", "active_customers") == [1, 0, None]
    # web average: k0 (2 + 1) / 3; k1 (1 + 0) / 3; k2 only January is over: 0 / 2
    assert column(long, "web", AVERAGE, "retention") == pytest.approx([1.0, 1 / 3, 0.0])
    assert column(long, "web", AVERAGE, "cohort_customers") == [3, 3, 2]
    # store January {C}: k2 (Mar) back: 1/1, revenue 40 / 80; cumulative 80, 80, 120
    assert column(long, "store", "2024-01", "retention") == [1.0, 0.0, 1.0]
    assert column(long, "store", "2024-01", "revenue_retention") == pytest.approx([1.0, 0.0, 0.5])
    assert column(long, "store", "2024-01", "cumulative_revenue_per_customer") == pytest.approx([80.0, 80.0, 120.0])
    # store average: k0 2/2; k1 (C in Feb, D in Mar) 0/2: a true zero; k2 only January: 1/1
    assert column(long, "store", AVERAGE, "retention") == pytest.approx([1.0, 0.0, 1.0])
    # revenue-weighted: k1 (0 + 0) / (80 + 70); k2 40 / 80 (only January is over)
    assert column(long, "store", AVERAGE, "revenue_retention") == pytest.approx([1.0, 0.0, 0.5])


def test_split_cells_add_up_to_the_unsplit_table():
    customers, activity = shop()
    whole = cohort_retention(customers, activity).collect().filter(pl.col("cohort") != AVERAGE)
    summed = (
        split_long()
        .filter(pl.col("cohort") != AVERAGE)
        .group_by("cohort", "period")
        .agg(pl.col("cohort_customers", "active_customers", "active_within_customers", "revenue").sum())
    )
    joined = whole.join(summed, on=["cohort", "period"], suffix="_split")
    assert joined.height == whole.height
    for name in ("cohort_customers", "active_customers", "active_within_customers", "revenue"):
        # a cell that is not over is null in both (a sum of nulls is 0 here)
        assert joined[name].fill_null(0).to_list() == pytest.approx(joined[f"{name}_split"].to_list()), name


def test_split_matrix_and_wide():
    long = split_long()
    customers, _ = shop()
    sizes = split_sizes(split_customers(customers, "channel", min_customers=1, values=CHANNELS)).collect()
    matrix = split_matrix(long, "retention", sizes)
    assert matrix.columns == ["split", "group", "customers", "m0", "m1", "m2"]
    assert matrix["split"].to_list() == ["web", "store"] and matrix["customers"].to_list() == [3, 2]
    assert matrix.row(0)[3:] == pytest.approx((1.0, 1 / 3, 0.0))
    assert matrix.row(1)[3:] == pytest.approx((1.0, 0.0, 1.0))
    wide = split_wide(long)
    assert wide.columns[:6] == ["metric", "by", "split", "group", "cohort", "cohort_customers"]
    retention = wide.filter(pl.col("metric") == "retention")
    assert retention.select("split", "cohort").rows() == [
        ("web", "2024-01"),
        ("web", "2024-02"),
        ("web", AVERAGE),
        ("store", "2024-01"),
        ("store", "2024-02"),
        ("store", AVERAGE),
    ]
    assert retention.row(1)[6:] == (1.0, 0.0, None)  # web February: k2 not over


def test_a_value_spelt_all_or_other_is_its_own_group_in_every_table():
    # the shop's channels renamed: web -> "(other)" (A, B, E), store -> "all" (C, D); with a minimum of 3 "all"
    # (2 customers) is folded into the made-up (other), which stays apart from the value "(other)"
    customers, activity = shop()
    channels = CHANNELS.with_columns(pl.col("channel").replace({"web": OTHER, "store": "all"}))
    split = split_customers(customers, "channel", min_customers=3, values=channels)
    long = split_retention(split, activity, by="first_channel").collect()
    assert long.select("split", "group", "cohort").unique(maintain_order=True).rows() == [
        (OTHER, "value", "2024-01"),
        (OTHER, "value", "2024-02"),
        (OTHER, "value", AVERAGE),
        (None, "other", "2024-01"),
        (None, "other", "2024-02"),
        (None, "other", AVERAGE),
    ]
    # the value "(other)" is web's figures (k1 (1 + 0) / 3), the made-up (other) store's (k1 0 / 2, k2 1 / 1)
    sizes = split_sizes(split).collect()
    matrix = split_matrix(long, "retention", sizes)
    assert matrix.select("split", "group", "customers").rows() == [(OTHER, "value", 3), (None, "other", 2)]
    assert matrix.row(0)[3:] == pytest.approx((1.0, 1 / 3, 0.0))
    assert matrix.row(1)[3:] == pytest.approx((1.0, 0.0, 1.0))
    wide = split_wide(long).filter(pl.col("metric") == "retention")
    assert wide.select("split", "group").unique(maintain_order=True).rows() == [(OTHER, "value"), (None, "other")]
    assert wide.height == 6
