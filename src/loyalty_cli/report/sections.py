"""The sections on the customers as they are and as they behave: RFM segments, cohort retention and churn."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.metrics.retention import AVERAGE
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_money, fmt_num, fmt_pct, make_section, make_table, rounded
from loyalty_cli.words import count


def segments_section(data: ReportData) -> dict[str, Any]:
    seg = data.segments
    cols = seg.columns  # segment, customers, share_customers, revenue, share_revenue, mean_r, mean_f, mean_m, action
    chart = {
        "kind": "bars",
        "id": "segments",
        "title": "Share of customers and of net revenue by RFM segment",
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
            f"{fmt_money(data.tables_cents / 100)} ({count(data.no_purchase_customers, 'customer')} with no "
            f"purchase, only returns, left out: {fmt_money(data.no_purchase_cents / 100)})"
        )
    table = make_table(
        "Segments",
        ["segment", "customers", "share", "net revenue", "revenue share", cols[5], cols[6], cols[7], "action"],
        rows,
        [False] + [True] * 7 + [False],
        note,
    )
    return make_section("segments", "RFM segments", charts=[chart], tables=[table])


def retention_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    period = settings.retention_period
    charts, tables = [], []
    titles = {
        "retention": "Customers active in period k (share of the cohort)",
        "revenue_retention": "Revenue in period k / revenue in period 0",
    }
    for metric, wide in data.retention_wide.items():
        periods = [c for c in wide.columns if c not in ("cohort", "cohort_customers")]
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
                "title": f"{titles[metric]}; cohort (customers); blank = not over yet",
                "rows": rows,
                "cols": periods,
                "values": values,
                "text": texts,
                "max": rounded(top),
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
                "cumulative revenue per customer",
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
        "title": "Customers and net spend by status",
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
    }
    rates = data.churn_rates.sort("period_start")
    charts = [chart]
    if rates.height:
        x = list(range(rates.height))
        step = max(1, -(-len(x) // 8))
        top = max([v for v in rates["churn_rate"] if v is not None] + [0.05])
        charts.append(
            {
                "kind": "line",
                "id": "churn-rate",
                "title": f"Churn rate per {settings.retention_period}",
                "series": [
                    {"name": "churn rate", "x": x, "y": [rounded(v) for v in rates["churn_rate"]], "markers": True}
                ],
                "x_ticks": [[k, rates["period"][k]] for k in x[::step]],
                "y_max": rounded(min(1.0, top * 1.2)),
                "y_format": "pct",
                "x_title": settings.retention_period,
            }
        )
    table = make_table(
        "Customers by status",
        ["status", "customers", "share", "net spend", "share of net spend", "high value", "worth a costly offer"],
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
            f"{fmt_money(lapsing['net_spend'])} so far ({fmt_pct(lapsing['share_net_spend'])} of all net "
            f"spend; {lapsing['high_value']:,} high value): still within reach of a win-back."
        )
    lapsed = by.get("lapsed")
    if lapsed is not None:
        intro.append(
            f"Already lapsed: {count(lapsed['customers'], 'customer')} holding {fmt_money(lapsed['net_spend'])} "
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
