"""The template context: plain, JSON-serialisable data with every number already formatted (pure functions).

The template only loops and prints; it decides nothing. Values from the data stay raw text here (customer
ids, segment names, comments): the template escapes them (Jinja2 autoescape), and the charts escape theirs.
The same :class:`ReportData` always gives the same context (sorted, fixed float formats, no clock), which is
what the golden-file test compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from loyalty_cli.metrics import program as pm
from loyalty_cli.metrics.retention import AVERAGE
from loyalty_cli.report.sections import ReportData, ReportSettings
from loyalty_cli.words import count

TITLE = "Customer loyalty report"


@dataclass(frozen=True)
class InputInfo:
    """One input as the header shows it: what was read, how much, and what was left out and why."""

    kind: str  # transactions, surveys, contacts, members, points
    files: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()  # e.g. ("3,000 customers", "12,345 purchase orders")
    dropped: tuple[str, ...] = ()  # e.g. ("12 rows: missing customer id",)
    missing: str | None = None  # not given: what to pass


@dataclass(frozen=True)
class FileInfo:
    path: str
    what: str


@dataclass(frozen=True)
class ReportMeta:
    inputs: tuple[InputInfo, ...]
    files: tuple[FileInfo, ...] = ()
    extra_rules: tuple[tuple[str, str], ...] = field(default_factory=tuple)


# ------------------------------------------------------------------------------------------- formats
def fmt_int(value: int | float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}%}"


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _r(value: float | None, digits: int = 4) -> float | None:
    """A chart number, rounded so the context (and the golden file) is stable and small."""
    return None if value is None else round(float(value), digits)


def _table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool], note: str = ""
) -> dict[str, Any]:
    return {
        "title": title,
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "numeric": list(numeric),
        "note": note,
    }


def _section(
    sid: str,
    title: str,
    *,
    missing: str | None = None,
    intro: Sequence[str] = (),
    charts: Sequence[dict[str, Any]] = (),
    tables: Sequence[dict[str, Any]] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "id": sid,
        "title": title,
        "available": missing is None,
        "missing": missing or "",
        "intro": list(intro),
        "charts": list(charts),
        "tables": list(tables),
        "notes": list(notes),
    }


# ------------------------------------------------------------------------------------------- sections
def _header(data: ReportData, settings: ReportSettings, meta: ReportMeta) -> dict[str, Any]:
    inputs = [
        {
            "kind": i.kind,
            "files": list(i.files),
            "counts": list(i.counts),
            "dropped": list(i.dropped),
            "missing": i.missing or "",
        }
        for i in meta.inputs
    ]
    rfm = settings.rfm
    sp = settings.second_purchase
    nps = settings.nps
    clv = settings.cltv
    rules = [
        ("RFM scores", f"{rfm.method}, {rfm.bins} bins; F = {rfm.column('f')}, M = {rfm.column('m')}"),
        ("Segments", settings.segments.source),
        ("Churn", f"{settings.churn.source}: {settings.churn.describe()}"),
        (
            "Retention",
            f"{settings.retention_period}ly cohorts; 'within' = any of {data.retention['horizon'][0]} "
            f"{settings.retention_period}s from k; repeat rate within {settings.repeat_window_days} days",
        ),
        (
            "NPS",
            f"{nps.label} interval; groups under {count(nps.min_n, 'answer')} suppressed; "
            f"dedupe {nps.dedupe}; trend by {nps.period}",
        ),
        (
            "CLV",
            f"{clv.model} + Gamma-Gamma, unit {clv.unit}, {clv.horizon_months} months, discount "
            f"{clv.discount_monthly:.2%} a month",
        ),
        (
            "Second purchase",
            f"window {sp.window.describe()}; numbers from fewer than {count(sp.min_n, 'customer')} left "
            f"empty; nudge list closing {count(sp.closing_days, 'day')}",
        ),
        (
            "Lifecycle",
            f"{settings.lifecycle.source}: {len(settings.lifecycle.rules)} rules (the first that holds "
            f"decides the stage and action), {len(settings.lifecycle.flags)} flags",
        ),
        *([_program_rule(settings)] if data.program is not None else []),
        *meta.extra_rules,
    ]
    return {"inputs": inputs, "rules": [{"name": k, "value": v} for k, v in rules]}


def _key_numbers(data: ReportData, settings: ReportSettings) -> list[dict[str, str]]:
    window = settings.repeat_window_days
    all_row = data.cohorts.filter(pl.col("cohort") == "all").row(0, named=True)
    rate = all_row["repeat_rate"]
    customers_note, revenue_note = f"bought before {data.as_of}", "returns included"
    if data.no_purchase_customers:  # in no table: say so, and how the net revenue splits
        who = f"{count(data.no_purchase_customers, 'customer')} with no purchase, only returns"
        customers_note += f"; {who}, left out"
        revenue_note += (
            f": {fmt_money(data.tables_cents / 100)} from the {count(data.customers, 'customer')} in the tables, "
            f"{fmt_money(data.no_purchase_cents / 100)} from {who}, in none"
        )
    keys = [
        {"label": "Customers", "value": fmt_int(data.customers), "note": customers_note},
        {"label": "Net revenue", "value": fmt_money(data.revenue_cents / 100), "note": revenue_note},
        {
            "label": f"Repeat rate ({window} days)",
            "value": fmt_pct(rate) if rate is not None else "n/a",
            "note": f"second purchase day within {count(window, 'day')}: {all_row['repeat_customers']:,} of "
            f"{count(all_row['window_closed'], 'customer')} whose window is over",
        },
    ]
    if data.nps_headline is None:
        keys.append({"label": "NPS", "value": "n/a", "note": data.nps_missing or ""})
    else:
        for row in data.nps_headline.iter_rows(named=True):
            if row["suppressed"]:
                keys.append(
                    {
                        "label": f"NPS ({row['survey_type']})",
                        "value": "n/a",
                        "note": f"n = {row['responses']:,}: too few answers",
                    }
                )
            else:
                keys.append(
                    {
                        "label": f"NPS ({row['survey_type']})",
                        "value": fmt_num(row["nps"]),
                        "note": f"{fmt_num(row['ci_low'])} to {fmt_num(row['ci_high'])}, n = {row['responses']:,}",
                    }
                )
    if data.clv is None:
        keys.append({"label": "Predicted CLV", "value": "n/a", "note": "model not fitted (see the CLV section)"})
    else:
        s = data.clv.config.suffix
        total = data.clv.totals()[f"predicted_clv_{s}"]
        keys.append(
            {
                "label": f"Predicted CLV ({data.clv.config.horizon_months} months)",
                "value": fmt_money(total),
                "note": "all customers, discounted",
            }
        )
    if data.program is not None:
        fig = _program_figures(data.program)
        active = settings.program.active_days
        keys.append(
            {
                "label": "Members",
                "value": fmt_int(fig["members"][0]),
                "note": f"enrolment rate {fmt_pct(fig['enrolment_rate'][0])} of customers; "
                f"{fmt_int(fig[f'active_members_{active}d'][0])} active ({active} days)",
            }
        )
    return keys


def _segments(data: ReportData) -> dict[str, Any]:
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
                "values": [_r(v) for v in seg["share_customers"]],
                "text": [fmt_pct(v) for v in seg["share_customers"]],
            },
            {
                "name": "share of net revenue",
                "values": [_r(v) for v in seg["share_revenue"]],
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
    table = _table(
        "Segments",
        ["segment", "customers", "share", "net revenue", "revenue share", cols[5], cols[6], cols[7], "action"],
        rows,
        [False] + [True] * 7 + [False],
        note,
    )
    return _section("segments", "RFM segments", charts=[chart], tables=[table])


def _nps(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.nps_missing is not None or data.nps_headline is None:
        return _section("nps", "NPS", missing=f"NPS: not available: {data.nps_missing}")
    assert data.nps_distribution is not None and data.nps_trend is not None and data.nps_segments is not None
    config = settings.nps
    c = data.nps_counts
    intro = [
        f"{count(c['counted'], 'answer')} counted; left out: {count(c['non-response'], 'non-response')} (blank "
        f"or NA score), {count(c['duplicate'], 'duplicate')}, {count(c['repeat'], 'earlier answer')} of repeat "
        "responders. "
        "Survey types are never pooled."
    ]
    if data.nps_trend.is_empty():  # every answer is undated: a survey export without a date column
        intro.append("The surveys have no response dates: no trend, and every answer counts whatever the as-of date.")
    stat_cols = ["responses", "promoters", "passives", "detractors", "NPS", "interval", "revenue-weighted"]

    def stats(row: dict[str, Any]) -> list[str]:
        if row["suppressed"]:
            return [fmt_int(row["responses"]), "", "", "", f"n < {config.min_n}", "", ""]
        return [
            fmt_int(row["responses"]),
            fmt_pct(row["share_promoters"]),
            fmt_pct(row["share_passives"]),
            fmt_pct(row["share_detractors"]),
            fmt_num(row["nps"]),
            f"{fmt_num(row['ci_low'])} to {fmt_num(row['ci_high'])}",
            fmt_num(row.get("nps_weighted_by_net_spend")),
        ]

    tables = [
        _table(
            f"NPS by survey type ({config.label} interval)",
            ["survey type", *stat_cols],
            [[r["survey_type"], *stats(r)] for r in data.nps_headline.iter_rows(named=True)],
            [False] + [True] * 7,
        )
    ]
    charts = []
    dist = data.nps_distribution
    trend = data.nps_trend
    for i, survey_type in enumerate(data.nps_headline["survey_type"].to_list()):
        part = dist.filter(pl.col("survey_type") == survey_type).sort("score")
        charts.append(
            {
                "kind": "columns",
                "id": f"nps-distribution-{i}",
                "title": f"Scores 0-10: {survey_type}",
                "labels": [str(s) for s in part["score"]],
                "values": [_r(v) for v in part["share"]],
                "text": [fmt_pct(v, 0) for v in part["share"]],
                "classes": [str(k) for k in part["nps_category"].cast(pl.String)],
                "x_title": "score",
            }
        )
        t = trend.filter(pl.col("survey_type") == survey_type).sort("period_start")
        if t.is_empty():  # no dates: said in the intro
            continue
        labels = [p if complete else f"{p} (partial)" for p, complete in zip(t["period"], t["complete"], strict=True)]
        x = list(range(t.height))
        step = max(1, -(-len(x) // 8))
        charts.append(
            {
                "kind": "line",
                "id": f"nps-trend-{i}",
                "title": f"NPS by {config.period} with its interval: {survey_type}",
                "series": [
                    {
                        "name": f"NPS ({survey_type})",
                        "x": x,
                        "y": [_r(v, 2) for v in t["nps"]],
                        "low": [_r(v, 2) for v in t["ci_low"]],
                        "high": [_r(v, 2) for v in t["ci_high"]],
                        "markers": True,
                    }
                ],
                "x_ticks": [[k, labels[k]] for k in x[::step]],
                "y_min": -100,
                "y_max": 100,
                "y_format": "num",
                "x_title": config.period,
            }
        )
        rows = []
        for r in t.iter_rows(named=True):
            test = "" if r["significant"] is None else "significant" if r["significant"] else "not significant"
            rows.append(
                [
                    r["period"] + ("" if r["complete"] else " (partial)"),
                    *stats(r)[:1],
                    fmt_num(r["nps"]),
                    "" if r["ci_low"] is None else f"{fmt_num(r['ci_low'])} to {fmt_num(r['ci_high'])}",
                    fmt_num(r["change"]),
                    "" if r["p_value"] is None else f"{r['p_value']:.3f}",
                    test,
                ]
            )
        tables.append(
            _table(
                f"Trend: {survey_type}",
                [config.period, "responses", "NPS", "interval", "change", "p-value", "change test"],
                rows,
                [False, True, True, True, True, True, False],
            )
        )
    seg_rows = [
        [r["survey_type"], r["segment"] if r["segment"] is not None else "", *stats(r)]
        for r in data.nps_segments.iter_rows(named=True)
    ]
    tables.append(
        _table("NPS by RFM segment", ["survey type", "segment", *stat_cols], seg_rows, [False, False] + [True] * 7)
    )
    if data.nps_comments is not None:
        rows = [
            [
                r["survey_type"],
                "" if r["date"] is None else str(r["date"]),
                str(r["score"]),
                r["customer_id"] or "(anonymous)",
                r["segment"] or "",
                r["comment"],
            ]
            for r in data.nps_comments.iter_rows(named=True)
        ]
        tables.append(
            _table(
                f"Latest detractor comments ({len(rows)})",
                ["survey type", "date", "score", "customer", "segment", "comment"],
                rows,
                [False, False, True, False, False, False],
            )
        )
    return _section("nps", "NPS", intro=intro, charts=charts, tables=tables)


def _retention(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    period = settings.retention_period
    charts, tables = [], []
    titles = {
        "retention": "Customers active in period k (share of the cohort)",
        "revenue_retention": "Revenue in period k / revenue in period 0",
    }
    for metric, wide in data.retention_wide.items():
        periods = [c for c in wide.columns if c not in ("cohort", "cohort_customers")]
        values = [[_r(v) for v in row] for row in wide.select(periods).iter_rows()]
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
                "max": _r(top),
            }
        )
    avg = data.retention.filter(pl.col("cohort") == AVERAGE).sort("period").head(13)
    horizon = data.retention["horizon"][0]
    within = f"within {horizon} {period}s"
    tables.append(
        _table(
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
    return _section(
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


def _churn(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.churn_summary is None or data.churn_rates is None:
        return _section("churn", "Churn", missing=f"Churn: not available: {data.churn_missing}")
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
                "values": [_r(r["share_customers"]) for r in by.values()],
                "text": [fmt_pct(r["share_customers"]) for r in by.values()],
            },
            {
                "name": "share of net spend",
                "values": [_r(r["share_net_spend"]) for r in by.values()],
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
                "series": [{"name": "churn rate", "x": x, "y": [_r(v) for v in rates["churn_rate"]], "markers": True}],
                "x_ticks": [[k, rates["period"][k]] for k in x[::step]],
                "y_max": _r(min(1.0, top * 1.2)),
                "y_format": "pct",
                "x_title": settings.retention_period,
            }
        )
    table = _table(
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
    return _section(
        "churn",
        "Churn",
        intro=intro,
        charts=charts,
        tables=[table],
        notes=[f"Rules {settings.churn.source}: {settings.churn.describe()}."],
    )


def _histogram(values: pl.Series, bins: int = 12) -> tuple[list[str], list[int]]:
    """Counts of values in equal-width bins from 0 to the 99th percentile (the last bin holds the rest)."""
    clean = values.drop_nulls().sort()
    if clean.is_empty():
        return [], []
    top = float(clean.quantile(0.99, interpolation="nearest") or 0.0)  # type: ignore[arg-type]
    width = top / bins if top > 0 else 1.0
    counts = [0] * bins
    index = (clean / width).floor().cast(pl.Int64).clip(0, bins - 1)
    for k, n in index.value_counts().sort(index.name).iter_rows():
        counts[k] = int(n)
    labels = [f"{k * width:,.0f}-{(k + 1) * width:,.0f}" for k in range(bins - 1)] + [f"{(bins - 1) * width:,.0f}+"]
    return labels, counts


def _clv(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.clv is None:
        return _section("clv", "Customer lifetime value", missing=f"CLV: not available: {data.clv_missing}")
    fit = data.clv
    s = fit.config.suffix
    table = fit.customers
    labels, counts = _histogram(table[f"predicted_clv_{s}"])
    total = max(sum(counts), 1)
    chart = {
        "kind": "columns",
        "id": "clv-distribution",
        "title": f"Customers by predicted {fit.config.horizon_months}-month CLV",
        "labels": labels,
        "values": [_r(n / total) for n in counts],
        "text": [fmt_int(n) for n in counts],
        "x_title": f"predicted CLV ({fit.config.horizon_months} months)",
    }
    totals = fit.totals()
    tiers = (
        table.group_by("value_tier")
        .agg(pl.len().alias("customers"), pl.col(f"predicted_clv_{s}").sum().alias("clv"))
        .with_columns(pl.col("value_tier").replace_strict({"high": 0, "medium": 1, "low": 2}, default=3).alias("_o"))
        .sort("_o")
    )
    tier_table = _table(
        "Value tiers",
        ["tier", "customers", "predicted CLV", "share"],
        [
            [
                r["value_tier"],
                fmt_int(r["customers"]),
                fmt_money(r["clv"]),
                fmt_pct(r["clv"] / totals[f"predicted_clv_{s}"]) if totals[f"predicted_clv_{s}"] else "",
            ]
            for r in tiers.iter_rows(named=True)
        ],
        [False, True, True, True],
    )
    top = table.head(settings.top)
    top_table = _table(
        f"Top {count(top.height, 'customer')} by predicted CLV",
        ["customer", "tier", "predicted CLV", "expected purchases", "P(alive)", "expected spend", "historical value"],
        [
            [
                r["customer_id"],
                r["value_tier"],
                fmt_money(r[f"predicted_clv_{s}"]),
                fmt_num(r[f"expected_purchases_{s}"], 2),
                fmt_num(r["p_alive"], 3),
                fmt_money(r["expected_spend"]),
                fmt_money(r["historical_value"]),
            ]
            for r in top.iter_rows(named=True)
        ],
        [False, False] + [True] * 5,
    )
    p = fit.purchase
    intro = [
        f"{p.label} + Gamma-Gamma fitted on {count(p.n_customers, 'customer')} (log-likelihood "
        f"{p.log_likelihood:,.2f}); predicted {fit.config.horizon_months}-month CLV "
        f"{fmt_money(totals[f'predicted_clv_{s}'])} in total, {fmt_num(totals[f'expected_purchases_{s}'])} "
        f"expected purchase days, mean P(alive) {fmt_num(totals['mean_p_alive'], 2)}."
    ]
    return _section("clv", "Customer lifetime value", intro=intro, charts=[chart], tables=[tier_table, top_table])


def _second_purchase(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    assert data.second_summary is not None and data.second_curve is not None and data.second_shares is not None
    row = data.second_summary.row(0, named=True)
    curve = data.second_curve.sort("day")
    window = (row["window_from_days"], row["window_to_days"])
    x = [int(d) for d in curve["day"]]
    last = max(x) if x else 1
    ticks = [[d, f"{d}"] for d in (0, 30, 60, 90, 180, 365, 730) if d <= last]
    chart = {
        "kind": "line",
        "id": "second-purchase-curve",
        "title": "Share of first-time buyers who bought again, by days since the first purchase (Kaplan-Meier)",
        "series": [{"name": "bought again (Kaplan-Meier)", "x": x, "y": [_r(v) for v in curve["repurchased_share"]]}],
        "x_ticks": ticks,
        "y_max": 1.0,
        "y_format": "pct",
        "x_title": "days since the first purchase",
        "shade": [window[0], window[1], f"window {window[0]}-{window[1]} days"] if window[0] is not None else None,
    }
    shares = data.second_shares.sort("within_days")
    table = _table(
        "Bought again within N days (customers observed N days)",
        ["within", "observed", "bought again", "share"],
        [
            [f"{r['within_days']} days", fmt_int(r["observed"]), fmt_int(r["returned"]), fmt_pct(r["share"])]
            for r in shares.iter_rows(named=True)
        ],
        [False, True, True, True],
    )
    tables = [table]
    if data.second_value is not None:
        v = data.second_value
        tables.append(
            _table(
                "Net spend of the first purchase day and the 365 days after it, by days to the second "
                "purchase (a correlation, not the effect of a nudge)",
                ["second purchase", "customers", "share", "mean spend", "median spend"],
                [
                    [
                        str(r["bucket"]),
                        fmt_int(r["customers"]),
                        fmt_pct(r["share_customers"]),
                        fmt_money(r["mean_spend_365d"]),
                        fmt_money(r["median_spend_365d"]),
                    ]
                    for r in v.iter_rows(named=True)
                ],
                [False, True, True, True, True],
            )
        )
    pcts = ", ".join(
        f"p{p} {row[f'p{p}_days']} days" if row[f"p{p}_days"] is not None else f"p{p} not reached"
        for p in (25, 50, 75, 90)
    )
    intro = [
        f"{row['first_buyers']:,} first-time buyers, {row['repeaters']:,} bought again; over all first-time "
        f"buyers: {pcts}."
    ]
    if window[0] is None:
        intro.append(f"No second-purchase window: fewer than {settings.second_purchase.min_n} repeaters.")
    else:
        intro.append(
            f"Window: days {window[0]}-{window[1]} after the first purchase "
            f"({settings.second_purchase.window.describe()}); {count(data.second_nudge, 'one-time buyer')} "
            "to nudge now (loyalty second-purchase -o writes the list)."
        )
    if data.second_caveat:
        intro.append(f"Caveat: {data.second_caveat}")
    return _section("second-purchase", "Second purchase", intro=intro, charts=[chart], tables=tables)


def _lifecycle(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.lifecycle_summary is None or data.lifecycle_flags is None:
        return _section("lifecycle", "Lifecycle stages", missing=f"Lifecycle: not available: {data.lifecycle_missing}")
    rules = settings.lifecycle
    summary, flags, facts = data.lifecycle_summary, data.lifecycle_flags, data.lifecycle_facts
    by_stage = summary.group_by("stage", maintain_order=True).agg(
        pl.col("customers").sum(), pl.col("share_customers").sum(), pl.col("share_net_spend").sum()
    )
    chart = {
        "kind": "bars",
        "id": "lifecycle-stages",
        "title": "Share of people and of net spend by lifecycle stage",
        "labels": by_stage["stage"].to_list(),
        "series": [
            {
                "name": "share of people",
                "values": [_r(v) for v in by_stage["share_customers"]],
                "text": [
                    f"{fmt_pct(v)} ({n:,})"
                    for v, n in zip(by_stage["share_customers"], by_stage["customers"], strict=True)
                ],
            },
            {
                "name": "share of net spend",
                "values": [_r(v) for v in by_stage["share_net_spend"]],
                "text": [fmt_pct(v) for v in by_stage["share_net_spend"]],
            },
        ],
    }
    tables = [
        _table(
            "Stages and actions (one row per rule, in rule order)",
            ["stage", "action", "customers", "share", "net spend", "share of net spend"],
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
        )
    ]
    if flags.height:
        tables.append(
            _table(
                "Flags (beside the stage)",
                ["flag", "action", "customers", "net spend"],
                [
                    [r["flag"], r["action"], fmt_int(r["customers"]), fmt_money(r["net_spend"])]
                    for r in flags.iter_rows(named=True)
                ],
                [False, False, True, True],
            )
        )
    prospects = facts["prospects"]
    intro = [
        f"{count(facts['people'], 'person', 'people')}: {count(data.customers, 'customer')}"
        + (
            f" and {count(prospects, 'prospect')} (contacts with no purchase before {data.as_of})"
            if prospects is not None
            else " (no prospects: pass --contacts FILE)"
        )
        + f". Each gets the stage and action of the first rule of {rules.source} that holds; flags are "
        "independent of the stage. loyalty lifecycle -o writes the list."
    ]
    flag_counts = {r["flag"]: r["customers"] for r in flags.iter_rows(named=True)}
    if flag_counts:
        intro.append("Flags: " + "; ".join(f"{count(n, 'customer')} {name}" for name, n in flag_counts.items()) + ".")
    notes = [
        f"New vs one-time lapsing: the second-purchase window ({settings.second_purchase.window.describe()}"
        + (", per first-order category" if facts["by"] else "")
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
                + " can never apply. Pass --surveys FILE."
            )
    else:
        notes.append(
            f"Latest NPS answer for {facts['nps_matched']:,} of the {count(facts['respondents'], 'respondent')}."
        )
    used = rules.uses("previous_stage") + rules.uses("bought_since_previous")
    if used:
        notes.append(
            "The report takes no previous snapshot, so " + ", ".join(dict.fromkeys(used)) + " never "
            "applies here: loyalty lifecycle --previous FILE finds reactivated customers and transitions."
        )
    return _section("lifecycle", "Lifecycle stages", intro=intro, charts=[chart], tables=tables, notes=notes)


# ------------------------------------------------------------------------------------------- programme
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


def _program_rule(settings: ReportSettings) -> tuple[str, str]:
    c = settings.program
    value = (
        f"point value {c.point_value:g}"
        if c.point_value is not None
        else "no point value (liability not valued; --point-value)"
    )
    return (
        "Programme",
        f"active = a purchase in the last {c.active_days} days; members vs non-members over "
        f"{c.window_days}-day windows, {c.confidence:.0%} intervals; {value}",
    )


def _program_figures(table: pl.DataFrame) -> dict[str, tuple[float | None, int | None]]:
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


def _program_value(value: float | None, metric: str) -> str:
    if value is None:
        return ""
    kind = pm.metric_kind(metric)
    return {"share": fmt_pct, "money": fmt_money, "number": fmt_num, "count": fmt_int}[kind](value)


def _program_interval(row: dict[str, Any]) -> str:
    low, high = (_program_value(row[k], row["metric"]) for k in ("ci_low", "ci_high"))
    return f"{low} to {high}" if low and high else ""


def _program(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.program is None:
        return _section(
            "program", "Loyalty programme", missing=f"Loyalty programme: not available: {data.program_missing}"
        )
    config = settings.program
    table = data.program
    fig = _program_figures(table)
    active = config.active_days

    def value(metric: str) -> str:
        return _program_value(fig[metric][0], metric) if metric in fig else "n/a"

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
            else "liability not valued (pass --point-value, the money per point)"
        )
        intro.append(
            f"Points: {value('points_earned')} earned, {value('points_redeemed')} redeemed, "
            f"{value('points_expired')} expired (breakage rate {value('breakage_rate')} of the points "
            f"earned); {value('outstanding_points')} points outstanding; {liability}."
        )
    else:
        intro.append("Points, liability and breakage: not available: no points ledger given (--points FILE).")
    head = table.filter(pl.col("section").is_in(["programme", "points"]))
    tables = [
        _table(
            "Programme and points" if data.program_points else "Programme",
            ["figure", "value", "n"],
            [
                [
                    _program_label(r["metric"]),
                    _program_value(r["value"], r["metric"]),
                    fmt_int(r["n"]) if r["n"] is not None else "",
                ]
                for r in head.iter_rows(named=True)
            ],
            [False, True, True],
        )
    ]
    tiers = table.filter(pl.col("section") == "tiers")
    if tiers.height:
        tables.append(
            _table(
                f"Members by tier as of {data.as_of}",
                ["tier", "members", "share"],
                [[r["group"], fmt_int(r["n"]), fmt_pct(r["value"])] for r in tiers.iter_rows(named=True)],
                [False, True, True],
            )
        )
    versus = table.filter(pl.col("section") == "members_vs_non_members")
    by_metric: dict[str, dict[str, dict[str, Any]]] = {}
    for r in versus.iter_rows(named=True):
        by_metric.setdefault(r["metric"], {})[r["group"]] = r
    rows = []
    for metric, groups in by_metric.items():
        row = [PROGRAM_LABELS.get(metric, metric.replace("_", " "))]
        for group in (pm.MEMBERS, pm.OTHERS, pm.DIFFERENCE):
            g = groups.get(group)
            row += [_program_value(g["value"], metric), _program_interval(g)] if g else ["", ""]
        row += [
            fmt_int(groups[g]["n"]) if g in groups and groups[g]["n"] is not None else ""
            for g in (pm.MEMBERS, pm.OTHERS)
        ]
        rows.append(row)
    level = f"{config.confidence:.0%}"
    tables.append(
        _table(
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
        )
    )
    rates = [m for m in by_metric if m.startswith(("repeat_purchase_rate", "retained"))]
    charts = []
    if rates:
        charts.append(
            {
                "kind": "bars",
                "id": "program-members",
                "title": "Members vs non-members, like for like: repeat "
                "purchase and retention (correlations, not the programme's effect)",
                "labels": [m.replace("_", " ") for m in rates],
                "series": [
                    {
                        "name": group,
                        "values": [_r(by_metric[m].get(group, {}).get("value")) for m in rates],
                        "text": [_program_value(by_metric[m].get(group, {}).get("value"), m) for m in rates],
                    }
                    for group in (pm.MEMBERS, pm.OTHERS)
                ],
            }
        )
    notes = [
        "Like for like: members are measured from enrolment (or their first purchase, when they enrolled "
        "before buying), non-members from their first purchase plus the members' median days to enrolment; "
        "a customer counts only once the window closed before the as-of date. Rates have Wilson intervals "
        "(Newcombe for the difference), means normal ones (Welch for the difference).",
        pm.CAVEAT,
    ]
    return _section("program", "Loyalty programme", intro=intro, charts=charts, tables=tables, notes=notes)


def build_context(data: ReportData, settings: ReportSettings, meta: ReportMeta) -> dict[str, Any]:
    """The whole template context (JSON-serialisable; every number formatted)."""
    sections = [
        _segments(data),
        _nps(data, settings),
        _retention(data, settings),
        _churn(data, settings),
        _clv(data, settings),
        _second_purchase(data, settings),
        _lifecycle(data, settings),
        _program(data, settings),
    ]
    if data.contacts is not None:
        c = data.contacts
        contacts_note = (
            f"{count(c['customers'], 'contact')}, {c['with_purchase']:,} with a purchase, "
            f"{count(c['prospects'], 'prospect')} (no purchase yet)"
            + (f", {c['consent']:,} with email consent" if "consent" in c else "")
        )
    else:
        contacts_note = ""
    return {
        "title": TITLE,
        "as_of": str(data.as_of),
        "header": _header(data, settings, meta),
        "contacts": contacts_note,
        "key_numbers": _key_numbers(data, settings),
        "sections": sections,
        "charts": [c["id"] for s in sections for c in s["charts"]],
        "files": [{"path": f.path, "what": f.what} for f in meta.files],
    }
