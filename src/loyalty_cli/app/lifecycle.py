"""``lifecycle``: one stage and one action per customer (and prospect), the stage and flag summaries, and the
transitions from a previous snapshot.

:func:`stages` is the one composition of the stages (the command, NPS by stage and the report use it);
:func:`lifecycle` is the command: its inputs (surveys, contacts, a previous snapshot) through
:func:`stages`, the to-do list to write and what to say about it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.metrics import lifecycle as lc
from loyalty_cli.metrics.lifecycle_transitions import transition_matrix, transitions
from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig, Window
from loyalty_cli.rules.churn import ChurnRules, load_churn_rules
from loyalty_cli.rules.lifecycle import LifecycleRules, load_lifecycle_rules
from loyalty_cli.words import count, did_you_mean

if TYPE_CHECKING:
    from loyalty_cli.stage1.activity_parts import Activity

#: the inputs that make stages reachable, by setting
OPTIONAL_INPUTS = ("surveys", "contacts", "previous")
#: the columns of the to-do list that the summaries and :func:`facts` read (besides customer_id)
SUMMARY_COLUMNS = ("stage", "rule_number", "net_spend", "flags", "window_source", "latest_nps", "previous_stage")


@dataclass(frozen=True)
class LifecycleConfig:
    """``rules``/``churn_rules``: a lifecycle/churn rules file (None: the built-in ones); ``window`` and
    ``min_n``: the second-purchase window that separates new from one-time lapsing buyers; ``stages``: keep
    only these stages in the to-do list; ``surveys``, ``contacts``, ``previous``: whether those inputs are
    given (a kept stage that cannot be reached without one is refused); ``next_order``: the to-do list also
    carries each repeat customer's next-order date and contact window (BG/NBD, as ``loyalty next-order``).
    Checked when built: the rules are loaded then (:attr:`lifecycle_rules`, :attr:`churn`), before any data is
    read."""

    rules: str | None = None
    churn_rules: str | None = None
    window: Window = field(default_factory=Window)
    min_n: int = 30
    stages: Sequence[str] = ()
    surveys: bool = False
    contacts: bool = False
    previous: bool = False
    next_order: bool = False
    lifecycle_rules: LifecycleRules = field(init=False, repr=False, compare=False)
    churn: ChurnRules = field(init=False, repr=False, compare=False)
    second_purchase: SecondPurchaseConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.min_n < 1:
            raise ConfigError("min_n", f"must be at least 1, got {self.min_n}")
        object.__setattr__(self, "second_purchase", SecondPurchaseConfig(min_n=self.min_n, window=self.window))
        rules = load_lifecycle_rules(self.rules)
        unknown = [s for s in self.stages if s not in rules.stages]
        if unknown:
            raise UsageError(
                f"Unknown stage {unknown[0]!r}",
                hint=f"{did_you_mean(unknown[0], rules.stages)}Stages: {', '.join(rules.stages)}.",
            )
        self._check_reachable(rules)
        object.__setattr__(self, "lifecycle_rules", rules)
        object.__setattr__(self, "churn", load_churn_rules(self.churn_rules))

    def _check_reachable(self, rules: LifecycleRules) -> None:
        """Every kept stage can hold somebody with the inputs given; else which input it needs."""
        given = {name: bool(getattr(self, name)) for name in OPTIONAL_INPUTS}
        reachable = rules.reachable(**given)
        for stage in (s for s in self.stages if s not in reachable):
            missing = [
                setting(name)
                for name, ok in given.items()
                if not ok and stage in rules.reachable(**{**given, name: True})
            ]
            raise UsageError(
                f"{setting('stages')} {stage} needs {' or '.join(missing) or 'other rules'}",
                hint=f"Without it nobody can be in the stage {stage!r}.",
            )


@dataclass(frozen=True)
class Stages:
    """The stages of every customer and prospect: ``rows`` (the to-do list, :func:`lc.lifecycle_table`, a slice
    at a time as it is written; ``stage`` an Enum in rule order) and :attr:`table` the same in memory;
    ``decided``: each person's id, net spend and stage (not sorted); ``summary`` (one row per
    rule), ``flags`` (one row per flag), ``moves`` (the long transitions from the previous snapshot, or None
    without one) and the second-purchase ``window`` used."""

    rows: Rows
    decided: pl.DataFrame
    summary: pl.DataFrame
    flags: pl.DataFrame
    moves: pl.DataFrame | None
    window: SecondPurchaseConfig

    @cached_property
    def table(self) -> pl.DataFrame:
        return self.rows.collect()


def stages(
    customers: pl.DataFrame,
    activity: Activity,
    *,
    as_of: date,
    config: LifecycleConfig | None = None,
    scores: pl.DataFrame | None = None,
    contacts: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    ranked: pl.DataFrame | None = None,
    summaries_only: bool = False,
) -> Stages:
    """Each customer's (and, with ``contacts``, each prospect's) stage as ``loyalty lifecycle`` gives it
    (``config``: the built-in rules and window when None); ``scores``: the latest NPS answer per respondent
    (:func:`~loyalty_cli.metrics.nps_lists.customer_scores`); ``previous``: a snapshot as
    :func:`~loyalty_cli.metrics.lifecycle_transitions.check_previous` gives it; ``ranked``: the churn status ranked
    by net spend with ``config.churn`` (``loyalty churn``'s table without a model, :attr:`ChurnResult.ranked`, or its
    columns customer_id, status, value_tier and ipt_days) when computed already; ``summaries_only``: the table
    has only the columns the summaries and :func:`facts` read (:data:`SUMMARY_COLUMNS`). Rules whose conditions
    fail on the real columns raise :class:`DataError`."""
    config = config if config is not None else LifecycleConfig()
    rules, window = config.lifecycle_rules, lc.lifecycle_window(customers, config.second_purchase)
    inputs = lc.lifecycle_inputs(
        customers,
        activity,
        as_of=as_of,
        churn_rules=config.churn,
        window=window,
        scores=scores.lazy() if scores is not None else None,
        contacts=contacts.lazy() if contacts is not None else None,
        previous=previous.lazy() if previous is not None else None,
        ranked=ranked.lazy() if ranked is not None else None,
    )
    try:
        decided = lc.decide(inputs, rules=rules)
    except pl.exceptions.PolarsError as exc:  # a condition that reads but fails on the real columns
        raise DataError(
            f"The lifecycle rules {rules.source} cannot be applied: {str(exc).splitlines()[0]}",
            hint="Check the conditions against the columns listed in rules/lifecycle.toml.",
        ) from None
    columns = ["customer_id", *(c for c in SUMMARY_COLUMNS if c in (*inputs.columns, *lc.ASSIGNED))]
    plans = [lc.stage_summary(decided.lazy(), rules=rules), lc.flag_summary(decided.lazy(), rules=rules)]
    if previous is not None:
        plans.append(transitions(decided.lazy(), previous.lazy()))
    results = pl.collect_all(plans)
    decided = decided.select("customer_id", "net_spend", "stage")  # the rules and flags are summed up (4.8M: ~0.1 GB)
    return Stages(
        rows=lc.lifecycle_table(inputs, rules=rules, decided=decided, columns=columns if summaries_only else None),
        decided=decided,
        summary=results[0],
        flags=results[1],
        moves=results[2] if previous is not None else None,
        window=window,
    )


@dataclass(frozen=True)
class LifecycleFacts:
    """What was counted, for the notes and the report: ``people`` (customers and prospects), ``customers``,
    ``prospects`` (None without contacts), where the second-purchase windows came from, the respondents and
    how many of them matched (None without surveys), the contacts left out as signed up on or after the as-of
    date, and the previous snapshot's people, how many of them are found now and its as-of dates (None
    without one)."""

    people: int
    customers: int
    prospects: int | None
    window_by: str | None
    window_sources: list[str]
    respondents: int | None
    nps_matched: int | None
    contacts_later: int
    previous_people: int | None
    previous_found: int | None
    previous_dates: list[date]


def facts(
    staged: Stages,
    customers: pl.DataFrame,
    *,
    as_of: date,
    scores: pl.DataFrame | None = None,
    contacts: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
) -> LifecycleFacts:
    """The :class:`LifecycleFacts` of ``staged``, from the inputs :func:`stages` was given."""
    table = staged.rows.frame  # every person's inputs, in no particular order
    return LifecycleFacts(
        people=table.height,
        customers=customers.height,
        prospects=table.height - customers.height if contacts is not None else None,
        window_by=staged.window.by,
        window_sources=table["window_source"].drop_nulls().unique().cast(pl.String).sort().to_list(),
        respondents=scores.height if scores is not None else None,
        nps_matched=table.filter(pl.col("latest_nps").is_not_null()).height if scores is not None else None,
        contacts_later=lc.contacts_left_out(contacts, customers, as_of=as_of) if contacts is not None else 0,
        previous_people=previous.height if previous is not None else None,
        previous_found=table.filter(pl.col("previous_stage").is_not_null()).height if previous is not None else None,
        previous_dates=previous["previous_as_of"].unique().sort().to_list() if previous is not None else [],
    )


@dataclass(frozen=True)
class LifecycleResult:
    """``rows``: the to-do list to write (the kept stages; ``stage`` as text), as the writers take it (a slice at a
    time: :mod:`loyalty_cli.io.rows`), and :attr:`todo` the same in memory; ``summary``: one row per rule
    (stage, action, customers, shares, net spend); ``flags``: one row per flag; ``transitions``: the
    transition matrix (previous stage x stage; None without a previous snapshot); ``contacts``: the contact
    rows read (for the list hand-off's consent), ``facts``: what was counted."""

    rows: Rows
    summary: pl.DataFrame
    flags: pl.DataFrame
    transitions: pl.DataFrame | None
    contacts: pl.DataFrame | None
    as_of: date
    facts: LifecycleFacts
    messages: list[Message]

    @cached_property
    def todo(self) -> pl.DataFrame:
        return self.rows.collect()

    def without_list(self) -> LifecycleResult:
        """The same result without its to-do list (no rows, its columns kept)."""
        return dataclasses.replace(self, rows=Rows(self.rows.frame.clear(), None, self.rows.shape))


def lifecycle(
    inputs: Inputs,
    config: LifecycleConfig,
    messages: Messages | None = None,
    *,
    ranked: pl.DataFrame | None = None,
    summaries_only: bool = False,
) -> LifecycleResult:
    """The command on ``inputs``; ``ranked``: the churn status already ranked by net spend with the same churn
    rules (the report passes its churn section's), ``summaries_only``: a to-do list of the columns the summaries
    read only (the report's, which shows the summaries): see :func:`stages`. With ``config.next_order`` (and
    not ``summaries_only``) the to-do list ends with next_order_date, contact_from and contact_to."""
    from loyalty_cli.app.churn import FIXED_DAYS, check_ipt, with_next_order_dates
    from loyalty_cli.metrics.nps_lists import customer_scores

    as_of = inputs.as_of
    assert as_of is not None
    check_ipt(
        inputs,
        config.churn,
        hint=f"Use fixed thresholds instead: {FIXED_DAYS} in a copy of rules/churn.toml "
        f"({setting('churn_rules')} FILE).",
    )
    responses, contacts, previous = (inputs.get(kind) for kind in ("surveys", "contacts", "previous"))
    scores = customer_scores(responses.lazy()).collect() if responses is not None else None
    staged = stages(
        inputs.customers,
        inputs.activity_parts,  # in parts when read in passes: read one part at a time
        as_of=as_of,
        config=config,
        scores=scores,
        contacts=contacts,
        previous=previous,
        ranked=ranked,
        summaries_only=summaries_only,
    )
    counted = facts(staged, inputs.customers, as_of=as_of, scores=scores, contacts=contacts, previous=previous)
    rows = _as_written(staged, config.stages)
    said = notes(counted, config, as_of=as_of, window=staged.window, messages=messages)
    if config.next_order and not summaries_only:
        others = (
            ("one-time buyer or prospect", "one-time buyers and prospects")
            if contacts is not None
            else ("one-time buyer",)
        )
        rows = Rows(with_next_order_dates(rows.collect(), inputs.customers, messages=said, others=others))
    moves = staged.moves
    return LifecycleResult(
        rows=rows,
        summary=staged.summary,
        flags=staged.flags,
        transitions=transition_matrix(moves, stages=config.lifecycle_rules.stages) if moves is not None else None,
        contacts=contacts,
        as_of=as_of,
        facts=counted,
        messages=said.items,
    )


def _as_written(staged: Stages, kept: Sequence[str]) -> Rows:
    """The to-do list as written: the rows of the ``kept`` stages only (all when none), ``stage`` as text."""
    table, order = staged.rows, staged.rows.order
    assert order is not None
    if kept:
        order = order.filter(staged.decided["stage"].is_in(kept).gather(order))
    shape = table.shape
    assert shape is not None
    return Rows(table.frame, order, lambda part: shape(part).with_columns(pl.col("stage").cast(pl.String)))


def notes(
    facts: LifecycleFacts,
    config: LifecycleConfig,
    *,
    as_of: date,
    window: SecondPurchaseConfig,
    messages: Messages | None = None,
) -> Messages:
    """What was counted, where the numbers come from, what is missing and why."""
    rules, messages = config.lifecycle_rules, messages if messages is not None else Messages()
    prospects = facts.prospects
    messages.note(
        f"As of {as_of} (data before that day): {count(facts.customers, 'customer')}"
        + (f" and {count(prospects, 'prospect')} (contacts with no purchase)" if prospects is not None else "")
        + f"; stages from {rules.source}; churn status and value tiers from {config.churn.source}"
    )
    sources = facts.window_sources
    messages.note(
        f"New vs one-time lapsing: the second-purchase window ({window.window.describe()}"
        + (", per first-order category" if window.by else "")
        + "); windows from: "
        + ", ".join(sources)
    )
    if any(s.startswith("none") for s in sources):
        messages.warn(
            f"No second-purchase window for some customers (fewer than {setting('min_n')} repeaters): a one-time "
            f"buyer counts as new while their churn status is active. Lower {setting('min_n')} or give "
            f"{setting('window')} in days."
        )
    if facts.contacts_later:
        messages.note(f"{count(facts.contacts_later, 'contact')} who signed up on or after the as-of date left out")
    _input_notes(facts, rules, messages)
    return messages


def _input_notes(facts: LifecycleFacts, rules: LifecycleRules, messages: Messages) -> None:
    """The latest NPS answers and the previous snapshot: how many matched, or the rules they leave unused."""
    if facts.respondents is None:
        used = rules.uses("nps_category") + rules.uses("latest_nps")
        if used:
            messages.note(
                f"No {setting('surveys')}: nobody has a latest NPS, so "
                + ", ".join(dict.fromkeys(used))
                + f" can never apply (advocates need active + latest NPS 9-10). Pass {setting('surveys')} FILE."
            )
    else:
        matched, respondents = facts.nps_matched or 0, facts.respondents
        messages.note(
            f"Latest NPS answer for {matched:,} of the {count(respondents, 'respondent')}"
            + (" (the others are not among the customers and contacts)" if matched < respondents else "")
        )
        if respondents and not matched:
            messages.warn("No respondent matched a customer: do the surveys and the transactions use the same ids?")
    if facts.previous_people is None:
        used = rules.uses("previous_stage") + rules.uses("bought_since_previous")
        if used:
            messages.note(
                f"No {setting('previous')} snapshot: "
                + ", ".join(dict.fromkeys(used))
                + " can never apply (reactivated needs the stage of an earlier run). "
                f"Pass {setting('previous')} FILE (an earlier -o output)."
            )
    else:
        dates = facts.previous_dates
        shown = str(dates[0]) if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        messages.note(
            f"Previous snapshot as of {shown}: {count(facts.previous_people, 'person', 'people')}, "
            f"{facts.previous_found or 0:,} of them found now"
        )
