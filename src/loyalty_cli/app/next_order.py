"""``next-order``: each repeat customer's expected next-order date and the window to contact them, and the list
of those due within N days; :func:`with_next_order` gives the lifecycle and churn lists the same dates.

The method is in :mod:`loyalty_cli.metrics.next_order`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cached_property, partial

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.durations import parse_days
from loyalty_cli.errors import ConfigError, ModelError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.metrics import next_order as no
from loyalty_cli.models import PURCHASE_MODELS, PurchaseModel
from loyalty_cli.words import count

#: the horizons of the "due within" counts, in days
DUE_COUNTS = (7, 14, 30)


@dataclass(frozen=True)
class NextOrderSettings:
    """``model``: the BTYD model whose purchase rate and P(alive) are used (bgnbd, mbgnbd, pnbd); ``due_within``:
    keep only the customers due within this many days (a number of days, or ``7d``/``1w``; None: every repeat
    customer); ``min_p_alive``: the P(alive) a due customer needs; ``penalizer``: of the model's fit (as
    ``loyalty cltv``'s). Checked when built."""

    model: str = "bgnbd"
    due_within: int | str | None = None
    min_p_alive: float = 0.5
    penalizer: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in PURCHASE_MODELS:
            raise ConfigError("model", f"must be one of {', '.join(PURCHASE_MODELS)}, got {self.model!r}")
        if isinstance(self.due_within, str):
            object.__setattr__(self, "due_within", parse_days(self.due_within, setting("due_within"), minimum=1))
        if self.due_within is not None and self.due_within < 1:  # type: ignore[operator]
            raise ConfigError("due_within", f"must be at least 1 day, got {self.due_within}")
        if not (math.isfinite(self.min_p_alive) and 0.0 <= self.min_p_alive <= 1.0):
            raise ConfigError("min_p_alive", f"must be between 0 and 1, got {self.min_p_alive}")
        if not (math.isfinite(self.penalizer) and self.penalizer >= 0.0):
            raise ConfigError("penalizer", f"must be 0 or more, got {self.penalizer}", hint="e.g. 0.001.")


@dataclass(frozen=True)
class NextOrderFit:
    """The model behind the dates: the fitted BTYD ``model``, its purchase-rate part ``prior`` (in days), the
    customers' patterns (:func:`~loyalty_cli.metrics.next_order.patterns`) and the model's columns per repeat
    pattern."""

    model: PurchaseModel
    prior: no.RatePrior
    patterns: pl.DataFrame
    predictions: pl.DataFrame

    def parameters(self) -> pl.DataFrame:
        """One row per parameter: model, parameter, value, std_error, unit (alpha, a rate's scale, in weeks;
        the others have none), then alpha in days."""
        m = self.model
        rows = [
            (m.label, k, v, m.std_errors[k], "week" if k in ("alpha", "beta") else None) for k, v in m.params.items()
        ]
        rows.append((m.label, "alpha", self.prior.alpha_days, m.std_errors["alpha"] * no.UNIT_DAYS, "day"))
        schema = {"model": pl.String, "parameter": pl.String, "value": pl.Float64, "std_error": pl.Float64}
        return pl.DataFrame(rows, schema={**schema, "unit": pl.String}, orient="row")


def fit_next_order(
    customers: pl.DataFrame, *, model: str = "bgnbd", fitted: PurchaseModel | None = None, penalizer: float = 0.0
) -> NextOrderFit:
    """The BTYD ``model`` fitted (with ``penalizer``) on every customer of the summary, or ``fitted``, one
    already fitted in weeks on the same customers (e.g. the churn command's model); and its columns per repeat
    pattern. Raises :class:`ModelError` with fewer than :data:`~loyalty_cli.metrics.next_order.MIN_REPEAT`
    repeat customers or when the fit fails."""
    grouped = no.patterns(customers.lazy()).collect()
    purchase = fitted if fitted is not None else no.fit_rate_model(grouped, model, penalizer=penalizer)
    return NextOrderFit(
        model=purchase,
        prior=no.RatePrior.of(purchase),
        patterns=grouped,
        predictions=no.model_columns(purchase, grouped),
    )


@dataclass(frozen=True)
class NextOrderResult:
    """``rows``: the list to write (every repeat customer, or those due within ``due_within`` days), soonest
    first, as the writers take it (a slice at a time: :mod:`loyalty_cli.io.rows`), and :attr:`customers` the same
    in memory; ``repeat``: every repeat customer (:attr:`everyone` in memory); ``parameters``: the model's;
    ``due``: customers whose window opens within 7, 14 and 30 days, and of them those with P(alive) >= the floor;
    ``one_time``: one-time buyers left out; ``messages``: the notes and warnings, in order."""

    rows: Rows
    repeat: Rows
    parameters: pl.DataFrame
    due: pl.DataFrame
    fit: NextOrderFit
    one_time: int
    as_of: date
    settings: NextOrderSettings
    messages: list[Message]

    @cached_property
    def customers(self) -> pl.DataFrame:
        return self.rows.collect()

    @cached_property
    def everyone(self) -> pl.DataFrame:
        return self.repeat.collect()


