"""NPS per customer and the tables of a run: each respondent's latest score, joined to the customer summary
and the lifecycle stage, the closed-loop lists (promoters, detractors), and the plans of an NPS summary over
answers prepared by :func:`loyalty_cli.metrics.nps.prepare_responses`.

Pure functions over LazyFrames (and the collected answers), no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from loyalty_cli.errors import UsageError, setting
from loyalty_cli.metrics.nps import STATUSES, NpsConfig, nps_category, nps_table, nps_trend, score_distribution

# ---------------------------------------------------------------------------------------- customers


def customer_scores(responses: pl.LazyFrame) -> pl.LazyFrame:
    """One row per identified respondent: the latest scored answer of any survey type (``latest_score``,
    ``nps_category``, ``responded_at`` as a date, ``survey_type``, ``touchpoint``, ``comment``, ``email``
    when the survey has them) and ``scored_responses`` (scored answers, duplicates left out). Ties at the
    same time: the lower score. For lists and for other commands (advocates, detractor VIPs)."""
    names = responses.collect_schema().names()
    extra = [c for c in ("touchpoint", "comment", "email") if c in names]
    order = ["responded_at", "score", *extra]
    latest = [
        pl.col(c).sort_by(order, descending=[True] + [False] * (len(order) - 1), nulls_last=True).first()
        for c in ["responded_at", "score", "survey_type", *extra]
    ]
    return (
        responses.filter(pl.col("customer_id").is_not_null() & pl.col("status").is_in(["counted", "repeat"]))
        .group_by("customer_id")
        .agg(*latest, pl.len().alias("scored_responses"))
        .select(
            "customer_id",
            pl.col("score").alias("latest_score"),
            nps_category(pl.col("score")).alias("nps_category"),
            pl.col("responded_at").dt.date(),
            "survey_type",
            *extra,
            "scored_responses",
        )
        .sort("customer_id")
    )


CUSTOMER_COLUMNS = ("segment", "net_spend", "orders", "last_purchase", "recency_days")
ANONYMOUS = "(anonymous)"
NO_PURCHASE = "(no purchase)"


def with_customers(frame: pl.LazyFrame, customers: pl.LazyFrame) -> pl.LazyFrame:
    """Answers or respondents joined to the customer summary (segmented, with ``net_spend``): adds
    ``segment`` (``(no purchase)`` for respondents who bought nothing before the as-of date,
    ``(anonymous)`` without a customer id), ``net_spend``, ``orders``, ``last_purchase``, ``recency_days``,
    ``first_category``/``first_channel`` when known, and the customer's email where the answer has none."""
    have = customers.collect_schema().names()
    wanted = [c for c in (*CUSTOMER_COLUMNS, "first_category", "first_channel") if c in have]
    right = customers.select("customer_id", *wanted, *([pl.col("email").alias("_email")] if "email" in have else []))
    joined = frame.join(right, on="customer_id", how="left", nulls_equal=False, maintain_order="left")
    fixes = []
    if "segment" in wanted:
        # Keep the map's order (an Enum from SegmentMap.assign), the two labels for no segment last.
        dtype = customers.collect_schema()["segment"]
        names = list(dtype.categories) if isinstance(dtype, pl.Enum) else []
        label = (
            pl.when(pl.col("customer_id").is_null())
            .then(pl.lit(ANONYMOUS))
            .otherwise(pl.col("segment").cast(pl.String).fill_null(NO_PURCHASE))
        )
        fixes.append(label.cast(pl.Enum([*names, NO_PURCHASE, ANONYMOUS]) if names else pl.String).alias("segment"))
    if "email" in have:
        email = pl.coalesce("email", "_email") if "email" in frame.collect_schema().names() else pl.col("_email")
        fixes.append(email.alias("email"))
    joined = joined.with_columns(fixes)
    return joined.drop("_email") if "email" in have else joined


