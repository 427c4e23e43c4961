"""The section on when the repeat customers are due: how many are due within 7 and 30 days, how many are overdue,
and their expected next-order dates week by week (``loyalty next-order``'s method, summed up by
:mod:`loyalty_cli.app.report_next_order`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.due_data import DueData
from loyalty_cli.report.format import fmt_int, fmt_pct, make_section, make_table
from loyalty_cli.words import count

SID, TITLE = "next-order", "When customers are due"


def due_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:  # noqa: ARG001 - as every section
    found: DueData | None = data.due
    if found is None:
        return make_section(SID, TITLE, missing=f"{TITLE}: not available: {data.due_missing}")
    o = found.overview
    repeat, floor = o["repeat_customers"], f"{found.min_p_alive:g}"
    active = o["likely_active"]
    intro = [
        f"Of the {count(repeat, 'repeat customer')}, {active:,} {'is' if active == 1 else 'are'} "
        f"likely still buying (P(alive) >= {floor}). Due within 7 days: {o['due_7d']:,}; within 30 days: "
        f"{o['due_30d']:,}; overdue (longer since their last purchase than their usual gap): {o['overdue']:,}.",
        f"The {count(found.one_time, 'one-time buyer')} get no date: the second-purchase section times them.",
    ]
    share = (lambda n: fmt_pct(n / repeat)) if repeat else (lambda n: "")
    rows = [
        ("due within 7 days", o["due_7d"]),
        ("due within 30 days", o["due_30d"]),
        ("overdue (longer since the last purchase than the usual gap)", o["overdue"]),
        (f"likely still buying (P(alive) >= {floor})", o["likely_active"]),
        (f"more likely gone (P(alive) < {floor}): a win-back, not a reminder", repeat - o["likely_active"]),
        ("repeat customers", repeat),
    ]
    table = make_table(
        "Repeat customers by when they are due",
        ["", "customers", "share of repeat customers"],
        [[what, fmt_int(n), share(n)] for what, n in rows],
        [False, True, True],
        "Due and overdue count the customers likely still buying only; an overdue customer is usually due too.",
        long=[0],
    )
    charts = [_weeks_chart(found, data)] if found.weeks.height and o["likely_active"] else []
    fit = f"the CLV section's {found.model} fit" if found.shared else f"{found.model} fitted"
    notes = [
        f"Method: {fit} on {count(found.fitted_on, 'customer')} (one purchase every {found.typical_gap_days:,.1f} "
        "days at the population's mean rate while active). Each repeat customer's rate is their own (repeat "
        "purchase days / days since the first) shrunk toward the population's; the expected next-order date is "
        "the median time to their next order if still active, the contact window its 25th to 75th percentiles. "
        f"Due within N days: the window opens within them and P(alive) >= {floor}. Overdue: more days since the "
        "last purchase than the usual gap (the reciprocal of that rate). Gaps are memoryless: the dates have no "
        "cadence and none falls before the as-of date. loyalty next-order lists the customers."
    ]
    return make_section(SID, TITLE, intro=intro, charts=charts, tables=[table], notes=notes)


def _weeks_chart(found: DueData, data: ReportData) -> dict[str, Any]:
    weeks = found.weeks.sort("week")
    last = weeks["week"].max()
    labels = [
        f"{start:%d %b}" if week != last else "later"
        for week, start in zip(weeks["week"], weeks["week_start"], strict=True)
    ]
    end = data.as_of + timedelta(days=6)
    return {
        "kind": "columns",
        "id": "next-order-weeks",
        "title": "Expected next orders by week",
        "subtitle": f"Repeat customers likely still buying (P(alive) >= {found.min_p_alive:g}) by the week of their "
        f"expected next-order date; the first week is {data.as_of:%d %b %Y} to {end:%d %b %Y}; later: from "
        f"{weeks['week_start'][-1]:%d %b %Y} on",
        "labels": labels,
        "values": [float(v) for v in weeks["customers"]],
        "text": [fmt_int(v) for v in weeks["customers"]],
        "x_title": "week starting",
        "y_title": "customers",
        "y_format": "int",
    }
