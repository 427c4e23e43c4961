"""Net Promoter Score with honest uncertainty: shares, NPS, standard error and interval, trends with a test
of each change, and breakdowns. Per-customer latest scores, the closed-loop lists and the tables of a run are in
:mod:`loyalty_cli.metrics.nps_lists`.

Definitions (``metrics.md``): promoters answer 9-10, passives 7-8, detractors 0-6; NPS = %P - %D, in points
from -100 to 100, with its standard error and interval (``adjusted-wald``, ``wald`` or ``bootstrap``), a change
between two periods ``significant`` when its two-sided p-value is below 1 - confidence, and groups with fewer
than ``min_n`` counted answers ``suppressed``: the statistics are in :mod:`loyalty_cli.metrics.nps_stats`.

Relational and transactional answers are never pooled: every table is per ``survey_type`` (``"all"`` when
the export has no such column). Every answer gets a ``status``: ``counted``, ``non-response`` (blank/NA
score: excluded from n, counted), ``duplicate`` (the same answer exported twice) or ``repeat`` (an earlier
answer of the same customer dropped by the dedupe policy).

Pure functions over LazyFrames, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.metrics.nps_stats import category_counts, two_sided_p, with_stats
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


def nps_table(
    responses: pl.LazyFrame, *, config: NpsConfig, by: Sequence[str] = (), weight: str | None = None
) -> pl.LazyFrame:
    """One row per survey type (and ``by`` group): counts, shares, NPS, SE, interval, suppression, and the
    answers not counted (non-responses, duplicates, repeats). With ``weight`` (a money column, e.g.
    ``net_spend``, summed in cents), also the NPS with each counted answer weighted by it (answers with no
    or non-positive weight left out)."""
    keys = ["survey_type", *[b for b in by if b != "survey_type"]]
    counts = responses.group_by(keys).agg(category_counts(weight)).sort(keys, nulls_last=True)
    return with_stats(counts, config=config, weight=weight)


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
    counts = responses.group_by("survey_type", "period_start").agg(category_counts(None))
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
    table = with_stats(table, config=config)
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
        .with_columns(pl.col("z").map_batches(two_sided_p, return_dtype=pl.Float64).alias("p_value"))
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
