"""Net Promoter Score with honest uncertainty: shares, NPS, standard error and interval, trends with a test
of each change, and breakdowns. Per-customer latest scores, the closed-loop lists and the tables of a run are in
:mod:`loyalty_cli.metrics.nps_lists`.

Definitions (``metrics.md``): promoters answer 9-10, passives 7-8, detractors 0-6; NPS = %P - %D, in points
from -100 to 100. With p and d the promoter and detractor shares of n answers:

- SE = sqrt((p + d - (p - d)^2) / n) (x 100 in points).
- Intervals: ``adjusted-wald`` (default): the Wald interval after adding 3/4 to the promoter and the
  detractor counts and 3 to n, which behaves at small n (5 promoters out of 5: 62.5 +/- 45, not 100 +/- 0);
  ``wald``: NPS +/- z SE; ``bootstrap``: percentiles of NPS over resamples of the answers. Bounds are
  clipped to [-100, 100] (the point estimate never is).
- Change between two periods: z = (NPS2 - NPS1) / sqrt(SE1^2 + SE2^2), two-sided normal p-value;
  ``significant`` when p < 1 - confidence.
- Groups with fewer than ``min_n`` counted answers keep their counts but get no shares, score or interval
  (``suppressed``).

Relational and transactional answers are never pooled: every table is per ``survey_type`` (``"all"`` when
the export has no such column). Every answer gets a ``status``: ``counted``, ``non-response`` (blank/NA
score: excluded from n, counted), ``duplicate`` (the same answer exported twice) or ``repeat`` (an earlier
answer of the same customer dropped by the dedupe policy).

Pure functions over LazyFrames, no I/O; the bootstrap runs vectorised in NumPy inside the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.metrics.periods import EVERY, PERIODS, Period, period_label, truncate_to_period

Interval = Literal["adjusted-wald", "wald", "bootstrap"]
Dedupe = Literal["auto", "latest", "latest-per-period", "all"]

INTERVALS: tuple[str, ...] = ("adjusted-wald", "wald", "bootstrap")
DEDUPES: tuple[str, ...] = ("auto", "latest", "latest-per-period", "all")
CATEGORIES = pl.Enum(["detractor", "passive", "promoter"])
STATUSES = pl.Enum(["counted", "non-response", "duplicate", "repeat"])
ALL_TYPES = "all"  # survey_type when the export has no survey type column
NO_TYPE = "unspecified"  # survey_type when the column is there but blank
# Columns that identify an answer: two rows equal on all of these are one answer exported twice.
_ANSWER = ("customer_id", "responded_at", "score", "comment", "survey_type", "touchpoint", "email")


@dataclass(frozen=True)
class NpsConfig:
    """How answers are counted and how uncertain the result is said to be."""

    interval: Interval = "adjusted-wald"
    confidence: float = 0.95
    min_n: int = 30
    dedupe: Dedupe = "auto"
    period: Period = "quarter"
    bootstrap_samples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ConfigError("interval", f"must be one of {', '.join(INTERVALS)}, got {self.interval!r}")
        if self.dedupe not in DEDUPES:
            raise ConfigError("dedupe", f"must be one of {', '.join(DEDUPES)}, got {self.dedupe!r}")
        if self.period not in PERIODS:
            raise ConfigError("period", f"must be one of {', '.join(PERIODS)}, got {self.period!r}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(
                "confidence",
                f"must be at least 0.5 and below 1, got {self.confidence}",
                hint=f"e.g. {setting('confidence')} 0.95 for a 95% interval.",
            )
        if self.min_n < 1:
            raise ConfigError("min_n", f"must be at least 1, got {self.min_n}")
        if self.bootstrap_samples < 100:
            raise ConfigError("bootstrap_samples", f"must be at least 100, got {self.bootstrap_samples}")

    @property
    def z(self) -> float:
        """The two-sided normal critical value (1.96 for 95%)."""
        from scipy.stats import norm

        return float(norm.ppf(1 - (1 - self.confidence) / 2))

    @property
    def label(self) -> str:
        return f"{self.confidence:.0%} {self.interval}"

    def policy(self, survey_type: str) -> str:
        """The dedupe policy of a survey type: ``auto`` keeps every transactional answer (each rates one
        transaction) and the latest answer per customer and period of any other survey."""
        if self.dedupe != "auto":
            return self.dedupe
        return "all" if survey_type == "transactional" else "latest-per-period"


def nps_category(score: pl.Expr) -> pl.Expr:
    """promoter (9-10), passive (7-8), detractor (0-6); null for no score."""
    return (
        pl.when(score >= 9)
        .then(pl.lit("promoter"))
        .when(score >= 7)
        .then(pl.lit("passive"))
        .when(score >= 0)
        .then(pl.lit("detractor"))
        .cast(CATEGORIES)
    )


def prepare_responses(rows: pl.LazyFrame, *, config: NpsConfig) -> pl.LazyFrame:
    """Survey rows (as :func:`loyalty_cli.io.readers.read_surveys` returns them) with ``survey_type``
    filled in, ``period_start``/``period``, ``nps_category``, ``dedupe`` (the policy applied) and
    ``status``; one row per input row, sorted by time.

    Dedupe policies, per customer and survey type (anonymous answers are always kept):
    ``latest``: the customer's latest answer; ``latest-per-period``: the latest in each period; ``all``:
    every answer; ``auto``: ``all`` for transactional surveys, else ``latest-per-period``. The same answer
    exported twice (same customer, time, score, comment, type, touchpoint and email) is always a
    ``duplicate``. Non-responses never replace a score.
    Ties at the same time: the lower score counts (then the comment, alphabetically), never the row order.
    Answers without a date (a survey with no date column: ``responded_at`` null or missing) have no period and
    count as given at the same time: ``latest`` and ``latest-per-period`` keep a customer's lowest score.
    """
    names = rows.collect_schema().names()
    if "customer_id" not in names:
        rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("customer_id"))
    if "responded_at" not in names:
        rows = rows.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("responded_at"))
    survey_type = pl.col("survey_type").fill_null(NO_TYPE) if "survey_type" in names else pl.lit(ALL_TYPES)
    rows = rows.with_columns(
        survey_type.alias("survey_type"),
        truncate_to_period(pl.col("responded_at"), config.period).alias("period_start"),
    ).with_columns(period_label(pl.col("period_start"), config.period).alias("period"))
    if config.dedupe == "auto":
        policy = (
            pl.when(pl.col("survey_type") == "transactional").then(pl.lit("all")).otherwise(pl.lit("latest-per-period"))
        )
    else:
        policy = pl.lit(config.dedupe)
    rows = rows.with_columns(policy.alias("dedupe"))

    present = [c for c in _ANSWER if c in rows.collect_schema().names()]
    identified = pl.col("customer_id").is_not_null()
    duplicate = identified & (pl.int_range(pl.len()).over(present) > 0)
    candidate = identified & pl.col("score").is_not_null() & ~pl.col("_duplicate")
    bucket = pl.when(pl.col("dedupe") == "latest-per-period").then(pl.col("period_start"))
    # Sorted latest first, then the lower score, then every other column, so the answer kept (the first of
    # its group) is the same whatever the order of the rows in the file.
    others = [
        c for c in rows.collect_schema().names() if c not in ("customer_id", "survey_type", "responded_at", "score")
    ]
    order = ["customer_id", "survey_type", "responded_at", "score", *others]
    descending = [False, False, True, False, *[False] * len(others)]
    rank = pl.int_range(pl.len()).over("customer_id", "survey_type", "_bucket", "_candidate")
    status = (
        pl.when(pl.col("_duplicate"))
        .then(pl.lit("duplicate"))
        .when(pl.col("score").is_null())
        .then(pl.lit("non-response"))
        .when(pl.col("_candidate") & (pl.col("dedupe") != "all") & (rank > 0))
        .then(pl.lit("repeat"))
        .otherwise(pl.lit("counted"))
    )
    return (
        rows.sort(order, descending=descending, nulls_last=True)
        .with_columns(duplicate.alias("_duplicate"), bucket.alias("_bucket"))
        .with_columns(candidate.alias("_candidate"))
        .with_columns(status.cast(STATUSES).alias("status"), nps_category(pl.col("score")).alias("nps_category"))
        .drop("_duplicate", "_bucket", "_candidate")
        .sort("responded_at", "customer_id", "score", nulls_last=True, maintain_order=True)
    )


def _counts(weight: str | None) -> list[pl.Expr]:
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


def _with_stats(counts: pl.LazyFrame, *, config: NpsConfig, weight: str | None = None) -> pl.LazyFrame:
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


def nps_table(
    responses: pl.LazyFrame, *, config: NpsConfig, by: Sequence[str] = (), weight: str | None = None
) -> pl.LazyFrame:
    """One row per survey type (and ``by`` group): counts, shares, NPS, SE, interval, suppression, and the
    answers not counted (non-responses, duplicates, repeats). With ``weight`` (a money column, e.g.
    ``net_spend``, summed in cents), also the NPS with each counted answer weighted by it (answers with no
    or non-positive weight left out)."""
    keys = ["survey_type", *[b for b in by if b != "survey_type"]]
    counts = responses.group_by(keys).agg(_counts(weight)).sort(keys, nulls_last=True)
    return _with_stats(counts, config=config, weight=weight)


def score_distribution(responses: pl.LazyFrame) -> pl.LazyFrame:
    """Counted answers per survey type and score 0-10 (every score listed), with the share of the type."""
    counted = responses.filter(pl.col("status") == "counted")
    types = counted.select(pl.col("survey_type").unique())
    grid = types.join(pl.LazyFrame({"score": pl.Series(range(11), dtype=pl.Int16)}), how="cross")
    counts = counted.group_by("survey_type", pl.col("score").cast(pl.Int16)).agg(pl.len().alias("responses"))
    return (
        grid.join(counts, on=["survey_type", "score"], how="left")
        .with_columns(pl.col("responses").fill_null(0).cast(pl.UInt32))
        .with_columns(
            nps_category(pl.col("score")).alias("nps_category"),
            (pl.col("responses") / pl.col("responses").sum().over("survey_type")).alias("share"),
        )
        .select("survey_type", "score", "nps_category", "responses", "share")
        .sort("survey_type", "score")
    )


def nps_trend(responses: pl.LazyFrame, *, config: NpsConfig, as_of: date | None = None) -> pl.LazyFrame:
    """One row per survey type and calendar period from its first to its last answer (periods without
    answers included, with 0), with the NPS table columns, ``complete`` (the period ended before
    ``as_of``; default: the day after the last answer) and the change from the previous period:
    ``change`` (points), ``z``, ``p_value`` and ``significant`` (null when either period is suppressed).
    Answers without a date are in no period: a survey without dates has no trend (no rows)."""
    every = EVERY[config.period]
    responses = responses.filter(pl.col("period_start").is_not_null())
    counts = responses.group_by("survey_type", "period_start").agg(_counts(None))
    calendar = (
        responses.group_by("survey_type")
        .agg(pl.col("period_start").min().alias("_lo"), pl.col("period_start").max().alias("_hi"))
        .select("survey_type", pl.date_ranges("_lo", "_hi", every).alias("period_start"))
        .explode("period_start")
    )
    zero = ["responses", "promoters", "passives", "detractors", "non_responses", "duplicates", "repeats"]
    table = (
        calendar.join(counts, on=["survey_type", "period_start"], how="left")
        .with_columns(pl.col(c).fill_null(0).cast(pl.UInt32) for c in zero)
        .with_columns(period_label(pl.col("period_start"), config.period).alias("period"))
        .select("survey_type", "period", "period_start", *zero)
        .sort("survey_type", "period_start")
    )
    table = _with_stats(table, config=config)
    if as_of is None:
        last = responses.select((pl.col("responded_at").max().dt.date() + pl.duration(days=1)).alias("_as_of"))
        table = table.join(last, how="cross")
    else:
        table = table.with_columns(pl.lit(as_of, dtype=pl.Date).alias("_as_of"))
    previous = [pl.col(c).shift(1).over("survey_type", order_by="period_start") for c in ("nps", "se")]
    change = pl.col("nps") - previous[0]
    spread = (pl.col("se") ** 2 + previous[1] ** 2).sqrt()
    z = pl.when(spread > 0).then(change / spread)
    return (
        table.with_columns(
            (pl.col("period_start").dt.offset_by(every) <= pl.col("_as_of")).alias("complete"),
            change.alias("change"),
            z.alias("z"),
        )
        .with_columns(pl.col("z").map_batches(_two_sided_p, return_dtype=pl.Float64).alias("p_value"))
        .with_columns((pl.col("p_value") < 1 - config.confidence).alias("significant"))
        .select(
            "survey_type",
            "period",
            "period_start",
            "complete",
            pl.exclude("survey_type", "period", "period_start", "complete", "_as_of"),
        )
        .sort("survey_type", "period_start")
    )


def _two_sided_p(z: pl.Series) -> pl.Series:
    from scipy.special import ndtr

    values = z.cast(pl.Float64).to_numpy()
    return pl.Series(z.name, 2 * ndtr(-np.abs(values)), nan_to_null=True)
