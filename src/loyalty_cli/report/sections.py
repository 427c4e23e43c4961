"""The sections on the customers as they are and as they behave: RFM segments, cohort retention and churn."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.metrics.retention import AVERAGE
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import (
    every_nth,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_pct,
    make_section,
    make_table,
    rounded,
)
from loyalty_cli.words import count

#: the RFM columns of the segment table in words (``mean_recency_days``: mean days since the last purchase)
RFM_WORDS = {
    "recency_days": "days since the last purchase",
    "orders": "orders",
    "purchase_days": "purchase days",
    "net_spend": "net spend",
    "mean_order_value": "order value",
}


def _mean(column: str) -> str:
    name = column.removeprefix("mean_")
    return f"mean {RFM_WORDS.get(name, name.replace('_', ' '))}"


def segments_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    seg = data.segments
    money = settings.money
    cols = seg.columns  # segment, customers, share_customers, revenue, share_revenue, mean_r, mean_f, mean_m, action
    chart = {
        "kind": "bars",
        "id": "segments",
        "title": "Customers and net revenue by RFM segment",
        "subtitle": "Each segment's share of all customers and of all net revenue",
        "labels": seg["segment"].to_list(),
        "series": [
            {
                "name": "share of customers",
                "values": [rounded(v) for v in seg["share_customers"]],
                "text": [fmt_pct(v) for v in seg["share_customers"]],
            },
            {
                "name": "share of net revenue",
                "values": [rounded(v) for v in seg["share_revenue"]],
                "text": [fmt_pct(v) for v in seg["share_revenue"]],
            },
        ],
        "x_title": "share of all customers or net revenue (%)",
        "x_format": "pct",
        "y_title": "RFM segment",
    }
    rows = [
        [
            r[0],
            fmt_int(r[1]),
            fmt_pct(r[2]),
            fmt_money(r[3]),
            fmt_pct(r[4]),
            fmt_num(r[5]),
            fmt_num(r[6]),
            fmt_money(r[7]),
            r[8] or "",
        ]
        for r in seg.iter_rows()
    ]
    note = ""
    if data.no_purchase_customers:  # the column sums to less than the key number: say what it leaves out
        note = (
            f"Net revenue of the {count(data.customers, 'customer')} with a purchase: "
            f"{money(data.tables_cents / 100)} ({count(data.no_purchase_customers, 'customer')} with no "
            f"purchase, only returns, left out: {money(data.no_purchase_cents / 100)})"
        )
    table = make_table(
        "Segments",
        [
            "segment",
            "customers",
            "share",
            money.header("net revenue"),
            "revenue share",
            _mean(cols[5]),
            _mean(cols[6]),
            money.header(_mean(cols[7])),
            "action",
        ],
        rows,
        [False] + [True] * 7 + [False],
        note,
        long=[8],
    )
    return make_section("segments", "RFM segments", charts=[chart], tables=[table])


def retention_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    period = settings.retention_period
    charts, tables = [], []
    titles = {  # title, subtitle, legend
        "retention": (
            f"Customer retention by {period}ly cohort",
            f"Share of each cohort (customers by the {period} of their first purchase) who bought in {period} k "
            f"after it. Blank: {period} k is not over yet.",
            "customers active",
        ),
        "revenue_retention": (
            f"Revenue retention by {period}ly cohort",
            f"Each cohort's revenue in {period} k as a share of its revenue in {period} 0. Blank: {period} k is "
            "not over yet.",
            f"of {period} 0 revenue",
        ),
    }
    for metric, wide in data.retention_wide.items():
        periods = [c for c in wide.columns if c not in ("cohort", "cohort_customers")]
        ks = [c.lstrip("mwq") for c in periods]  # m0, m1 ...: the axis title says what k counts
        values = [[rounded(v) for v in row] for row in wide.select(periods).iter_rows()]
        texts = [[fmt_pct(v, 0) for v in row] for row in wide.select(periods).iter_rows()]
        cells = [
            v
            for row in wide.filter(pl.col("cohort") != AVERAGE).select(periods[1:]).iter_rows()
            for v in row
            if v is not None
        ]
        top = max(cells) if cells else 1.0
        rows = [
            f"{c} ({n:,})" if c != AVERAGE else c for c, n in zip(wide["cohort"], wide["cohort_customers"], strict=True)
        ]
        charts.append(
            {
                "kind": "heatmap",
                "id": f"retention-{metric.replace('_', '-')}",
                "title": titles[metric][0],
                "subtitle": titles[metric][1],
                "rows": rows,
                "cols": ks,
                "values": values,
                "text": texts,
                "max": rounded(top),
                "x_title": f"{period}s since the first purchase (k)",
                "y_title": "cohort (customers)",
                "legend_title": titles[metric][2],
            }
        )
    avg = data.retention.filter(pl.col("cohort") == AVERAGE).sort("period").head(13)
    horizon = data.retention["horizon"][0]
    within = f"within {horizon} {period}s"
    tables.append(
        make_table(
            f"Average cohort (periods over only), first {avg.height} {period}s",
            [
                "period",
                "cohorts",
                "retention",
                f"cohorts ({within})",
                within,
                "revenue retention",
                settings.money.header("cumulative revenue per customer"),
            ],
            [
                [
                    str(r["period"]),
                    fmt_int(r["cohorts"]),
                    fmt_pct(r["retention"]),
                    fmt_int(r["cohorts_within"]),
                    fmt_pct(r["retention_within"]),
                    fmt_pct(r["revenue_retention"]),
                    fmt_money(r["cumulative_revenue_per_customer"]),
                ]
                for r in avg.iter_rows(named=True)
            ],
            [True] * 7,
        )
    )
    if data.retention_split is not None:  # the report's retention_by
        from loyalty_cli.report.retention_split import retention_split_table

        tables.append(retention_split_table(data, settings))
    all_row = data.cohorts.filter(pl.col("cohort") == "all").row(0, named=True)
    rate = all_row["repeat_rate"]
    intro = [
        f"{count(all_row['customers'], 'customer')} in {count(data.cohorts.height - 1, f'{period}ly cohort')} "
        f"(by first purchase). Repeat purchase rate within {count(settings.repeat_window_days, 'day')}: "
        + (
            f"{fmt_pct(rate)} ({all_row['repeat_customers']:,} of {count(all_row['window_closed'], 'customer')} "
            "whose window is over)."
            if rate is not None
            else "none yet (no window is over)."
        )
    ]
    return make_section(
        "retention",
        "Cohort retention",
        intro=intro,
        charts=charts,
        tables=tables,
        notes=[
            "Cells a cohort has not lived through by the as-of date are blank, never 0. The average "
            "row pools complete cells only.",
            f"Retention {within}: customers with a purchase in any of the {horizon} {period}s from period k "
            f"(k to k+{horizon - 1}); shown once all of them are over, so it no longer changes as later data "
            "comes in.",
        ],
    )


def churn_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.churn_summary is None or data.churn_rates is None:
        return make_section("churn", "Churn", missing=f"Churn: not available: {data.churn_missing}")
    summary = data.churn_summary.with_columns(pl.col("status").cast(pl.String))
    by = {r["status"]: r for r in summary.iter_rows(named=True)}
    chart = {
        "kind": "bars",
        "id": "churn-status",
        "title": "Customers and net spend by churn status",
        "subtitle": "Each status's share of all customers and of all net spend",
        "labels": list(by),
        "series": [
            {
                "name": "share of customers",
                "values": [rounded(r["share_customers"]) for r in by.values()],
                "text": [fmt_pct(r["share_customers"]) for r in by.values()],
            },
            {
                "name": "share of net spend",
                "values": [rounded(r["share_net_spend"]) for r in by.values()],
                "text": [fmt_pct(r["share_net_spend"]) for r in by.values()],
            },
        ],
        "x_title": "share of all customers or net spend (%)",
        "x_format": "pct",
        "y_title": "status",
    }
    rates = data.churn_rates.sort("period_start")
    charts = [chart]
    if rates.height:
        period = settings.retention_period
        labels = rates["period"].to_list()
        charts.append(
            {
                "kind": "line",
                "id": "churn-rate",
                "title": f"Churn rate by {period}",
                "subtitle": f"Share of the customers active at the start of each {period} who lapsed during it",
                "x_kind": "ordinal",
                "series": [
                    {
                        "name": "churn rate",
                        "x": labels,
                        "y": [rounded(v) for v in rates["churn_rate"]],
                        "markers": True,
                    }
                ],
                "x_ticks": every_nth(labels),
                "y_format": "pct",
                "x_title": period,
                "y_title": "churn rate (%)",
            }
        )
    money = settings.money
    table = make_table(
        "Customers by status",
        [
            "status",
            "customers",
            "share",
            money.header("net spend"),
            "share of net spend",
            "high value",
            "worth a costly offer",
        ],
        [
            [
                s,
                fmt_int(r["customers"]),
                fmt_pct(r["share_customers"]),
                fmt_money(r["net_spend"]),
                fmt_pct(r["share_net_spend"]),
                fmt_int(r["high_value"]),
                fmt_int(r["worth_costly_offer"]),
            ]
            for s, r in by.items()
        ],
        [False] + [True] * 6,
    )
    intro = []
    lapsing = by.get("lapsing")
    if lapsing is not None:
        intro.append(
            f"Value at risk: the {count(lapsing['customers'], 'lapsing customer')} spent "
            f"{money(lapsing['net_spend'])} so far ({fmt_pct(lapsing['share_net_spend'])} of all net "
            f"spend; {lapsing['high_value']:,} high value): still within reach of a win-back."
        )
    lapsed = by.get("lapsed")
    if lapsed is not None:
        intro.append(
            f"Already lapsed: {count(lapsed['customers'], 'customer')} holding {money(lapsed['net_spend'])} "
            f"({fmt_pct(lapsed['share_net_spend'])}) of net spend."
        )
    return make_section(
        "churn",
        "Churn",
        intro=intro,
        charts=charts,
        tables=[table],
        notes=[f"Rules {settings.churn.source}: {settings.churn.describe()}."],
    )
