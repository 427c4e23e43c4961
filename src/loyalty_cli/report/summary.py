"""The summary at the top of the report: the last complete period before the as-of date against the one before
it (net revenue, purchase orders, customers who bought, new customers, the churn rate) and the latest NPS
against the period before, each with its change. A period the data does not cover whole is never compared."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_num, fmt_pct


def period_name(label: str, start: date, period: str) -> str:
    """A period as a reader names it: ``December 2024``, ``2024-Q4``, ``week 2024-W52``."""
    if period == "month":
        return start.strftime("%B %Y")
    return f"week {label}" if period == "week" else label


def relative_change(now: float, before: float) -> float | None:
    """The change from ``before`` to ``now`` as a share of ``before`` (None when ``before`` is 0)."""
    return None if before == 0 else (now - before) / before


def _arrow(change: float) -> str:
    return "up" if change > 0 else "down" if change < 0 else "flat"


def _card(label: str, value: str, change: str = "", direction: str = "", tone: str = "", note: str = "") -> dict:
    return {"label": label, "value": value, "change": change, "direction": direction, "tone": tone, "note": note}


def _moved(
    label: str, now: float, before: float | None, text: str, before_text: str, since: str, *, up_is_good: bool = True
) -> dict[str, str]:
    """A figure with its relative change since the previous period (none when that period is not covered)."""
    if before is None:
        return _card(label, text, note=f"no comparison: the data starts during {since}")
    change = relative_change(now, before)
    if change is None:
        return _card(label, text, "new", "up" if now > 0 else "flat", note=f"none in {since}")
    direction = _arrow(change)
    good = (change > 0) == up_is_good
    return _card(
        label,
        text,
        f"{change:+.1%}",
        direction,
        "" if direction == "flat" else "good" if good else "bad",
        f"vs {before_text} in {since}",
    )


def _churn_card(data: ReportData, now: str, before: str | None, since: str) -> dict[str, str] | None:
    """The churn rate of the period against the previous one, in percentage points (lower is better)."""
    if data.churn_rates is None:
        return None
    rates = dict(data.churn_rates.select("period", "churn_rate").iter_rows())
    if rates.get(now) is None:
        return None
    value = rates[now]
    previous = rates.get(before) if before is not None else None
    if previous is None:
        return _card("Churn rate", fmt_pct(value), note="no rate for the period before")
    points = (value - previous) * 100
    direction = _arrow(round(points, 1))
    tone = "" if direction == "flat" else "bad" if points > 0 else "good"
    return _card(
        "Churn rate", fmt_pct(value), f"{points:+.1f} pts", direction, tone, f"vs {fmt_pct(previous)} in {since}"
    )


def _nps_cards(data: ReportData, settings: ReportSettings) -> list[dict[str, str]]:
    """Per survey type, the NPS of its latest complete period with a score, with the change since the period
    before and whether the test finds it significant."""
    if data.nps_trend is None or data.nps_trend.is_empty():
        return []
    cards = []
    trend = data.nps_trend.filter(pl.col("complete") & pl.col("nps").is_not_null()).sort("period_start")
    for survey_type in data.nps_trend["survey_type"].unique(maintain_order=True).to_list():
        rows = trend.filter(pl.col("survey_type") == survey_type)
        if rows.is_empty():
            continue
        last = rows.row(-1, named=True)
        label = f"NPS ({survey_type}, {last['period']})"
        if last["change"] is None:
            cards.append(_card(label, fmt_num(last["nps"]), note=f"n = {last['responses']:,}; no score before"))
            continue
        change = last["change"]
        tested = "significant" if last["significant"] else "not significant"
        direction = _arrow(round(change, 1))
        tone = "" if not last["significant"] or direction == "flat" else "good" if change > 0 else "bad"
        cards.append(
            _card(
                label,
                fmt_num(last["nps"]),
                f"{change:+.1f}",
                direction,
                tone,
                f"since the {settings.nps.period} before ({tested}, p = {last['p_value']:.2f}); "
                f"n = {last['responses']:,}",
            )
        )
    return cards


def summary(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    """The summary's sentence and its cards (each: label, value, change, direction, tone, note)."""
    period = settings.retention_period
    nps = _nps_cards(data, settings)
    if data.recent is None:
        return {
            "intro": f"The data does not cover a whole {period} before {data.as_of}: nothing to compare yet.",
            "cards": nps,
        }
    before, now = data.recent.iter_rows(named=True)
    name, since = (period_name(r["period"], r["period_start"], period) for r in (now, before))
    covered = before["covered"]
    money = settings.money

    def moved(label: str, key: str, shown: Any, *, up_is_good: bool = True) -> dict[str, str]:
        return _moved(
            label,
            now[key],
            before[key] if covered else None,
            shown(now[key]),
            shown(before[key]),
            since,
            up_is_good=up_is_good,
        )

    cards = [
        moved("Net revenue", "net_cents", lambda cents: money(cents / 100)),
        moved("Purchase orders", "purchase_orders", fmt_int),
        moved("Customers who bought", "customers", fmt_int),
        moved("New customers", "new_customers", fmt_int),
    ]
    churn = _churn_card(data, now["period"], before["period"] if covered else None, since)
    intro = f"{name}, the last full {period} before {data.as_of}" + (
        f", against {since}." if covered else f" ({since} is only partly in the data: no comparison)."
    )
    return {"intro": intro, "cards": cards + ([churn] if churn else []) + nps}
