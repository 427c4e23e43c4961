"""The statistics of NPS answers counted per group: shares, NPS, standard error, interval and the test of a
change; over the answers prepared by :func:`loyalty_cli.metrics.nps.prepare_responses`.

With p and d the promoter and detractor shares of n answers (NPS = 100 (p - d)):

- SE = sqrt((p + d - (p - d)^2) / n) (x 100 in points).
- Intervals: ``adjusted-wald`` (default): the Wald interval after adding 3/4 to the promoter and the
  detractor counts and 3 to n, which behaves at small n (5 promoters out of 5: 62.5 +/- 45, not 100 +/- 0);
  ``wald``: NPS +/- z SE; ``bootstrap``: percentiles of NPS over resamples of the answers. Bounds are
  clipped to [-100, 100] (the point estimate never is).
- Change between two periods: z = (NPS2 - NPS1) / sqrt(SE1^2 + SE2^2), two-sided normal p-value.
- Groups with fewer than ``min_n`` counted answers keep their counts but get no shares, score or interval
  (``suppressed``).

Pure functions over LazyFrames, no I/O; the bootstrap runs vectorised in NumPy inside the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from loyalty_cli.metrics.nps import NpsConfig


def category_counts(weight: str | None) -> list[pl.Expr]:
    """The aggregations of a group's answers: ``responses`` (counted), ``promoters``, ``passives``,
    ``detractors`` and the answers not counted (``non_responses``, ``duplicates``, ``repeats``); with ``weight``
    (a money column) also its sums over the counted answers, in cents, for :func:`with_stats`."""
    counted = pl.col("status") == "counted"
    category = pl.col("nps_category")
    aggs = [
        counted.sum().alias("responses"),
        (counted & (category == "promoter")).sum().alias("promoters"),
        (counted & (category == "passive")).sum().alias("passives"),
        (counted & (category == "detractor")).sum().alias("detractors"),
        (pl.col("status") == "non-response").sum().alias("non_responses"),
        (pl.col("status") == "duplicate").sum().alias("duplicates"),
        (pl.col("status") == "repeat").sum().alias("repeats"),
    ]
    if weight is not None:
        # Money weights summed in whole cents: exact, so the answers' order never changes a digit.
        w = pl.when(counted & (pl.col(weight) > 0)).then((pl.col(weight) * 100).round().cast(pl.Int64)).otherwise(0)
        aggs += [
            (counted & (pl.col(weight) > 0)).sum().alias("_w_n"),
            w.sum().alias("_w_total"),
            pl.when(category == "promoter").then(w).otherwise(0).sum().alias("_w_promoters"),
            pl.when(category == "detractor").then(w).otherwise(0).sum().alias("_w_detractors"),
        ]
    return aggs


def with_stats(counts: pl.LazyFrame, *, config: NpsConfig, weight: str | None = None) -> pl.LazyFrame:
    """Shares, NPS, SE and interval from ``responses, promoters, passives, detractors`` columns."""
    n = pl.col("responses").cast(pl.Float64)
    prom, det = pl.col("promoters").cast(pl.Float64), pl.col("detractors").cast(pl.Float64)
    p, d = prom / n, det / n
    z = config.z
    if config.interval == "bootstrap":
        bounds = pl.struct("promoters", "passives", "detractors").map_batches(
            lambda s: _bootstrap_batch(s, config), return_dtype=pl.Struct({"lo": pl.Float64, "hi": pl.Float64})
        )
        low, high = bounds.struct.field("lo"), bounds.struct.field("hi")
    else:
        if config.interval == "adjusted-wald":
            n_adj = n + 3
            p_adj, d_adj = (prom + 0.75) / n_adj, (det + 0.75) / n_adj
        else:
            n_adj, p_adj, d_adj = n, p, d
        centre = 100 * (p_adj - d_adj)
        margin = z * 100 * ((p_adj + d_adj - (p_adj - d_adj) ** 2).clip(lower_bound=0) / n_adj).sqrt()
        low, high = centre - margin, centre + margin
    shown = pl.col("responses") >= config.min_n

    def keep(expr: pl.Expr) -> pl.Expr:
        return pl.when(shown).then(expr)  # min_n >= 1, so never a division by 0

    stats = [
        keep(p).alias("share_promoters"),
        keep(pl.col("passives") / n).alias("share_passives"),
        keep(d).alias("share_detractors"),
        keep(100 * (p - d)).alias("nps"),
        keep(100 * ((p + d - (p - d) ** 2).clip(lower_bound=0) / n).sqrt()).alias("se"),
        keep(low.clip(-100, 100)).alias("ci_low"),
        keep(high.clip(-100, 100)).alias("ci_high"),
        (~shown).alias("suppressed"),
        pl.lit(config.label).alias("ci_method"),
    ]
    weighted: list[str] = []
    if weight is not None:
        wn = pl.col("_w_total")
        stats.append(
            pl.when((pl.col("_w_n") >= config.min_n) & (wn > 0))
            .then(100 * (pl.col("_w_promoters") - pl.col("_w_detractors")) / wn)
            .alias(f"nps_weighted_by_{weight}")
        )
        stats.append((pl.col("_w_total") / 100).alias(f"{weight}_total"))
        weighted = [f"nps_weighted_by_{weight}", f"{weight}_total"]
    names = counts.collect_schema().names()
    groups = names[: names.index("responses")]
    return counts.with_columns(stats).select(
        *groups,
        "responses",
        "promoters",
        "passives",
        "detractors",
        "share_promoters",
        "share_passives",
        "share_detractors",
        "nps",
        "se",
        "ci_low",
        "ci_high",
        "ci_method",
        "suppressed",
        *weighted,
        "non_responses",
        "duplicates",
        "repeats",
    )


def _bootstrap_batch(counts: pl.Series, config: NpsConfig) -> pl.Series:
    frame = counts.struct.unnest()
    low, high = bootstrap_interval(
        frame["promoters"].to_numpy(),
        frame["passives"].to_numpy(),
        frame["detractors"].to_numpy(),
        confidence=config.confidence,
        samples=config.bootstrap_samples,
        seed=config.seed,
    )
    return pl.DataFrame({"lo": low, "hi": high}, nan_to_null=True).to_struct()


def bootstrap_interval(
    promoters: np.ndarray,
    passives: np.ndarray,
    detractors: np.ndarray,
    *,
    confidence: float,
    samples: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of NPS for each group of counts (NaN where there are no answers).

    Resampling n answers with replacement gives multinomial counts; they are drawn as P* ~ Bin(n, p), then
    D* ~ Bin(n - P*, d / (1 - p)), by inverting the binomial CDF at the same seeded uniforms for every
    group. All groups and samples in one vectorised step, and a group's interval depends only on its counts
    and the seed (not on which other groups are in the table or in what order)."""
    from scipy.stats import binom

    prom = np.asarray(promoters, dtype=np.float64)[:, None]
    det = np.asarray(detractors, dtype=np.float64)[:, None]
    n = prom + np.asarray(passives, dtype=np.float64)[:, None] + det
    u = 1.0 - np.random.default_rng(seed).random((2, samples))  # in (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, prom / n, 0.0)
        q = np.where(n - prom > 0, det / (n - prom), 0.0)  # P(detractor | not a promoter)
        prom_star = binom.ppf(u[0][None, :], n, p)
        det_star = binom.ppf(u[1][None, :], n - prom_star, q)
        scores = 100 * (prom_star - det_star) / n
    alpha = 1 - confidence
    low, high = np.quantile(scores, [alpha / 2, 1 - alpha / 2], axis=1)
    empty = n[:, 0] == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def two_sided_p(z: pl.Series) -> pl.Series:
    """The two-sided normal p-value of each z of a change (null where z is null)."""
    from scipy.special import ndtr

    values = z.cast(pl.Float64).to_numpy()
    return pl.Series(z.name, 2 * ndtr(-np.abs(values)), nan_to_null=True)
