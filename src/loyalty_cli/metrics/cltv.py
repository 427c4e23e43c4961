"""Customer lifetime value: BTYD purchase model + Gamma-Gamma spend, per customer (the holdout check:
:mod:`loyalty_cli.metrics.cltv_holdout`).

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loyalty_cli.errors import DataError, LoyaltyError, ModelError, UsageError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.io.tempfiles import owned_workspace
from loyalty_cli.models import (
    DAYS_PER_MONTH,
    PURCHASE_MODELS,
    GammaGammaModel,
    PurchaseModel,
    discounted_clv,
    fit_gamma_gamma,
    fit_purchase_model,
)
from loyalty_cli.models.fitting import unique_rows
from loyalty_cli.stage1.activity_parts import Activity, each_part, in_parts
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
        return _stacked([_calibration(part, before=before, unit=unit).collect() for part in parts]).lazy()
    return _calibration(parts[0], before=before, unit=unit)


def _stacked(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Per-part tables (each customer in one part) as one, in the parts' order, a column at a time: each column
    of the parts is let go once stacked, so that the stacking holds one column twice, not the whole table
    (4.8M customers: ~0.4 GB less at the peak than concatenating the tables)."""
    columns = []
    for name in frames[0].columns:
        columns.append(pl.concat([frame.get_column(name) for frame in frames], rechunk=True))
        for i, frame in enumerate(frames):  # in place: the caller's list lets go of them too
            frames[i] = frame.drop(name)
    return pl.DataFrame(columns)


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


#: the calibration summary's columns the models read (:func:`fit_cltv_models`)
MODEL_COLUMNS = ("frequency", "recency", "T", "monetary_value")
#: the temporary folders of the summary's other columns during a fit within a memory budget
ASIDE_KIND = "cltv"
#: the column of the calibration summary's row in :attr:`CltvFit.per_pattern`; its value tier's index (see
#: :func:`tier_index`)
PATTERN, TIER = "_pattern", "_tier"


def fit_cltv(
    summary: pl.DataFrame, config: CltvConfig, *, as_of: date, purchase: PurchaseModel | None = None
) -> CltvFit:
    """Fit the purchase and spend models on a calibration summary (:func:`calibration_summary`) and predict
    every customer; ``purchase``: a purchase model already fitted on this summary (it is not fitted again)."""
    if summary.is_empty():
        raise _nobody_before(as_of)
    rfm = _rfm(summary)
    if purchase is None:
        purchase = fit_purchase_model(config.model, *rfm, penalizer=config.penalizer)  # type: ignore[arg-type]
    return _predicted(summary, config, as_of=as_of, purchase=purchase, rfm=rfm, whole=lambda: summary)


