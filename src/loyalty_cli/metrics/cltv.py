"""Customer lifetime value: BTYD purchase model + Gamma-Gamma spend, per customer. This module holds what a fit
is: its settings (:class:`Horizon`, :class:`CltvConfig`), its input (:func:`calibration_summary`), the value tiers
and its result (:class:`CltvFit`); the fitting itself (:func:`~loyalty_cli.metrics.cltv_fitting.fit_cltv`,
:func:`~loyalty_cli.metrics.cltv_fitting.fit_cltv_models`) is in :mod:`loyalty_cli.metrics.cltv_fitting`, the
holdout check in :mod:`loyalty_cli.metrics.cltv_holdout`.

Stage 2: everything starts from the customer x day activity table (:func:`customer_activity`), so one read of
the transactions serves the calibration summary, the holdout actuals and the tracking curve.

Conventions (lifetimes' and the literature's, so published numbers reproduce):
- A customer's purchases on one day are one purchase; frequency = purchase days - 1 (repeat purchase days),
  recency = last - first purchase day, T = last observed day - first purchase day, in the chosen unit
  (days, or weeks = days / 7).
- monetary value = mean net value of the repeat purchase days (per-day sums; the first day is excluded);
  0 without repeat purchases.
- The calibration period is the data before ``calibration_as_of`` (exclusive, like the as-of date); the
  holdout is [calibration_as_of, as_of). Customers first seen in the holdout are not in the check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loyalty_cli.errors import UsageError
from loyalty_cli.io.rows import Rows
from loyalty_cli.models import DAYS_PER_MONTH, PURCHASE_MODELS, GammaGammaModel, PurchaseModel
from loyalty_cli.stage1.activity_parts import Activity, each_part, stacked
from loyalty_cli.stage1.customers import btyd_columns

Unit = Literal["day", "week"]
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7}
#: value tiers by rank of predicted CLV: (label, share of customers), best first
VALUE_TIERS: tuple[tuple[str, float], ...] = (("high", 0.2), ("medium", 0.3), ("low", 0.5))


HorizonUnit = Literal["day", "week", "month"]
#: the letter of each horizon unit in column names (``predicted_clv_12m``, ``_39w``, ``_90d``)
HORIZON_LETTERS: dict[str, str] = {"day": "d", "week": "w", "month": "m"}
#: the longest horizon, in months
MAX_HORIZON_MONTHS = 1200


@dataclass(frozen=True)
class Horizon:
    """How far ahead to predict: a whole number of days, weeks or months (a month is a twelfth of a year by
    default, :attr:`CltvConfig.days_per_month`)."""

    count: int = 12
    unit: HorizonUnit = "month"

    def __post_init__(self) -> None:
        if self.unit not in HORIZON_LETTERS:
            raise UsageError(f"Unknown horizon unit {self.unit!r}", hint="Use day, week or month.")
        if not (isinstance(self.count, int) and not isinstance(self.count, bool) and self.count >= 1):
            raise UsageError(f"The horizon must be a whole number of {self.unit}s >= 1, got {self.count!r}")

    @property
    def suffix(self) -> str:
        """Column-name suffix: ``12m``, ``39w``, ``90d``."""
        return f"{self.count}{HORIZON_LETTERS[self.unit]}"

    @property
    def label(self) -> str:
        """In words: ``12 months``, ``1 week``."""
        return f"{self.count} {self.unit}" + ("" if self.count == 1 else "s")

    def days(self, days_per_month: float) -> float:
        return self.count * {"day": 1.0, "week": 7.0, "month": days_per_month}[self.unit]


@dataclass(frozen=True)
class CltvConfig:
    model: str = "bgnbd"
    unit: Unit = "week"
    horizon: Horizon = Horizon()
    discount_monthly: float = 0.01
    penalizer: float = 0.0
    days_per_month: float = DAYS_PER_MONTH

    def __post_init__(self) -> None:
        if self.model not in PURCHASE_MODELS:
            raise UsageError(f"Unknown model {self.model!r}", hint=f"Choose one of: {', '.join(PURCHASE_MODELS)}.")
        if self.unit not in UNIT_DAYS:
            raise UsageError(f"Unknown time unit {self.unit!r}", hint="Use day or week.")
        if not isinstance(self.horizon, Horizon):
            raise UsageError(f"The horizon must be a Horizon (a number of days, weeks or months), got {self.horizon!r}")
        if self.horizon_months > MAX_HORIZON_MONTHS:
            raise UsageError(
                f"The horizon must be at most {MAX_HORIZON_MONTHS} months (100 years), got {self.horizon.label}",
                hint="A horizon of a few months to a few years is usual, e.g. 12 months.",
            )
        if not (math.isfinite(self.discount_monthly) and 0.0 <= self.discount_monthly < 1.0):
            raise UsageError(
                f"The monthly discount rate must be in [0, 1), got {self.discount_monthly!r}",
                hint="e.g. 0.01 for 1% a month (about 12.7% a year).",
            )
        if not (math.isfinite(self.penalizer) and self.penalizer >= 0.0):
            raise UsageError(f"The penalizer must be >= 0, got {self.penalizer!r}", hint="e.g. 0.001.")

    @property
    def unit_days(self) -> int:
        return UNIT_DAYS[self.unit]

    @property
    def horizon_units(self) -> float:
        """The horizon in model time units."""
        return self.horizon.days(self.days_per_month) / self.unit_days

    @property
    def horizon_months(self) -> int | float:
        """The horizon in months: the whole number given for a horizon in months, else days / days_per_month
        (39 weeks = 8.97 months: the CLV counts the last, partial month pro rata)."""
        if self.horizon.unit == "month":
            return self.horizon.count
        return self.horizon.days(self.days_per_month) / self.days_per_month

    @property
    def suffix(self) -> str:
        """Column-name suffix for the horizon, e.g. ``12m``, ``39w``, ``90d``."""
        return self.horizon.suffix


def calibration_summary(activity: Activity, *, before: date, unit: Unit) -> pl.LazyFrame:
    """Per customer with a purchase before ``before``: history (first/last purchase, purchase days, orders,
    historical_value = net spend, returns included) and the BTYD inputs of :func:`btyd_summary` (frequency,
    recency, T in ``unit``s, monetary_value), with T running to the last observed day, ``before`` - 1 day.
    The repeat spend is the net value of the repeat purchase days (per-day sums, lifetimes' convention).

    The activity in parts (:mod:`loyalty_cli.stage1.activity_parts`) is summarised one part at a time, the
    parts' customers stacked (collected; the fits do not depend on the order of the customers)."""
    parts = each_part(activity)
    if len(parts) > 1:
        return stacked([_calibration(part, before=before, unit=unit).collect() for part in parts]).lazy()
    return _calibration(parts[0], before=before, unit=unit)


def _calibration(activity: pl.LazyFrame, *, before: date, unit: Unit) -> pl.LazyFrame:
    bought = pl.col("purchases") > 0
    purchase_day = pl.when(bought).then(pl.col("day"))
    # days are unique per customer in the activity table, so the first purchase day's value is the first after
    # sorting by purchase day (a .get() of the arg_min took 1.6x as long, a filter comparing each day with the
    # group's minimum inside the aggregation 2-3x)
    history = (
        activity.filter(pl.col("day") < before)
        .group_by("customer_id")
        .agg(
            purchase_day.min().alias("first_purchase"),
            purchase_day.max().alias("last_purchase"),
            bought.sum().cast(pl.Int64).alias("purchase_days"),
            pl.col("purchases").sum().cast(pl.Int64).alias("orders"),
            pl.col("net_cents").sum().alias("_net"),
            pl.when(bought).then(pl.col("net_cents")).sum().alias("_purchase_net"),
            pl.col("net_cents").sort_by(purchase_day, nulls_last=True).first().alias("_first_net"),
        )
        .filter(pl.col("purchase_days") > 0)
        .select(
            "customer_id",
            "first_purchase",
            "last_purchase",
            "purchase_days",
            "orders",
            (pl.col("_net") / 100).alias("historical_value"),
            ((pl.col("_purchase_net") - pl.col("_first_net")) / 100).alias("repeat_spend"),
        )
    )
    btyd = btyd_columns(unit_days=UNIT_DAYS[unit], end=before - timedelta(days=1))
    return history.with_columns(btyd).drop("repeat_spend")


def value_tier() -> pl.Expr:
    """``high`` (top 20% by predicted CLV), ``medium`` (next 30%), ``low`` (the rest), by row position in a
    frame sorted best first (ties broken by customer id in that sort)."""
    return _by_tier(lambda i: pl.lit(VALUE_TIERS[i][0]))


def tier_index() -> pl.Expr:
    """:func:`value_tier` as the tier's index in :data:`VALUE_TIERS` (0: ``high``), a UInt8: the same share
    cut at the same points."""
    return _by_tier(lambda i: pl.lit(i, dtype=pl.UInt8))


def tier_label(index: pl.Expr) -> pl.Expr:
    """A tier's index (:func:`tier_index`) as its label in :data:`VALUE_TIERS` (``high``, ...), as text."""
    labels = [label for label, _ in VALUE_TIERS]
    return index.replace_strict(list(range(len(labels))), labels, return_dtype=pl.String)


def _by_tier(value: Callable[[int], pl.Expr]) -> pl.Expr:
    share = (pl.int_range(pl.len()) + 1) / pl.len()
    expr = value(len(VALUE_TIERS) - 1)
    cumulative = sum(s for _, s in VALUE_TIERS[:-1])
    for i in reversed(range(len(VALUE_TIERS) - 1)):
        expr = pl.when(share <= cumulative).then(value(i)).otherwise(expr)
        cumulative -= VALUE_TIERS[i][1]
    return expr


@dataclass(frozen=True)
class CltvFit:
    """The models and the per-customer predictions, best predicted CLV first (ties by customer id): ``rows``
    as the writers take them, a slice at a time (:mod:`loyalty_cli.io.rows`: the calibration summary with each
    customer's CLV, expected spend, tier and pattern, in the order of the predictions, the purchase model's
    columns gathered per slice from ``per_pattern``), :attr:`customers` the same table in memory."""

    config: CltvConfig
    purchase: PurchaseModel
    spend: GammaGammaModel
    as_of: date  # end (exclusive) of the data the models were fitted on
    rows: Rows  # per-customer predictions, best first
    # the purchase model's columns per distinct (frequency, recency, T): row ``_pattern`` of ``rows.frame``
    per_pattern: Mapping[str, NDArray[np.float64]]

    @cached_property
    def customers(self) -> pl.DataFrame:
        """The per-customer predictions, best first, in memory (:attr:`rows` collected; from then on the rows are
        this table, so that the summary they were gathered from is let go)."""
        table = self.rows.collect()
        object.__setattr__(self, "rows", Rows(table))
        return table

    def column(self, name: str) -> pl.Series:
        """One column of :attr:`customers` (of the calibration summary's or the predictions' names), in its
        order, without the others."""
        frame, order = self.rows.frame, self.rows.order
        if order is None:  # the table in memory (:attr:`customers`)
            return frame[name]
        if name == "value_tier":  # as written: the label of the tier's index
            return frame.select(tier_label(pl.col(TIER).gather(order)).alias(name)).to_series().rechunk()
        if name in self.per_pattern:
            rows = frame.get_column(PATTERN).gather(order).to_numpy()
            return pl.Series(name, self.per_pattern[name][rows])
        return frame.get_column(name).gather(order).rechunk()

    def parameters(self) -> pl.DataFrame:
        """One row per parameter of both models: model, parameter, value, std_error, unit (the purchase
        model's time unit, ``week`` or ``day``, in which its rates and scale parameters are; empty for the
        spend model, whose parameters are in money)."""
        unit = self.config.unit
        rows = [(self.purchase.label, k, v, self.purchase.std_errors[k], unit) for k, v in self.purchase.params.items()]
        rows += [("Gamma-Gamma", k, v, self.spend.std_errors[k], None) for k, v in self.spend.params.items()]
        return pl.DataFrame(
            rows,
            schema={
                "model": pl.String,
                "parameter": pl.String,
                "value": pl.Float64,
                "std_error": pl.Float64,
                "unit": pl.String,
            },
            orient="row",
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """Doubts about the fits (boundary fits: :attr:`loyalty_cli.models.base.FittedModel.warnings`)."""
        return self.purchase.warnings + self.spend.warnings

    def notes(self) -> list[str]:
        """What the reader of these predictions must know about the model: under BG/NBD, every one-time buyer
        has P(alive) = 1, a property of the model, not of the data."""
        notes = []
        one_time = int((self.rows.frame["frequency"] == 0).sum())
        if self.purchase.name == "bgnbd" and one_time:
            notes.append(
                f"BG/NBD gives the {one_time:,} one-time buyers P(alive) = 1 by construction (it lets a customer "
                "drop out only right after a repeat purchase), however long ago they bought; MBG/NBD and "
                "Pareto/NBD do not"
            )
        return notes

    def totals(self) -> dict[str, float | int]:
        """Over the customers, in their order (a float sum depends on it): one column at a time."""
        s = self.config.suffix
        return {
            "customers": self.rows.height,
            "historical_value": float(self.column("historical_value").sum()),
            f"expected_purchases_{s}": float(self.column(f"expected_purchases_{s}").sum()),
            f"predicted_clv_{s}": float(self.column(f"predicted_clv_{s}").sum()),
            "mean_p_alive": float(self.column("p_alive").mean()),  # type: ignore[arg-type]
        }


#: the column of the calibration summary's row in :attr:`CltvFit.per_pattern`; its value tier's index (see
#: :func:`tier_index`)
PATTERN, TIER = "_pattern", "_tier"
