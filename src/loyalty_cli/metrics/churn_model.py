"""Optional model-based P(alive) and predicted value beside the churn status (:func:`model_predictions`): fitted
by a BTYD model on the summary. BG/NBD gives every one-time buyer P(alive) = 1 however long ago they bought, so
under BG/NBD their P(alive) is left empty (use MBG/NBD or Pareto/NBD, or the rule, for them).

The rule-based status: :mod:`loyalty_cli.metrics.churn`; ranking by predicted value:
:mod:`loyalty_cli.metrics.churn_ranking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from loyalty_cli.errors import ModelError
from loyalty_cli.stage1.activity_parts import Activity


@dataclass(frozen=True)
class ModelResult:
    predictions: pl.DataFrame  # customer_id, p_alive, p_alive_model, predicted_value
    model: object  # the fitted PurchaseModel
    note: str | None  # e.g. why predicted value is missing


def model_predictions(activity: Activity, *, as_of: date, model: str) -> ModelResult:
    """P(alive) from a BTYD purchase model fitted on the customers' activity before ``as_of`` (in weeks), and
    the predicted value: the discounted expected spend over the next 12 months (Gamma-Gamma spend, 1% a
    month), as ``loyalty cltv`` computes them with its defaults (the same summary and fit).

    Under BG/NBD, one-time buyers get no P(alive) (the model says 1 whatever their recency). When the spend
    model cannot be fitted, predicted_value is null and ``note`` says why. A purchase model that cannot be
    fitted raises :class:`~loyalty_cli.errors.ModelError`."""
    from loyalty_cli.metrics.cltv import CltvConfig, calibration_summary
    from loyalty_cli.metrics.cltv_fitting import fit_cltv
    from loyalty_cli.models import fit_purchase_model

    config = CltvConfig(model=model)  # an unknown model is a UsageError
    summary = calibration_summary(activity, before=as_of, unit=config.unit).collect()
    x, t_x, t_end = (summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T"))
    fitted = fit_purchase_model(
        config.model,
        x,
        t_x,
        t_end,  # type: ignore[arg-type]
        penalizer=config.penalizer,
    )  # a purchase model that cannot be fitted raises
    note = None
    try:
        fit = fit_cltv(summary, config, as_of=as_of, purchase=fitted)
        frame = fit.customers.select(
            "customer_id",
            "frequency",
            "p_alive",
            pl.col(f"predicted_clv_{config.suffix}").round(2).alias("predicted_value"),
        )
    except ModelError as exc:  # the spend model could not be fitted
        note = f"no predicted value: the Gamma-Gamma spend model could not be fitted ({exc.message})"
        frame = summary.select(
            "customer_id",
            "frequency",
            pl.Series("p_alive", fitted.p_alive(x, t_x, t_end)),
            pl.lit(None, dtype=pl.Float64).alias("predicted_value"),
        )
    frame = frame.with_columns(pl.lit(model).alias("p_alive_model"))
    if model == "bgnbd":
        frame = frame.with_columns(pl.when(pl.col("frequency") > 0).then(pl.col("p_alive")).alias("p_alive"))
    frame = frame.select("customer_id", "frequency", "p_alive", "p_alive_model", "predicted_value")
    return ModelResult(predictions=frame.drop("frequency"), model=fitted, note=note)
