"""The report's summary of the next-order dates (:mod:`loyalty_cli.metrics.next_order_weeks`), by hand on a
next-order table of five customers."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from loyalty_cli.metrics.next_order_weeks import due_overview, weekly_dates

AS_OF = date(2025, 1, 1)


def day(n: int) -> date:
    return AS_OF + timedelta(days=n)


# A: window opens on the as-of date, P(alive) 0.9, 40 days since the last purchase, usual gap 30: due in 7 and
#    30 days, overdue; next order on day 3 (week 0)
# B: window opens on day 6 (the 7th day: still within 7 days), P(alive) 0.5 (the floor counts), 10 days since
#    the last, gap 20: due in 7 and 30, not overdue; next order day 7 (week 1)
# C: window opens on day 7 (the 8th day): due within 30 only; P(alive) 0.6; 25 days since, gap 25 (not more):
#    not overdue; next order day 20 (week 2)
# D: window opens on day 29 (the 30th day): due within 30; P(alive) 0.7; 100 days since, gap 50.5: overdue;
#    next order day 200: week 28, shown as the last row (13, "later")
# E: P(alive) 0.2: never due nor overdue, whatever its dates (window opens day 0, 90 days since, gap 10);
#    not in the weeks
TABLE = pl.DataFrame(
    {
        "customer_id": ["A", "B", "C", "D", "E"],
        "days_since_last": pl.Series([40, 10, 25, 100, 90], dtype=pl.Int32),
        "shrunk_gap_days": [30.0, 20.0, 25.0, 50.5, 10.0],
        "next_order_date": [day(3), day(7), day(20), day(200), day(1)],
        "contact_from": [day(0), day(6), day(7), day(29), day(0)],
        "p_alive": [0.9, 0.5, 0.6, 0.7, 0.2],
        "as_of": [AS_OF] * 5,
    }
)


def test_due_and_overdue_by_hand() -> None:
    row = due_overview(TABLE.lazy()).collect().row(0, named=True)
    assert row == {
        "repeat_customers": 5,
        "likely_active": 4,  # A, B, C, D
        "due_7d": 2,  # A, B
        "due_30d": 4,  # A, B, C, D
        "overdue": 2,  # A (40 > 30), D (100 > 50.5)
    }


def test_the_floor_is_a_setting() -> None:
    row = due_overview(TABLE.lazy(), days=(1,), min_p_alive=0.0).collect().row(0, named=True)
    # every customer is likely active; within 1 day: the windows opening on day 0 (A, E); overdue A, D, E (90 > 10)
    assert row == {"repeat_customers": 5, "likely_active": 5, "due_1d": 2, "overdue": 3}


def test_weeks_by_hand() -> None:
    weeks = weekly_dates(TABLE.lazy(), weeks=13).collect()
    assert weeks.columns == ["week", "week_start", "customers"]
    assert weeks["week"].to_list() == list(range(14))
    assert weeks["week_start"].to_list() == [day(7 * k) for k in range(14)]
    # A day 3 -> week 0; B day 7 -> week 1; C day 20 -> week 2 (20 // 7); D day 200 -> 28, capped at 13; E left out
    assert weeks["customers"].to_list() == [1, 1, 1] + [0] * 10 + [1]


def test_no_repeat_customer_gives_no_row() -> None:
    assert due_overview(TABLE.clear().lazy()).collect().row(0) == (0, 0, 0, 0, 0)
    assert weekly_dates(TABLE.clear().lazy()).collect().height == 0
