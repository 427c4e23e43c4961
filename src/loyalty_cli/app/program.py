"""``program``: is the loyalty programme working? Enrolment, points, tiers, members vs non-members, as one
long table (:func:`loyalty_cli.metrics.program_comparison.program_table`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, LoyaltyError, UsageError, setting
from loyalty_cli.metrics import program as pm
from loyalty_cli.metrics.periods import TABLE_PERIODS
from loyalty_cli.metrics.program_comparison import program_table

if TYPE_CHECKING:
    from loyalty_cli.metrics.cltv import CltvFit


@dataclass(frozen=True)
class ProgramConfig:
    """``period``: of the enrolment and points tables (week, month or quarter); ``point_value``: money per
    point (values the outstanding points); ``window``: days after the start date over which members and
    non-members are compared; ``active_days``: a member is active with a purchase in this many days before the
    as-of date; ``tiers_from``/``tiers_to``: the tier movement's dates (default: the year up to the as-of
    date); ``detail``: also the enrolment by cohort, the points by period and the tier movement (the command's
    tables; the report leaves them out). Checked when built (:attr:`figures`: the settings of the metrics)."""

    period: str = "month"
    point_value: float | None = None
    window: int = 365
    active_days: int = 365
    tiers_from: date | None = None
    tiers_to: date | None = None
    detail: bool = True
    figures: pm.ProgramConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.period not in TABLE_PERIODS:
            raise ConfigError("period", f"must be week, month or quarter, got {self.period!r}")
        value = self.point_value
        if value is not None and not (value >= 0 and value < float("inf")):
            raise ConfigError("point_value", f"must be 0 or more, got {value!r}", hint="e.g. 0.01")
        if self.active_days < 1:
            raise ConfigError("active_days", f"must be 1 or more, got {self.active_days}")
        if self.window < 1:
            raise ConfigError("window", f"must be 1 or more days, got {self.window}")
        start, end = self.tiers_from, self.tiers_to
        if start is not None and end is not None and start >= end:
            raise UsageError(f"The tier movement needs a start date before its end date, got {start} and {end}")
        figures = pm.ProgramConfig(
            period=self.period,  # type: ignore[arg-type]
            point_value=value,
            active_days=self.active_days,
            window_days=self.window,
            tiers_from=start,
            tiers_to=end,
        )
        object.__setattr__(self, "figures", figures)


@dataclass(frozen=True)
class ProgramResult:
    """``table``: every figure, long (:data:`loyalty_cli.metrics.program.COLUMNS`); ``points``: whether a
    points ledger was given; ``window``: the comparison window in days; ``messages``: the predicted CLV's
    note (or why there is none) and the caveat, to say after the tables."""

    table: pl.DataFrame
    as_of: date
    points: bool
    window: int
    messages: list[Message]

    def section(self, *names: str) -> pl.DataFrame:
        """The rows of :attr:`table` in these sections (``"tiers"``, ``"members_vs_non_members"`` ...)."""
        return self.table.filter(pl.col("section").is_in(names))


def program(
    inputs: Inputs, config: ProgramConfig, messages: Messages | None = None, *, clv: CltvFit | None = None
) -> ProgramResult:
    """The programme's figures of ``inputs`` (customers, activity, members; points and surveys when given).
    ``clv``: a CLV fit made already (the report's), compared instead of fitting the default models here."""
    as_of = inputs.as_of
    assert as_of is not None
    figures = config.figures
    if config.detail:
        figures.tier_dates(as_of)  # the tier movement ends by the as-of date and starts before it ends
    members = inputs.tables["members"]
    if members.is_empty():
        where = ", ".join(str(p) for p in inputs.scans["members"].paths[:3])
        raise LoyaltyError(
            f"No member enrolled before the as-of date {as_of} in {where}",
            hint=f"Check {setting('as_of')} and the enrolment date column.",
        )
    messages = messages if messages is not None else Messages()
    if clv is not None:
        predictions, column = clv.customers, f"predicted_clv_{clv.config.suffix}"
    else:
        predictions, column = _predicted_clv(inputs.activity, as_of, messages)
    table = program_table(
        inputs.customers,
        inputs.activity,
        members,
        as_of=as_of,
        config=figures,
        points=inputs.get("points"),
        responses=inputs.get("surveys"),
        predictions=predictions,
        predicted=column,
        detail=config.detail,
    )
    messages.note(pm.CAVEAT)
    points = inputs.get("points") is not None
    return ProgramResult(table=table, as_of=as_of, points=points, window=config.window, messages=messages.items)


def _predicted_clv(activity: pl.DataFrame, as_of: date, messages: Messages) -> tuple[pl.DataFrame | None, str | None]:
    """Every customer's predicted CLV (the ``cltv`` command's default models fitted on every customer) and its
    column, with a note on how it was made; (None, None) and a note on why when the models cannot be fitted."""
    from loyalty_cli.metrics.cltv import CltvConfig
    from loyalty_cli.metrics.cltv_fitting import fit_cltv_models

    cltv = CltvConfig()
    try:
        fit = fit_cltv_models(activity, cltv, before=as_of).fitted()
    except LoyaltyError as exc:
        messages.note(f"No predicted CLV comparison: the models could not be fitted ({exc.message})")
        return None, None
    column = f"predicted_clv_{cltv.suffix}"
    messages.note(
        f"{column}: {fit.purchase.label} + Gamma-Gamma fitted on every customer, expected net spend "
        f"over the {cltv.horizon_months} months after {as_of}, discounted "
        f"{cltv.discount_monthly:.0%} a month"
    )
    return fit.customers, column
