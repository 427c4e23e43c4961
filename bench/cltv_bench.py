"""Benchmark: ``loyalty cltv`` after the summary, for 1M customers (issue 4: well under 10 s).

Simulates a BG/NBD shop (r 0.25, alpha 4 weeks, a 0.8, b 2.5; first purchases over a year, 18 months of
data), builds the customer x day activity table in memory (stage 1's output, so the file read is not
timed), then times, in the same process and the same run:

- floor: a plain Polars group-by over the activity table (first/last day, purchase days, sum of value);
- calibration summary (BTYD inputs) from the activity table;
- fit: BG/NBD (or --model) and Gamma-Gamma by maximum likelihood on the compressed patterns;
- predictions: P(alive), P(no purchase), expected purchases, expected spend, discounted CLV, tiers;
- holdout check (--holdout): predictions for the last 13 weeks vs what happened, tracking curve.

    python bench/cltv_bench.py                       # 1M customers, weekly, BG/NBD, 3 runs
    python bench/cltv_bench.py --customers 2e5 --model pnbd --unit day --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta

import numpy as np
import polars as pl

from loyalty_cli.metrics.cltv import CltvConfig, calibration_summary
from loyalty_cli.metrics.cltv_fitting import fit_cltv
from loyalty_cli.metrics.cltv_holdout import holdout_check

START = date(2023, 1, 1)
DAYS = 548  # 18 months of data; as_of = START + DAYS
MAX_REPEATS = 40


def simulate(customers: int, seed: int = 1) -> pl.DataFrame:
    """customer x day activity of a BG/NBD population (vectorised; at most MAX_REPEATS repeat days each)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.25, 1 / 4.0, customers) / 7.0  # purchases per day
    p = rng.beta(0.8, 2.5, customers)
    first = rng.integers(0, 365, customers)
    gaps = rng.exponential(1.0, (customers, MAX_REPEATS)) / np.maximum(lam, 1e-9)[:, None]
    when = first[:, None] + np.cumsum(gaps, axis=1)
    # BG/NBD: after each repeat purchase the customer drops out with probability p (never right after the
    # first purchase: that is MBG/NBD), so the repeats made before dropping out are geometric on 1, 2, ...
    alive_repeats = rng.geometric(p)
    keep = (np.arange(MAX_REPEATS)[None, :] < alive_repeats[:, None]) & (when < DAYS)
    cust = np.repeat(np.arange(customers), keep.sum(axis=1))
    day = np.concatenate([first, when[keep].astype(np.int64)])
    cust = np.concatenate([np.arange(customers), cust])
    spend = rng.gamma(6.0, 1.0, customers) * 4.0  # each customer's mean spend
    cents = np.maximum(1, rng.gamma(4.0, spend[cust] / 4.0) * 100).astype(np.int64)
    frame = pl.DataFrame(
        {
            "customer_id": pl.Series(cust).cast(pl.String).str.zfill(8),
            "day": pl.Series(day + (START - date(1970, 1, 1)).days).cast(pl.Int32).cast(pl.Date),
            "purchases": pl.Series(np.ones(cust.size, dtype=np.uint32)),
            "net_cents": cents,
        }
    )
    return frame.group_by("customer_id", "day").agg(pl.col("purchases").sum(), pl.col("net_cents").sum())


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def floor(lazy: pl.LazyFrame) -> pl.DataFrame:
    return (
        lazy.group_by("customer_id")
        .agg(pl.col("day").min().alias("first"), pl.col("day").max().alias("last"), pl.len(), pl.col("net_cents").sum())
        .collect()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=float, default=1e6)
    parser.add_argument("--model", default="bgnbd")
    parser.add_argument("--unit", default="week")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--holdout", action="store_true", help="also time the holdout check (13 weeks)")
    args = parser.parse_args()
    activity, seconds = timed(simulate, int(args.customers))
    as_of = START + timedelta(days=DAYS)
    print(
        f"{activity['customer_id'].n_unique():,} customers, {activity.height:,} customer-days "
        f"(simulated in {seconds:.1f} s); model {args.model}, unit {args.unit}"
    )
    config = CltvConfig(model=args.model, unit=args.unit)  # type: ignore[arg-type]
    fit_end = as_of - timedelta(days=91) if args.holdout else as_of
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        lazy = activity.lazy()
        _, t_floor = timed(floor, lazy)
        summary, t_summary = timed(calibration_summary(lazy, before=fit_end, unit=args.unit).collect)
        fit, t_fit_predict = timed(fit_cltv, summary, config, as_of=fit_end)
        stages = {"floor group-by": t_floor, "calibration summary": t_summary, "fit + predictions": t_fit_predict}
        if args.holdout:
            _, stages["holdout check"] = timed(holdout_check, fit, activity, as_of=as_of)
        stages["total after stage 1"] = sum(v for k, v in stages.items() if k != "floor group-by")
        for k, v in stages.items():
            rows.setdefault(k, []).append(v)
    p = fit.purchase
    print(
        f"{p.label}: {p.n_customers:,} customers in {p.n_patterns:,} patterns, {p.iterations} iterations, "
        f"params " + ", ".join(f"{k} {v:.4g}" for k, v in p.params.items())
    )
    print("| stage | median s |\n| --- | --- |")
    for k, v in rows.items():
        print(f"| {k} | {statistics.median(v):.2f} |")


if __name__ == "__main__":
    main()
