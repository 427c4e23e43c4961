"""The common shape of the BTYD purchase models (BG/NBD, MBG/NBD, Pareto/NBD).

A model is a frozen dataclass holding its parameters and fit statistics. Build one by fitting
(``BGNBDModel.fit(frequency, recency, T)`` or :func:`loyalty_cli.models.fit_purchase_model`) or from
known parameters (``BGNBDModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)``: then
``log_likelihood`` and the standard errors are ``nan`` and ``n_customers`` is 0).

Inputs everywhere are per customer, in one time unit chosen by the caller (weeks are usual):
``frequency`` x = number of repeat purchase periods, ``recency`` t_x = time from the first to the last
purchase (the customer's age at the last purchase, 0 when x = 0), ``T`` = time from the first purchase
to the end of the observation. All methods take and return NumPy arrays and broadcast their arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loyalty_cli import words
from loyalty_cli.errors import ModelError
from loyalty_cli.models.checks import check_horizon, check_rfm
from loyalty_cli.models.fitting import MLEFit, check_enough_data, checked_params, compress, fit_mle, unique_rows

FloatArray = NDArray[np.float64]

#: A dimensionless shape parameter (of a Gamma or Beta mixing distribution) below this has put almost all of
#: its distribution's mass at 0: the fit sits at the boundary of the parameter space (CDNOW's smallest is 0.24).
SHAPE_FLOOR = 0.01


def _finite(values: FloatArray, what: str, label: str) -> FloatArray:
    """Never hand NaN or inf to the caller: a numerical failure is a ModelError."""
    out = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ModelError(
            f"{label} {what} could not be computed for "
            f"{words.count(int(np.count_nonzero(~np.isfinite(out))), 'customer')}.",
            hint="The parameters are extreme for these inputs; check the time unit of recency and T or refit "
            "with a penalizer.",
        )
    return out


class Patterns:
    """Customer patterns (x, t_x, T) with weights, plus the distinct x values for per-x caching."""

    __slots__ = ("x", "t_x", "T", "w", "xu", "xi")

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray | None = None) -> None:
        self.x, self.t_x, self.T = x, t_x, T
        self.w = np.ones(x.shape) if w is None else np.asarray(w, dtype=np.float64)
        # frequency takes few distinct values: terms depending on x only are computed once per value
        self.xu, xi = np.unique(x, return_inverse=True)
        self.xi = xi.reshape(x.shape)


@dataclass(frozen=True)
class FittedModel:
    """Parameters (checked: all given, positive, finite) and fit statistics: what the purchase models and the
    spend model share."""

    name: ClassVar[str]
    label: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    #: the dimensionless shape parameters, whose lower bound 0 a fit can run into (scale parameters such as
    #: alpha depend on the time unit and have no such floor)
    shape_params: ClassVar[tuple[str, ...]] = ()
    #: what a boundary fit makes unreliable, for :attr:`warnings`
    boundary_effect: ClassVar[str] = "its predictions are unreliable"

    params: dict[str, float]
    std_errors: dict[str, float] = field(default_factory=dict)
    log_likelihood: float = math.nan
    n_customers: int = 0
    n_patterns: int = 0
    converged: bool = False
    iterations: int = 0
    penalizer: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", checked_params(self.label, self.param_names, self.params))
        if not self.std_errors:
            object.__setattr__(self, "std_errors", dict.fromkeys(self.param_names, math.nan))

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A model with known parameters (no fit statistics)."""
        return cls(params={k: float(v) for k, v in params.items()})

    @classmethod
    def from_fit(cls, result: MLEFit, *, n_customers: float, n_patterns: int, penalizer: float, **extra: Any) -> Self:
        """The model a maximum-likelihood fit found, with its statistics (``extra``: a model's own fields)."""
        return cls(
            params=result.params,
            std_errors=result.std_errors,
            log_likelihood=result.log_likelihood,
            n_customers=int(round(n_customers)),
            n_patterns=int(n_patterns),
            converged=result.converged,
            iterations=result.iterations,
            penalizer=float(penalizer),
            **extra,
        )

    @property
    def param_array(self) -> FloatArray:
        return np.array([self.params[k] for k in self.param_names])

    @property
    def boundary(self) -> tuple[str, ...]:
        """Why this fit lies at (or near) a boundary of the parameter space, one reason a parameter and test:
        a shape parameter below :data:`SHAPE_FLOOR`, a standard error larger than its estimate, or a standard
        error that is not finite. Empty for a sound fit and for a model built from known parameters."""
        if self.n_customers == 0:
            return ()
        reasons: list[str] = []
        for k in self.param_names:
            value, se = self.params[k], self.std_errors.get(k, math.nan)
            if k in self.shape_params and value < SHAPE_FLOOR:
                reasons.append(f"{k} = {value:.3g} is near its lower bound 0")
            if not math.isfinite(se):
                reasons.append(f"the standard error of {k} is not finite")
            elif se > value:
                reasons.append(f"the standard error of {k} ({se:.3g}) is larger than {k} = {value:.3g}")
        return tuple(reasons)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Doubts about this fit, as sentences to show the user (empty when there are none): today one, when
        the fit lies at a boundary (:attr:`boundary`). The fit is still the maximum of the likelihood."""
        reasons = self.boundary
        if not reasons:
            return ()
        return (
            f"The {self.label} fit lies at a boundary of its parameters, so the data hardly determine it: "
            f"{'; '.join(reasons)}. {self.boundary_effect[0].upper()}{self.boundary_effect[1:]}.",
        )

    def summary(self) -> dict[str, object]:
        """Parameters, standard errors and fit statistics as plain values (for reports)."""
        return {
            "model": self.name,
            "params": dict(self.params),
            "std_errors": dict(self.std_errors),
            "log_likelihood": self.log_likelihood,
            "n_customers": self.n_customers,
            "n_patterns": self.n_patterns,
            "converged": self.converged,
            "iterations": self.iterations,
            "penalizer": self.penalizer,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class PurchaseModel(FittedModel):
    """Base class of the purchase models: the vectorised predictions every one of them offers."""

    boundary_effect: ClassVar[str] = (
        "P(alive) and the expected purchases are unreliable; compare another purchase model or fit with a penalizer"
    )

    @classmethod
    def fit(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        weights: ArrayLike | None = None,
        penalizer: float = 0.0,
    ) -> Self:
        """Maximum-likelihood fit on the compressed patterns (see :mod:`loyalty_cli.models.fitting`)."""
        x, t_x, t_end, counts = compress(frequency, recency, T, weights=weights)
        w = counts.astype(np.float64)
        check_enough_data(x, w, cls.label)
        keep = w > 0
        data = Patterns(x[keep], t_x[keep], t_end[keep], w[keep])
        n_customers = float(data.w.sum())

        def loglik(p: FloatArray) -> float:
            return float(data.w @ cls._loglik(p, data))

        loglik_grad = None
        if cls._has_gradient:

            def loglik_grad(p: FloatArray) -> tuple[float, FloatArray]:
                ll, grads = cls._loglik_and_grad(p, data)
                return float(data.w @ ll), grads @ data.w

        with np.errstate(all="ignore"):  # the optimiser may probe extreme values; non-finite is handled
            result = fit_mle(
                cls.label,
                cls.param_names,
                cls._starts(data),
                n_customers,
                loglik=loglik,
                loglik_grad=loglik_grad,
                penalizer=penalizer,
            )
        return cls.from_fit(result, n_customers=n_customers, n_patterns=data.x.size, penalizer=penalizer)

    # ------------------------------------------------------------------------------------ model interface
    _has_gradient: ClassVar[bool] = False

    @classmethod
    def _starts(cls, data: Patterns) -> Sequence[Sequence[float]]:
        raise NotImplementedError

    @classmethod
    def _loglik(cls, p: FloatArray, data: Patterns) -> FloatArray:
        """Per-pattern log-likelihood (unweighted)."""
        raise NotImplementedError

    @classmethod
    def _loglik_and_grad(cls, p: FloatArray, data: Patterns) -> tuple[FloatArray, FloatArray]:
        """Per-pattern log-likelihood and its gradient (shape (n_params, n)) in natural parameters."""
        raise NotImplementedError

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _no_purchase_if_alive(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """P(no purchase in (T, T + t] | alive at T, x, T)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------ public methods
    def log_likelihood_each(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Log-likelihood of each customer's (x, t_x, T) under the model."""
        x, t_x, t_end = check_rfm(frequency, recency, T)
        shape = x.shape
        data = Patterns(x.ravel(), t_x.ravel(), t_end.ravel())
        return _finite(self._loglik(self.param_array, data).reshape(shape), "log-likelihood", self.label)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each customer is still active at T, given (x, t_x, T)."""
        x, t_x, t_end = check_rfm(frequency, recency, T)
        return _finite(self._p_alive(x, t_x, t_end), "P(alive)", self.label)

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """E[number of purchases in (T, T + t] | x, t_x, T]; ``t`` broadcasts against the customers."""
        horizon = check_horizon(t)
        x, t_x, t_end = check_rfm(frequency, recency, T)
        horizon, x, t_x, t_end = np.broadcast_arrays(horizon, x, t_x, t_end)
        return _finite(self._expected(horizon, x, t_x, t_end), "expected purchases", self.label)

    def probability_no_purchase(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(no purchase in (T, T + t] | x, t_x, T) = (1 - P(alive)) + P(alive) * P(none in t | alive)."""
        horizon = check_horizon(t)
        x, t_x, t_end = check_rfm(frequency, recency, T)
        horizon, x, t_x, t_end = np.broadcast_arrays(horizon, x, t_x, t_end)
        alive = self._p_alive(x, t_x, t_end)
        # the part given alive depends on (t, x, T) only: computed once per distinct triple
        (tu, xu, Tu), inverse, _ = unique_rows(horizon.ravel(), x.ravel(), t_end.ravel())
        none = self._no_purchase_if_alive(tu, xu, Tu)[inverse].reshape(x.shape)
        return _finite(np.clip(1.0 - alive + alive * none, 0.0, 1.0), "P(no purchase)", self.label)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases in (0, t] of a customer who made a first purchase at 0."""
        horizon = check_horizon(t)
        zero = np.zeros_like(horizon)
        return _finite(self._expected(horizon, zero, zero, zero), "expected purchases", self.label)
