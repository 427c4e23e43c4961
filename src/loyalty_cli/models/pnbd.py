"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in the form of Fader & Hardie's derivation note.

References
----------
* D. C. Schmittlein, D. G. Morrison, R. Colombo (1987), "Counting Your Customers: Who Are They and What
  Will They Do Next?", Management Science 33(1), 1-24 (cited as SMC).
* P. S. Fader, B. G. S. Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions",
  brucehardie.com/notes/009 (cited as FH09).
* P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your Customers the Easy Way", Marketing
  Science 24(2), 275-284: the CDNOW benchmark fit of the Pareto/NBD (Table 1).

Model. While active, purchases are Poisson with rate lambda ~ Gamma(r, alpha); the unobserved lifetime is
exponential with rate mu ~ Gamma(s, beta).

Likelihood (FH09, the likelihood function). Integrating lambda and mu out, conditioning on whether the
customer dies before T or at tau in (t_x, T]::

    L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s * (I(t_x) - I(T)) ]
    I(t) = integral_t^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau
         = 2F1(r+s+x, b; r+s+x+1; z) / ((r+s+x) (m+t)^(r+s+x))

with m = max(alpha, beta) and, if alpha >= beta, b = s+1, z = (alpha-beta)/(alpha+t), else b = r+x,
z = (beta-alpha)/(beta+t): the alpha-vs-beta ordering of FH09's two cases keeps 0 <= z < 1. The 2F1 grows like
(1-z)^-b, which overflows for large x, so it is evaluated in logs after Euler's transformation::

    ln 2F1(a, b; a+1; z) = (1-b) ln(1-z) + ln 2F1(1, a+1-b; a+1; z),   a = r+s+x

where the last factor lies in [1, 1/(1-z)] (a Beta mean of 1/(1-zY)) and is computed by
:func:`loyalty_cli.models.special.log_hyp2f1_1` (scipy.special.hyp2f1 returns NaN or inf for part of this
domain). I(t_x) - I(T) >= 0 is formed as I(t_x) * (1 - exp(ln I(T) - ln I(t_x))) with expm1, and
the bracket with logaddexp: the whole log-likelihood is computed in log space.

P(alive | x, t_x, T) = first term / bracket (FH09, P(alive); SMC).

Conditional expectation (FH09, conditional expectations; SMC)::

    E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)] * P(alive)

written as (r+x)/(alpha+T) * (beta+T) * (1 - exp(-(s-1) L)) / (s-1), L = ln(1 + t/(beta+T)), which is
continuous at s = 1 (limit (beta+T) L). New-customer E[X(t)] (FH09, E[X(t)]) is the case x = t_x = T = 0.

The Pareto/NBD has no closed-form gradient in r, s (derivatives of 2F1 in its parameters), so the
fitter uses central finite differences of the log-likelihood in log space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import gammaln

from loyalty_cli.models.base import FloatArray, Patterns, PurchaseModel
from loyalty_cli.models.special import log_hyp2f1_1

__all__ = ["ParetoNBDModel"]


def _log_tail(r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray) -> FloatArray:
    """ln I(t), I(t) = integral_t^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau."""
    a = r + s + x
    if alpha >= beta:
        m, b = alpha, s + 1.0
    else:
        m, b = beta, r + x
    z = abs(alpha - beta) / (m + t)
    log_g = log_hyp2f1_1(a + 1.0 - b, b, z)
    return -np.log(a) - a * np.log(m + t) + (1.0 - b) * np.log1p(-z) + log_g


