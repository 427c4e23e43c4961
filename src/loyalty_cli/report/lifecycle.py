"""The lifecycle section: each customer's (and prospect's) stage and action, and the flags beside them."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.errors import setting
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_money, fmt_pct, make_section, make_table, rounded
from loyalty_cli.words import count


def lifecycle_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.lifecycle_summary is None or data.lifecycle_flags is None:
        return make_section(
            "lifecycle", "Lifecycle stages", missing=f"Lifecycle: not available: {data.lifecycle_missing}"
        )
    rules = settings.lifecycle
    summary, flags, facts = data.lifecycle_summary, data.lifecycle_flags, data.lifecycle_facts
    by_stage = summary.group_by("stage", maintain_order=True).agg(
        pl.col("customers").sum(), pl.col("share_customers").sum(), pl.col("share_net_spend").sum()
    )
    chart = {
        "kind": "bars",
        "id": "lifecycle-stages",
        "title": "People and net spend by lifecycle stage",
        "subtitle": "Each stage's share of all people (customers and prospects) and of all net spend; in "
        "brackets: people",
        "labels": by_stage["stage"].to_list(),
        "series": [
            {
                "name": "share of people",
                "values": [rounded(v) for v in by_stage["share_customers"]],
                "text": [
                    f"{fmt_pct(v)} ({n:,})"
                    for v, n in zip(by_stage["share_customers"], by_stage["customers"], strict=True)
                ],
            },
            {
                "name": "share of net spend",
                "values": [rounded(v) for v in by_stage["share_net_spend"]],
                "text": [fmt_pct(v) for v in by_stage["share_net_spend"]],
            },
        ],
        "x_title": "share of all people or net spend (%)",
        "x_format": "pct",
        "y_title": "lifecycle stage",
    }
    money = settings.money
    tables = [
        make_table(
            "Stages and actions (one row per rule, in rule order)",
            ["stage", "action", "customers", "share", money.header("net spend"), "share of net spend"],
            [
                [
                    r["stage"],
                    r["action"],
                    fmt_int(r["customers"]),
                    fmt_pct(r["share_customers"]),
                    fmt_money(r["net_spend"]),
                    fmt_pct(r["share_net_spend"]),
                ]
                for r in summary.iter_rows(named=True)
            ],
            [False, False, True, True, True, True],
            long=[1],
        )
    ]
    if flags.height:
        tables.append(
            make_table(
                "Flags (beside the stage)",
                ["flag", "action", "customers", money.header("net spend")],
                [
                    [r["flag"], r["action"], fmt_int(r["customers"]), fmt_money(r["net_spend"])]
                    for r in flags.iter_rows(named=True)
                ],
                [False, False, True, True],
                long=[1],
            )
        )
    prospects = facts["prospects"]
    intro = [
        f"{count(facts['people'], 'person', 'people')}: {count(data.customers, 'customer')}"
        + (
            f" and {count(prospects, 'prospect')} (contacts with no purchase before {data.as_of})"
            if prospects is not None
            else f" (no prospects: pass {setting('contacts')} FILE)"
        )
        + f". Each gets the stage and action of the first rule of {rules.source} that holds; flags are "
        "independent of the stage. loyalty lifecycle -o writes the list."
    ]
    flag_counts = {r["flag"]: r["customers"] for r in flags.iter_rows(named=True)}
    if flag_counts:
        intro.append("Flags: " + "; ".join(f"{count(n, 'customer')} {name}" for name, n in flag_counts.items()) + ".")
    notes = [
        f"New vs one-time lapsing: the second-purchase window ({settings.second_purchase.window.describe()}"
        + (", per first-order category" if facts["window_by"] else "")
        + "); windows from: "
        + ", ".join(facts["window_sources"])
        + "."
    ]
    if facts["contacts_later"]:
        notes.append(f"{count(facts['contacts_later'], 'contact')} who signed up on or after the as-of date left out.")
    if facts["respondents"] is None:
        used = rules.uses("nps_category") + rules.uses("latest_nps")
        if used:
            notes.append(
                "No surveys: nobody has a latest NPS, so "
                + ", ".join(dict.fromkeys(used))
                + f" can never apply. Pass {setting('surveys')} FILE."
            )
    else:
        notes.append(
            f"Latest NPS answer for {facts['nps_matched']:,} of the {count(facts['respondents'], 'respondent')}."
        )
    used = rules.uses("previous_stage") + rules.uses("bought_since_previous")
    if used:
        notes.append(
            "The report takes no previous snapshot, so " + ", ".join(dict.fromkeys(used)) + " never "
            f"applies here: loyalty lifecycle {setting('previous')} FILE finds reactivated customers and transitions."
        )
    return make_section("lifecycle", "Lifecycle stages", intro=intro, charts=[chart], tables=tables, notes=notes)
