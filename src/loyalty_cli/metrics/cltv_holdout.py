"""The holdout check of the CLV models: calibration predictions (:func:`loyalty_cli.metrics.cltv_fitting.fit_cltv`)
against what happened in [calibration_as_of, as_of): per customer, by calibration frequency, and the
tracking curve. The conventions are those of :mod:`loyalty_cli.metrics.cltv`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from loyalty_cli.metrics.cltv import CltvFit
from loyalty_cli.stage1.activity_parts import Activity, each_part, stacked, with_customers

#: calibration frequency buckets of the holdout table: 0, 1, ..., 6 and "7+"
FREQUENCY_BUCKETS = 7


@dataclass(frozen=True)
class Holdout:
    """Calibration predictions against what happened in [calibration_as_of, as_of)."""

    calibration_as_of: date
    as_of: date
    length_units: float
    customers: pl.DataFrame  # per customer: predicted and actual holdout purchases and spend
    summary: dict[str, float | int]
    by_frequency: pl.DataFrame
    tracking: pl.DataFrame


def holdout_actuals(activity: Activity, *, start: date, end: date) -> pl.LazyFrame:
    """Per customer: purchase days and net value in [start, end); spend = mean of the per-day sums (the activity
    in parts: one part at a time, the parts' customers stacked)."""
    parts = each_part(activity)
    if len(parts) > 1:
        return stacked([_actuals(part, start=start, end=end).collect() for part in parts]).lazy()
    return _actuals(parts[0], start=start, end=end)


def _actuals(activity: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    days = activity.filter((pl.col("day") >= start) & (pl.col("day") < end) & (pl.col("purchases") > 0))
    return days.group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("actual_purchases"),
        (pl.col("net_cents").sum() / 100).alias("actual_value"),
        (pl.col("net_cents").mean() / 100).alias("actual_mean_spend"),
    )


def _tracking(fit: CltvFit, activity: Activity, *, start: date, end: date) -> pl.DataFrame:
    """Weekly cumulative repeat purchase days of the calibration customers, actual and expected.

    Expected at day D is sum over customers of E[X(D - first purchase)] (the model's new-customer curve),
    computed as a convolution of first-purchase-day counts with the curve on a daily grid."""
    firsts = fit.customers.select("customer_id", "first_purchase")
    origin = firsts["first_purchase"].min()
    assert isinstance(origin, date)
    n_days = (end - origin).days
    first_idx = firsts.select((pl.col("first_purchase") - pl.lit(origin)).dt.total_days())[:, 0].to_numpy()
    counts = np.bincount(first_idx, minlength=n_days + 1).astype(np.float64)
    curve = fit.purchase.expected_purchases_new(np.arange(n_days + 1) / fit.config.unit_days)
    expected = np.convolve(counts, curve)[: n_days + 1]
    repeats = np.zeros(n_days + 1, dtype=np.int64)  # repeat purchase days per day, counted part by part
    for mine, part in with_customers(firsts.lazy(), activity):
        repeat_days = (
            part.join(mine, on="customer_id", how="inner")
            .filter((pl.col("purchases") > 0) & (pl.col("day") > pl.col("first_purchase")) & (pl.col("day") < end))
            .select((pl.col("day") - pl.lit(origin)).dt.total_days().alias("d"))
            .collect()["d"]
            .to_numpy()
        )
        repeats += np.bincount(repeat_days, minlength=n_days + 1)[: n_days + 1]
    actual_cum = np.cumsum(repeats)  # repeat days on days <= d
    boundaries = np.arange(7, n_days + 1, 7)  # week ends (exclusive day index)
    if boundaries.size == 0 or boundaries[-1] != n_days:
        boundaries = np.append(boundaries, n_days)
    week_end = [origin + timedelta(days=int(b)) for b in boundaries]
    return pl.DataFrame(
        {
            "week": np.arange(1, boundaries.size + 1),
            "period_end": week_end,  # exclusive
            "period": ["holdout" if d > start else "calibration" for d in week_end],
            "actual_cumulative": actual_cum[boundaries - 1].astype(np.int64),
            "expected_cumulative": expected[boundaries],
        }
    )


def holdout_check(fit: CltvFit, activity: Activity, *, as_of: date) -> Holdout:
    """Compare the calibration fit's predictions for [fit.as_of, as_of) with what happened."""
    start = fit.as_of
    length = (as_of - start).days / fit.config.unit_days
    c = fit.customers
    x = c["frequency"].to_numpy().astype(np.float64)
    unit = fit.config.unit
    t_x, t_end = c[f"recency_{unit}s"].to_numpy(), c[f"T_{unit}s"].to_numpy()
    actual = holdout_actuals(activity, start=start, end=as_of).collect()
    per_customer = (
        c.select("customer_id", "frequency", "p_alive", "expected_spend")
        .with_columns(pl.Series("predicted_purchases", fit.purchase.expected_purchases(length, x, t_x, t_end)))
        .join(actual, on="customer_id", how="left")
        .with_columns(pl.col("actual_purchases", "actual_value").fill_null(0))
        .with_columns((pl.col("predicted_purchases") * pl.col("expected_spend")).alias("predicted_value"))
    )
    err = per_customer["predicted_purchases"] - per_customer["actual_purchases"]
    buyers = per_customer.filter(pl.col("actual_purchases") > 0)
    summary: dict[str, float | int] = {
        "customers": per_customer.height,
        "holdout_days": (as_of - start).days,
        "actual_purchases": int(per_customer["actual_purchases"].sum()),
        "predicted_purchases": float(per_customer["predicted_purchases"].sum()),
        "mae": float(err.abs().mean()),  # type: ignore[arg-type]
        "rmse": float(math.sqrt(float((err**2).mean()))),  # type: ignore[arg-type]
        "actual_value": float(per_customer["actual_value"].sum()),
        "predicted_value": float(per_customer["predicted_value"].sum()),
        "buyers": buyers.height,
        "actual_mean_spend": float(buyers["actual_mean_spend"].mean() or 0.0),  # type: ignore[arg-type]
        "predicted_mean_spend": float(buyers["expected_spend"].mean() or 0.0),  # type: ignore[arg-type]
    }
    summary["purchases_ratio"] = (
        summary["predicted_purchases"] / summary["actual_purchases"] if summary["actual_purchases"] else math.nan
    )
    top = FREQUENCY_BUCKETS
    by_frequency = (
        per_customer.with_columns(
            pl.when(pl.col("frequency") >= top)
            .then(pl.lit(f"{top}+"))
            .otherwise(pl.col("frequency").cast(pl.String))
            .alias("calibration_frequency"),
            pl.col("frequency").clip(upper_bound=top).alias("_order"),
        )
        .group_by("calibration_frequency", "_order")
        .agg(
            pl.len().alias("customers"),
            # each group's values sorted, then added in sequence: a float mean that does not depend on the order
            # the group-by's threads deliver the rows (Polars' sum depends on it, even after a sort)
            *(
                (pl.col(c).cast(pl.Float64).sort().cum_sum().last() / pl.len()).alias(f"{c.split('_')[0]}_mean")
                for c in ("actual_purchases", "predicted_purchases")
            ),
        )
        .sort("_order")
        .drop("_order")
    )
    return Holdout(
        calibration_as_of=start,
        as_of=as_of,
        length_units=length,
        customers=per_customer.select(
            "customer_id", "frequency", "predicted_purchases", "actual_purchases", "predicted_value", "actual_value"
        ),
        summary=summary,
        by_frequency=by_frequency,
        tracking=_tracking(fit, activity, start=start, end=as_of),
    )