def _pnbd_terms(p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[FloatArray, FloatArray]:
    """ln of the two terms of the bracket: alive at T, and died in (t_x, T]."""
    r, alpha, s, beta = (float(v) for v in p)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_i_tx = _log_tail(r, alpha, s, beta, x, t_x)
    log_i_t = _log_tail(r, alpha, s, beta, x, T)
    d = log_i_t - log_i_tx  # <= 0; exactly 0 when t_x == T
    died_possible = d < 0
    safe_d = np.where(died_possible, d, -1.0)
    died = np.where(died_possible, np.log(s) + log_i_tx + np.log(-np.expm1(safe_d)), -np.inf)
    return alive, died


_PIECES = np.arange(17) * np.log(10.0)  # k y at the piece boundaries: e^(-k y) = 1, 0.1, ..., 1e-16
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
_GL_NODES, _GL_WEIGHTS = (_GL_NODES + 1.0) / 2.0, _GL_WEIGHTS / 2.0  # on [0, 1]


@dataclass(frozen=True)
class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD with r, alpha (purchase rate ~ Gamma(r, alpha)) and s, beta (dropout rate ~ Gamma(s, beta))."""

    name: ClassVar[str] = "pnbd"
    label: ClassVar[str] = "Pareto/NBD"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    shape_params: ClassVar[tuple[str, ...]] = ("r", "s")
    _has_gradient: ClassVar[bool] = False

    @classmethod
    def _starts(cls, data: Patterns) -> Sequence[Sequence[float]]:
        rate = float(data.w @ data.x) / max(float(data.w @ data.T), 1e-12)
        alpha = 1.0 / max(rate, 1e-6)
        horizon = max(float(data.w @ data.T) / float(data.w.sum()), 1e-3)
        # not integers: integer s or r puts the 2F1 on its slow (degenerate) path when alpha and beta differ a lot
        return [
            (0.8, 0.8 * alpha, 0.8, horizon),
            (0.4, 0.4 * alpha, 0.45, 0.5 * horizon),
            (2.2, 2.2 * alpha, 1.7, 3 * horizon),
        ]

    @classmethod
    def _loglik(cls, p: FloatArray, data: Patterns) -> FloatArray:
        r, alpha, s, beta = (float(v) for v in p)
        xu = data.xu
        lead_u = gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive, died = _pnbd_terms(p, data.x, data.t_x, data.T)
        return lead_u[data.xi] + np.logaddexp(alive, died)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        alive, died = _pnbd_terms(self.param_array, x, t_x, T)
        return np.exp(alive - np.logaddexp(alive, died))

    def _no_purchase_if_alive(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """Alive at T: lambda ~ Gamma(k = r + x, A = alpha + T) and mu ~ Gamma(s, B = beta + T), independent.
        A purchase in (T, T + t] happens before death with probability
        int_0^t E[lambda e^(-lambda v)] E[e^(-mu v)] dv = int_0^t (k/A) (A/(A+v))^(k+1) (B/(B+v))^s dv.
        With y = ln(1 + v/A) this is int_0^Y k e^(-k y) (1 + A (e^y - 1) / B)^(-s) dy, Y = ln(1 + t/A):
        Gauss-Legendre on pieces over which e^(-k y) falls tenfold (16 pieces reach 1e-16), so it is accurate
        whether k is 0.5 or 500."""
        r, alpha, s, beta = (float(v) for v in self.param_array)
        k, big_a, big_b = (r + x)[..., None], (alpha + T)[..., None], (beta + T)[..., None]
        top = np.log1p(t / (alpha + T))[..., None]  # Y
        lo = np.minimum(_PIECES[:-1] / k, top)
        hi = np.minimum(_PIECES[1:] / k, top)
        width = hi - lo  # (..., pieces)
        y = lo[..., None] + width[..., None] * _GL_NODES  # (..., pieces, nodes)
        k3 = k[..., None]
        density = k3 * np.exp(-k3 * y - s * np.log1p(big_a[..., None] * np.expm1(y) / big_b[..., None]))
        buy_first = np.einsum("...pn,n,...p->...", density, _GL_WEIGHTS, width)
        return 1.0 - buy_first

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, s, beta = (float(v) for v in self.param_array)
        log_growth = np.log1p(t / (beta + T))
        sm1 = s - 1.0
        if abs(sm1) < 1e-10:
            scaled = log_growth
        else:
            scaled = -np.expm1(-sm1 * log_growth) / sm1
        return (r + x) / (alpha + T) * (beta + T) * scaled * self._p_alive(x, t_x, T)
