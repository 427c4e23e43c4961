"""The NPS tables of prepared answers, composed once: :func:`nps_summary` (score, margin, trend, per segment,
change tests) for the report, and its steps (:func:`matched_answers`, :func:`table_plans`,
:func:`collect_tables`, :meth:`NpsSummary.from_tables`) for the ``nps`` command (:func:`loyalty_cli.app.nps.nps`),
which adds its own plans to the same collection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from loyalty_cli.metrics import nps_lists as m
from loyalty_cli.metrics.nps import NpsConfig


@dataclass(frozen=True)
class NpsSummary:
    """The NPS tables (:func:`~loyalty_cli.metrics.nps_lists.nps_tables`): ``headline`` (one row per survey type),
    ``distribution`` (0-10), ``trend`` (per period, with the change test; None when not asked, empty without
    response dates), ``by`` (the breakdown asked for), ``segments`` (by RFM segment), ``comments`` (the latest
    detractor comments); ``counts``: the answers per status."""

    headline: pl.DataFrame
    distribution: pl.DataFrame
    trend: pl.DataFrame | None
    by: pl.DataFrame | None
    segments: pl.DataFrame | None
    comments: pl.DataFrame | None
    counts: dict[str, int]

    @classmethod
    def from_tables(cls, tables: Mapping[str, pl.DataFrame], counts: dict[str, int]) -> NpsSummary:
        """The summary of the collected tables (:func:`collect_tables`) of :func:`table_plans`."""
        return cls(
            headline=tables["headline"],
            distribution=tables["distribution"],
            trend=tables.get("trend"),
            by=tables.get("by"),
            segments=tables.get("segments"),
            comments=tables.get("comments"),
            counts=counts,
        )


def nps_summary(
    responses: pl.DataFrame,
    *,
    config: NpsConfig,
    customers: pl.DataFrame | None = None,
    stages: pl.DataFrame | None = None,
    as_of: date | None = None,
    by: Sequence[str] = (),
    segments: bool = True,
    comments: int = 0,
) -> NpsSummary:
    """The NPS tables of prepared answers (:func:`~loyalty_cli.metrics.nps.prepare_responses`, at least one
    counted: see :func:`~loyalty_cli.metrics.nps_lists.answer_counts`). With ``customers`` (the segmented customer
    summary) the answers are matched to them: revenue-weighted NPS and, when ``segments``, NPS by segment; with
    ``stages`` (``customer_id, stage``) by stage. The trend's last period is complete before ``as_of`` (None:
    the day after the last answer); ``comments``: how many detractor comments. The report calls it as
    ``nps_summary(responses, config=settings.nps, customers=segmented, as_of=as_of, comments=settings.top)``."""
    answers = matched_answers(responses, customers, stages)
    plans = table_plans(
        answers, config, customers=customers is not None, as_of=as_of, by=by, segments=segments, comments=comments
    )
    return NpsSummary.from_tables(collect_tables(plans), m.answer_counts(responses))


def matched_answers(
    responses: pl.DataFrame, customers: pl.DataFrame | None, stages: pl.DataFrame | None
) -> pl.LazyFrame:
    """The answers with the columns of their respondents among ``customers`` and ``stages`` (when given)."""
    return m.with_respondent_columns(
        responses.lazy(),
        customers=customers.lazy() if customers is not None else None,
        stages=stages.lazy() if stages is not None else None,
    )


def table_plans(
    answers: pl.LazyFrame,
    config: NpsConfig,
    *,
    customers: bool,
    as_of: date | None,
    by: Sequence[str],
    segments: bool,
    trend: bool = True,
    comments: int = 0,
) -> dict[str, pl.LazyFrame]:
    """The plans of the NPS tables: weighted by net spend, and by segment, when matched to customers."""
    return m.nps_tables(
        answers,
        config=config,
        as_of=as_of,
        by=by,
        weight="net_spend" if customers else None,
        trend=trend,
        segments=customers and segments,
        comments=comments,
    )


def collect_tables(plans: Mapping[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """Every plan collected at once, by name."""
    return dict(zip(plans, pl.collect_all(list(plans.values())), strict=True))
