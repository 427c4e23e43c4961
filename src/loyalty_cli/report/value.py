"""The sections on what customers are worth and when they come back: CLV and the second purchase."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_money, fmt_num, fmt_pct, make_section, make_table, rounded
from loyalty_cli.words import count

#: bin widths are one of these times a power of ten
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_step(top: float, bins: int = 10) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) giving at most ``bins`` bins from 0 to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / bins
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in NICE_STEPS if m * power >= raw * (1 - 1e-9))


def _edge(value: float, step: float) -> str:
    """A bin edge with the decimals its width needs (none for whole steps)."""
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > 1e-9 * max(step, 1.0):
        decimals += 1
    return f"{value:,.{decimals}f}"


def histogram(values: pl.Series, bins: int = 12, upto: float = 0.95) -> tuple[list[str], list[int]]:
    """Counts of values in round bins from 0 (:func:`nice_step`, up to the ``upto`` quantile; the last bin,
    ``N+``, holds everything from its lower edge up; negative values count in the first)."""
    clean = values.drop_nulls().sort()
    if clean.is_empty():
        return [], []
    top = float(clean.quantile(upto, interpolation="nearest") or 0.0)  # type: ignore[arg-type]
    step = nice_step(top, bins)
    n = max(1, math.ceil(top / step - 1e-9))
    index = (clean / step).floor().cast(pl.Int64).clip(0, n - 1)
    counts = [0] * n
    for k, c in index.value_counts().sort(index.name).iter_rows():
        counts[k] = int(c)
    labels = [f"{_edge(k * step, step)}-{_edge((k + 1) * step, step)}" for k in range(n - 1)]
    return [*labels, f"{_edge((n - 1) * step, step)}+"], counts


def day_ticks(last: int) -> list[int]:
    """Days to label on an axis from 0 to ``last``: every 30 days, 90 beyond 8 months, 365 beyond 3 years."""
    step = 30 if last <= 240 else 90 if last <= 1095 else 365
    return list(range(0, last + 1, step))


def clv_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    if data.clv is None:
        return make_section("clv", "Customer lifetime value", missing=f"CLV: not available: {data.clv_missing}")
    fit = data.clv
    s = fit.config.suffix
    # the columns read one at a time, and the top rows: never every customer's row with every column (4.8M
    # customers: ~1.2 GB)
    clv = fit.column(f"predicted_clv_{s}")
    money = settings.money
    horizon = fit.config.horizon_months
    labels, counts = histogram(clv)
    chart = {
        "kind": "columns",
        "id": "clv-distribution",
        "title": f"Customers by predicted {horizon}-month CLV",
        "subtitle": f"{count(sum(counts), 'customer')}; the last bin holds everyone from {labels[-1][:-1]} up"
        if labels
        else "no customer",
        "labels": labels,
        "values": counts,
        "text": [fmt_int(n) for n in counts],
        "x_title": money.header(f"predicted {horizon}-month CLV"),
        "y_title": "customers",
        "y_format": "int",
    }
    totals = fit.totals()
    tiers = (
        pl.DataFrame([fit.column("value_tier"), clv])
        .group_by("value_tier")
        .agg(pl.len().alias("customers"), pl.col(f"predicted_clv_{s}").sum().alias("clv"))
        .with_columns(pl.col("value_tier").replace_strict({"high": 0, "medium": 1, "low": 2}, default=3).alias("_o"))
        .sort("_o")
    )
    tier_table = make_table(
        "Value tiers",
        ["tier", "customers", money.header("predicted CLV"), "share"],
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
    top = fit.rows.head(settings.top)
    top_table = make_table(
        f"Top {count(top.height, 'customer')} by predicted CLV",
        [
            "customer",
            "tier",
            money.header("predicted CLV"),
            "expected purchases",
            "P(alive)",
            money.header("expected spend"),
            money.header("historical value"),
        ],
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
        f"{money(totals[f'predicted_clv_{s}'])} in total, {fmt_num(totals[f'expected_purchases_{s}'])} "
        f"expected purchase days, mean P(alive) {fmt_num(totals['mean_p_alive'], 2)}."
    ]
    return make_section("clv", "Customer lifetime value", intro=intro, charts=[chart], tables=[tier_table, top_table])


def second_purchase_section(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    assert data.second_summary is not None and data.second_curve is not None and data.second_shares is not None
    money = settings.money
    row = data.second_summary.row(0, named=True)
    curve = data.second_curve.sort("day")
    window = (row["window_from_days"], row["window_to_days"])
    x = [int(d) for d in curve["day"]]
    last = max(x) if x else 1
    chart = {
        "kind": "line",
        "id": "second-purchase-curve",
        "title": "First-time buyers who bought again, by days since their first purchase",
        "subtitle": "Kaplan-Meier estimate (customers not yet observed that long count until they drop out)"
        + ("; shaded: the second-purchase window" if window[0] is not None else ""),
        "x_kind": "quantitative",
        "interpolate": "step-after",
        "series": [
            {"name": "bought again (Kaplan-Meier)", "x": x, "y": [rounded(v) for v in curve["repurchased_share"]]}
        ],
        "x_ticks": day_ticks(last),
        "y_format": "pct",
        "x_title": "days since the first purchase",
        "y_title": "bought again (% of first-time buyers)",
        "shade": [window[0], window[1], f"window: days {window[0]}-{window[1]}"] if window[0] is not None else None,
    }
    shares = data.second_shares.sort("within_days")
    table = make_table(
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
            make_table(
                "Net spend of the first purchase day and the 365 days after it, by days to the second "
                "purchase (a correlation, not the effect of a nudge)",
                [
                    "second purchase",
                    "customers",
                    "share",
                    money.header("mean spend"),
                    money.header("median spend"),
                ],
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
    return make_section("second-purchase", "Second purchase", intro=intro, charts=[chart], tables=tables)
