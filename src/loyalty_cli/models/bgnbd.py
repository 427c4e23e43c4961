"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

References
----------
* P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your Customers the Easy Way: An Alternative
  to the Pareto/NBD Model", Marketing Science 24(2), 275-284 (cited as FHL).
* P. S. Fader, B. G. S. Hardie (2013), "Overcoming the BG/NBD Model's #NUM! Error Problem", note at
  brucehardie.com (cited as #NUM!).
* P. S. Fader, B. G. S. Hardie, K. L. Lee (2008), "Computing P(alive) Using the BG/NBD Model", note at
  brucehardie.com.
* E. P. Batislam, M. Denizel, A. Filiztekin (2007), "Empirical validation and comparison of models for
  customer base analysis", International Journal of Research in Marketing 24(3), 201-209 (cited as BDF).

Model. While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha). BG/NBD:
after each repeat purchase the customer drops out with probability p ~ Beta(a, b). MBG/NBD: the customer
may also drop out at time 0, right after the first purchase, so a one-time buyer's P(alive) falls with T.

Log-likelihood of (x, t_x, T), written with c = b + x (BG/NBD) or c = b + x + 1 (MBG/NBD) so one code
path serves both (FHL eq. 6; BDF's likelihood; in the stable form of the #NUM! note)::

    ll = ln G(r+x) - ln G(r) + r ln(alpha)
         + ln G(a+b) + ln G(c) - ln G(b) - ln G(a+c)                        (= ln B(a, c) - ln B(a, b))
         + logaddexp( -(r+x) ln(alpha+T),  ln a - ln(c-1) - (r+x) ln(alpha+t_x) )

where the second argument of logaddexp is dropped (-inf) for BG/NBD customers with x = 0. Nothing is
exponentiated outside logaddexp, so nothing overflows for large x.

P(alive | x, t_x, T) = 1 / (1 + a/(c-1) * ((alpha+T)/(alpha+t_x))^(r+x))  (Fader, Hardie & Lee's
2008 note "Computing P(alive) using the BG/NBD model"; BDF for c = b+x+1),
evaluated as expit(-D) with D in logs; it is exactly 1 for a BG/NBD customer with x = 0.

Conditional expectation (FHL eq. 10; BDF, with b+x+1 in place of b+x)::

    E[Y(t) | x, t_x, T] = P(alive) * (a+c-1)/(a-1)
                          * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, c; a+c-1; z)],  z = t/(alpha+T+t)

The hypergeometric is evaluated after Euler's transformation,
((1-z))^(r+x) 2F1(r+x, c; a+c-1; z) = (1-z)^(a-1) 2F1(a+c-1-r-x, a-1; a+c-1; z), whose parameters do not
grow with x (no overflow). The formula holds for a < 1 too (analytic continuation; the CDNOW fit has
a = 0.79); at |a - 1| < 1e-5 (and, for BG/NBD, |a + b - 1| < 1e-5, where the 2F1 of a customer with
x = 0 has a pole cancelled by the factor a+b-1) the removable singularity is bridged by averaging the
values at a +/- 1e-5.
New-customer E[X(t)] (FHL eq. 9) is the same expression at x = t_x = T = 0.

P(X(t) = n) for a new BG/NBD customer (FHL eq. 8) is :meth:`BGNBDModel.probability_of_purchases`, with the
negative-binomial tail sum written as the regularised incomplete beta I_{t/(alpha+t)}(n, r).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1

from loyalty_cli.errors import ModelError
from loyalty_cli.models.base import FloatArray, Patterns, PurchaseModel
from loyalty_cli.models.checks import check_horizon

__all__ = ["BGNBDModel", "MBGNBDModel"]

_A_NEAR_ONE = 1e-5


