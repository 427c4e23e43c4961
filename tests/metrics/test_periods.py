"""Calendar periods: the first day of a period (from a date or timestamp, and from a period index), the index
arithmetic, the labels, and the periods the cohort tables accept."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.periods import (
    PERIODS,
    check_period,
    period_index,
    period_label,
    period_start,
    truncate_to_period,
)

# 2024-01-01 is a Monday; 2023-01-01 a Sunday (ISO week 2022-W52)
DAYS = [date(2024, 1, 1), date(2024, 1, 7), date(2024, 1, 8), date(2023, 1, 1), date(2024, 5, 17)]


def test_weeks_and_quarters():
    days = pl.DataFrame({"day": DAYS})
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


def test_labels_of_every_period():
    start = pl.DataFrame({"s": [date(2024, 1, 1)]})
    labels = [start.select(period_label(pl.col("s"), p))["s"][0] for p in PERIODS]
    assert labels == ["2024-W01", "2024-01", "2024-Q1", "2024"]
    assert pl.DataFrame({"s": [None]}, schema={"s": pl.Date}).select(period_label(pl.col("s"), "quarter"))[
        "s"
    ].to_list() == [None]


def test_truncating_a_timestamp_is_the_start_of_its_period_index():
    # NPS answers (timestamps) and cohorts (day indexes) put every day in the same period
    days = [date(2023, 12, 25) + timedelta(days=i) for i in range(0, 500, 3)]
    frame = pl.DataFrame({"day": days}).with_columns(pl.col("day").cast(pl.Datetime("us")).alias("ts"))
    for period in PERIODS:
        got = frame.select(
            truncate_to_period(pl.col("ts"), period).alias("a"),
            truncate_to_period(pl.col("day"), period).alias("b"),
            period_start(period_index(pl.col("day"), period), period).alias("c"),
        )
        assert got["a"].to_list() == got["b"].to_list() == got["c"].to_list(), period
    noon = pl.DataFrame({"ts": [datetime(2024, 3, 31, 23, 59), datetime(2024, 1, 3, 12)]})
    assert noon.select(truncate_to_period(pl.col("ts"), "quarter"))["ts"].to_list() == [date(2024, 1, 1)] * 2


def test_index_grows_by_one_per_period():
    frame = pl.DataFrame({"day": [date(2023, 12, 31), date(2024, 1, 1), date(2024, 4, 1)]})
    got = {p: frame.select(period_index(pl.col("day"), p))["day"].to_list() for p in PERIODS}
    assert got["month"] == [2023 * 12 + 11, 2024 * 12, 2024 * 12 + 3]
    assert got["quarter"] == [2023 * 4 + 3, 2024 * 4, 2024 * 4 + 1]
    assert got["year"] == [2023, 2024, 2024]
    assert got["week"][1] - got["week"][0] == 1  # Sunday, then Monday


def test_cohort_tables_take_weeks_months_and_quarters():
    assert [check_period(p) for p in ("week", "month", "quarter")] == ["week", "month", "quarter"]
    for bad in ("year", "day"):
        with pytest.raises(UsageError) as caught:
            check_period(bad)
        assert render(str(caught.value)) == f"--period must be week, month or quarter, got '{bad}'"
