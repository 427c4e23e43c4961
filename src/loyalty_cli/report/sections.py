"""The numbers of the report: each section's tables computed from the stage-1 tables (pure, no I/O).

:func:`compute_report` takes the customer summary and the customer x day activity (read once, by
:func:`loyalty_cli.stage1.load_transactions`), the prepared survey answers, the contacts and the loyalty
programme's members and points ledger (each optional), and calls the same library functions as the commands
(``loyalty lifecycle`` and ``loyalty program`` included). A section that cannot be computed (no surveys, a
model that does not fit, no repeat customer) keeps a sentence saying why instead of its tables, so one
missing input or failed model never stops the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from loyalty_cli.errors import DataError, ModelError
from loyalty_cli.metrics import lifecycle as lc
from loyalty_cli.metrics import nps as m_nps
from loyalty_cli.metrics import program as pm
from loyalty_cli.metrics.churn import ChurnRules, churn_tables, lacks_ipt, rank_by_value, status_summary
from loyalty_cli.metrics.cltv import CltvConfig, CltvFit, calibration_summary, fit_cltv
from loyalty_cli.metrics.retention import cohort_retention, cohort_table, repeat_rate, retention_wide
from loyalty_cli.metrics.rfm import RfmConfig, rfm_scores, segment_summary
from loyalty_cli.metrics.second_purchase import (
    ALL,
    SecondPurchaseConfig,
    history_start_caveat,
    second_purchase_tables,
)
from loyalty_cli.segments import SegmentMap


@dataclass(frozen=True)
class ReportSettings:
    """The rules and parameters every section uses (shown in the report header)."""

    segments: SegmentMap
    churn: ChurnRules
    rfm: RfmConfig = field(default_factory=RfmConfig)
    nps: m_nps.NpsConfig = field(default_factory=m_nps.NpsConfig)
    cltv: CltvConfig = field(default_factory=CltvConfig)
    second_purchase: SecondPurchaseConfig = field(default_factory=SecondPurchaseConfig)
    lifecycle: lc.LifecycleRules = field(default_factory=lc.load_lifecycle_rules)
    program: pm.ProgramConfig = field(default_factory=pm.ProgramConfig)
    retention_period: str = "month"
    repeat_window_days: int = 90
    top: int = 10  # rows of the top-customer and comment tables


@dataclass
class ReportData:
    """Every table the report shows; ``*_missing`` says why a section has no tables."""

    as_of: date
    customers: int
    revenue_cents: int  # net revenue of the whole data (as `loyalty validate`), returns included
    purchase_orders: int
    return_orders: int  # of the whole data (as `loyalty validate`)
    segments: pl.DataFrame
    retention: pl.DataFrame  # the long table
    cohorts: pl.DataFrame
    retention_wide: dict[str, pl.DataFrame]
    churn_summary: pl.DataFrame | None = None
    churn_rates: pl.DataFrame | None = None
    churn_missing: str | None = None
    clv: CltvFit | None = None
    clv_missing: str | None = None
    second_summary: pl.DataFrame | None = None
    second_shares: pl.DataFrame | None = None
    second_curve: pl.DataFrame | None = None
    second_value: pl.DataFrame | None = None
    second_nudge: int = 0
    second_caveat: str | None = None  # the history starts before the data
    nps_headline: pl.DataFrame | None = None
    nps_distribution: pl.DataFrame | None = None
    nps_trend: pl.DataFrame | None = None
    nps_segments: pl.DataFrame | None = None
    nps_comments: pl.DataFrame | None = None
    nps_counts: dict[str, int] = field(default_factory=dict)
    nps_missing: str | None = "no surveys given (--surveys FILE)"
    contacts: dict[str, int] | None = None
    segmented: pl.DataFrame | None = None
    lifecycle_summary: pl.DataFrame | None = None  # stage_summary: one row per rule
    lifecycle_flags: pl.DataFrame | None = None  # flag_summary
    lifecycle_facts: dict[str, Any] = field(default_factory=dict)  # what decided (for the section's notes)
    lifecycle_missing: str | None = None
    program: pl.DataFrame | None = None  # the long table of ``loyalty program`` (section, metric, group, ...)
    program_points: bool = False  # a points ledger was given
    program_missing: str | None = "no members given (--members FILE)"
    # customers with orders but no purchase (only returns): in no table; revenue_cents includes their net value
    no_purchase_customers: int = 0
    no_purchase_cents: int = 0
    no_purchase_return_orders: int = 0

    @property
    def tables_cents(self) -> int:
        """Net revenue of the customers in the tables (those with a purchase)."""
        return self.revenue_cents - self.no_purchase_cents


def _clv(activity: pl.DataFrame, as_of: date, config: CltvConfig) -> tuple[CltvFit | None, str | None]:
    summary = calibration_summary(activity.lazy(), before=as_of, unit=config.unit).collect()
    try:
        return fit_cltv(summary, config, as_of=as_of), None
    except (ModelError, DataError) as exc:
        return None, f"the CLV model could not be fitted: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")


def _nps(data: ReportData, responses: pl.DataFrame, segmented: pl.DataFrame, settings: ReportSettings) -> None:
    config = settings.nps
    counts = dict(responses.group_by(pl.col("status").cast(pl.String)).len().iter_rows())
    data.nps_counts = {k: int(counts.get(k, 0)) for k in ("counted", "non-response", "duplicate", "repeat")}
    if not data.nps_counts["counted"]:
        data.nps_missing = "the surveys have no scored answer before the as-of date"
        return
    lazy = m_nps.with_customers(responses.lazy(), segmented.lazy())
    plans = [
        m_nps.nps_table(lazy, config=config, weight="net_spend"),
        m_nps.score_distribution(lazy),
        m_nps.nps_trend(lazy, config=config, as_of=data.as_of),
        m_nps.nps_table(lazy, config=config, by=["segment"], weight="net_spend"),
    ]
    names = lazy.collect_schema().names()
    if "comment" in names:
        plans.append(
            lazy.filter((pl.col("status") == "counted") & (pl.col("score") <= 6) & pl.col("comment").is_not_null())
            .sort(["responded_at", "customer_id", "comment"], descending=[True, False, False], nulls_last=True)
            .head(settings.top)
            .select(
                "survey_type",
                pl.col("responded_at").dt.date().alias("date"),
                "score",
                "customer_id",
                pl.col("segment").cast(pl.String),
                "comment",
            )
        )
    tables = pl.collect_all(plans)
    data.nps_headline, data.nps_distribution, data.nps_trend, data.nps_segments = tables[:4]
    data.nps_comments = tables[4] if len(tables) > 4 else None
    data.nps_missing = None


def _contacts(contacts: pl.DataFrame, customers: pl.DataFrame, as_of: date) -> dict[str, int]:
    ids = contacts.select(pl.col("customer_id").unique())
    buyers = ids.join(customers.select("customer_id"), on="customer_id", how="semi").height
    # prospects as the lifecycle counts them: known on the as-of date, no purchase before it
    prospects = (
        lc.known_contacts(contacts.lazy(), as_of=as_of)
        .select(pl.col("customer_id").unique())
        .join(customers.lazy().select("customer_id"), on="customer_id", how="anti")
        .collect()
        .height
    )
    info = {"rows": contacts.height, "customers": ids.height, "with_purchase": buyers, "prospects": prospects}
    if "email_consent" in contacts.columns:
        info["consent"] = (
            contacts.filter(pl.col("email_consent").fill_null(False)).select(pl.col("customer_id").n_unique()).item()
        )
    return info


def _lifecycle(
    data: ReportData,
    customers: pl.DataFrame,
    activity: pl.DataFrame,
    settings: ReportSettings,
    responses: pl.DataFrame | None,
    contacts: pl.DataFrame | None,
) -> None:
    """Stages, actions and flags as ``loyalty lifecycle`` assigns them (no previous snapshot in the report)."""
    if data.churn_missing is not None:
        data.lifecycle_missing = f"the stages start from the churn status, which is not available: {data.churn_missing}"
        return
    rules = settings.lifecycle
    by = lc.lifecycle_window(customers, settings.second_purchase).by
    scores = m_nps.customer_scores(responses.lazy()).collect() if responses is not None else None
    try:
        table = lc.lifecycle_stages(
            customers.lazy(),
            activity.lazy(),
            as_of=data.as_of,
            rules=rules,
            churn_rules=settings.churn,
            window=settings.second_purchase,
            scores=scores.lazy() if scores is not None else None,
            contacts=contacts.lazy() if contacts is not None else None,
        ).collect()
        data.lifecycle_summary, data.lifecycle_flags = pl.collect_all(
            [lc.stage_summary(table.lazy(), rules=rules), lc.flag_summary(table.lazy(), rules=rules)]
        )
    except pl.exceptions.PolarsError as exc:  # a condition that reads but fails on the real columns
        data.lifecycle_missing = f"the lifecycle rules {rules.source} cannot be applied: {str(exc).splitlines()[0]}"
        return
    facts: dict[str, Any] = {
        "people": table.height,
        "prospects": table.height - data.customers if contacts is not None else None,
        "by": by,
        "window_sources": table.filter(pl.col("window_source").is_not_null())["window_source"]
        .unique()
        .sort()
        .to_list(),
        "respondents": scores.height if scores is not None else None,
        "nps_matched": table.filter(pl.col("latest_nps").is_not_null()).height if scores is not None else None,
        "contacts_later": lc.contacts_left_out(contacts, customers, as_of=data.as_of) if contacts is not None else 0,
    }
    data.lifecycle_facts = facts


def _program(
    data: ReportData,
    customers: pl.DataFrame,
    activity: pl.DataFrame,
    settings: ReportSettings,
    members: pl.DataFrame,
    points: pl.DataFrame | None,
    responses: pl.DataFrame | None,
) -> None:
    """The figures of ``loyalty program`` (enrolment, points, tiers, members vs non-members) as its long table;
    the predicted CLV comparison reuses the report's CLV fit."""
    if members.is_empty():
        data.program_missing = f"no member enrolled before the as-of date {data.as_of} in the members file"
        return
    answers = responses if responses is not None and data.nps_missing is None else None
    clv = data.clv
    data.program = pm.program_table(
        customers,
        activity,
        members,
        as_of=data.as_of,
        config=settings.program,
        points=points,
        responses=answers,
        predictions=clv.customers if clv is not None else None,
        predicted=f"predicted_clv_{clv.config.suffix}" if clv is not None else None,
        detail=False,
    )
    data.program_points = points is not None
    data.program_missing = None


