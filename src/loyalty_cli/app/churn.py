"""``churn``: each customer's status (active, lapsing, lapsed) with the reason, ranked by value with a value
tier, the status summary and the churn rate per period; optionally P(alive) and a predicted value from a BTYD
model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.metrics.churn import lacks_ipt, with_reasons
from loyalty_cli.metrics.churn_model import model_predictions
from loyalty_cli.metrics.churn_narrow import Statuses
from loyalty_cli.metrics.churn_ranking import rank_in_place, status_summary
from loyalty_cli.metrics.churn_rates import status_and_rates
from loyalty_cli.metrics.periods import TABLE_PERIODS, Period
from loyalty_cli.rules.churn import STATUSES, ChurnRules, load_churn_rules
from loyalty_cli.words import count, did_you_mean

if TYPE_CHECKING:
    from loyalty_cli.models import PurchaseModel

#: the columns of the lists of lapsing and lapsed customers shown beside the summary (those present)
LIST_COLUMNS = (
    "customer_id",
    "value_rank",
    "value_tier",
    "worth_costly_offer",
    "recency_days",
    "ipt_days",
    "net_spend",
    "predicted_value",
    "p_alive",
)
#: the status columns kept by ``churn(summaries_only=True)``: the summary's and the lifecycle's
SUMMARY_COLUMNS = ("customer_id", "status", "net_spend", "ipt_days")
#: the columns of the narrow status table that its ``ipt_days`` is made from
IPT_FROM = ("purchase_days", "own_ipt_days")
#: the statuses whose most valuable customers are listed (win-back candidates)
AT_RISK = ("lapsing", "lapsed")
#: what the hint of :func:`check_ipt` suggests to a churn user
FIXED_DAYS = "[lapsing] days = 60 and [lapsed] days = 180"
#: the BTYD model of the next-order dates when no model is chosen (``loyalty next-order``'s default)
NEXT_ORDER_MODEL = "bgnbd"


@dataclass(frozen=True)
class ChurnConfig:
    """``rules``: a churn rules file (None: the built-in ``churn`` rules), loaded when built (:attr:`rule_set`);
    ``statuses``: keep only these statuses in :attr:`ChurnResult.customers`; ``model``: a BTYD model
    (bgnbd, mbgnbd, pnbd) for P(alive) and a 12-month predicted value; ``rank_by``: historical (net spend) or
    predicted (needs ``model``); ``period``: of the churn rates; ``top``: customers per at-risk list;
    ``next_order``: the list also carries each repeat customer's next-order date and contact window
    (:func:`with_next_order_dates`)."""

    rules: str | None = None
    statuses: Sequence[str] = ()
    model: str | None = None
    rank_by: str = "historical"
    period: str = "month"
    top: int = 10
    next_order: bool = False
    rule_set: ChurnRules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from loyalty_cli.models import PURCHASE_MODELS

        if self.period not in TABLE_PERIODS:
            raise ConfigError("period", f"must be week, month or quarter, got {self.period!r}")
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown:
            raise UsageError(
                f"Unknown status {unknown[0]!r}",
                hint=f"{did_you_mean(unknown[0], STATUSES)}Statuses: {', '.join(STATUSES)}.",
            )
        if self.model is not None and self.model not in PURCHASE_MODELS:
            raise ConfigError("model", f"must be one of {', '.join(PURCHASE_MODELS)}, got {self.model!r}")
        if self.rank_by not in ("historical", "predicted"):
            raise ConfigError("rank_by", f"must be historical or predicted, got {self.rank_by!r}")
        if self.rank_by == "predicted" and self.model is None:
            raise UsageError(
                f"{setting('rank_by')} predicted needs {setting('model')}",
                hint=f"e.g. {setting('model')} pnbd {setting('rank_by')} predicted",
            )
        if self.top < 0:
            raise ConfigError("top", f"must be 0 or more, got {self.top}")
        object.__setattr__(self, "rule_set", load_churn_rules(self.rules))


@dataclass(frozen=True)
class ChurnResult:
    """``rows``: one row per customer (id, email, status, value tier and rank, worth_costly_offer, reason,
    the numbers behind the status, with the model's columns), by status then value, as the writers take it (a
    slice at a time: :mod:`loyalty_cli.io.rows`), and :attr:`ranked` the same in memory; ``chosen``: the same,
    only the chosen statuses (the list to hand off), and :attr:`customers` in memory; ``summary``: one row per
    status; ``rates``: the churn rate per ``period``; ``value_column``: what ranks customers (net_spend or
    predicted_value); ``at_risk``: the ``top`` most valuable lapsing and lapsed customers (:data:`LIST_COLUMNS`),
    for statuses that have any; ``counts``: customers per status."""

    rows: Rows
    chosen: Rows
    summary: pl.DataFrame
    rates: pl.DataFrame
    as_of: date
    period: Period
    value_column: str
    at_risk: dict[str, pl.DataFrame]
    counts: dict[str, int]
    rules: ChurnRules
    messages: list[Message]

    @cached_property
    def ranked(self) -> pl.DataFrame:
        return self.rows.collect()

    @cached_property
    def customers(self) -> pl.DataFrame:
        return self.chosen.collect()

    def without_list(self) -> ChurnResult:
        """The same result without its per-customer rows (none, their columns kept)."""
        rows, chosen = (Rows(r.frame.clear(), None, r.shape) for r in (self.rows, self.chosen))
        return dataclasses.replace(self, rows=rows, chosen=chosen)


def check_ipt(inputs: Inputs, rules: ChurnRules, *, hint: str) -> None:
    """Stop with a clear error when ``rules`` need an inter-purchase time and nobody bought on two different
    days (:func:`~loyalty_cli.metrics.churn.lacks_ipt`); ``hint``: what the caller's user can do instead."""
    if lacks_ipt(inputs.customers, rules):
        paths = inputs.scans["transactions"].paths
        raise DataError(
            f"No customer in {', '.join(str(p) for p in paths[:3])} bought on two different days, so there is "
            f"no inter-purchase time for the churn rules {rules.source}",
            hint=hint,
        )


