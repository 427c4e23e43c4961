"""Input checks of the BTYD models: frequency, recency and T, the prediction horizon and the weights, each a
:class:`~loyalty_cli.errors.ModelError` with a hint when wrong."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loyalty_cli.errors import ModelError

UNITS_HINT = (
    "recency and T must be in the same time unit (e.g. both in weeks: days / 7), measured from each "
    "customer's first purchase; frequency counts repeat purchase periods."
)

FloatArray = NDArray[np.float64]


def _as_float(name: str, values: ArrayLike) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name} must be numeric.", hint=UNITS_HINT) from exc
    return arr


def _count(mask: NDArray[np.bool_]) -> str:
    n = int(np.count_nonzero(mask))
    return f"{n:,} customer" + ("" if n == 1 else "s")


def check_rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and broadcast the BTYD inputs; return them as float arrays of one shape.

    Raises :class:`ModelError` for NaN/infinite values, negative values, non-integer frequency,
    recency > T, or recency != 0 for a customer with no repeat purchase."""
    x = _as_float("frequency", frequency)
    t_x = _as_float("recency", recency)
    t_end = _as_float("T", T)
    try:
        x, t_x, t_end = np.broadcast_arrays(x, t_x, t_end)
    except ValueError as exc:
        raise ModelError("frequency, recency and T must have the same length.", hint=UNITS_HINT) from exc
    bad = ~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(t_end))
    if bad.any():
        raise ModelError(
            f"frequency, recency and T contain missing or infinite values ({_count(bad)}).",
            hint="Drop or fill those customers before fitting; every customer needs all three values.",
        )
    bad = (x < 0) | (t_x < 0) | (t_end < 0)
    if bad.any():
        raise ModelError(f"frequency, recency and T must not be negative ({_count(bad)}).", hint=UNITS_HINT)
    bad = x != np.floor(x)
    if bad.any():
        raise ModelError(f"frequency must be a whole number of repeat purchases ({_count(bad)}).", hint=UNITS_HINT)
    bad = t_x > t_end * (1.0 + 1e-12)
    if bad.any():
        raise ModelError(f"recency is larger than T for {_count(bad)}.", hint=UNITS_HINT)
    bad = (x == 0) & (t_x != 0)
    if bad.any():
        raise ModelError(
            f"recency must be 0 for customers without repeat purchases ({_count(bad)}).",
            hint="recency is the age at the last purchase (last - first purchase), not the time since it; "
            + UNITS_HINT,
        )
    return x.astype(np.float64), np.minimum(t_x, t_end).astype(np.float64), t_end.astype(np.float64)


def check_horizon(t: ArrayLike) -> FloatArray:
    """A prediction horizon: finite and >= 0."""
    arr = _as_float("t", t)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ModelError("The prediction horizon t must be a finite, non-negative number of periods.", hint=UNITS_HINT)
    return arr


def check_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = _as_float("weights", weights)
    if w.shape != (n,):
        raise ModelError(
            f"weights must have one value per customer ({n:,}), got shape {w.shape}.",
            hint="Pass weights=None to count every row once.",
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ModelError("weights must be finite and non-negative.", hint="Weights are customer counts.")
    return w