def compute_report(
    customers: pl.DataFrame,
    activity: pl.DataFrame,
    *,
    settings: ReportSettings,
    responses: pl.DataFrame | None = None,
    contacts: pl.DataFrame | None = None,
    members: pl.DataFrame | None = None,
    points: pl.DataFrame | None = None,
    no_purchase: pl.DataFrame | None = None,
) -> ReportData:
    """All sections' tables. ``customers``/``activity``: stage-1 tables (at least one customer);
    ``no_purchase``: stage 1's row about the customers with no purchase (:attr:`loyalty_cli.stage1.Loaded.
    no_purchase`): their count, net value and return orders (none when not given);
    ``responses``: :func:`loyalty_cli.metrics.nps.prepare_responses` output; ``contacts``: read contacts;
    ``members``/``points``: :func:`loyalty_cli.io.readers.read_members` / ``read_points`` rows (as of the
    same day; ``points`` is used only with ``members``)."""
    customers = customers.sort("customer_id")  # row order never matters downstream
    activity = activity.sort("customer_id", "day")
    as_of: date = customers["as_of"][0]
    segmented = settings.segments.assign(rfm_scores(customers.lazy(), config=settings.rfm))
    period = settings.retention_period
    # collected on its own first: inside the one collect_all below its plan was evaluated twice
    long = cohort_retention(customers.lazy(), activity.lazy(), period=period).collect().lazy()  # type: ignore[arg-type]
    per_cohort = cohort_table(
        long, repeat_rate(customers.lazy(), window_days=settings.repeat_window_days, period=period)
    )  # type: ignore[arg-type]
    sp = settings.second_purchase
    segmented_df, seg_table, long_df, cohort_df, totals, sp_sum, sp_shares, sp_curve, sp_value, sp_nudge, sp_start = (
        pl.collect_all(
            [
                segmented,
                segment_summary(
                    segmented, config=settings.rfm, order=settings.segments.names, actions=settings.segments.actions
                ),
                long,
                per_cohort,
                activity.lazy().select(
                    pl.col("net_cents").sum().alias("revenue_cents"),
                    pl.col("purchases").sum().alias("purchase_orders"),
                ),
                *second_purchase_tables(customers.lazy(), activity.lazy(), config=sp),
            ]
        )
    )
    # customers with orders but no purchase (in no table): stage 1 counted them in the same read
    left = no_purchase if no_purchase is not None and no_purchase.height else None
    left_returns = int(left["return_orders"][0]) if left is not None else 0
    data = ReportData(
        as_of=as_of,
        customers=customers.height,
        revenue_cents=int(totals["revenue_cents"][0] or 0),
        purchase_orders=int(totals["purchase_orders"][0] or 0),
        return_orders=int(customers["return_orders"].sum()) + left_returns,
        segments=seg_table,
        retention=long_df,
        cohorts=cohort_df,
        retention_wide={
            metric: retention_wide(long_df, metric, period=period)  # type: ignore[arg-type]
            for metric in ("retention", "revenue_retention")
        },
        second_summary=sp_sum.filter(pl.col("group") == ALL),
        second_shares=sp_shares,
        second_curve=sp_curve,
        second_value=sp_value,
        second_nudge=sp_nudge.height,
        second_caveat=history_start_caveat(sp_start.row(0, named=True)),
        segmented=segmented_df.with_columns(pl.col("segment").cast(pl.String)),
        no_purchase_customers=int(left["customers"][0]) if left is not None else 0,
        no_purchase_cents=int(left["net_cents"][0] or 0) if left is not None else 0,
        no_purchase_return_orders=left_returns,
    )

    if lacks_ipt(customers, settings.churn):
        data.churn_missing = (
            "no customer bought on two different days, so there is no inter-purchase time for "
            f"the churn rules {settings.churn.source}"
        )
    else:
        status_df, rates = churn_tables(customers.lazy(), activity.lazy(), rules=settings.churn, period=period)  # type: ignore[arg-type]
        ranked = rank_by_value(status_df.lazy(), rules=settings.churn)
        data.churn_summary = status_summary(ranked).collect()
        data.churn_rates = rates

    data.clv, data.clv_missing = _clv(activity, as_of, settings.cltv)
    if responses is not None:
        _nps(data, responses, data.segmented, settings)
    if contacts is not None:
        data.contacts = _contacts(contacts, customers, as_of)
    _lifecycle(data, customers, activity, settings, responses, contacts)
    if members is not None:
        _program(data, customers, activity, settings, members, points, responses)
    return data