def _bg_loglik(p: FloatArray, d: Patterns, shift: int, grad: bool) -> tuple[FloatArray, FloatArray | None]:
    r, alpha, a, b = (float(v) for v in p)
    xu = d.xu
    c_u = b + xu + shift
    has_death_term_u = (xu > 0) | (shift == 1)
    c1_u = np.where(has_death_term_u, c_u - 1.0, 1.0)
    lead_u = (
        gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(c_u) - gammaln(b) - gammaln(a + c_u)
    )
    log_a_c1_u = np.where(has_death_term_u, np.log(a) - np.log(c1_u), -np.inf)
    rx = r + d.x
    log_at = np.log(alpha + d.T)
    log_atx = np.log(alpha + d.t_x)
    a3 = -rx * log_at
    a4 = log_a_c1_u[d.xi] - rx * log_atx
    m = np.logaddexp(a3, a4)
    ll = lead_u[d.xi] + m
    if not grad:
        return ll, None
    w3 = np.exp(a3 - m)
    w4 = np.exp(a4 - m)
    g = np.empty((4, ll.size))
    g[0] = (digamma(r + xu) - digamma(r) + np.log(alpha))[d.xi] - w3 * log_at - w4 * log_atx
    g[1] = r / alpha - rx * (w3 / (alpha + d.T) + w4 / (alpha + d.t_x))
    g[2] = (digamma(a + b) - digamma(a + c_u))[d.xi] + w4 / a
    g[3] = (digamma(a + b) + digamma(c_u) - digamma(b) - digamma(a + c_u))[d.xi] - w4 / c1_u[d.xi]
    return ll, g


