"""Calendar periods: weeks (ISO: Monday to Sunday), months, quarters and years, the one set of helpers the
metrics share (NPS trends, retention cohorts, churn rates, the programme's tables).

- :func:`truncate_to_period`: the first day of the period that holds a date or a timestamp (NPS answers).
- :func:`period_index`: a period as an integer that grows by one per period, for arithmetic on periods
  (cohort + k) on customer-sized tables; :func:`period_start` turns it back into the period's first day.
- :func:`period_label`: ``2024-W05``, ``2024-03``, ``2024-Q1``, ``2024``.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from loyalty_cli.errors import ConfigError

Period = Literal["week", "month", "quarter", "year"]
PERIODS: tuple[str, ...] = ("week", "month", "quarter", "year")
#: the periods of the cohort and by-period tables (retention, churn rates, the programme): no years
TABLE_PERIODS: tuple[str, ...] = ("week", "month", "quarter")
#: one period as a Polars duration (``dt.truncate``, ``dt.offset_by``, ``pl.date_ranges``)
EVERY = {"week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}


def check_period(period: str) -> Period:
    """A period of the cohort and by-period tables (:data:`TABLE_PERIODS`), else a config error."""
    if period not in TABLE_PERIODS:
        raise ConfigError("period", f"must be week, month or quarter, got {period!r}")
    return period  # type: ignore[return-value]


def truncate_to_period(ts: pl.Expr, period: Period) -> pl.Expr:
    """The first day of the calendar period that holds a date or a timestamp, as a date (ISO weeks start on
    Monday)."""
    return ts.dt.truncate(EVERY[period]).dt.date()


def period_index(day: pl.Expr, period: Period) -> pl.Expr:
    """A calendar period as an integer that grows by one per period (months: year x 12 + month - 1)."""
    if period == "week":  # 1970-01-01 was a Thursday: + 3 makes weeks start on Monday
        return (day.cast(pl.Int32) + 3) // 7
    month = day.dt.month().cast(pl.Int32) - 1
    year = day.dt.year().cast(pl.Int32)
    if period == "month":
        return year * 12 + month
    if period == "quarter":
        return year * 4 + month // 3
    return year


def period_start(index: pl.Expr, period: Period) -> pl.Expr:
    """The first day of the period with this index (the inverse of :func:`period_index`)."""
    if period == "week":
        return (index * 7 - 3).cast(pl.Date)
    if period == "month":
        return pl.date(index // 12, index % 12 + 1, 1)
    if period == "quarter":
        return pl.date(index // 4, (index % 4) * 3 + 1, 1)
    return pl.date(index, 1, 1)


def period_label(start: pl.Expr, period: Period) -> pl.Expr:
    """``2024-W09`` (ISO week of the Monday), ``2024-03`` (month), ``2024-Q1`` (quarter), ``2024`` (year)."""
    if period == "week":
        return start.dt.strftime("%G-W%V")
    if period == "month":
        return start.dt.strftime("%Y-%m")
    if period == "quarter":
        return pl.format("{}-Q{}", start.dt.year(), start.dt.quarter())
    return start.dt.strftime("%Y")
