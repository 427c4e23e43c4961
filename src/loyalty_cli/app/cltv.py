"""``cltv``: predicted customer lifetime value from BTYD models, with an optional check against a holdout period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.durations import parse_days, parse_duration
from loyalty_cli.errors import ConfigError, UsageError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.metrics.cltv import CltvConfig, CltvFit, Horizon
from loyalty_cli.metrics.cltv_fitting import fit_cltv_models
from loyalty_cli.metrics.cltv_holdout import Holdout, holdout_check
from loyalty_cli.stage1.activity_parts import first_day
from loyalty_cli.words import count


@dataclass(frozen=True)
class CltvSettings:
    """``model``, ``unit``, ``discount`` (monthly), ``penalizer``: the models (:class:`CltvConfig`);
    ``horizon`` or ``horizon_months`` (default: 12 months): how far ahead to predict; ``holdout`` (days) or
    ``calibration_end`` (its last day): check the predictions on the data after the calibration period.
    ``horizon`` and ``holdout`` may be given as a person writes them (``39w``, ``26w``; an empty holdout is
    none). Checked when built, the models' settings before the check's (:attr:`models` is the models' config)."""

    model: str = "bgnbd"
    unit: str = "week"
    horizon: Horizon | str | None = None
    horizon_months: int | None = None
    discount: float = 0.01
    penalizer: float = 0.0
    holdout: int | str | None = None
    calibration_end: date | None = None
    models: CltvConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.horizon is not None and self.horizon_months is not None:
            raise UsageError(
                f"Give {setting('horizon')} or {setting('horizon_months')}, not both",
                hint=f"e.g. {setting('horizon')} 12m or {setting('horizon')} 39w.",
            )
        if isinstance(self.horizon, str):
            object.__setattr__(self, "horizon", Horizon(*parse_duration(self.horizon, setting("horizon"))))
        ahead = self.horizon or Horizon(12 if self.horizon_months is None else self.horizon_months, "month")
        models = CltvConfig(
            model=self.model,
            unit=self.unit,  # type: ignore[arg-type]
            horizon=ahead,  # type: ignore[arg-type]
            discount_monthly=self.discount,
            penalizer=self.penalizer,
        )
        if self.holdout == "":
            object.__setattr__(self, "holdout", None)
        if self.holdout is not None and self.calibration_end is not None:
            raise UsageError(f"Give {setting('holdout')} or {setting('calibration_end')}, not both")
        if isinstance(self.holdout, str):
            object.__setattr__(self, "holdout", parse_days(self.holdout, setting("holdout"), minimum=1))
        if self.holdout is not None and self.holdout < 1:  # type: ignore[operator]
            raise ConfigError("holdout", f"must be at least 1 day, got {self.holdout}")
        object.__setattr__(self, "models", models)

    @property
    def checking(self) -> bool:
        """Whether the predictions are checked on a holdout period."""
        return self.holdout is not None or self.calibration_end is not None

    def fit_end(self, first_day: date, as_of: date) -> date:
        """The end (exclusive) of the calibration period of data from ``first_day`` to ``as_of`` (exclusive):
        ``as_of`` without a check; with one, a day that leaves at least one day to check."""
        end = as_of
        if self.holdout is not None:
            end = as_of - timedelta(days=self.holdout)
        elif self.calibration_end is not None:
            end = self.calibration_end + timedelta(days=1)
        # with a check, at least one day is left after the calibration period (the last data day is as_of - 1)
        if end > as_of - timedelta(days=1 if self.checking else 0) or end <= first_day:
            raise UsageError(
                f"The calibration period must end between {first_day} and {as_of - timedelta(days=2)}, "
                f"so that the check has data; it ends on {end - timedelta(days=1)}",
                hint=f"Use a shorter {setting('holdout')} or another {setting('calibration_end')}.",
            )
        return end


@dataclass(frozen=True)
class CltvResult:
    """:attr:`rows`: one row per customer, best predicted CLV first (with the holdout columns when checked), as
    the writers take it (a slice at a time: :mod:`loyalty_cli.io.rows`), :attr:`customers` the same in memory
    (``checked``: that table with the holdout columns; None without a check: the fit's); ``fit``: the models;
    ``check``: the holdout check (None without one); ``tables``: the model and check tables by file name;
    ``as_of``: the end of the data, ``fit.as_of`` that of the calibration period (both exclusive);
    ``value_column``: the predicted CLV column (ranks lists); ``messages``: said before the outputs are written;
    ``warnings``: the fits' doubts, said once after them; ``model_notes``: about the fit, said with its
    parameters."""

    checked: pl.DataFrame | None
    fit: CltvFit
    check: Holdout | None
    tables: dict[str, pl.DataFrame]
    as_of: date
    value_column: str
    messages: list[Message]
    warnings: list[Message]
    model_notes: list[Message]

    @property
    def rows(self) -> Rows:
        # without a check, the fit's rows: written a slice at a time from its order, no sorted copy in memory
        return self.fit.rows if self.checked is None else Rows(self.checked)

    @property
    def customers(self) -> pl.DataFrame:
        return self.fit.customers if self.checked is None else self.checked

    def top(self, n: int) -> pl.DataFrame:
        """The first ``n`` customers (all of them when fewer)."""
        rows = self.rows
        if rows.order is None:
            return Rows(rows.frame.head(n), None, rows.shape).collect()
        return Rows(rows.frame, rows.order.head(n), rows.shape).collect()


def cltv(inputs: Inputs, config: CltvSettings, messages: Messages | None = None) -> CltvResult:
    activity, end = inputs.activity_parts, inputs.as_of  # in parts when read in passes: one part at a time
    assert end is not None
    fit_end = config.fit_end(first_day(activity), end)  # type: ignore[arg-type]
    models = config.models
    fit = fit_cltv_models(activity, models, before=fit_end).fitted()
    check = holdout_check(fit, activity, as_of=end) if config.checking else None
    period = f"fitted on data before {fit_end}" + (
        f", checked on {fit_end} to {end - timedelta(days=1)}" if check is not None else ""
    )
    said = messages if messages is not None else Messages()
    said.note(
        f"{fit.purchase.label} + Gamma-Gamma, {period}; unit {models.unit}; horizon {models.horizon.label}, "
        f"discount {models.discount_monthly:.2%} a month"
    )
    doubts = Messages()
    for warning in fit.warnings:
        doubts.warn(warning)
    return CltvResult(
        checked=with_holdout(fit.customers, check) if check is not None else None,
        fit=fit,
        check=check,
        tables=check_tables(fit, check),
        as_of=end,
        value_column=f"predicted_clv_{models.suffix}",
        messages=said.items,
        warnings=doubts.items,
        model_notes=_model_notes(fit),
    )


def with_holdout(customers: pl.DataFrame, check: Holdout | None) -> pl.DataFrame:
    """The per-customer predictions with the holdout's predicted and actual purchases and actual value."""
    if check is None:
        return customers
    holdout = check.customers.select(
        "customer_id",
        pl.col("predicted_purchases").alias("holdout_predicted_purchases"),
        pl.col("actual_purchases").alias("holdout_actual_purchases"),
        pl.col("actual_value").alias("holdout_actual_value"),
    )
    return customers.join(holdout, on="customer_id", how="left", maintain_order="left")


def check_tables(fit: CltvFit, check: Holdout | None) -> dict[str, pl.DataFrame]:
    """The model tables (parameters, totals) and the check's (summary, by calibration frequency, tracking)."""
    tables = {"parameters.csv": fit.parameters(), "totals.csv": pl.DataFrame([fit.totals()])}
    if check is not None:
        tables["holdout_summary.csv"] = pl.DataFrame([check.summary])
        tables["holdout_by_frequency.csv"] = check.by_frequency
        tables["tracking.csv"] = check.tracking
    return tables


def _model_notes(fit: CltvFit) -> list[Message]:
    """How the fits went, and what the model means for the predictions."""
    p, g = fit.purchase, fit.spend
    notes = Messages()
    outcome = "at a boundary (see the warning) after" if p.warnings else "converged in"
    notes.note(
        f"{p.label}: log-likelihood {p.log_likelihood:,.2f}, {outcome} {count(p.iterations, 'iteration')}. "
        f"Gamma-Gamma: {count(g.n_customers, 'repeat customer')} with positive spend, "
        f"{count(g.n_excluded, 'other')} given "
        f"the population mean {g.population_mean:,.2f}; frequency/spend correlation "
        f"{g.frequency_spend_correlation:.2f} (the model assumes ~0)"
    )
    for note in fit.notes():
        notes.note(f"{note} ({setting('model')} mbgnbd or pnbd)")
    return notes.items