def with_stages(frame: pl.LazyFrame, stages: pl.LazyFrame) -> pl.LazyFrame:
    """Answers or respondents with each customer's lifecycle ``stage`` (``stages``: ``customer_id, stage``, e.g.
    from :func:`~loyalty_cli.metrics.lifecycle.lifecycle_table`): ``(no purchase)`` for respondents not among
    the customers, ``(anonymous)`` without a customer id, as :func:`with_customers` labels segments. A stage
    Enum (e.g. in rule order) keeps its order, the two labels last."""
    dtype = stages.collect_schema()["stage"]
    names = list(dtype.categories) if isinstance(dtype, pl.Enum) else []
    right = stages.select("customer_id", pl.col("stage").cast(pl.String).alias("_stage"))
    joined = frame.join(right, on="customer_id", how="left", nulls_equal=False, maintain_order="left")
    label = (
        pl.when(pl.col("customer_id").is_null())
        .then(pl.lit(ANONYMOUS))
        .otherwise(pl.col("_stage").fill_null(NO_PURCHASE))
    )
    labels = list(dict.fromkeys([*names, NO_PURCHASE, ANONYMOUS]))
    return joined.with_columns(label.cast(pl.Enum(labels) if names else pl.String).alias("stage")).drop("_stage")


def high_value_threshold(customers: pl.LazyFrame, *, quantile: float = 0.8) -> pl.LazyFrame:
    """The net spend at the given quantile of customers (default: the top 20% start there)."""
    return customers.select(pl.col("net_spend").quantile(quantile, interpolation="linear").alias("min_spend"))


def promoter_list(scores: pl.LazyFrame) -> pl.LazyFrame:
    """Customers whose latest answer is 9-10, most recent first: ask them for a review or a referral."""
    return scores.filter(pl.col("nps_category") == "promoter").sort(
        "responded_at", "customer_id", descending=[True, False]
    )


def detractor_list(scores: pl.LazyFrame, *, min_spend: float | None = None) -> pl.LazyFrame:
    """Customers whose latest answer is 0-6, with their comment, for a call back (closed loop). With a
    ``net_spend`` column (see :func:`with_customers`) and ``min_spend``, only those who spent at least that,
    the most valuable first; else every detractor, most recent first."""
    detractors = scores.filter(pl.col("nps_category") == "detractor")
    if "net_spend" not in detractors.collect_schema().names():
        return detractors.sort("responded_at", "customer_id", descending=[True, False])
    if min_spend is not None:
        detractors = detractors.filter(pl.col("net_spend") >= min_spend)
    return detractors.sort("net_spend", "responded_at", "customer_id", descending=[True, True, False], nulls_last=True)


# ---------------------------------------------------------------------------------------- the tables of a run

LISTS = ("promoters", "detractors", "customers")  # the closed-loop lists of :func:`customer_list`


def answer_counts(responses: pl.DataFrame) -> dict[str, int]:
    """How many answers have each ``status`` (:data:`STATUSES`, every one listed, 0 when none)."""
    counts = dict(responses.group_by(pl.col("status").cast(pl.String)).len().iter_rows())
    return {status: int(counts.get(status, 0)) for status in STATUSES.categories}


def only_survey_type(responses: pl.DataFrame, survey_type: str | None, *, typed: bool) -> pl.DataFrame:
    """The answers of one survey type (given in any case, spaces around ignored; None: every answer). A type
    that is not there is a usage error naming the types there are; ``typed``: the surveys have a survey type
    column (else the error says to map it)."""
    if survey_type is None:
        return responses
    types = sorted(responses["survey_type"].unique().to_list())
    wanted = survey_type.strip().lower()
    if wanted not in types:
        if not typed:
            raise UsageError(
                f"{setting('survey_type')} {survey_type}: the surveys have no survey type column",
                hint=f"Map it with {setting('survey_type_col')}, or leave {setting('survey_type')} out.",
            )
        raise UsageError(
            f"{setting('survey_type')} {survey_type}: no such survey type in the surveys",
            hint=f"Survey types: {', '.join(types)}.",
        )
    return responses.filter(pl.col("survey_type") == wanted)


