"""The loyalty programme section: enrolment, points, tiers and members against non-members, from the long
table of ``loyalty program``."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.errors import setting
from loyalty_cli.metrics import program as pm
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import Money, fmt_int, fmt_num, fmt_pct, make_section, make_table, rounded

PLAIN = Money()
#: why there is no programme section when no members were given
NO_MEMBERS = f"no members given ({setting('members')} FILE)"

PROGRAM_LABELS = {
    "customers": "customers (bought before the as-of date)",
    "members": "members (enrolled before the as-of date)",
    "members_who_bought": "members who bought",
    "members_without_purchase": "members without a purchase",
    "enrolment_rate": "enrolment rate (members who bought / customers)",
    "enrolled_before_first_purchase": "enrolled before their first purchase",
    "median_days_first_purchase_to_enrolment": "median days from first purchase to enrolment",
    "points_earned": "points earned",
    "points_redeemed": "points redeemed",
    "points_expired": "points expired",
    "points_adjusted": "points adjusted (signed)",
    "ledger_customers_not_members": "ledger customers who are not members",
    "redeemers": "members who redeemed",
    "member_redemption_rate": "members who redeemed / members",
    "points_redemption_rate": "points redeemed / earned",
    "breakage_rate": "breakage rate (points expired / earned)",
    "outstanding_points": "outstanding points (positive balances)",
    "negative_balance_points": "points on negative balances",
    "liability": "liability (outstanding points x point value)",
    "liability_after_breakage": "liability after breakage (x redeemed / (redeemed + expired))",
    "nps": "NPS (latest answer; relational only when the surveys have both kinds)",
}


def program_rule(settings: ReportSettings) -> tuple[str, str]:
    c = settings.program
    value = (
        f"point value {c.point_value:g}"
        if c.point_value is not None
        else f"no point value (liability not valued; {setting('point_value')})"
    )
    return (
        "Programme",
        f"active = a purchase in the last {c.active_days} days; members vs non-members over "
        f"{c.window_days}-day windows, {c.confidence:.0%} intervals; {value}",
    )


def program_figures(table: pl.DataFrame) -> dict[str, tuple[float | None, int | None]]:
    """The headline figures (sections programme and points): metric -> (value, n)."""
    rows = table.filter(pl.col("section").is_in(["programme", "points"]))
    return {m: (v, n) for m, v, n in rows.select("metric", "value", "n").iter_rows()}


def _program_label(metric: str) -> str:
    if metric in PROGRAM_LABELS:
        return PROGRAM_LABELS[metric]
    for prefix, text in (
        ("active_members_", "active members (a purchase in the last {} days)"),
        ("active_member_rate_", "active members / members ({} days)"),
    ):
        if metric.startswith(prefix):
            return text.format(metric.removeprefix(prefix).removesuffix("d"))
    return metric.replace("_", " ")


def _program_value(value: float | None, metric: str, money: Money = PLAIN) -> str:
    """A figure as its kind shows (money with the currency, when one was given)."""
    if value is None:
        return ""
    kind = pm.metric_kind(metric)
    return {"share": fmt_pct, "money": money, "number": fmt_num, "count": fmt_int}[kind](value)


def _program_interval(row: dict[str, Any]) -> str:
    """An interval, its money without the currency (the value beside it shows it)."""
    low, high = (_program_value(row[k], row["metric"]) for k in ("ci_low", "ci_high"))
    return f"{low} to {high}" if low and high else ""


def program_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.program is None:
        return make_section(
            "program",
            "Loyalty programme",
            missing=f"Loyalty programme: not available: {data.program_missing or NO_MEMBERS}",
        )
    config = settings.program
    table = data.program
    head = table.filter(pl.col("section").is_in(["programme", "points"]))
    tables = [
        make_table(
            "Programme and points" if data.program_points else "Programme",
            ["figure", "value", "n"],
            [
                [
                    _program_label(r["metric"]),
                    _program_value(r["value"], r["metric"], settings.money),
                    fmt_int(r["n"]) if r["n"] is not None else "",
                ]
                for r in head.iter_rows(named=True)
            ],
            [False, True, True],
            long=[0],
        )
    ]
    tiers = table.filter(pl.col("section") == "tiers")
    if tiers.height:
        tables.append(
            make_table(
                f"Members by tier as of {data.as_of}",
                ["tier", "members", "share"],
                [[r["group"], fmt_int(r["n"]), fmt_pct(r["value"])] for r in tiers.iter_rows(named=True)],
                [False, True, True],
            )
        )
    by_metric: dict[str, dict[str, dict[str, Any]]] = {}
    for r in table.filter(pl.col("section") == "members_vs_non_members").iter_rows(named=True):
        by_metric.setdefault(r["metric"], {})[r["group"]] = r
    tables.append(_versus_table(by_metric, data, config, settings.money))
    rates = [m for m in by_metric if m.startswith(("repeat_purchase_rate", "retained"))]
    charts = [_versus_chart(by_metric, rates)] if rates else []
    notes = [
        "Like for like: members are measured from enrolment (or their first purchase, when they enrolled "
        "before buying), non-members from their first purchase plus the members' median days to enrolment; "
        "a customer counts only once the window closed before the as-of date. Rates have Wilson intervals "
        "(Newcombe for the difference), means normal ones (Welch for the difference).",
        pm.CAVEAT,
    ]
    intro = _program_intro(data, config, program_figures(table), settings.money)
    return make_section("program", "Loyalty programme", intro=intro, charts=charts, tables=tables, notes=notes)


def _program_intro(
    data: ReportData, config: pm.ProgramConfig, fig: dict[str, tuple[float | None, int | None]], money: Money
) -> list[str]:
    """The members and their activity, then the points (or why there are none) in words."""
    active = config.active_days

    def value(metric: str) -> str:
        return _program_value(fig[metric][0], metric, money) if metric in fig else "n/a"

    intro = [
        f"{value('members')} members enrolled before {data.as_of} ({value('members_who_bought')} bought, "
        f"{value('members_without_purchase')} without a purchase): an enrolment rate of "
        f"{value('enrolment_rate')} of the {value('customers')} customers; {value(f'active_members_{active}d')} "
        f"active members (a purchase in the last {active} days, {value(f'active_member_rate_{active}d')} of "
        "members)."
    ]
    if data.program_points:
        liability = (
            f"liability {value('liability')} at {config.point_value:g} a point "
            f"({value('liability_after_breakage')} after breakage)"
            if "liability" in fig
            else f"liability not valued (pass {setting('point_value')}, the money per point)"
        )
        intro.append(
            f"Points: {value('points_earned')} earned, {value('points_redeemed')} redeemed, "
            f"{value('points_expired')} expired (breakage rate {value('breakage_rate')} of the points "
            f"earned); {value('outstanding_points')} points outstanding; {liability}."
        )
    else:
        intro.append(
            f"Points, liability and breakage: not available: no points ledger given ({setting('points')} FILE)."
        )
    return intro


def _versus_table(
    by_metric: dict[str, dict[str, dict[str, Any]]], data: ReportData, config: pm.ProgramConfig, money: Money
) -> dict[str, Any]:
    """Members vs non-members: each metric's value and interval per group and their difference, and the n's."""
    rows = []
    for metric, groups in by_metric.items():
        row = [PROGRAM_LABELS.get(metric, metric.replace("_", " "))]
        for group in (pm.MEMBERS, pm.OTHERS, pm.DIFFERENCE):
            g = groups.get(group)
            row += [_program_value(g["value"], metric, money), _program_interval(g)] if g else ["", ""]
        row += [
            fmt_int(groups[g]["n"]) if g in groups and groups[g]["n"] is not None else ""
            for g in (pm.MEMBERS, pm.OTHERS)
        ]
        rows.append(row)
    level = f"{config.confidence:.0%}"
    return make_table(
        f"Members vs non-members, like for like ({config.window_days}-day windows closed before "
        f"{data.as_of}; {level} intervals)",
        [
            "metric",
            pm.MEMBERS,
            "interval",
            pm.OTHERS,
            "interval",
            pm.DIFFERENCE,
            "interval",
            f"n {pm.MEMBERS}",
            f"n {pm.OTHERS}",
        ],
        rows,
        [False] + [True] * 8,
        long=[0],
    )


def _versus_chart(by_metric: dict[str, dict[str, dict[str, Any]]], rates: list[str]) -> dict[str, Any]:
    return {
        "kind": "bars",
        "id": "program-members",
        "title": "Members vs non-members, like for like",
        "subtitle": "Repeat purchase and retention rates over the same windows: correlations, not the "
        "programme's effect",
        "labels": [m.replace("_", " ") for m in rates],
        "x_title": "customers (%)",
        "x_format": "pct",
        "y_title": "rate",
        "series": [
            {
                "name": group,
                "values": [rounded(by_metric[m].get(group, {}).get("value")) for m in rates],
                "text": [_program_value(by_metric[m].get(group, {}).get("value"), m) for m in rates],
            }
            for group in (pm.MEMBERS, pm.OTHERS)
        ],
    }