def churn(
    inputs: Inputs, config: ChurnConfig, messages: Messages | None = None, *, summaries_only: bool = False
) -> ChurnResult:
    """The churn tables of ``inputs`` (customers and activity). ``messages``: where the notes go as they come
    (a listener shows them before a failure of the model); the result holds them all the same.
    ``summaries_only``: the ranked list holds only :data:`SUMMARY_COLUMNS` (and what ranking adds), without
    reasons, for a caller that shows the summary and the rates (the report; 10M lines: ~1 s less): the same
    order, so the same summary."""
    rules, period = config.rule_set, config.period
    messages = messages if messages is not None else Messages()
    check_ipt(
        inputs,
        rules,
        hint=f"Use fixed thresholds instead: {FIXED_DAYS} in a copy of rules/churn.toml ({setting('rules')} FILE).",
    )
    # the status is collected once, narrow (its thresholds, IPT and reasons are made for the rows written), and the
    # rates derived from it (a lazy status is recomputed by the rates)
    statuses, rates = status_and_rates(inputs.customers, inputs.activity_parts, rules=rules, period=period)  # type: ignore[arg-type]
    table = statuses.table
    as_of_day = table["as_of"][0]
    messages.note(
        f"As of {as_of_day} (data before that day); {count(table.height, 'customer')}; "
        f"rules {rules.source}: {rules.describe()}"
    )
    value, fitted = "net_spend", None
    if config.model is not None:
        table, fitted = _with_predictions(table, inputs.activity_parts, as_of_day, config, messages)
        value = "predicted_value" if config.rank_by == "predicted" else value
    columns = SUMMARY_COLUMNS if summaries_only else None
    if summaries_only:  # and what the summary's columns are made from (Statuses.complete)
        table = table.lazy().select(c for c in table.columns if c in (*SUMMARY_COLUMNS, *IPT_FROM, value)).collect()
    # ranked where the rows are, with their order: no sorted copy of the table; the writers gather it a slice at a
    # time, and the status's other columns and reasons, the largest column, are made then (:func:`_shape`)
    table, order = rank_in_place(table, rules=rules, value=value)
    shape = _shape(statuses, table.columns, only=columns, reasons=not summaries_only)
    counts = dict(table.lazy().group_by(pl.col("status").cast(pl.String)).len().collect().iter_rows())
    written = shape(table.clear().lazy()).collect_schema().names()
    shown = [c for c in LIST_COLUMNS if c in written]
    at_risk = {
        name: statuses.complete(
            table.lazy().filter((pl.col("status") == name) & (pl.col("value_rank") <= config.top)).sort("value_rank"),
            columns=columns,
        )
        .select(shown)
        .collect()
        for name in AT_RISK
        if config.top and counts.get(name)
    }
    rows = Rows(table, order, shape)
    chosen = rows
    if config.statuses:
        kept = table.select(pl.col("status").gather(order).is_in(list(config.statuses))).to_series()
        chosen = Rows(table, order.filter(kept), shape)
    if config.next_order:  # the list only: the summaries and the at-risk lists stay as they are
        model = config.model or NEXT_ORDER_MODEL
        dated = with_next_order_dates(chosen.collect(), inputs.customers, model=model, fitted=fitted, messages=messages)
        chosen = Rows(dated)
    return ChurnResult(
        rows=rows,
        chosen=chosen,
        summary=status_summary(table.lazy()).collect(),
        rates=rates,
        as_of=as_of_day,
        period=period,  # type: ignore[arg-type]
        value_column=value,
        at_risk=at_risk,
        counts={name: counts.get(name, 0) for name in STATUSES},
        rules=rules,
        messages=messages.items,
    )


