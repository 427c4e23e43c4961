"""Campaign uplift: did the customers who got the campaign buy more than the control group?

The outcome of each customer comes from the activity table (:func:`loyalty_cli.stage1.customers.
customer_activity`: customer x day purchases and net value) over the window ``[start, start + window)``:

- **repurchased**: at least one purchase day in the window (a day with a purchase order);
- **revenue**: net value of the window's orders, returns included (a customer who bought nothing has 0).

Per segment (and ``(all)``), treatment vs control:

- **Repurchase rate** difference (treatment - control), its Agresti-Caffo confidence interval (one success
  and one failure added to each group: p~ = (x + 1) / (n + 2), centre p~_t - p~_c, SE
  sqrt(p~_t (1 - p~_t) / (n_t + 2) + p~_c (1 - p~_c) / (n_c + 2))), and the two-proportion z-test p-value
  (pooled SE). The plain Wald interval collapses when a group has no buyer (0% has no spread), and then
  excluded 0 next to a p-value that did not: Agresti-Caffo keeps its coverage at small n and rates near 0.
- **Revenue per customer** difference and its Welch interval (t with Welch-Satterthwaite degrees of
  freedom); every customer counts, zeros included. The p-value is the pooled-variance t-test: a test assumes
  no effect (one distribution for both groups), so it pools the variance as the proportion test pools the
  rate. With a small control group and few buyers, Welch's test leans on the control's noisy variance and
  rejects a true null far too often (simulated: 12% instead of 5% for 361 vs 46 customers, 10% buyers);
  the pooled test stays near 5%. :func:`uplift_warnings` says when a group has few buyers, as the intervals
  (Welch's) may then be too narrow.
- **Minimum detectable effect** (MDE): the smallest true difference the groups would detect with the chosen
  power (default 80%) at the chosen confidence, (z_(1-alpha/2) + z_power) x the pooled SE. When the observed
  difference is smaller than that, the test could not have told it from noise: :func:`uplift_warnings` says
  so and how many customers it would take at the same control share.

Segments with fewer than ``min_n`` customers in either group keep their counts and leave every other number
empty. Randomisation (the hash split of :mod:`loyalty_cli.control`) is what makes the difference causal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from scipy import stats

ALL = "(all)"
MISSING = "(missing)"
TREATMENT = "treatment"
CONTROL = "control"
NO_DIFFERENCE = "no significant difference"
FEW_BUYERS = 10  # fewer buyers than this in a group: the revenue interval is unreliable (warned)
TOO_FEW = "too few customers"


@dataclass(frozen=True)
class UpliftConfig:
    start: date
    window_days: int = 30
    confidence: float = 0.95
    power: float = 0.8
    min_n: int = 30

    @property
    def end(self) -> date:
        """The first day after the window."""
        return self.start + timedelta(days=self.window_days)

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence


def window_coverage(config: UpliftConfig, as_of: date) -> tuple[bool, int]:
    """(whether the window has ended by ``as_of``, how many of its days the data covers)."""
    observed = max(0, min((as_of - config.start).days, config.window_days))
    return config.end <= as_of, observed


def campaign_outcomes(activity: pl.LazyFrame, groups: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """One row per customer of ``groups`` (``customer_id, group`` [+ ``segment``]) with ``purchase_days,
    purchases, revenue, repurchased`` over ``[start, end)``. Customers without activity there get zeros."""
    window = (
        activity.filter(pl.col("day").is_between(start, end, closed="left"))
        .group_by("customer_id")
        .agg(
            (pl.col("purchases") > 0).sum().cast(pl.UInt32).alias("purchase_days"),
            pl.col("purchases").sum().cast(pl.UInt32).alias("purchases"),
            pl.col("net_cents").sum().alias("net_cents"),
        )
    )
    return (
        groups.join(window, on="customer_id", how="left")
        .with_columns(
            pl.col("purchase_days").fill_null(0),
            pl.col("purchases").fill_null(0),
            (pl.col("net_cents").fill_null(0) / 100).alias("revenue"),
        )
        .with_columns((pl.col("purchase_days") > 0).alias("repurchased"))
        .drop("net_cents")
    )


_SUMS = ("customers", "repurchasers", "revenue_mean", "revenue_var", "revenue_total")


def group_stats(outcomes: pl.LazyFrame, *, by: str | None = None) -> pl.LazyFrame:
    """Sufficient statistics per segment and group, wide: ``segment`` then ``treatment_customers,
    treatment_repurchasers, treatment_revenue_mean, treatment_revenue_var, treatment_revenue_total`` and the
    same for ``control_``. The first row is ``(all)``; segments follow in name order."""
    aggs = [
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("repurchased").sum().cast(pl.Int64).alias("repurchasers"),
        pl.col("revenue").mean().alias("revenue_mean"),
        pl.col("revenue").var(ddof=1).alias("revenue_var"),
        pl.col("revenue").sum().alias("revenue_total"),
    ]
    parts = [outcomes.group_by("group").agg(aggs).with_columns(pl.lit(ALL).alias("segment"), pl.lit(0).alias("_o"))]
    if by is not None:
        parts.append(
            outcomes.with_columns(pl.col(by).cast(pl.String).fill_null(MISSING).alias("segment"))
            .group_by("segment", "group")
            .agg(aggs)
            .with_columns(pl.lit(1).alias("_o"))
        )
    long = pl.concat(parts, how="diagonal")
    side = {
        g: long.filter(pl.col("group") == g).select("segment", "_o", *(pl.col(c).alias(f"{g}_{c}") for c in _SUMS))
        for g in (TREATMENT, CONTROL)
    }
    return (
        side[TREATMENT]
        .join(side[CONTROL], on=["segment", "_o"], how="full", coalesce=True)
        .with_columns(
            pl.col(f"{g}_{c}").fill_null(0)
            for g in (TREATMENT, CONTROL)
            for c in ("customers", "repurchasers", "revenue_total")
        )
        .sort("_o", "segment")
        .drop("_o")
    )


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    return 2.0 * stats.norm.sf(np.abs(z))


def uplift_table(group_stats: pl.DataFrame, config: UpliftConfig) -> pl.DataFrame:
    """Differences, intervals, p-values and MDEs from :func:`group_stats` (a few rows: NumPy over columns).

    Columns: ``segment, treatment_customers, control_customers``, then for ``repurchase`` (rates) and
    ``revenue`` (per customer): ``treatment_*, control_*, *_diff, *_diff_low, *_diff_high, *_p_value,
    *_mde, *_verdict``, plus ``repurchase_lift`` (diff / control rate) and ``incremental_revenue`` (revenue
    diff x treated customers: what the campaign added, in money)."""
    s = group_stats
    n_t = s["treatment_customers"].to_numpy().astype(float)
    n_c = s["control_customers"].to_numpy().astype(float)
    is_all = (s["segment"] == ALL).to_numpy()
    enough = (n_t >= config.min_n) & (n_c >= config.min_n)
    usable = (enough | is_all) & (n_t > 0) & (n_c > 0)
    z_crit = float(stats.norm.ppf(1 - config.alpha / 2))
    z_power = float(stats.norm.ppf(config.power))
    with np.errstate(divide="ignore", invalid="ignore"):
        # repurchase: two proportions
        p_t = s["treatment_repurchasers"].to_numpy() / n_t
        p_c = s["control_repurchasers"].to_numpy() / n_c
        d_p = p_t - p_c
        # the interval: Agresti-Caffo (see the module docstring)
        a_t = (s["treatment_repurchasers"].to_numpy() + 1) / (n_t + 2)
        a_c = (s["control_repurchasers"].to_numpy() + 1) / (n_c + 2)
        centre_p = a_t - a_c
        se_p = np.sqrt(a_t * (1 - a_t) / (n_t + 2) + a_c * (1 - a_c) / (n_c + 2))
        pooled = (s["treatment_repurchasers"].to_numpy() + s["control_repurchasers"].to_numpy()) / (n_t + n_c)
        se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        p_val_p = np.where(se_pooled > 0, _two_sided_p(d_p / se_pooled), np.where(d_p == 0, 1.0, 0.0))
        mde_p = (z_crit + z_power) * se_pooled
        lift = np.where(p_c > 0, d_p / p_c, np.nan)
        # revenue per customer: Welch
        m_t = s["treatment_revenue_mean"].fill_null(np.nan).to_numpy().astype(float)
        m_c = s["control_revenue_mean"].fill_null(np.nan).to_numpy().astype(float)
        v_t = s["treatment_revenue_var"].fill_null(np.nan).to_numpy().astype(float)
        v_c = s["control_revenue_var"].fill_null(np.nan).to_numpy().astype(float)
        d_r = m_t - m_c
        a, b = v_t / n_t, v_c / n_c
        se_r = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n_t - 1) + b**2 / (n_c - 1))
        t_crit = stats.t.ppf(1 - config.alpha / 2, np.where(df > 0, df, 1.0))
        t_crit = np.where(se_r > 0, t_crit, 0.0)
        pooled_var = ((n_t - 1) * v_t + (n_c - 1) * v_c) / (n_t + n_c - 2)
        se_r0 = np.sqrt(pooled_var * (1 / n_t + 1 / n_c))  # under the null: one variance for both groups
        p_val_r = np.where(
            se_r0 > 0,
            2.0 * stats.t.sf(np.abs(d_r / se_r0), np.maximum(n_t + n_c - 2, 1.0)),
            np.where(d_r == 0, 1.0, 0.0),
        )
        mde_r = (z_crit + z_power) * se_r0
    rev_ok = usable & (n_t >= 2) & (n_c >= 2)

    def col(values: np.ndarray, ok: np.ndarray) -> pl.Series:
        out = np.where(ok & np.isfinite(values), values, np.nan)
        return pl.Series(out, dtype=pl.Float64).fill_nan(None)

    def verdict(diff: np.ndarray, p: np.ndarray, ok: np.ndarray) -> list[str]:
        sig = ok & (p < config.alpha)
        words = np.where(
            ~ok,
            TOO_FEW,
            np.where(
                sig & (diff > 0), "treatment higher", np.where(sig & (diff < 0), "treatment lower", NO_DIFFERENCE)
            ),
        )
        return words.tolist()

    return pl.DataFrame(
        {
            "segment": s["segment"],
            "treatment_customers": s["treatment_customers"],
            "control_customers": s["control_customers"],
            "treatment_repurchase_rate": col(p_t, usable),
            "control_repurchase_rate": col(p_c, usable),
            "repurchase_diff": col(d_p, usable),
            "repurchase_diff_low": col(centre_p - z_crit * se_p, usable),
            "repurchase_diff_high": col(centre_p + z_crit * se_p, usable),
            "repurchase_lift": col(lift, usable),
            "repurchase_p_value": col(p_val_p, usable),
            "repurchase_mde": col(mde_p, usable),
            "repurchase_verdict": verdict(d_p, p_val_p, usable),
            "treatment_revenue_per_customer": col(m_t, usable),
            "control_revenue_per_customer": col(m_c, usable),
            "revenue_diff": col(d_r, usable),
            "revenue_diff_low": col(d_r - t_crit * se_r, rev_ok),
            "revenue_diff_high": col(d_r + t_crit * se_r, rev_ok),
            "revenue_p_value": col(p_val_r, rev_ok),
            "revenue_mde": col(mde_r, rev_ok),
            "revenue_verdict": verdict(d_r, p_val_r, rev_ok),
            "incremental_revenue": col(d_r * n_t, usable),
        }
    )


def required_customers(diff: float, variance_factor: float, *, config: UpliftConfig) -> float:
    """Customers in total (treatment + control) to detect ``diff`` with the configured power:
    (z_(1-alpha/2) + z_power)^2 x V / diff^2, where V = var_t / (1 - s) + var_c / s for a control share s."""
    z = float(stats.norm.ppf(1 - config.alpha / 2) + stats.norm.ppf(config.power))
    return z * z * variance_factor / (diff * diff)


def _few_buyers(row: dict, srow: dict) -> list[str]:
    """The warning when a group has fewer than :data:`FEW_BUYERS` buyers in the window (none: an empty list)."""
    notes: list[str] = []
    buyers = {"treatment": srow["treatment_repurchasers"], "control": srow["control_repurchasers"]}
    few = {g: b for g, b in buyers.items() if b < FEW_BUYERS}
    if few and row["repurchase_diff"] is not None:
        which = " and ".join(f"{b:,} {g}" for g, b in few.items())
        notes.append(
            f"Only {which} customer{'s' if sum(few.values()) != 1 else ''} bought in the window: the "
            "intervals rest on very few purchases and may be too narrow"
        )
    return notes


def uplift_warnings(table: pl.DataFrame, stats_table: pl.DataFrame, config: UpliftConfig) -> list[str]:
    """Warnings about the ``(all)`` row when an observed difference is below its MDE (the groups had less than
    the configured power for an effect of that size):

    - not significant: the groups were too small to detect it, so "no significant difference" is not "no
      effect"; says how many customers it would take at the same control share;
    - significant: an estimate from an underpowered comparison tends to overstate the effect;

    and one when a group has fewer than :data:`FEW_BUYERS` buyers in the window (the intervals lean on them)."""
    row = table.filter(pl.col("segment") == ALL).row(0, named=True)
    srow = stats_table.filter(pl.col("segment") == ALL).row(0, named=True)
    n_t, n_c = row["treatment_customers"], row["control_customers"]
    if not n_t or not n_c:
        return []
    share = n_c / (n_t + n_c)
    power = f"{config.power:.0%} power, {config.confidence:.0%} confidence"
    pooled = (srow["treatment_repurchasers"] + srow["control_repurchasers"]) / (n_t + n_c)
    var_t, var_c = srow["treatment_revenue_var"], srow["control_revenue_var"]
    pooled_var = None
    if var_t is not None and var_c is not None and n_t + n_c > 2:
        pooled_var = ((n_t - 1) * var_t + (n_c - 1) * var_c) / (n_t + n_c - 2)
    metrics = [
        (
            "repurchase",
            "repurchase difference",
            100.0,
            "{:+.1f} points",
            "{:.1f} points",
            pooled * (1 - pooled) * (1 / (1 - share) + 1 / share),
        ),
        (
            "revenue",
            "revenue difference",
            1.0,
            "{:+,.2f} per customer",
            "{:,.2f} per customer",
            pooled_var * (1 / (1 - share) + 1 / share) if pooled_var is not None else None,
        ),
    ]
    notes: list[str] = _few_buyers(row, srow)
    for key, what, scale, shown, mde_shown, variance in metrics:
        diff, mde, p = row[f"{key}_diff"], row[f"{key}_mde"], row[f"{key}_p_value"]
        if diff is None or mde is None or p is None or abs(diff) >= mde:
            continue
        observed = shown.format(diff * scale)
        smallest = mde_shown.format(mde * scale)
        if p < config.alpha:
            notes.append(
                f"The {what} ({observed}) is significant but below the smallest difference these groups "
                f"detect reliably ({smallest}, {power}): an underpowered estimate tends to overstate the "
                "effect"
            )
            continue
        text = (
            f"Groups too small to detect the observed {what} ({observed}): with {n_t:,} and {n_c:,} customers "
            f"the smallest detectable difference is {smallest} ({power}), so no significant difference does "
            "not mean no effect"
        )
        if diff != 0 and variance is not None:
            need = required_customers(diff, variance, config=config)
            text += f"; about {need:,.0f} customers in total at this control share would detect it"
        notes.append(text)
    return notes
