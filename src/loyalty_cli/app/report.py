"""``report``: every section of the HTML report, each from its command's application function, run once on the
shared inputs (the transactions with the customer x day activity; the surveys, contacts, members and points when
given).

A section that cannot be computed (nobody bought on two days for the churn rules, a CLV model that does not
fit, no scored answer, no member before the as-of date) keeps the reason instead of its tables: one missing
input or failed model never stops the report. The page is rendered by :mod:`loyalty_cli.report` from the plain
data of the result (:attr:`ReportResult.data`)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import polars as pl

from loyalty_cli.app.churn import ChurnConfig, ChurnResult, churn
from loyalty_cli.app.cltv import CltvResult, CltvSettings, cltv
from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.lifecycle import LifecycleConfig, LifecycleResult, lifecycle
from loyalty_cli.app.next_order import NextOrderSettings
from loyalty_cli.app.nps_summary import NpsSummary, nps_summary
from loyalty_cli.app.program import ProgramConfig, ProgramResult, program
from loyalty_cli.app.report_inputs import contacts_facts, data_totals, input_reads, recent_periods
from loyalty_cli.app.report_next_order import due_data
from loyalty_cli.app.report_products import ProductSettings, products_data, release_product_lines
from loyalty_cli.app.retention import MATRICES, RetentionConfig, RetentionResult, retention
from loyalty_cli.app.second_purchase import SecondPurchaseResult, SecondPurchaseSettings, second_purchase
from loyalty_cli.app.segment import SegmentConfig, SegmentResult, segment
from loyalty_cli.errors import ConfigError, DataError, ModelError, setting
from loyalty_cli.metrics.churn import lacks_ipt
from loyalty_cli.metrics.nps import NpsConfig
from loyalty_cli.metrics.nps_lists import answer_counts
from loyalty_cli.metrics.second_purchase import ALL
from loyalty_cli.report.data import InputRead, ReportData, ReportSettings
from loyalty_cli.report.due_data import DueData
from loyalty_cli.report.product_data import ProductsData
from loyalty_cli.rules.segments import load_segment_rules

#: the columns of the churn statuses the lifecycle reads (:func:`~loyalty_cli.metrics.lifecycle.lifecycle_inputs`)
LIFECYCLE_STATUS_COLUMNS = ("customer_id", "status", "value_tier", "ipt_days")
T = TypeVar("T", ChurnResult, LifecycleResult)
R = TypeVar("R")

#: an ISO 4217 currency code (any case: shown upper-cased)
CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class ReportConfig:
    """``rules``: the segment map (a built-in name or a .toml file; None: the default map, its scores as many
    as it is written for); ``churn_rules``, ``lifecycle_rules``: rules files (None: the built-in ones);
    ``point_value``: money per point (values the programme's outstanding points); ``period``: of the cohorts
    and the churn rates; ``repeat_window``: days after the first purchase for the repeat purchase rate;
    ``min_n``: NPS groups, second-purchase windows and numbers from fewer answers or customers are left
    empty; ``top``: rows of the top-customer and comment tables; ``currency``: an ISO 4217 code (``EUR``)
    shown on money (None: plain numbers); ``retention_by``: also the retention section split by acquisition
    (:class:`RetentionConfig`'s ``by``; groups of fewer than ``min_n`` customers folded into ``(other)``);
    ``products``: also the products section (it needs the transactions' product lines, line-sized: at 10M lines
    ~1.5 GB more at the peak). Checked when built: each section's config is built then (its rules loaded),
    before any data is read."""

    rules: str | None = None
    churn_rules: str | None = None
    lifecycle_rules: str | None = None
    point_value: float | None = None
    period: str = "month"
    repeat_window: int = 90
    min_n: int = 30
    top: int = 10
    currency: str | None = None
    retention_by: str | None = None
    products: bool = False
    segment: SegmentConfig = field(init=False, repr=False, compare=False)
    churn: ChurnConfig = field(init=False, repr=False, compare=False)
    lifecycle: LifecycleConfig = field(init=False, repr=False, compare=False)
    program: ProgramConfig = field(init=False, repr=False, compare=False)
    retention: RetentionConfig = field(init=False, repr=False, compare=False)
    second_purchase: SecondPurchaseSettings = field(init=False, repr=False, compare=False)
    nps: NpsConfig = field(init=False, repr=False, compare=False)
    cltv: CltvSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError("top", f"must be at least 1, got {self.top}")
        if self.currency is not None:
            if not CURRENCY.fullmatch(self.currency):
                raise ConfigError(
                    "currency", f"must be a three-letter currency code such as EUR, USD or GBP, got {self.currency!r}"
                )
            object.__setattr__(self, "currency", self.currency.upper())
        sections = {
            "segment": SegmentConfig(rules=self.rules, bins=load_segment_rules(self.rules).bins),
            "churn": ChurnConfig(rules=self.churn_rules, period=self.period),
            "lifecycle": LifecycleConfig(rules=self.lifecycle_rules, churn_rules=self.churn_rules, min_n=self.min_n),
            "program": ProgramConfig(point_value=self.point_value, detail=False),
            "retention": RetentionConfig(
                period=self.period,
                repeat_window=self.repeat_window,
                show=("on", "revenue"),
                by=self.retention_by,
                min_customers=self.min_n if self.retention_by is not None else None,
                by_setting="retention_by",  # its errors name the report's setting
            ),
            "second_purchase": SecondPurchaseSettings(min_n=self.min_n),
            "nps": NpsConfig(min_n=self.min_n),
            "cltv": CltvSettings(),
        }
        for name, config in sections.items():
            object.__setattr__(self, name, config)

    def settings(self) -> ReportSettings:
        """The rules and parameters the sections use, as the page's header shows them."""
        return ReportSettings(
            segments=self.segment.segment_map,
            churn=self.churn.rule_set,
            rfm=self.segment.rfm,
            nps=self.nps,
            cltv=self.cltv.models,
            second_purchase=self.second_purchase.timing,
            lifecycle=self.lifecycle.lifecycle_rules,
            program=self.program.figures,
            retention_period=self.period,
            repeat_window_days=self.repeat_window,
            top=self.top,
            currency=self.currency,
        )


@dataclass(frozen=True)
class ReportResult:
    """Each section's result from its command's application function; None when its input was not given or
    it could not be computed, the reason then in ``missing`` (by section: churn, clv, nps, lifecycle,
    program, due, products). ``contacts``: the contact counts (None without contacts); ``totals``: the key
    numbers of the whole data (as ``loyalty validate`` counts them) and of the customers with no purchase, in no table;
    ``reads``: what each input read held, by kind; ``settings``: the rules and parameters used. The per-customer
    lists of segment, churn and lifecycle (:attr:`SegmentResult.rows`, :attr:`ChurnResult.ranked` and
    ``customers``, :attr:`LifecycleResult.todo`) are kept empty, with their columns: the page shows their
    summaries, and they are the largest tables of the report, freed before the sections computed after them
    (:func:`_without_list`; the segmented customers once the NPS section has matched its answers to them)."""

    as_of: date
    segment: SegmentResult
    retention: RetentionResult
    second_purchase: SecondPurchaseResult
    churn: ChurnResult | None
    cltv: CltvResult | None
    nps: NpsSummary | None
    lifecycle: LifecycleResult | None
    program: ProgramResult | None
    contacts: dict[str, int] | None
    totals: dict[str, int]
    missing: dict[str, str]
    reads: dict[str, InputRead]
    settings: ReportSettings
    recent: pl.DataFrame | None = None
    due: DueData | None = None  # when the repeat customers are due (None: missing says why)
    products: ProductsData | None = None  # the products tables (None: missing says why)

    @property
    def data(self) -> ReportData:
        """The plain data the page renders (:mod:`loyalty_cli.report`)."""
        timing, kept, stages, members = self.second_purchase, self.retention, self.lifecycle, self.program
        return ReportData(
            as_of=self.as_of,
            **self.totals,
            segments=self.segment.summary,
            retention=kept.long,
            cohorts=kept.cohorts,
            retention_wide={MATRICES[name]: matrix for name, matrix in kept.matrices.items()},
            churn_summary=self.churn.summary if self.churn is not None else None,
            churn_rates=self.churn.rates if self.churn is not None else None,
            churn_missing=self.missing.get("churn"),
            clv=self.cltv.fit if self.cltv is not None else None,
            clv_missing=self.missing.get("clv"),
            second_summary=timing.summary.filter(pl.col("group") == ALL),
            second_shares=timing.shares,
            second_curve=timing.curve,
            second_value=timing.value,
            second_nudge=timing.actions.height,
            second_caveat=timing.caveat,
            **_nps_tables(self.nps),
            nps_missing=self.missing.get("nps"),
            contacts=self.contacts,
            lifecycle_summary=stages.summary if stages is not None else None,
            lifecycle_flags=stages.flags if stages is not None else None,
            lifecycle_facts=dataclasses.asdict(stages.facts) if stages is not None else {},
            lifecycle_missing=self.missing.get("lifecycle"),
            program=members.table if members is not None else None,
            program_points=members.points if members is not None else False,
            program_missing=self.missing.get("program"),
            recent=self.recent,
            due=self.due,
            due_missing=self.missing.get("due"),
            products=self.products,
            products_missing=self.missing.get("products"),
            retention_split=kept.split.long if kept.split is not None else None,
        )


def report(inputs: Inputs, config: ReportConfig) -> ReportResult:
    """Every section of the report on ``inputs`` (customers and activity, the other kinds read)."""
    from loyalty_cli.report.charts import warm_up

    as_of = inputs.as_of
    assert as_of is not None
    warm_up()  # the page will be drawn: the chart engine starts meanwhile, in the background
    # the sections in the order that holds the least at once: the smaller results first, the churn statuses'
    # list only until the lifecycle has read them; the products first, from their lines (line-sized), while the
    # stage-1 tables are all that is held besides them
    goods, no_products = None, f"left out unless asked for ({setting('products')}: it reads every line's product)"
    if config.products:
        goods, no_products = products_data(inputs, ProductSettings(rows=config.top, min_n=config.min_n))
        release_product_lines(inputs)  # line-sized: not held through the sections after it
    # The CLV section is mostly NumPy on one core, the five sections before it mostly Polars: read in one pass,
    # it is computed beside them (10M lines, 3 alternated runs: the report 20.3 -> 18.1 s, median on a busy machine;
    # the peak the same, in the drawing of the page), and the due dates from its purchase model after it, in the
    # same thread (7 alternated runs: 15.7 -> 15.2 s median, the peak ~1,420 -> ~1,345 MiB); read in passes for a
    # memory budget, after them, so that the least is held at once.
    clv = _in_background(_cltv_and_due, inputs, config) if inputs.passes == 1 else None
    segments = segment(inputs, config.segment)
    answers, no_nps = _nps(inputs, config, segments)  # from the segmented customers, then let go of:
    segments = segments.without_list()  # (4.8M customers: ~0.9 GB collected, the list ~0.4 GB held)
    kept = retention(inputs, config.retention)
    timing = second_purchase(inputs, config.second_purchase)
    statuses, no_churn = _churn(inputs, config)
    ranked = _statuses_for_lifecycle(statuses, config)
    statuses = _without_list(statuses)  # before the sections computed after it
    stages, no_stages = _lifecycle(inputs, config, ranked, no_churn)  # from the churn statuses
    del ranked
    stages = _without_list(stages)
    (fit, no_clv), (due, no_due) = clv.result() if clv is not None else _cltv_and_due(inputs, config)
    members, no_members = _program(inputs, config, fit, answers)
    missing = {"churn": no_churn, "clv": no_clv, "nps": no_nps, "lifecycle": no_stages, "program": no_members}
    missing |= {"due": no_due, "products": no_products}
    return ReportResult(
        as_of=as_of,
        segment=segments,
        retention=kept,
        second_purchase=timing,
        churn=statuses,
        cltv=fit,
        nps=answers,
        lifecycle=stages,
        program=members,
        contacts=contacts_facts(inputs, as_of),
        totals=data_totals(inputs),
        missing={name: why for name, why in missing.items() if why is not None},
        reads=input_reads(inputs),
        settings=config.settings(),
        recent=recent_periods(inputs, config.retention.period),
        due=due,
        products=goods,
    )


def _in_background(work: Callable[..., R], *args: object) -> Future[R]:
    """``work(*args)`` started in a daemon thread: its result, or its exception, from the future. Daemon, so that
    an interrupt or an error in the sections computed meanwhile ends the command at once, not after the work."""
    future: Future[R] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
                future.set_exception(exc)

    threading.Thread(target=run, name="loyalty-clv", daemon=True).start()
    return future


def _without_list(result: T | None) -> T | None:
    """A churn or lifecycle result without its per-customer list (empty, its columns kept): on 10M lines they held
    ~400 MB that the sections computed later can use instead."""
    return result.without_list() if result is not None else None


def _statuses_for_lifecycle(statuses: ChurnResult | None, config: ReportConfig) -> pl.DataFrame | None:
    """The columns of the churn section's ranked statuses that the lifecycle reads, when they are what it would
    compute (the same rules, ranked by net spend); else None (it ranks them itself)."""
    if statuses is None or statuses.value_column != "net_spend" or statuses.rules != config.lifecycle.churn:
        return None
    return statuses.ranked.select(LIFECYCLE_STATUS_COLUMNS)


def _churn(inputs: Inputs, config: ReportConfig) -> tuple[ChurnResult | None, str | None]:
    rules = config.churn.rule_set
    if lacks_ipt(inputs.customers, rules):
        return None, (
            "no customer bought on two different days, so there is no inter-purchase time for "
            f"the churn rules {rules.source}"
        )
    return churn(inputs, config.churn, summaries_only=True), None  # the page shows the summary and the rates


def _cltv(inputs: Inputs, config: ReportConfig) -> tuple[CltvResult | None, str | None]:
    try:
        return cltv(inputs, config.cltv), None
    except (ModelError, DataError) as exc:
        return None, f"the CLV model could not be fitted: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")


def _cltv_and_due(
    inputs: Inputs, config: ReportConfig
) -> tuple[tuple[CltvResult | None, str | None], tuple[DueData | None, str | None]]:
    """The CLV section, then the due dates from its purchase model when it is the one they need."""
    fit = _cltv(inputs, config)
    return fit, due_data(inputs, NextOrderSettings(), fit[0])


def _nps(inputs: Inputs, config: ReportConfig, segments: SegmentResult) -> tuple[NpsSummary | None, str | None]:
    """The NPS tables of the answers matched to the segmented customers (None without surveys: the customers'
    list is then not collected)."""
    responses = inputs.get("surveys")
    if responses is None:
        return None, None
    if not answer_counts(responses)["counted"]:
        return None, "the surveys have no scored answer before the as-of date"
    customers = segments.customers
    summary = nps_summary(responses, config=config.nps, customers=customers, as_of=inputs.as_of, comments=config.top)
    return summary, None


def _nps_tables(summary: NpsSummary | None) -> dict[str, object]:
    if summary is None:
        return {}
    return {
        "nps_headline": summary.headline,
        "nps_distribution": summary.distribution,
        "nps_trend": summary.trend,
        "nps_segments": summary.segments,
        "nps_comments": summary.comments,
        "nps_counts": summary.counts,
    }


def _lifecycle(
    inputs: Inputs, config: ReportConfig, ranked: pl.DataFrame | None, no_churn: str | None
) -> tuple[LifecycleResult | None, str | None]:
    """The stages as ``loyalty lifecycle`` assigns them (no previous snapshot in the report), from the churn
    section's statuses and value tiers when given (:func:`_statuses_for_lifecycle`: computed once)."""
    if no_churn is not None:
        return None, f"the stages start from the churn status, which is not available: {no_churn}"
    try:
        return lifecycle(inputs, config.lifecycle, ranked=ranked, summaries_only=True), None
    except DataError as exc:  # a condition that reads but fails on the real columns
        return None, exc.message[:1].lower() + exc.message[1:]


def _program(
    inputs: Inputs, config: ReportConfig, fit: CltvResult | None, answers: NpsSummary | None
) -> tuple[ProgramResult | None, str | None]:
    """The figures of ``loyalty program`` (None without members); the predicted CLV compared is the report's
    fit, the NPS compared only when the NPS section has one."""
    members = inputs.get("members")
    if members is None:
        return None, None
    if members.is_empty():
        return None, f"no member enrolled before the as-of date {inputs.as_of} in the members file"
    if answers is None:
        inputs = dataclasses.replace(inputs, tables={k: v for k, v in inputs.tables.items() if k != "surveys"})
    return program(inputs, config.program, clv=fit.fit if fit is not None else None), None