def _shape(
    statuses: Statuses, columns: Sequence[str], *, reasons: bool, only: Sequence[str] | None = None
) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """How the ranked rows (of ``statuses``' narrow table, with ``columns``) are written: with the status's other
    columns (:meth:`~loyalty_cli.metrics.churn_narrow.Statuses.complete`; ``only``: just these of the status's)
    and their reasons (``reasons``; made for the rows at hand, in slices:
    :func:`~loyalty_cli.metrics.churn.with_reasons`), the identity and status columns first."""
    first = ["customer_id", "email"] if "email" in columns else ["customer_id"]
    lead = [*first, "status", "value_tier", "value_rank", "worth_costly_offer", "reason"]
    lead = [c for c in lead if c in columns or (c == "reason" and reasons)]

    def shape(part: pl.LazyFrame) -> pl.LazyFrame:
        part = statuses.complete(part, columns=only)
        if reasons:
            part = with_reasons(part.collect(), statuses.rules).lazy()
        return part.select(*lead, pl.exclude(*lead))

    return shape


def _with_predictions(
    table: pl.DataFrame, activity: pl.DataFrame, as_of: date, config: ChurnConfig, messages: Messages
) -> tuple[pl.DataFrame, PurchaseModel]:
    """The status table with P(alive) and the predicted value of ``config.model``, and the notes saying what
    they are; a spend model that cannot be fitted is a warning, or an error when ranking by predicted value.
    Also the purchase model fitted (in weeks, on every customer: what the next-order dates use)."""
    model = str(config.model)
    result = model_predictions(activity, as_of=as_of, model=model)
    table = table.join(result.predictions, on="customer_id", how="left")
    label = getattr(result.model, "label", model)
    messages.note(
        f"P(alive) from {label} ({model}) fitted on {count(table.height, 'customer')}; predicted_value = "
        "expected net spend over the next 12 months (Gamma-Gamma spend, discounted 1% a month)"
    )
    if model == "bgnbd":
        one_time = int((table["purchase_days"] == 1).sum())
        messages.note(
            f"BG/NBD gives every one-time buyer P(alive) = 1 however long ago they bought: left empty for "
            f"{one_time:,} one-time buyers (their status comes from the rule; {setting('model')} mbgnbd or pnbd "
            "judges them)"
        )
    if result.note:
        messages.warn(result.note)
        if config.rank_by == "predicted":
            raise DataError(
                f"Cannot rank by predicted value: {result.note}", hint=f"Use {setting('rank_by')} historical."
            )
    return table, result.model  # type: ignore[return-value]


def with_next_order_dates(
    table: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    model: str = NEXT_ORDER_MODEL,
    fitted: PurchaseModel | None = None,
    messages: Messages,
    others: tuple[str, ...] = ("one-time buyer",),
) -> pl.DataFrame:
    """``table`` (a list of customers: churn's or lifecycle's, in its order) with the next-order date and the
    contact window of each repeat customer (next_order_date, contact_from, contact_to: ``loyalty next-order``'s
    dates, from the BTYD ``model`` fitted on every customer of the summary ``customers``, or ``fitted``, that
    model already fitted on them in weeks), empty for the others (``others``: who they are, as
    :func:`~loyalty_cli.words.count` words them), and a note saying so. From the summary alone: no line is read
    again. When the model cannot be fitted the columns are empty and ``messages`` get a warning
    (:func:`~loyalty_cli.app.next_order.with_next_order`)."""
    from loyalty_cli.app.next_order import with_next_order

    said = len(messages.items)
    if fitted is None:
        messages.phase(f"Fitting the {model} model for the next-order dates")
    dated = with_next_order(table, customers, model=model, fitted=fitted, messages=messages)
    if len(messages.items) == said:  # fitted (else the warning says why the dates are empty)
        n = int(dated["next_order_date"].is_not_null().sum())
        messages.note(
            f"Next-order dates from the {model} model, as next-order gives them (next_order_date: the median time "
            "to the next order if still active; contact_from..contact_to: its 25th to 75th percentiles): "
            f"{count(n, 'repeat customer')} dated, {count(dated.height - n, *others)} left empty"
        )
    return dated
