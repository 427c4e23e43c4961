"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

References
----------
* P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis", Journal of Marketing Research 42(4), 415-430, section "Spend per transaction" (cited as FHL).
* P. S. Fader, B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value", note at
  brucehardie.com/notes/025 (cited as GG).

Model. A customer's transaction values are i.i.d. Gamma(p, nu); nu varies across customers as
Gamma(q, v). The observed mean zbar of x transactions is then Gamma(p x, nu x), and integrating nu out
(GG; FHL, spend model)::

    f(zbar | x) = G(p x + q) / (G(p x) G(q)) * v^q * zbar^(p x - 1) * x^(p x) / (v + x zbar)^(p x + q)

whose log is the per-customer log-likelihood (x = number of repeat purchases, zbar = their mean value).

Expected spend (GG; FHL): E[Z | x, zbar] = (1 - w) p v / (q - 1) + w zbar with
w = p x / (p x + q - 1): a weighted mean of the population mean p v / (q - 1) and the customer's own mean.

Which customers are used. The model needs repeat customers with a positive mean spend: the fit uses
only x > 0 and zbar > 0, and reports how many customers it excluded (``n_excluded``). Predictions exist
for everyone: x = 0 gives the population mean; a repeat customer whose mean spend is <= 0 (returns
netted out) is treated as zbar = 0, i.e. the population mean shrunk by (1 - w). The model assumes spend
does not depend on frequency: ``frequency_spend_correlation`` (Pearson, over the fitted customers) is
reported so the user can check it is close to 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from loyalty_cli.errors import ModelError
from loyalty_cli.models.base import FittedModel
from loyalty_cli.models.checks import check_weights
from loyalty_cli.models.fitting import MIN_CUSTOMERS, fit_mle, unique_rows

__all__ = ["GammaGammaModel", "SpendModel", "fit_gamma_gamma"]

FloatArray = NDArray[np.float64]


def _check_spend_inputs(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    try:
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(monetary_value, dtype=np.float64)
        x, m = np.broadcast_arrays(x, m)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            "frequency and monetary_value must be numeric arrays of the same length.",
            hint="Pass one value per customer.",
        ) from exc
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))):
        raise ModelError(
            "frequency and monetary_value contain missing or infinite values.",
            hint="Use 0 as the mean repeat spend of customers without repeat purchases.",
        )
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ModelError(
            "frequency must be a whole number of repeat purchases >= 0.",
            hint="frequency counts repeat purchase periods (purchase days - 1).",
        )
    return x.astype(np.float64), m.astype(np.float64)


def _gg_loglik(p: FloatArray, x: FloatArray, m: FloatArray, grad: bool) -> tuple[FloatArray, FloatArray | None]:
    pp, q, v = (float(k) for k in p)
    px = pp * x
    log_m, log_x, log_vxm = np.log(m), np.log(x), np.log(v + x * m)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * math.log(v)
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_vxm
    )
    if not grad:
        return ll, None
    dg = digamma(px + q)
    g = np.empty((3, ll.size))
    g[0] = x * (dg - digamma(px) + log_m + log_x - log_vxm)
    g[1] = dg - digamma(q) + math.log(v) - log_vxm
    g[2] = q / v - (px + q) / (v + x * m)
    return ll, g


def _summed_loglik(
    x: FloatArray, m: FloatArray, w: FloatArray
) -> tuple[Callable[[FloatArray], float], Callable[[FloatArray], tuple[float, FloatArray]]]:
    """The weighted sum of :func:`_gg_loglik` and its gradient, for the fit: what depends on the data only is
    summed once, the gamma functions are evaluated per distinct x (few), and each evaluation makes one pass
    over the customers (log(v + x zbar) and its reciprocal)."""
    xs, inverse = np.unique(x, return_inverse=True)
    wx = np.bincount(inverse, weights=w, minlength=xs.size)  # customers per distinct x
    log_m, log_x = np.log(m), np.log(x)
    total = float(w.sum())
    wx_m = float(w @ (x * (log_m + log_x)))  # sum w x (log zbar + log x)
    w_logm = float(w @ log_m)
    w_x = w * x

    def value(p: FloatArray, grad: bool) -> tuple[float, FloatArray | None]:
        pp, q, v = (float(k) for k in p)
        pxs = pp * xs
        vxm = v + x * m
        log_vxm = np.log(vxm)
        s_x_log = float(w_x @ log_vxm)
        s_log = float(w @ log_vxm)
        ll = (
            float(wx @ (gammaln(pxs + q) - gammaln(pxs)))
            + total * (q * math.log(v) - gammaln(q))
            + pp * wx_m
            - w_logm
            - pp * s_x_log
            - q * s_log
        )
        if not grad:
            return ll, None
        dg = digamma(pxs + q)
        inv = 1.0 / vxm
        g = np.array(
            [
                float(wx @ (xs * (dg - digamma(pxs)))) + wx_m - s_x_log,
                float(wx @ dg) + total * (math.log(v) - digamma(q)) - s_log,
                total * q / v - pp * float(w_x @ inv) - q * float(w @ inv),
            ]
        )
        return ll, g

    def loglik(p: FloatArray) -> float:
        return value(p, False)[0]

    def loglik_grad(p: FloatArray) -> tuple[float, FloatArray]:
        ll, g = value(p, True)
        assert g is not None
        return ll, g

    return loglik, loglik_grad