def _rfm(summary: pl.DataFrame) -> list[NDArray[np.float64]]:
    """The purchase models' inputs: frequency, recency and T as float arrays."""
    return [summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T")]


def _predicted(
    summary: pl.DataFrame,
    config: CltvConfig,
    *,
    as_of: date,
    purchase: PurchaseModel,
    rfm: list[NDArray[np.float64]],
    whole: Callable[[], pl.DataFrame],
) -> CltvFit:
    """The spend model fitted, and every customer's predictions: the purchase model's once per distinct
    (x, t_x, T) pattern, kept per pattern (each customer's row among them in the summary), the CLV and the
    expected spend per customer; ordered best first by an order over the summary, not a sorted copy.
    ``rfm``: :func:`_rfm` of the summary, emptied once used (the caller's list lets go of the arrays too);
    ``summary``: its :data:`MODEL_COLUMNS` at least, ``whole()`` all its columns, asked for once the models'
    arrays are let go (see :func:`fit_cltv_models`)."""
    x, t_x, t_end = rfm
    rfm.clear()
    m = summary["monetary_value"].to_numpy()
    spend = fit_gamma_gamma(x, m, penalizer=config.penalizer)
    horizon = config.horizon_units
    s = config.suffix
    # the purchase model's predictions depend on (x, t_x, T) only: once per distinct pattern
    (xu, tu, Tu), inverse, _ = unique_rows(x, t_x, t_end)  # also the CLV's (below)
    inverse = inverse.astype(np.uint32 if xu.size < 2**32 else np.uint64)  # half the size: the same rows
    clv = discounted_clv(
        purchase,
        spend,
        x,
        t_x,
        t_end,
        m,
        months=config.horizon_months,
        discount_monthly=config.discount_monthly,
        unit_days=config.unit_days,
        days_per_month=config.days_per_month,
        patterns=((xu, tu, Tu), inverse),  # type: ignore[arg-type]
    )
    per_pattern = {
        "p_alive": purchase.p_alive(xu, tu, Tu),
        f"p_no_purchase_{s}": purchase.probability_no_purchase(horizon, xu, tu, Tu),
        f"expected_purchases_{s}": purchase.expected_purchases(horizon, xu, tu, Tu),
    }
    value = f"predicted_clv_{s}"
    predicted = [
        pl.Series(PATTERN, inverse),
        pl.Series("expected_spend", spend.expected_spend(x, m)),
        pl.Series(value, clv),
    ]
    del inverse, clv, x, t_x, t_end, m, summary
    frame = whole().with_columns(predicted)
    del predicted
    order = frame.select(pl.arg_sort_by(value, "customer_id", descending=[True, False])).to_series()
    # each customer's tier by their place in that order
    tiers = np.empty(frame.height, dtype=np.uint8)
    tiers[order.to_numpy()] = order.to_frame().select(tier_index()).to_series().to_numpy()
    frame = frame.with_columns(pl.Series(TIER, tiers))
    rows = Rows(frame, order, _shape(list(per_pattern), s, config.unit, per_pattern))
    return CltvFit(config=config, purchase=purchase, spend=spend, as_of=as_of, rows=rows, per_pattern=per_pattern)


def _shape(
    patterned: list[str], s: str, unit: Unit, per_pattern: Mapping[str, NDArray[np.float64]]
) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """The predictions' columns, as written, of rows of the summary with their pattern, tier, CLV and spend."""
    labels = [label for label, _ in VALUE_TIERS]

    def shape(part: pl.LazyFrame) -> pl.LazyFrame:
        rows = part.collect()
        at = rows.get_column(PATTERN).to_numpy()
        rows = rows.with_columns(pl.Series(name, per_pattern[name][at]) for name in patterned)
        return rows.lazy().select(
            "customer_id",
            pl.col(TIER).replace_strict(list(range(len(labels))), labels, return_dtype=pl.String).alias("value_tier"),
            f"predicted_clv_{s}",
            f"expected_purchases_{s}",
            "p_alive",
            f"p_no_purchase_{s}",
            "expected_spend",
            "historical_value",
            "orders",
            "purchase_days",
            "first_purchase",
            "last_purchase",
            "frequency",
            pl.col("recency").alias(f"recency_{unit}s"),
            pl.col("T").alias(f"T_{unit}s"),
            "monetary_value",
        )

    return shape


@contextmanager
def _on_disk(path: Path) -> Iterator[None]:
    """A failed write or read of the summary set aside in ``path`` as a clear error."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoyaltyError(
            f"The CLV fit could not keep the customers' ids and history in its temporary folder {path.parent}: "
            f"{reason}",
            hint="Point TMPDIR at a writable folder on a disk with more free space.",
        ) from None


def _nobody_before(day: date) -> DataError:
    return DataError(
        f"No customer made a purchase before {day}", hint=f"Check {setting('as_of')} or {setting('holdout')}."
    )


@dataclass(frozen=True)
class CltvModels:
    """The CLV models fitted on the activity before a day (:func:`fit_cltv_models`): the calibration summary
    they were fitted on, the purchase model, and the full fit (both models, the per-customer predictions),
    or, when the spend model could not be fitted, None and its error (the purchase model alone still gives
    P(alive))."""

    summary: pl.DataFrame
    purchase: PurchaseModel
    fit: CltvFit | None
    spend_error: ModelError | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        """Doubts about the fits (boundary fits), as text: the purchase model's, then the spend model's."""
        return self.fit.warnings if self.fit is not None else self.purchase.warnings

    def fitted(self) -> CltvFit:
        """The full fit; raises the spend model's :class:`ModelError` when it could not be fitted."""
        if self.fit is None:
            assert self.spend_error is not None
            raise self.spend_error
        return self.fit


def fit_cltv_models(activity: Activity, config: CltvConfig, *, before: date) -> CltvModels:
    """The one composition of the CLV fit: the calibration summary of the customer x day ``activity`` before
    ``before`` (:func:`calibration_summary`), the purchase model fitted on it, then the spend model and the
    predictions (:func:`fit_cltv`). Raises :class:`DataError` when nobody bought before ``before`` and
    :class:`ModelError` when the purchase model cannot be fitted; a spend model that cannot be fitted is in
    the result (:attr:`CltvModels.spend_error`; :meth:`CltvModels.fitted` raises it)."""
    summary = calibration_summary(activity, before=before, unit=config.unit).collect()
    if summary.is_empty():
        raise _nobody_before(before)
    columns = summary.columns
    # within a memory budget (the activity in parts), the columns the models do not read wait on disk while they
    # are fitted and predict (4.8M customers: ~0.23 GB of ids and history), read back to be written beside them
    with owned_workspace(ASIDE_KIND, "the CLV fit") if in_parts(activity) else nullcontext() as folder:
        if folder is not None:
            aside, set_aside = Path(folder) / "summary.parquet", [c for c in columns if c not in MODEL_COLUMNS]
            with _on_disk(aside):
                summary.select(set_aside).write_parquet(aside, compression="lz4", statistics=False)
            summary = summary.select(MODEL_COLUMNS)
        light = summary

        def whole() -> pl.DataFrame:
            if folder is None:
                return light
            with _on_disk(aside):  # a column at a time, each in one piece (a column is held twice, not the table)
                rest = [pl.read_parquet(aside, columns=[c]).to_series().rechunk() for c in set_aside]
            return pl.DataFrame([*rest, *light.get_columns()]).select(columns)

        rfm = _rfm(summary)
        del summary
        purchase = fit_purchase_model(config.model, *rfm, penalizer=config.penalizer)  # type: ignore[arg-type]
        try:
            fit = _predicted(light, config, as_of=before, purchase=purchase, rfm=rfm, whole=whole)
        except ModelError as exc:
            return CltvModels(summary=whole(), purchase=purchase, fit=None, spend_error=exc)
    return CltvModels(summary=fit.rows.frame.select(columns), purchase=purchase, fit=fit)
