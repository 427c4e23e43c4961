"""Fitting the CLV models and predicting every customer: :func:`fit_cltv` on a calibration summary, and
:func:`fit_cltv_models`, the one composition from the customer x day activity (within a memory budget, the
summary's columns the models do not read wait on disk). What a fit is (its settings, the calibration summary, the
value tiers, :class:`~loyalty_cli.metrics.cltv.CltvFit`) and the conventions are in :mod:`loyalty_cli.metrics.cltv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loyalty_cli.errors import DataError, LoyaltyError, ModelError, setting
from loyalty_cli.io.rows import Rows
from loyalty_cli.io.tempfiles import owned_workspace
from loyalty_cli.metrics.cltv import (
    PATTERN,
    TIER,
    CltvConfig,
    CltvFit,
    Unit,
    calibration_summary,
    tier_index,
    tier_label,
)
from loyalty_cli.models import PurchaseModel, discounted_clv, fit_gamma_gamma, fit_purchase_model
from loyalty_cli.models.fitting import unique_rows
from loyalty_cli.stage1.activity_parts import Activity, in_parts

#: the calibration summary's columns the models read (:func:`fit_cltv_models`)
MODEL_COLUMNS = ("frequency", "recency", "T", "monetary_value")
#: the temporary folders of the summary's other columns during a fit within a memory budget
ASIDE_KIND = "cltv"


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

    def shape(part: pl.LazyFrame) -> pl.LazyFrame:
        rows = part.collect()
        at = rows.get_column(PATTERN).to_numpy()
        rows = rows.with_columns(pl.Series(name, per_pattern[name][at]) for name in patterned)
        return rows.lazy().select(
            "customer_id",
            tier_label(pl.col(TIER)).alias("value_tier"),
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