@dataclass(frozen=True)
class GammaGammaModel(FittedModel):
    """Gamma-Gamma spend model with parameters p, q, v (see module docstring)."""

    name: ClassVar[str] = "gamma_gamma"
    label: ClassVar[str] = "Gamma-Gamma"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    shape_params: ClassVar[tuple[str, ...]] = ("p", "q")
    boundary_effect: ClassVar[str] = "the expected spend per purchase is unreliable"

    n_excluded: int = 0
    frequency_spend_correlation: float = math.nan

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.params["q"] <= 1.0:
            raise ModelError(
                f"The Gamma-Gamma spend distribution has no finite mean (q = {self.params['q']:.3g} <= 1).",
                hint="Check for extreme order values (outliers, wrong currency unit) or add a penalizer.",
            )

    @property
    def population_mean(self) -> float:
        """Mean spend per transaction in the population, p v / (q - 1)."""
        return self.params["p"] * self.params["v"] / (self.params["q"] - 1.0)

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """E[spend per transaction | x, zbar]; the population mean for x = 0."""
        x, m = _check_spend_inputs(frequency, monetary_value)
        p, q = self.params["p"], self.params["q"]
        w = p * x / (p * x + q - 1.0)
        return (1.0 - w) * self.population_mean + w * np.maximum(m, 0.0)

    def log_likelihood_each(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Log density of each customer's mean spend given x (only defined for x > 0 and zbar > 0)."""
        x, m = _check_spend_inputs(frequency, monetary_value)
        if np.any(x <= 0) or np.any(m <= 0):
            raise ModelError(
                "The Gamma-Gamma likelihood needs frequency > 0 and monetary_value > 0.",
                hint="Select the repeat customers with a positive mean spend first.",
            )
        return _gg_loglik(self.param_array, x.ravel(), m.ravel(), grad=False)[0].reshape(x.shape)

    def summary(self) -> dict[str, object]:
        return {
            **super().summary(),
            "n_excluded": self.n_excluded,
            "population_mean": self.population_mean,
            "frequency_spend_correlation": self.frequency_spend_correlation,
        }


#: The spend model used by :func:`loyalty_cli.models.clv.discounted_clv`.
SpendModel = GammaGammaModel


def _weighted_correlation(x: FloatArray, m: FloatArray, w: FloatArray) -> float:
    total = float(w.sum())
    dx = x - float(w @ x) / total
    dm = m - float(w @ m) / total
    sxx, smm = float(w @ (dx * dx)), float(w @ (dm * dm))
    if sxx <= 0 or smm <= 0:
        return math.nan
    return float(w @ (dx * dm)) / math.sqrt(sxx * smm)


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    penalizer: float = 0.0,
) -> GammaGammaModel:
    """Fit the Gamma-Gamma model by maximum likelihood on the customers with x > 0 and zbar > 0.

    The others are excluded and counted in ``n_excluded``. ``weights`` are customer counts per row."""
    x, m = _check_spend_inputs(frequency, monetary_value)
    x, m = x.ravel(), m.ravel()
    w = check_weights(weights, x.size)
    use = (x > 0) & (m > 0) & (w > 0)
    n_excluded = float(w[~use].sum())
    x, m, w = x[use], m[use], w[use]
    n = float(w.sum())
    if n < MIN_CUSTOMERS:
        raise ModelError(
            f"Gamma-Gamma needs at least {MIN_CUSTOMERS} repeat customers with a positive mean spend; got {n:g}.",
            hint="Use a longer calibration period or more customers.",
        )
    if np.all(m == m[0]):
        raise ModelError(
            "Gamma-Gamma cannot be fitted: every repeat customer has the same mean spend.",
            hint="Check that monetary_value holds each customer's mean repeat spend.",
        )
    (xu, mu_), inverse, _ = unique_rows(x, m)
    counts = np.bincount(inverse, weights=w, minlength=xu.size)
    loglik, loglik_grad = _summed_loglik(xu, mu_, counts)

    # Everything from the sorted patterns, never the rows in their given order: sums in another order differ
    # in the last digits, and so would the fitted parameters.
    mean = float(counts @ mu_) / n
    starts = [(2.0, 3.0, mean), (6.0, 4.0, 0.5 * mean), (1.0, 1.5, 0.5 * mean)]
    with np.errstate(all="ignore"):
        result = fit_mle(
            "Gamma-Gamma",
            GammaGammaModel.param_names,
            starts,
            n,
            loglik=loglik,
            loglik_grad=loglik_grad,
            penalizer=penalizer,
        )
    return GammaGammaModel.from_fit(
        result,
        n_customers=n,
        n_patterns=xu.size,
        penalizer=penalizer,
        n_excluded=int(round(n_excluded)),
        frequency_spend_correlation=_weighted_correlation(xu, mu_, counts),
    )
