"""``nps``: NPS per survey type with its uncertainty, the 0-10 distribution, the trend with a test of each
change, breakdowns (survey columns, and with the transactions RFM segments and lifecycle stages) and the
closed-loop lists.

:func:`nps` is the command: the answers of one survey type, the respondents matched to the customers and their
lifecycle stages, the tables (composed as for the report: :mod:`loyalty_cli.app.nps_summary`), the list and
what to say."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.lifecycle import LifecycleConfig
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.app.nps_summary import NpsSummary, collect_tables, matched_answers, table_plans
from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.io.readers import Scan
from loyalty_cli.metrics import nps_lists as m
from loyalty_cli.metrics.nps import NpsConfig
from loyalty_cli.rules.segments import SegmentMap, load_segment_rules
from loyalty_cli.words import count

#: ``by`` columns that come from the transactions
CUSTOMER_BY = ("segment", "stage", "first_category", "first_channel")
#: ``by`` columns that are not read from the survey file as they are
DERIVED_BY = (*CUSTOMER_BY, "period", "survey_type")


@dataclass(frozen=True)
class NpsCommandConfig:
    """``interval`` ... ``bootstrap_seed``: how answers are counted and how uncertain the result is said to be
    (:attr:`stats`, a :class:`~loyalty_cli.metrics.nps.NpsConfig`); ``by``: the breakdown columns (any survey
    column, ``period``, and with the transactions :data:`CUSTOMER_BY`); ``survey_type``: keep only this type;
    ``list_``: the closed-loop list wanted (:data:`~loyalty_cli.metrics.nps_lists.LISTS`, None: none); ``trend``: a
    trend table is wanted (refused on surveys without dates); ``transactions``: the respondents are matched to
    the customers of transactions, segmented with the ``rules`` map; ``min_spend``: the least net spend of a
    high-value detractor (None: where the top 20% of customers start). Checked when built: the segment map
    (:attr:`segment_map`) and, for ``by`` stage, the lifecycle rules (:attr:`lifecycle`) are loaded then,
    before any data is read."""

    interval: str = "adjusted-wald"
    confidence: float = 0.95
    min_n: int = 30
    dedupe: str = "auto"
    period: str = "quarter"
    bootstrap_samples: int = 2000
    bootstrap_seed: int = 0
    by: Sequence[str] = ()
    survey_type: str | None = None
    list_: str | None = None
    trend: bool = False
    transactions: bool = False
    rules: str | None = None
    min_spend: float | None = None
    stats: NpsConfig = field(init=False, repr=False, compare=False)
    segment_map: SegmentMap | None = field(init=False, repr=False, compare=False)
    lifecycle: LifecycleConfig | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", tuple(dict.fromkeys(self.by)))
        object.__setattr__(self, "stats", self._stats())
        if self.list_ is not None and self.list_ not in m.LISTS:
            raise UsageError(f"{setting('list')} must be one of {', '.join(m.LISTS)}, got {self.list_!r}")
        if not self.transactions:
            needs = [setting(name) for name in ("rules", "min_spend") if getattr(self, name) is not None]
            needs += [f"{setting('by')} {b}" for b in self.by if b in CUSTOMER_BY]
            if needs:
                raise UsageError(
                    f"{needs[0]} needs {setting('transactions')}",
                    hint=f"Pass the orders export with {setting('transactions')} FILE so respondents can be matched "
                    "to customers.",
                )
        object.__setattr__(self, "segment_map", load_segment_rules(self.rules) if self.transactions else None)
        object.__setattr__(self, "lifecycle", LifecycleConfig() if "stage" in self.by else None)

    def _stats(self) -> NpsConfig:
        """The statistics settings, checked by :class:`~loyalty_cli.metrics.nps.NpsConfig`."""
        return NpsConfig(
            interval=self.interval,  # type: ignore[arg-type]
            confidence=float(self.confidence),
            min_n=self.min_n,
            dedupe=self.dedupe,  # type: ignore[arg-type]
            period=self.period,  # type: ignore[arg-type]
            bootstrap_samples=self.bootstrap_samples,
            seed=self.bootstrap_seed,
        )

    @property
    def survey_columns(self) -> tuple[str, ...]:
        """The ``by`` columns read from the survey file as they are (the reader keeps them)."""
        return tuple(b for b in self.by if b not in DERIVED_BY)


def survey_check(config: NpsCommandConfig, *, as_of: date | None) -> Callable[[Scan, Messages], None]:
    """The check of the surveys' scan before any answer is read (``InputSpec.check_scan``): a survey without a
    response date column (a single-wave export) is refused what needs dates (a trend table, ``by`` period);
    else it is said what that leaves out and how its answers are deduped. ``as_of``: the date given."""

    def check(scan: Scan, messages: Messages) -> None:
        if "responded_at" in scan.mapping.columns:
            return
        where = ", ".join(str(p) for p in scan.paths[:3]) + (" ..." if len(scan.paths) > 3 else "")
        hint = (
            f"Map the response date column with {setting('date_col')} (or responded_at in the [surveys] table of "
            "the mapping file)"
        )
        for wanted, what in ((config.trend, setting("trend")), ("period" in config.by, f"{setting('by')} period")):
            if wanted:
                raise UsageError(
                    f"{what} needs response dates: {where} has no date column", hint=f"{hint}, or leave {what} out."
                )
        messages.note(
            f"{where} has no response date column: no trend (it needs dates); the answers of one customer cannot "
            f"be told apart in time, so where {setting('dedupe')} keeps one answer per customer it keeps the "
            "lowest score"
        )
        if as_of is not None:
            messages.note(
                f"{setting('as_of')} {as_of} leaves no answer out: the surveys have no dates"
                + (f" (it applies to the orders of {setting('transactions')})" if config.transactions else "")
            )

    return check


@dataclass(frozen=True)
class NpsResult:
    """``tables``: the NPS tables (no trend without response dates, no segment table when ``by`` has the
    segment); ``respondents``: one row per identified respondent (latest score, and the customer columns and
    stage when known); ``customer_list``: the list asked for, with ``list_note`` to say after writing it;
    ``stats``: the NPS settings (for the labels); ``said``: the lines that go with the tables (the NPS of each
    survey type, the respondents found among the customers); ``messages``: the notes of the run."""

    tables: NpsSummary
    respondents: pl.DataFrame
    customer_list: pl.DataFrame | None
    list_note: str | None
    stats: NpsConfig
    by: tuple[str, ...]
    said: list[Message]
    messages: list[Message]

    @property
    def table(self) -> pl.DataFrame:
        """The NPS table of a run without a list: the breakdown when asked, else the headline."""
        return self.tables.by if self.tables.by is not None else self.tables.headline


def nps(inputs: Inputs, config: NpsCommandConfig, messages: Messages | None = None) -> NpsResult:
    """NPS of the surveys of ``inputs`` (and of their respondents among the customers of its transactions).
    ``messages``: where the notes go as they come (a listener shows them before a failure); the result holds
    them all the same."""
    messages = messages if messages is not None else Messages()
    scan = inputs.scans["surveys"]
    dated = "responded_at" in scan.mapping.columns
    every_type = inputs.tables["surveys"]  # the lifecycle stage reads the latest answer of any type
    responses = m.only_survey_type(every_type, config.survey_type, typed="survey_type" in scan.mapping.columns)
    counts = m.answer_counts(responses)
    if not counts["counted"]:
        raise DataError(
            "No scored answers in " + ", ".join(str(p) for p in scan.paths[:3]),
            hint=f"Check the score column ({setting('score_col')}), {setting('survey_type')} and "
            f"{setting('as_of')}; blank and NA scores are non-responses.",
        )
    _describe(responses, counts, config.stats, messages, dated=dated)
    customers = _customers(inputs, config, messages)
    stages = _stages(inputs, config, every_type, messages)
    answers = matched_answers(responses, customers, stages)
    _check_by(answers, config.by)
    matched = customers is not None
    plans = table_plans(
        answers,
        config.stats,
        customers=matched,
        as_of=inputs.spec.as_of,
        by=config.by,
        segments="segment" not in config.by,
        trend=dated,
    )
    plans["respondents"] = m.respondent_table(
        responses.lazy(),
        customers=customers.lazy() if customers is not None else None,
        stages=stages.lazy() if stages is not None else None,
    )
    if customers is not None and config.min_spend is None and not customers.is_empty():
        plans["threshold"] = m.high_value_threshold(customers.lazy())
    tables = collect_tables(plans)
    top = "threshold" in tables
    min_spend = float(tables["threshold"].item()) if top else config.min_spend
    respondents = tables["respondents"]
    return NpsResult(
        tables=NpsSummary.from_tables(tables, counts),
        respondents=respondents,
        customer_list=m.customer_list(respondents, config.list_, min_spend=min_spend) if config.list_ else None,
        list_note=_list_note(config.list_, min_spend, top=top) if matched else None,
        stats=config.stats,
        by=tuple(config.by),
        said=_said(tables["headline"], config.stats, respondents if matched else None),
        messages=messages.items,
    )


def _describe(
    responses: pl.DataFrame, counts: dict[str, int], stats: NpsConfig, messages: Messages, *, dated: bool
) -> None:
    """How the answers were counted: per status, the dedupe policy per survey type, the anonymous answers."""
    messages.note(
        f"{count(responses.height, 'answer')}: {counts['counted']:,} counted, "
        f"{count(counts['non-response'], 'non-response')} (blank or NA score: not in n), "
        f"{count(counts['duplicate'], 'duplicate')} (the same answer twice), "
        f"{count(counts['repeat'], 'earlier answer' if dated else 'other answer')} of repeat responders dropped"
    )
    types = sorted(responses["survey_type"].unique().to_list())
    policies = "; ".join(f"{t}: {stats.policy(t)}" for t in types)
    messages.note(f"Dedupe {stats.dedupe} ({policies})" + (f"; periods: {stats.period}" if dated else ""))
    anonymous = responses.filter(pl.col("customer_id").is_null() & (pl.col("status") == "counted")).height
    if anonymous:
        messages.note(
            f"{count(anonymous, 'anonymous answer')} (no customer id) counted as they are (cannot be deduped)"
        )
    if len(types) > 1:
        messages.note(f"Survey types {', '.join(types)} are reported separately, never pooled")
    if m.looks_like_five_point(responses):
        messages.warn(
            "Every score is 5 or below: is this a 1-5 scale? NPS needs answers on 0-10; nothing was converted."
        )


def _customers(inputs: Inputs, config: NpsCommandConfig, messages: Messages) -> pl.DataFrame | None:
    """The customers of the transactions with their RFM segment (scored with the map's bins); None without."""
    from loyalty_cli.metrics.rfm import RfmConfig, rfm_scores

    seg_map = config.segment_map
    if seg_map is None or inputs.loaded is None:
        return None
    customers = seg_map.assign(rfm_scores(inputs.customers.lazy(), config=RfmConfig(bins=seg_map.bins))).collect()
    if customers.is_empty():
        messages.warn("No customer made a purchase before the as-of date in the transactions")
    else:
        messages.note(
            f"Customers as of {customers['as_of'][0]} (orders before that day): {customers.height:,}; "
            f"segments from {seg_map.source}"
        )
    return customers


def _stages(
    inputs: Inputs, config: NpsCommandConfig, responses: pl.DataFrame, messages: Messages
) -> pl.DataFrame | None:
    """Each customer's lifecycle stage as the lifecycle command gives it from the transactions and the
    surveys, with its defaults (:func:`loyalty_cli.app.lifecycle.stages`): ``customer_id, stage`` (an Enum in
    rule order); None unless ``by`` has the stage. The latest answer taken is the latest of any survey type before the
    transactions' as-of date, as there; it decides 'advocate' (active and latest answer 9-10), so the
    advocates' NPS is high by construction."""
    from loyalty_cli.app.churn import check_ipt
    from loyalty_cli.app.lifecycle import stages

    loaded, life = inputs.loaded, config.lifecycle
    if life is None or loaded is None:
        return None
    rules, churn = life.lifecycle_rules, life.churn
    as_of, activity = loaded.as_of, loaded.activity_source()
    if as_of is None or activity is None:  # nobody bought before the as-of date: every respondent (no purchase)
        return pl.DataFrame(schema={"customer_id": pl.String, "stage": pl.Enum(rules.stages)})
    rules_hint = f"Break NPS down by segment instead, or see `loyalty lifecycle {setting('churn_rules')}`."
    check_ipt(inputs, churn, hint=rules_hint)
    cutoff = datetime(as_of.year, as_of.month, as_of.day)  # the answers read up to the surveys' own as-of date
    # Answers without a date (a survey with no date column) are not left out by any as-of date, as when read.
    before = pl.col("responded_at").is_null() | (pl.col("responded_at") < cutoff)
    scores = m.customer_scores(responses.lazy().filter(before)).collect()
    table = stages(loaded.customers, activity, as_of=as_of, config=life, scores=scores).decided
    messages.note(
        f"Lifecycle stages as `loyalty lifecycle` gives them as of {as_of} ({rules.source} and "
        f"{churn.source} rules); the latest answer before that day decides 'advocate' (active and 9-10), so "
        "the advocates' NPS is high by construction"
    )
    return table.select("customer_id", pl.col("stage").cast(pl.Enum(rules.stages)))


def _check_by(answers: pl.LazyFrame, by: Sequence[str]) -> None:
    names = answers.collect_schema().names()
    missing = [b for b in by if b not in names]
    if missing:
        raise UsageError(
            f"{setting('by')} {missing[0]}: no such column",
            hint="Columns: " + ", ".join(c for c in names if c not in ("status", "dedupe", "period_start")),
        )


def _list_note(kind: str | None, min_spend: float | None, *, top: bool) -> str | None:
    """What the detractors list holds when the respondents are matched to the customers."""
    if kind != "detractors" or min_spend is None:
        return None
    return f"High-value detractors: net spend of at least {min_spend:,.2f}" + (" (top 20% of customers)" if top else "")


def _said(headline: pl.DataFrame, stats: NpsConfig, respondents: pl.DataFrame | None) -> list[Message]:
    """The NPS of each survey type in words, and (``respondents`` matched to customers) how many were found."""
    said = Messages()
    for row in headline.iter_rows(named=True):
        if row["suppressed"]:
            said.note(
                f"{row['survey_type']}: n = {row['responses']:,}, below {setting('min_n')} {stats.min_n}: no score"
            )
            continue
        weighted = row.get("nps_weighted_by_net_spend")
        said.note(
            f"{row['survey_type']}: NPS {row['nps']:.1f} ({stats.label} interval {row['ci_low']:.1f} to "
            f"{row['ci_high']:.1f}), n = {row['responses']:,}"
            + (f"; revenue-weighted {weighted:.1f}" if weighted is not None else "")
        )
    if respondents is not None:
        matched = respondents.filter(pl.col("segment") != m.NO_PURCHASE).height
        said.note(
            f"{matched:,} of {count(respondents.height, 'respondent')} found among the customers of the transactions"
        )
        if respondents.height and not matched:
            said.warn("No respondent matched a customer: do both files use the same customer ids?")
    return said.items


def scores_by_type(distribution: pl.DataFrame) -> pl.DataFrame:
    """The 0-10 distribution (:attr:`NpsSummary.distribution`) with the survey types side by side, in the order
    they come: ``score, category``, then ``<type> responses, <type> share`` per type."""
    types = distribution["survey_type"].unique(maintain_order=True).to_list()
    wide = distribution.pivot(on="survey_type", index=["score", "nps_category"], values=["responses", "share"])
    return wide.select(
        "score",
        pl.col("nps_category").cast(pl.String).alias("category"),
        *[pl.col(f"{k}_{t}").alias(f"{t} {k}") for t in types for k in ("responses", "share")],
    )


def trend_in_words(trend: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """The trend (:attr:`NpsSummary.trend`) to read: ``survey_type, period`` (a period not complete marked
    ``(partial)``), ``responses, nps, ci_low, ci_high, change, p_value`` and ``change_test``: significant, not
    significant, or ``n < min_n`` when a period has too few answers to be tested."""
    significant = pl.col("significant")
    test = pl.when(significant).then(pl.lit("significant")).when(~significant).then(pl.lit("not significant"))
    period = pl.when(pl.col("complete")).then(pl.col("period")).otherwise(pl.col("period") + " (partial)")
    return trend.select(
        "survey_type",
        period.alias("period"),
        *("responses", "nps", "ci_low", "ci_high", "change", "p_value"),
        test.when(pl.col("suppressed")).then(pl.lit(f"n < {min_n}")).alias("change_test"),
    )