def next_order(inputs: Inputs, config: NextOrderSettings, messages: Messages | None = None) -> NextOrderResult:
    said = messages if messages is not None else Messages()
    customers = inputs.customers
    said.phase(f"Fitting the {config.model} model")
    fit = fit_next_order(customers, model=config.model, penalizer=config.penalizer)
    prior, predictions, within = fit.prior, fit.predictions.lazy(), config.due_within
    table = no.next_order_table(customers.lazy(), prior, predictions, ordered=False)
    due = no.due_counts(table, days=DUE_COUNTS, min_p_alive=config.min_p_alive).collect()

    def shape(part: pl.LazyFrame) -> pl.LazyFrame:  # the table's rows of a slice of customers, in its order
        return no.next_order_table(part, prior, predictions)

    # the list is an order over the customer summary (the columns the table reads), its rows made a slice at a
    # time as they are written
    read = no.table_inputs(customers)
    everyone = Rows(read, no.soonest_first(read, prior), shape)
    listed = everyone
    if within is not None:
        keep = partial(no.due, within_days=within, min_p_alive=config.min_p_alive)
        listed = Rows(read, no.soonest_first(read, prior, predictions, keep=keep), shape)
    as_of: date = customers["as_of"][0]
    result = NextOrderResult(
        rows=listed,
        repeat=everyone,
        parameters=fit.parameters(),
        due=due,
        fit=fit,
        one_time=customers.height - everyone.height,
        as_of=as_of,
        settings=config,
        messages=said.items,
    )
    _notes(result, said)
    return result


def _notes(result: NextOrderResult, said: Messages) -> None:
    fit, config = result.fit, result.settings
    prior, label = fit.prior, fit.model.label
    said.note(
        f"As of {result.as_of} (data before that day): {count(result.repeat.height, 'repeat customer')} dated; "
        f"{count(result.one_time, 'one-time buyer')} get no date (second-purchase times them)"
    )
    mean = (
        f"mean gap {prior.mean_gap_days:,.1f} days"
        if prior.mean_gap_days is not None
        else "no finite mean gap (r <= 1: rates vary a lot between customers)"
    )
    said.note(
        f"Purchase rate while active from {label} fitted on {count(fit.model.n_customers, 'customer')}: "
        f"Gamma(r = {prior.r:.3g}, alpha = {prior.alpha_days:,.1f} days), one purchase every "
        f"{prior.typical_gap_days:,.1f} days at the mean rate, {mean}"
    )
    said.note(
        "Each customer's rate is their own (repeat purchase days / days since the first) shrunk toward the "
        "population's; next_order_date = the median time to the next order if still active, contact window = "
        "its 25th to 75th percentiles. Exponential gaps: no cadence, no dropout in the dates; p_alive and "
        "expected_purchases_30d say how likely the customer is still buying"
    )
    for warning in fit.model.warnings:
        said.warn(warning)
    if config.due_within is not None:
        said.note(
            f"Due within {count(config.due_within, 'day')} (window opens by then, P(alive) >= "
            f"{config.min_p_alive:g}): {count(result.rows.height, 'customer')}"
        )


def next_order_columns(
    customers: pl.DataFrame, *, model: str = "bgnbd", fitted: PurchaseModel | None = None
) -> pl.DataFrame:
    """``customer_id`` and :data:`~loyalty_cli.metrics.next_order.DATE_COLUMNS` (next_order_date, contact_from,
    contact_to) of every repeat customer of the summary (see :func:`fit_next_order`)."""
    fit = fit_next_order(customers, model=model, fitted=fitted)
    return no.next_order_table(customers.lazy(), fit.prior).select("customer_id", *no.DATE_COLUMNS).collect()


def with_next_order(
    table: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    model: str = "bgnbd",
    fitted: PurchaseModel | None = None,
    messages: Messages | None = None,
) -> pl.DataFrame:
    """``table`` (one row per ``customer_id``: a lifecycle or churn list) with next_order_date, contact_from and
    contact_to (null for one-time buyers and prospects). When the model cannot be fitted (too few repeat
    customers, no convergence) the columns are null and ``messages`` get a warning: the list is still written."""
    try:
        dates = next_order_columns(customers, model=model, fitted=fitted)
    except ModelError as exc:
        if messages is not None:
            messages.warn(f"No next-order dates: {exc.message}")
        dates = pl.DataFrame(
            schema={"customer_id": customers.schema["customer_id"], **dict.fromkeys(no.DATE_COLUMNS, pl.Date)}
        )
    return table.join(dates, on="customer_id", how="left", maintain_order="left")
