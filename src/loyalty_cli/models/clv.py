"""Predicted, discounted customer lifetime value from a purchase model and a spend model.

Definition (project metric definitions, section CLV; the discrete-time, monthly-discounted form of the
expected residual value in Fader, Hardie & Lee 2005, "RFM and CLV")::

    CLV = sum_{k=1..ceil(months)} E[spend] * (E[X(t_k)] - E[X(t_{k-1})]) / (1 + d)^k,
    t_k = min(k, months) * days_per_month / unit_days   (the end of month k in model time units)

where E[X(t)] is the purchase model's conditional expected number of purchases in (T, T + t] and
E[spend] the spend model's expected spend per purchase. A horizon that is not a whole number of months
(39 weeks = 8.97 months) ends inside its last month: that month counts the purchases expected in its part
inside the horizon, discounted at the month's rate (1 + d)^-ceil(months); whole months are unchanged.

Units are explicit: ``unit_days`` (the length of the model's time unit in days: 1 for daily data, 7 for
weekly) has no default, so a model fitted in weeks cannot silently be read in days (the lifetimes
quickstart does exactly that and prints 140.10 instead of 36.27 for CDNOW customer 1).
``days_per_month`` is a twelfth of an average year (30.4375 days, 4.348 weeks) by default, so 12 months are
a year whatever the unit; the published CDNOW CLVs (36.274, 8.345, 972.05) use months of 4.345 weeks, i.e.
``days_per_month=30.415`` with ``unit_days=7`` (the default gives 36.30 for customer 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loyalty_cli.errors import ModelError
from loyalty_cli.models.base import PurchaseModel
from loyalty_cli.models.checks import check_rfm
from loyalty_cli.models.fitting import unique_rows
from loyalty_cli.models.gamma_gamma import SpendModel

__all__ = ["DAYS_PER_MONTH", "discounted_clv", "month_ends"]

DAYS_PER_MONTH = 365.25 / 12


#: patterns evaluated at a time by :func:`discounted_clv` (its arrays of months x patterns stay ~10 MB)
PATTERN_BLOCK = 65_536


def month_ends(months: float, *, unit_days: float, days_per_month: float = DAYS_PER_MONTH) -> NDArray[np.float64]:
    """t_0 = 0, t_1, ..., t_ceil(months): month ends in model time units, the last one cut at the horizon
    when ``months`` is not whole (2.5 months: 0, 1, 2, 2.5 months)."""
    if not (isinstance(months, int | float | np.integer | np.floating) and math.isfinite(months) and months > 0):
        raise ModelError(f"months must be a positive number, got {months!r}.", hint="E.g. 12 for one year.")
    for name, value in (("unit_days", unit_days), ("days_per_month", days_per_month)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ModelError(
                f"{name} must be a positive number of days, got {value!r}.",
                hint="unit_days is 1 for a model fitted in days and 7 for one fitted in weeks.",
            )
    ends = np.minimum(np.arange(math.ceil(months) + 1, dtype=np.float64), float(months))
    return ends * (float(days_per_month) / float(unit_days))


def discounted_clv(
    model: PurchaseModel,
    spend: SpendModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: float = 12,
    discount_monthly: float = 0.01,
    unit_days: float,
    days_per_month: float = DAYS_PER_MONTH,
    patterns: tuple[Sequence[NDArray[np.float64]], NDArray[np.intp]] | None = None,
) -> NDArray[np.float64]:
    """Discounted expected spend of each customer over the next ``months`` months (see module docstring; a
    last partial month counts pro rata, discounted at its month). ``patterns``: the distinct (frequency,
    recency, T) and each customer's row among them (:func:`~loyalty_cli.models.fitting.unique_rows` of these
    three), when the caller has them already."""
    if not (isinstance(discount_monthly, int | float) and math.isfinite(discount_monthly) and discount_monthly > -1.0):
        raise ModelError(
            f"discount_monthly must be a rate > -1, got {discount_monthly!r}.", hint="E.g. 0.01 for 1% a month."
        )
    t_k = month_ends(months, unit_days=unit_days, days_per_month=days_per_month)
    x, t_x, t_end = check_rfm(frequency, recency, T)
    shape = x.shape
    expected_spend = spend.expected_spend(x, np.broadcast_to(np.asarray(monetary_value, dtype=np.float64), shape))
    # the purchase curve only depends on (x, t_x, T): evaluate it once per distinct pattern, a block of patterns at
    # a time (each value is computed alone, so the blocks give the same numbers; all at once, the model's
    # intermediate month x pattern arrays took ~0.5 GB at a million patterns)
    if patterns is None:
        (xu, tu, Tu), inverse, _ = unique_rows(x.ravel(), t_x.ravel(), t_end.ravel())
    else:
        (xu, tu, Tu), inverse = patterns
    cumulative = np.empty((t_k.size, xu.size), dtype=np.float64)
    for start in range(0, xu.size, PATTERN_BLOCK):
        block = slice(start, start + PATTERN_BLOCK)
        cumulative[:, block] = model.expected_purchases(t_k[:, None], xu[block], tu[block], Tu[block])
    discount = (1.0 + float(discount_monthly)) ** -np.arange(1, t_k.size, dtype=np.float64)
    per_purchase = discount @ np.diff(cumulative, axis=0)
    return expected_spend * per_purchase[inverse].reshape(shape)