def _bg_p_alive(p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, shift: int) -> FloatArray:
    r, alpha, a, b = (float(v) for v in p)
    c1 = b + x + shift - 1.0
    has_death_term = (x > 0) | (shift == 1)
    c1 = np.where(has_death_term, c1, 1.0)
    log_odds_dead = np.log(a) - np.log(c1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(has_death_term, expit(-log_odds_dead), 1.0)


def _bg_expected(p: FloatArray, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, shift: int) -> FloatArray:
    r, alpha, a, b = (float(v) for v in p)
    c = b + x + shift
    log1mz = -np.log1p(t / (alpha + T))  # ln(1 - z), z = t / (alpha + T + t)
    z = -np.expm1(log1mz)

    def scaled(a_: float) -> FloatArray:
        # (a+c-1)/(a-1) * [1 - (1-z)^(a-1) 2F1(a+c-1-r-x, a-1; a+c-1; z)]
        big_c = a_ + c - 1.0
        f = hyp2f1(big_c - r - x, a_ - 1.0, big_c, z)
        return big_c / (a_ - 1.0) * (1.0 - np.exp((a_ - 1.0) * log1mz) * f)

    if abs(a - 1.0) < _A_NEAR_ONE:
        bracket = 0.5 * (scaled(1.0 + _A_NEAR_ONE) + scaled(1.0 - _A_NEAR_ONE))
    elif shift == 0 and abs(a + b - 1.0) < _A_NEAR_ONE:
        # x = 0 and a + b = 1: 2F1(.; .; a+b-1; z) has a pole cancelled by the factor a+b-1
        bracket = 0.5 * (scaled(a + _A_NEAR_ONE) + scaled(a - _A_NEAR_ONE))
    else:
        bracket = scaled(a)
    return _bg_p_alive(p, x, t_x, T, shift) * np.where(t > 0, bracket, 0.0)


def _bg_starts(d: Patterns) -> Sequence[Sequence[float]]:
    # purchase rate r/alpha ~ repeat purchases per unit of time observed
    rate = float(d.w @ d.x) / max(float(d.w @ d.T), 1e-12)
    alpha = 1.0 / max(rate, 1e-6)
    return [(1.0, alpha, 1.0, 1.0), (0.3, 0.3 * alpha, 0.7, 2.5), (3.0, 3.0 * alpha, 3.0, 8.0)]


@dataclass(frozen=True)
class _BetaGeometric(PurchaseModel):
    """Shared code of BG/NBD (_shift = 0) and MBG/NBD (_shift = 1)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    shape_params: ClassVar[tuple[str, ...]] = ("r", "a", "b")
    boundary_effect: ClassVar[str] = (
        "P(alive) and the expected purchases are unreliable (a near 0 means almost nobody is predicted to drop "
        "out, so P(alive) is near 1 for everyone); compare another purchase model or fit with a penalizer"
    )
    _has_gradient: ClassVar[bool] = True
    _shift: ClassVar[int] = 0

    @classmethod
    def _starts(cls, data: Patterns) -> Sequence[Sequence[float]]:
        return _bg_starts(data)

    @classmethod
    def _loglik(cls, p: FloatArray, data: Patterns) -> FloatArray:
        return _bg_loglik(p, data, cls._shift, grad=False)[0]

    @classmethod
    def _loglik_and_grad(cls, p: FloatArray, data: Patterns) -> tuple[FloatArray, FloatArray]:
        ll, g = _bg_loglik(p, data, cls._shift, grad=True)
        assert g is not None
        return ll, g

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        return _bg_p_alive(self.param_array, x, t_x, T, self._shift)

    def _no_purchase_if_alive(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        # alive at T, the customer cannot drop out before the next purchase (dropout follows a purchase), so
        # no purchase in t is no Poisson event: E[exp(-lambda t)], lambda | x, T ~ Gamma(r + x, alpha + T)
        r, alpha = self.params["r"], self.params["alpha"]
        return np.exp(-(r + x) * np.log1p(t / (alpha + T)))

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        return _bg_expected(self.param_array, t, x, t_x, T, self._shift)


@dataclass(frozen=True)
class BGNBDModel(_BetaGeometric):
    """BG/NBD with parameters r, alpha (purchase rate ~ Gamma(r, alpha)) and a, b (dropout p ~ Beta(a, b))."""

    name: ClassVar[str] = "bgnbd"
    label: ClassVar[str] = "BG/NBD"
    _shift: ClassVar[int] = 0

    def probability_of_purchases(self, t: ArrayLike, n: ArrayLike) -> FloatArray:
        """P(X(t) = n): probability that a new customer makes exactly n repeat purchases in (0, t] (FHL eq. 8)."""
        r, alpha, a, b = (float(v) for v in self.param_array)
        horizon = check_horizon(t)
        count = np.asarray(n, dtype=np.float64)
        if not np.all(np.isfinite(count)) or np.any(count < 0) or np.any(count != np.floor(count)):
            raise ModelError("n must be a whole number of purchases >= 0.", hint="Pass n = 0, 1, 2, ...")
        horizon, count = np.broadcast_arrays(horizon, count)
        q = horizon / (alpha + horizon)  # 1 - alpha/(alpha+t)
        log_nb = gammaln(r + count) - gammaln(r) - gammaln(count + 1.0) + r * (np.log(alpha) - np.log(alpha + horizon))
        with np.errstate(divide="ignore"):  # 0 * log(0) at t = 0, n = 0 is handled by where()
            log_nb = log_nb + np.where(count > 0, count * np.log(np.where(q > 0, q, 1.0)), 0.0)
            log_nb = np.where((q == 0) & (count > 0), -np.inf, log_nb)
        first = np.exp(betaln(a, b + count) - betaln(a, b) + log_nb)
        c1 = np.where(count > 0, b + count - 1.0, 1.0)
        tail = betainc(np.where(count > 0, count, 1.0), r, q)  # P(NB(r, alpha/(alpha+t)) >= n)
        second = np.where(count > 0, np.exp(betaln(a + 1.0, c1) - betaln(a, b)) * tail, 0.0)
        return first + second


@dataclass(frozen=True)
class MBGNBDModel(_BetaGeometric):
    """MBG/NBD (Batislam et al. 2007): BG/NBD where dropout can also happen right after the first purchase."""

    name: ClassVar[str] = "mbgnbd"
    label: ClassVar[str] = "MBG/NBD"
    _shift: ClassVar[int] = 1
