"""Cohort retention: hand-computed matrices, null immature cells, true zeros, weighted averages, "within h"
cells that are final once mature, repeat rate."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.retention import (
    ALL,
    AVERAGE,
    DEFAULT_HORIZON,
    METRICS,
    check_horizon,
    cohort_retention,
    cohort_table,
    repeat_rate,
    retention_wide,
    retention_wide_all,
)
from loyalty_cli.stage1.customers import customer_activity, customer_summary


def lines(rows) -> pl.LazyFrame:
    """Transaction lines from (customer, 'YYYY-MM-DD', amount in currency units); one order per line."""
    return pl.DataFrame(
        [(c, datetime.fromisoformat(day).replace(hour=12), round(amount * 100)) for c, day, amount in rows],
        schema={"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64},
        orient="row",
    ).lazy()


def build(rows, as_of: date, period: str = "month", horizon: int | None = None) -> pl.DataFrame:
    """The long table as the command computes it: lines dated on or after as_of are not in the data."""
    tx = lines(rows).filter(pl.col("order_date") < datetime.combine(as_of, datetime.min.time()))
    return cohort_retention(
        customer_summary(tx, as_of=as_of), customer_activity(tx), period=period, horizon=horizon
    ).collect()


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


def test_within_horizon_hand_computed(shop):
    # h = 2: a customer counts in cell k with a purchase in k or k + 1; the cell is filled once k + 1 is over
    long = build(SHOP, AS_OF, horizon=2)
    assert long["horizon"].unique().to_list() == [2]
    # January (A: m0 m1 m2, B: m0 m2): k0 = Jan-Feb both, k1 = Feb-Mar both; k2 = Mar-Apr, April not over
    assert cells(long, "2024-01", "mature_within") == [True, True, False]
    assert cells(long, "2024-01", "active_within_customers") == [2, 2, None]
    # February (C: m0, D: m0 and April): k0 = Feb-Mar both; k1 = Mar-Apr not over (D's April purchase does
    # not count yet); April's cohort has no filled cell
    assert cells(long, "2024-02", "active_within_customers") == [2, None, None]
    assert_values(cells(long, "2024-02", "retention_within"), [1.0, None, None])
    assert_values(cells(long, "2024-04", "retention_within"), [None, None, None])
    avg = long.filter(pl.col("cohort") == AVERAGE).sort("period")
    assert avg["cohorts_within"].to_list() == [2, 1, 0]  # fewer cohorts than "on" (2, 2, 1) pools
    assert avg["mature_within"].to_list() == [True, True, False]
    assert avg["active_within_customers"].to_list() == [4, 2, None]
    assert_values(avg["retention_within"].to_list(), [1.0, 1.0, None])
    # the default for months is 3: k .. k + 2, so only January's k0 (Jan-Mar) is over
    assert shop["horizon"].unique().to_list() == [3]
    assert_values(cells(shop, "2024-01", "retention_within"), [1.0, None, None])
    assert_values(cells(shop, "2024-02", "retention_within"), [None, None, None])


# January cohort: P buys Jan 10 and Jun 5, Q Jan 20 and Feb 15, R Jan 5 only; February cohort: S Feb 10, Mar 10.
LATE = [
    ("P", "2024-01-10", 10),
    ("P", "2024-06-05", 10),
    ("Q", "2024-01-20", 10),
    ("Q", "2024-02-15", 10),
    ("R", "2024-01-05", 10),
    ("S", "2024-02-10", 10),
    ("S", "2024-03-10", 10),
]


def test_within_cell_whose_horizon_ends_at_the_as_of_date():
    # h = 2: January's k1 and February's k0 end on March 31. As of April 1 (exclusive) March is in the data:
    # filled; as of March 31 it is not: empty, while January's k0 (Jan-Feb) is filled
    april = build(LATE, date(2024, 4, 1), horizon=2)
    assert cells(april, "2024-01", "active_within_customers") == [3, 1, None]  # k1: only Q (February)
    assert cells(april, "2024-02", "active_within_customers") == [1, None, None]
    march = build(LATE, date(2024, 3, 31), horizon=2)
    assert cells(march, "2024-01", "active_within_customers") == [3, None]
    assert cells(march, "2024-02", "active_within_customers") == [None, None]


@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_mature_within_cells_do_not_change_when_the_as_of_date_moves_later(horizon):
    # P comes back in June: an open-ended "on or after" January k1 was 1/3 as of April 1 and 2/3 as of
    # July 1 while marked complete both times. A filled "within" cell is final.
    early, late = build(LATE, date(2024, 4, 1), horizon=horizon), build(LATE, date(2024, 7, 1), horizon=horizon)
    keys = ["cohort", "period"]
    columns = ["active_within_customers", "retention_within"]
    filled = early.filter(pl.col("mature_within") & (pl.col("cohort") != AVERAGE)).select(*keys, *columns)
    assert filled.height >= 1
    assert late.join(filled.select(keys), on=keys).select(*keys, *columns).sort(keys).equals(filled.sort(keys))
    # as of July, h = 2: January k2 (Mar-Apr) 0, k3 (Apr-May) 0, k4 (May-Jun) P: the figure may rise again
    if horizon == 2:
        assert cells(late, "2024-01", "active_within_customers") == [3, 1, 0, 0, 1, None]
        assert cells(late, "2024-02", "active_within_customers") == [1, 1, 0, 0, None, None]
        avg = late.filter(pl.col("cohort") == AVERAGE).sort("period")
        assert_values(avg["retention_within"].to_list(), [1.0, 0.5, 0.0, 0.0, 1 / 3, None])
        assert avg["cohorts_within"].to_list() == [2, 2, 2, 2, 1, 0]


def test_horizon_default_and_checks():
    assert (
        [check_horizon(None, p) for p in ("week", "month", "quarter")] == [13, 3, 2] == list(DEFAULT_HORIZON.values())
    )
    assert check_horizon(6, "month") == 6
    with pytest.raises(UsageError, match="The retention horizon must be at least 1 month, got 0"):
        check_horizon(0, "month")


def test_average_is_customer_weighted_over_mature_cells(shop):
    avg = shop.filter(pl.col("cohort") == AVERAGE).sort("period")
    assert avg["cohorts"].to_list() == [2, 2, 1]  # April's cohort and February's k = 2 are left out
    assert avg["cohort_customers"].to_list() == [4, 4, 2]
    # k = 1: (1 + 0) / (2 + 2): February's true zero pulls it down (50% if it were dropped)
    # k = 2: only January is mature: 2 / 2 (50% if February's unfinished April counted as 0)
    assert_values(avg["retention"].to_list(), [1.0, 0.25, 1.0])
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


def test_cohorts_by_quarter():
    # the period helpers themselves (weeks, quarters): tests/metrics/test_periods.py
    # by quarter, as of 2024-04-15: Q1 is over, Q2 is not
    long = build(SHOP, AS_OF, period="quarter")
    assert long.filter(pl.col("cohort") != AVERAGE).select(
        "cohort", "period", "cohort_customers", "active_customers"
    ).rows() == [("2024-Q1", 0, 4, 4), ("2024-Q2", 0, 1, None)]
    with pytest.raises(UsageError) as caught:
        cohort_retention(lines(SHOP), lines(SHOP), period="day")  # type: ignore[arg-type]
    assert "--period" in render(str(caught.value))


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
    st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.integers(0, 200), st.integers(-20, 90)), min_size=1, max_size=30),
    st.integers(1, 4),
)
def test_properties(rows, horizon):
    """Period 0 is 100% wherever it is over; "within h" matches a plain count, is filled exactly when period
    k + h - 1 is over, is >= "on", and equals "on" for h = 1."""
    tx = [(c, str(date.fromordinal(date(2023, 6, 1).toordinal() + d)), a) for c, d, a in rows]
    long = build(tx, date(2024, 1, 1), horizon=horizon)
    cohorts = long.filter(pl.col("cohort") != AVERAGE)
    assert (
        cohorts.filter((pl.col("period") == 0) & pl.col("mature"))["retention"].to_list()
        == [1.0] * cohorts.filter((pl.col("period") == 0) & pl.col("mature")).height
    )
    month = lambda day: day.year * 12 + day.month - 1  # noqa: E731
    orders: dict[tuple[str, str], list[int]] = {}  # lines at the same timestamp are one order
    for c, day, a in tx:
        orders.setdefault((c, day), []).append(a)
    bought: dict[str, set[int]] = {}
    for (c, day), amounts in orders.items():
        if sum(amounts) > 0 or (sum(amounts) == 0 and min(amounts) >= 0):  # a purchase (a free order too)
            bought.setdefault(c, set()).add(month(date.fromisoformat(day)))
    now = month(date(2024, 1, 1))
    expected: dict[tuple[int, int], int] = {}
    for months in bought.values():
        first = min(months)
        for k in range(now - first - horizon + 1):  # cells whose k + h - 1 is over
            hit = any(first + k <= m < first + k + horizon for m in months)
            expected[(first, k)] = expected.get((first, k), 0) + hit
    got = {
        (month(r["cohort_start"]), r["period"]): r["active_within_customers"]
        for r in cohorts.filter(pl.col("mature_within")).iter_rows(named=True)
    }
    assert got == expected
    for row in cohorts.iter_rows(named=True):
        assert row["mature_within"] == (month(row["cohort_start"]) + row["period"] + horizon - 1 < now)
        assert (row["active_within_customers"] is None) == (not row["mature_within"])
        if row["mature_within"]:
            assert row["mature"] and row["active_customers"] <= row["active_within_customers"]
            assert horizon > 1 or row["active_customers"] == row["active_within_customers"]
    assert long.filter(~pl.col("mature"))["retention"].null_count() == long.filter(~pl.col("mature")).height
