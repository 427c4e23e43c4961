"""The plain data of the report's section on when customers are due (filled by
:mod:`loyalty_cli.app.report_next_order` from ``loyalty next-order``'s table; rendered by
:mod:`loyalty_cli.report.next_order`). Nothing here computes."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class DueData:
    """``overview``: repeat_customers, likely_active, due_7d, due_30d, overdue
    (:func:`~loyalty_cli.metrics.next_order_weeks.due_overview`); ``weeks``: week, week_start, customers
    (:func:`~loyalty_cli.metrics.next_order_weeks.weekly_dates`); ``one_time``: one-time buyers (no date);
    ``model``: the BTYD model's label, fitted on ``fitted_on`` customers (``shared``: the CLV section's fit);
    ``typical_gap_days``: one purchase every so many days at the population's mean rate; ``min_p_alive``: the
    floor of "likely active"."""

    overview: dict[str, int]
    weeks: pl.DataFrame
    one_time: int
    model: str
    fitted_on: int
    typical_gap_days: float
    min_p_alive: float
    shared: bool