def looks_like_five_point(responses: pl.DataFrame) -> bool:
    """At least 20 counted answers and none above 5: probably a 1-5 scale read as 0-10 (never converted)."""
    scores = responses.filter(pl.col("status") == "counted")["score"]
    return scores.len() >= 20 and scores.max() <= 5  # type: ignore[operator]


def with_respondent_columns(
    frame: pl.LazyFrame, *, customers: pl.LazyFrame | None = None, stages: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Answers or respondents with the customer columns (:func:`with_customers`, when ``customers`` are given)
    and the lifecycle stage (:func:`with_stages`, when ``stages`` are given)."""
    if customers is not None:
        frame = with_customers(frame, customers)
    if stages is not None:
        frame = with_stages(frame, stages)
    return frame


def respondent_table(
    responses: pl.LazyFrame, *, customers: pl.LazyFrame | None = None, stages: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """One row per identified respondent (:func:`customer_scores`: the latest scored answer), with the customer
    columns and stage when given (:func:`with_respondent_columns`), ``customer_id`` and ``email`` first."""
    scores = with_respondent_columns(customer_scores(responses), customers=customers, stages=stages)
    first = ["customer_id", "email"] if "email" in scores.collect_schema().names() else ["customer_id"]
    return scores.select(*first, pl.exclude(*first))


def detractor_comments(answers: pl.LazyFrame, *, top: int) -> pl.LazyFrame:
    """The ``top`` latest counted answers of 0-6 with a comment: ``survey_type, date, score, customer_id``,
    ``segment`` (as text, when the answers have one) and ``comment``."""
    names = answers.collect_schema().names()
    segment = [pl.col("segment").cast(pl.String)] if "segment" in names else []
    return (
        answers.filter((pl.col("status") == "counted") & (pl.col("score") <= 6) & pl.col("comment").is_not_null())
        .sort(["responded_at", "customer_id", "comment"], descending=[True, False, False], nulls_last=True)
        .head(top)
        .select(
            "survey_type",
            pl.col("responded_at").dt.date().alias("date"),
            "score",
            "customer_id",
            *segment,
            "comment",
        )
    )


def nps_tables(
    answers: pl.LazyFrame,
    *,
    config: NpsConfig,
    as_of: date | None = None,
    by: Sequence[str] = (),
    weight: str | None = None,
    trend: bool = True,
    segments: bool = False,
    comments: int = 0,
) -> dict[str, pl.LazyFrame]:
    """The plans of an NPS summary over prepared answers (with the customer columns for ``weight`` and
    ``segments``): ``headline`` (:func:`nps_table` per survey type), ``distribution``
    (:func:`score_distribution`), ``trend`` (:func:`nps_trend` up to ``as_of``, when ``trend``), ``by`` (the
    breakdown by ``by``, when given), ``segments`` (by RFM segment, when ``segments``) and ``comments`` (the
    ``comments`` latest detractor comments, when asked and the answers have comments)."""
    plans = {
        "headline": nps_table(answers, config=config, weight=weight),
        "distribution": score_distribution(answers),
    }
    if trend:
        plans["trend"] = nps_trend(answers, config=config, as_of=as_of)
    if by:
        plans["by"] = nps_table(answers, config=config, by=by, weight=weight)
    if segments:
        plans["segments"] = nps_table(answers, config=config, by=["segment"], weight=weight)
    if comments and "comment" in answers.collect_schema().names():
        plans["comments"] = detractor_comments(answers, top=comments)
    return plans


def customer_list(scores: pl.DataFrame, kind: str, *, min_spend: float | None = None) -> pl.DataFrame:
    """A closed-loop list (:data:`LISTS`) from the respondent table (:func:`respondent_table`): ``promoters``
    (:func:`promoter_list`), ``detractors`` (:func:`detractor_list`, those who spent at least ``min_spend``
    when the table has ``net_spend``) or ``customers`` (every respondent)."""
    if kind == "promoters":
        return promoter_list(scores.lazy()).collect()
    if kind == "detractors":
        return detractor_list(scores.lazy(), min_spend=min_spend).collect()
    if kind == "customers":
        return scores
    raise ValueError(f"unknown list {kind!r}")
