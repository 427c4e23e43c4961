"""Cohort retention: hand-computed matrices, null immature cells, true zeros, weighted averages, repeat rate."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.customers import customer_activity, customer_summary
from loyalty_cli.metrics.retention import (
    ALL,
    AVERAGE,
    METRICS,
    cohort_retention,
    cohort_table,
    period_index,
    period_label,
    period_start,
    repeat_rate,
    retention_wide,
    retention_wide_all,
)


def lines(rows) -> pl.LazyFrame:
    """Transaction lines from (customer, 'YYYY-MM-DD', amount in currency units); one order per line."""
    return pl.DataFrame(
        [(c, datetime.fromisoformat(day).replace(hour=12), round(amount * 100)) for c, day, amount in rows],
        schema={"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64},
        orient="row",
    ).lazy()


def build(rows, as_of: date, period: str = "month") -> pl.DataFrame:
    tx = lines(rows)
    return cohort_retention(customer_summary(tx, as_of=as_of), customer_activity(tx), period=period).collect()


def cells(long: pl.DataFrame, cohort: str, column: str) -> list:
    return long.filter(pl.col("cohort") == cohort).sort("period")[column].to_list()


def assert_values(got: list, expected: list) -> None:
    """Equal up to float rounding, with None (an empty cell) exactly where expected."""
    assert [g is None for g in got] == [e is None for e in expected], got
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e is not None])


# As of 2024-04-15 (exclusive): January to March are over, April is not.
#   A  Jan cohort: buys Jan 5 (100), Feb 10 (50), Mar 20 (30)
#   B  Jan cohort: buys Jan 20 (200), returns Jan 25 (-50), buys Mar 2 (40)
#   C  Feb cohort: buys Feb 3 (70), never again               -> the Feb cohort has a genuine 0% in March
#   D  Feb cohort: buys Feb 28 (10), Apr 2 (25)                -> April is not over: null, not 0
#   E  Apr cohort: buys Apr 1 (80)                             -> a cohort with no complete period at all
SHOP = [
    ("A", "2024-01-05", 100),
    ("A", "2024-02-10", 50),
    ("A", "2024-03-20", 30),
    ("B", "2024-01-20", 200),
    ("B", "2024-01-25", -50),
    ("B", "2024-03-02", 40),
    ("C", "2024-02-03", 70),
    ("D", "2024-02-28", 10),
    ("D", "2024-04-02", 25),
    ("E", "2024-04-01", 80),
]
AS_OF = date(2024, 4, 15)


@pytest.fixture(scope="module")
def shop() -> pl.DataFrame:
    return build(SHOP, AS_OF)


def test_cohorts_and_periods(shop):
    # every cohort has k = 0..2 (the oldest cohort, January, has lived through Jan, Feb, Mar)
    assert shop.filter(pl.col("cohort") != AVERAGE).select("cohort", "period").rows() == [
        ("2024-01", 0),
        ("2024-01", 1),
        ("2024-01", 2),
        ("2024-02", 0),
        ("2024-02", 1),
        ("2024-02", 2),
        ("2024-04", 0),
        ("2024-04", 1),
        ("2024-04", 2),
    ]
    assert cells(shop, "2024-01", "cohort_customers") == [2, 2, 2]
    assert cells(shop, "2024-02", "period_start") == [date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)]
    assert cells(shop, "2024-02", "mature") == [True, True, False]
    assert cells(shop, "2024-04", "mature") == [False, False, False]
    assert shop["as_of"].unique().to_list() == [AS_OF]


def test_on_retention_immature_cells_are_null_and_true_zeros_stay(shop):
    assert cells(shop, "2024-01", "active_customers") == [2, 1, 2]
    assert_values(cells(shop, "2024-01", "retention"), [1.0, 0.5, 1.0])
    # February: nobody bought in March (a real 0), April is not over (null)
    assert cells(shop, "2024-02", "active_customers") == [2, 0, None]
    assert_values(cells(shop, "2024-02", "retention"), [1.0, 0.0, None])
    # April: even period 0 is not over
    assert_values(cells(shop, "2024-04", "retention"), [None, None, None])


def test_on_or_after_never_increases(shop):
    # January: A and B both buy again in March -> 2, 2, 2 although "on" dips to 1 in February
    assert cells(shop, "2024-01", "active_or_later_customers") == [2, 2, 2]
    # February: D buys in April (after the last complete period): counts for k = 1 "or later"
    assert_values(cells(shop, "2024-02", "retention_on_or_after"), [1.0, 0.5, None])


def test_average_is_customer_weighted_over_mature_cells(shop):
    avg = shop.filter(pl.col("cohort") == AVERAGE).sort("period")
    assert avg["cohorts"].to_list() == [2, 2, 1]  # April's cohort and February's k = 2 are left out
    assert avg["cohort_customers"].to_list() == [4, 4, 2]
    # k = 1: (1 + 0) / (2 + 2): February's true zero pulls it down (50% if it were dropped)
    # k = 2: only January is mature: 2 / 2 (50% if February's unfinished April counted as 0)
    assert_values(avg["retention"].to_list(), [1.0, 0.25, 1.0])
    assert_values(avg["retention_on_or_after"].to_list(), [1.0, 0.75, 1.0])
    assert avg["cohort_start"].to_list() == [None] * 3


def test_revenue_retention_and_cumulative_revenue(shop):
    # January: k0 = 100 + 200 - 50 = 250; k1 = 50; k2 = 30 + 40 = 70
    assert_values(cells(shop, "2024-01", "revenue"), [250.0, 50.0, 70.0])
    assert_values(cells(shop, "2024-01", "revenue_retention"), [1.0, 0.2, 0.28])
    assert_values(cells(shop, "2024-01", "cumulative_revenue_per_customer"), [125.0, 150.0, 185.0])
    # February: k0 = 70 + 10 = 80; k1 = 0 (a real zero); k2 not over
    assert_values(cells(shop, "2024-02", "revenue"), [80.0, 0.0, None])
    assert_values(cells(shop, "2024-02", "revenue_retention"), [1.0, 0.0, None])
    assert_values(cells(shop, "2024-02", "cumulative_revenue_per_customer"), [40.0, 40.0, None])
    avg = shop.filter(pl.col("cohort") == AVERAGE).sort("period")
    assert_values(avg["revenue_retention"].to_list(), [1.0, 50 / 330, 70 / 250])
    assert_values(avg["cumulative_revenue_per_customer"].to_list(), [330 / 4, 380 / 4, 370 / 2])


def test_wide_tables(shop):
    wide = retention_wide(shop, "retention")
    assert wide.columns == ["cohort", "cohort_customers", "m0", "m1", "m2"]
    assert wide.rows() == [
        ("2024-01", 2, 1.0, 0.5, 1.0),
        ("2024-02", 2, 1.0, 0.0, None),
        ("2024-04", 1, None, None, None),
        (AVERAGE, 4, 1.0, 0.25, 1.0),
    ]
    stacked = retention_wide_all(shop)
    assert stacked["metric"].unique(maintain_order=True).to_list() == list(METRICS)
    assert stacked.filter((pl.col("metric") == "revenue") & (pl.col("cohort") == "2024-01")).row(0)[3:] == (
        250.0,
        50.0,
        70.0,
    )
    with pytest.raises(UsageError):
        retention_wide(shop, "nope")


def test_weeks_and_quarters():
    # 2024-01-01 is a Monday; 2023-01-01 a Sunday (ISO week 2022-W52)
    days = pl.DataFrame(
        {"day": [date(2024, 1, 1), date(2024, 1, 7), date(2024, 1, 8), date(2023, 1, 1), date(2024, 5, 17)]}
    )
    weeks = days.select(period_start(period_index(pl.col("day"), "week"), "week").alias("s"))
    assert weeks["s"].to_list() == [
        date(2024, 1, 1),
        date(2024, 1, 1),
        date(2024, 1, 8),
        date(2022, 12, 26),
        date(2024, 5, 13),
    ]
    assert weeks.select(period_label(pl.col("s"), "week"))["s"].to_list() == [
        "2024-W01",
        "2024-W01",
        "2024-W02",
        "2022-W52",
        "2024-W20",
    ]
    quarters = days.select(period_start(period_index(pl.col("day"), "quarter"), "quarter").alias("s"))
    assert quarters["s"].to_list()[-1] == date(2024, 4, 1)
    assert quarters.select(period_label(pl.col("s"), "quarter"))["s"].to_list()[-1] == "2024-Q2"
    # by quarter, as of 2024-04-15: Q1 is over, Q2 is not
    long = build(SHOP, AS_OF, period="quarter")
    assert long.filter(pl.col("cohort") != AVERAGE).select(
        "cohort", "period", "cohort_customers", "active_customers"
    ).rows() == [("2024-Q1", 0, 4, 4), ("2024-Q2", 0, 1, None)]
    with pytest.raises(UsageError, match="--period"):
        cohort_retention(lines(SHOP), lines(SHOP), period="day")  # type: ignore[arg-type]


def test_repeat_rate_counts_only_closed_windows():
    tx = lines(SHOP)
    customers = customer_summary(tx, as_of=AS_OF)
    # 40 days: A (second purchase after 36 days) and D (33 days) repeat; B (42 days) and C do not; E's window
    # (first purchase 14 days before as_of) is still open, so E is not counted
    rates = repeat_rate(customers, window_days=40).collect()
    assert rates.select("cohort", "customers", "window_closed", "repeat_customers").rows() == [
        ("2024-01", 2, 2, 1),
        ("2024-02", 2, 2, 1),
        ("2024-04", 1, 0, 0),
        (ALL, 5, 4, 2),
    ]
    assert_values(rates["repeat_rate"].to_list(), [0.5, 0.5, None, 0.5])
    table = cohort_table(cohort_retention(customers, customer_activity(tx)), repeat_rate(customers)).collect()
    assert table.select("cohort", "customers", "mature_periods", "first_period_revenue").rows() == [
        ("2024-01", 2, 3, 250.0),
        ("2024-02", 2, 2, 80.0),
        ("2024-04", 1, 0, None),
        (ALL, 5, None, 330.0),
    ]
    with pytest.raises(UsageError):
        repeat_rate(customers, window_days=0)


def test_repeat_window_boundaries():
    # X: second purchase exactly 30 days after the first, window closed (as_of - first = 31 > 30): repeats.
    # Y: first purchase 30 days before as_of: the last day of its window is as_of itself, not in the data yet.
    # Z: two orders on the first day only: one purchase day, not a repeat.
    rows = [
        ("X", "2024-01-01", 10),
        ("X", "2024-01-31", 10),
        ("Y", "2024-01-02", 10),
        ("Y", "2024-01-10", 10),
        ("Z", "2024-01-01", 10),
        ("Z", "2024-01-01", 5),
    ]
    rates = repeat_rate(customer_summary(lines(rows), as_of=date(2024, 2, 1)), window_days=30).collect()
    assert rates.filter(pl.col("cohort") == ALL).select(
        "customers", "window_closed", "repeat_customers", "repeat_rate"
    ).row(0) == (3, 2, 1, 0.5)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.integers(0, 200), st.integers(-20, 90)), min_size=1, max_size=30)
)
def test_properties(rows):
    """Period 0 is 100% wherever it is over; "on or after" never increases; "on" <= "on or after"."""
    tx = [(c, str(date.fromordinal(date(2023, 6, 1).toordinal() + d)), a) for c, d, a in rows]
    long = build(tx, date(2024, 1, 1))
    cohorts = long.filter(pl.col("cohort") != AVERAGE)
    assert (
        cohorts.filter((pl.col("period") == 0) & pl.col("mature"))["retention"].to_list()
        == [1.0] * cohorts.filter((pl.col("period") == 0) & pl.col("mature")).height
    )
    for _, group in cohorts.sort("period").group_by("cohort"):
        later = [v for v in group["active_or_later_customers"].to_list() if v is not None]
        assert later == sorted(later, reverse=True)
        for on, after in zip(group["active_customers"], group["active_or_later_customers"], strict=True):
            assert (on is None) == (after is None)
            assert on is None or on <= after
    assert long.filter(~pl.col("mature"))["retention"].null_count() == long.filter(~pl.col("mature")).height
