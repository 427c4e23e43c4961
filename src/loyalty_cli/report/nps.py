"""The NPS section: the score per survey type with its interval, the 0-10 distribution, the trend with a test
of each change, NPS by RFM segment and the latest detractor comments."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from loyalty_cli.errors import setting
from loyalty_cli.metrics.nps import NpsConfig
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import every_nth, fmt_int, fmt_num, fmt_pct, make_section, make_table, rounded
from loyalty_cli.words import count

#: why there is no NPS section when no surveys were given
NO_SURVEYS = f"no surveys given ({setting('surveys')} FILE)"
#: the scores of each NPS category, as the distribution's legend names them
CATEGORY_SCORES = {"detractor": "0-6", "passive": "7-8", "promoter": "9-10"}
STAT_COLUMNS = ["responses", "promoters", "passives", "detractors", "NPS", "interval", "revenue-weighted"]


def nps_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.nps_missing is not None or data.nps_headline is None:
        return make_section("nps", "NPS", missing=f"NPS: not available: {data.nps_missing or NO_SURVEYS}")
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
    tables = [
        make_table(
            f"NPS by survey type ({config.label} interval)",
            ["survey type", *STAT_COLUMNS],
            [[r["survey_type"], *_stats(r, config)] for r in data.nps_headline.iter_rows(named=True)],
            [False] + [True] * 7,
        )
    ]
    charts: list[dict[str, Any]] = []
    for i, (survey_type, answers) in enumerate(data.nps_headline.select("survey_type", "responses").iter_rows()):
        charts.append(_distribution(data.nps_distribution, i, survey_type, answers))
        trend = data.nps_trend.filter(pl.col("survey_type") == survey_type).sort("period_start")
        if trend.is_empty():  # no dates: said in the intro
            continue
        chart = _trend_chart(trend, i, survey_type, config)
        if chart is not None:
            charts.append(chart)
        tables.append(_trend_table(trend, survey_type, config))
    seg_rows = [
        [r["survey_type"], r["segment"] if r["segment"] is not None else "", *_stats(r, config)]
        for r in data.nps_segments.iter_rows(named=True)
    ]
    tables.append(
        make_table(
            "NPS by RFM segment", ["survey type", "segment", *STAT_COLUMNS], seg_rows, [False, False] + [True] * 7
        )
    )
    if data.nps_comments is not None:
        tables.append(_comments(data.nps_comments))
    return make_section("nps", "NPS", intro=intro, charts=charts, tables=tables)


def _stats(row: dict[str, Any], config: NpsConfig) -> list[str]:
    """The figures of one NPS row (responses, shares, NPS, interval, revenue-weighted)."""
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


def _distribution(dist: pl.DataFrame, i: int, survey_type: str, answers: int) -> dict[str, Any]:
    part = dist.filter(pl.col("survey_type") == survey_type).sort("score")
    return {
        "kind": "columns",
        "id": f"nps-distribution-{i}",
        "title": f"Scores 0-10: {survey_type} survey",
        "subtitle": f"Share of the {count(answers, 'answer')} counted at each score",
        "labels": [str(s) for s in part["score"]],
        "values": [rounded(v) for v in part["share"]],
        "text": [fmt_pct(v, 0) for v in part["share"]],
        "classes": [f"{k} ({CATEGORY_SCORES.get(str(k), '')})" for k in part["nps_category"].cast(pl.String)],
        "class_title": "answer",
        "x_title": "score (0 = not at all likely to recommend, 10 = extremely likely)",
        "y_title": "share of answers (%)",
        "y_format": "pct",
    }


def nps_domain(lows: list[float | None], highs: list[float | None]) -> list[float]:
    """The NPS axis of a trend: the intervals with some room, on multiples of 10, within -100..100."""
    found = [v for v in (*lows, *highs) if v is not None]
    if not found:
        return [-100.0, 100.0]
    low = max(-100.0, math.floor((min(found) - 5) / 10) * 10)
    high = min(100.0, math.ceil((max(found) + 5) / 10) * 10)
    return [float(low), float(high)]


def _trend_chart(t: pl.DataFrame, i: int, survey_type: str, config: NpsConfig) -> dict[str, Any] | None:
    """The NPS of each period with its interval as a bar (None when no period has enough answers)."""
    if t["nps"].drop_nulls().is_empty():
        return None
    labels = [p if complete else f"{p}*" for p, complete in zip(t["period"], t["complete"], strict=True)]
    y = [rounded(v, 2) for v in t["nps"]]
    low = [rounded(v, 2) if v is not None else None for v in t["ci_low"]]
    high = [rounded(v, 2) if v is not None else None for v in t["ci_high"]]
    notes = [f"bars: the {config.label} interval", f"gaps: fewer than {count(config.min_n, 'answer')}"]
    if not all(t["complete"]):
        notes.append(f"*: {config.period} not over by the as-of date")
    return {
        "kind": "line",
        "id": f"nps-trend-{i}",
        "title": f"NPS by {config.period}: {survey_type} survey",
        "subtitle": "; ".join(notes),
        "x_kind": "ordinal",
        "series": [{"name": f"NPS ({survey_type})", "x": labels, "y": y, "low": low, "high": high, "markers": True}],
        "x_ticks": every_nth(labels),
        "y_domain": nps_domain(low + y, high + y),
        "zero_line": True,
        "y_format": "num",
        "x_title": config.period,
        "y_title": "NPS (-100 to 100)",
    }


def _trend_table(t: pl.DataFrame, survey_type: str, config: NpsConfig) -> dict[str, Any]:
    rows = []
    for r in t.iter_rows(named=True):
        test = "" if r["significant"] is None else "significant" if r["significant"] else "not significant"
        rows.append(
            [
                r["period"] + ("" if r["complete"] else " (partial)"),
                *_stats(r, config)[:1],
                fmt_num(r["nps"]),
                "" if r["ci_low"] is None else f"{fmt_num(r['ci_low'])} to {fmt_num(r['ci_high'])}",
                fmt_num(r["change"]),
                "" if r["p_value"] is None else f"{r['p_value']:.3f}",
                test,
            ]
        )
    return make_table(
        f"Trend: {survey_type}",
        [config.period, "responses", "NPS", "interval", "change", "p-value", "change test"],
        rows,
        [False, True, True, True, True, True, False],
    )


def _comments(comments: pl.DataFrame) -> dict[str, Any]:
    rows = [
        [
            r["survey_type"],
            "" if r["date"] is None else str(r["date"]),
            str(r["score"]),
            r["customer_id"] or "(anonymous)",
            r["segment"] or "",
            r["comment"],
        ]
        for r in comments.iter_rows(named=True)
    ]
    return make_table(
        f"Latest detractor comments ({len(rows)})",
        ["survey type", "date", "score", "customer", "segment", "comment"],
        rows,
        [False, False, True, False, False, False],
        long=[5],
    )
