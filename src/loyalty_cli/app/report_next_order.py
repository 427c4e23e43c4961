"""The report's section on when customers are due: ``loyalty next-order``'s dates
(:mod:`loyalty_cli.app.next_order`, where the method is) summed up in a few numbers and a week-by-week count
(:mod:`loyalty_cli.metrics.next_order_weeks`).

The purchase model is the CLV section's when it is the one ``loyalty next-order`` would fit (the same model, in
weeks, on every customer up to the as-of date, no penalty): fitted once. Only the sums are collected, never the
table of every repeat customer."""

from __future__ import annotations

import polars as pl

from loyalty_cli.app.cltv import CltvResult
from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.next_order import NextOrderSettings, fit_next_order
from loyalty_cli.errors import ModelError
from loyalty_cli.metrics import next_order as no
from loyalty_cli.metrics.next_order_weeks import due_overview, weekly_dates
from loyalty_cli.report.due_data import DueData


def due_data(
    inputs: Inputs, config: NextOrderSettings, clv: CltvResult | None = None
) -> tuple[DueData | None, str | None]:
    """The section's numbers, or None and why not (too few repeat customers, a fit that failed)."""
    customers, as_of = inputs.customers, inputs.as_of
    fitted = clv.fit.purchase if clv is not None and _same_fit(clv, config, as_of) else None
    try:
        fit = fit_next_order(customers, model=config.model, fitted=fitted, penalizer=config.penalizer)
    except ModelError as exc:
        return None, f"no next-order dates: {exc.message[:1].lower()}{exc.message[1:]}"
    table = no.next_order_table(customers.lazy(), fit.prior, fit.predictions.lazy(), ordered=False)  # counts only
    overview, weeks = pl.collect_all(
        [due_overview(table, min_p_alive=config.min_p_alive), weekly_dates(table, min_p_alive=config.min_p_alive)]
    )
    counts = {name: int(value) for name, value in overview.row(0, named=True).items()}
    return DueData(
        overview=counts,
        weeks=weeks,
        one_time=customers.height - counts["repeat_customers"],
        model=fit.model.label,
        fitted_on=fit.model.n_customers,
        typical_gap_days=fit.prior.typical_gap_days,
        min_p_alive=config.min_p_alive,
        shared=fitted is not None,
    ), None


def _same_fit(clv: CltvResult, config: NextOrderSettings, as_of: object) -> bool:
    """Whether the CLV section's purchase model is the one ``loyalty next-order`` fits: the same model, in weeks,
    with the same penalty, on the data up to the as-of date (no holdout)."""
    models = clv.fit.config
    return (
        models.model == config.model
        and models.unit == "week"
        and models.penalizer == config.penalizer
        and clv.fit.as_of == as_of
    )
