"""Special functions the BTYD models need beyond SciPy, evaluated to full double precision.

``log_hyp2f1_1(B, b, z)`` = ln 2F1(1, B; B+b; z) for B > 0, b > 0, B + b > 1, 0 <= z < 1.

This is the bounded hypergeometric left after Euler's transformation of the Pareto/NBD likelihood
(see :mod:`loyalty_cli.models.pnbd`): 2F1(1, B; B+b; z) = E[1/(1 - zY)] with Y ~ Beta(B, b), so it lies in
[1, 1/(1-z)]. ``scipy.special.hyp2f1`` returns NaN or inf for parts of this domain (z > 0.9 with large B,
or with integer b - 1: its 1 - z transformation is degenerate there), so it is computed here as:

* the continued fraction of 2F1(p+q, 1; p+1; z) with p = B+b-1, q = 1-b (the Gauss/Euler fraction behind
  the incomplete beta function, Numerical Recipes 3rd ed. section 6.4, evaluated with the modified Lentz
  method); it converges for every z < 1, in O(1/sqrt(1-z)) steps at worst (tens of steps for z <= 0.9);
* for z > 0.9 and b < 1 (q > 0), the identity 2F1(1, p+q; p+1; z) = p B_z(p, q) / (z^p (1-z)^q)
  (Abramowitz & Stegun 26.5.23 with 15.1.1), with B_z from ``scipy.special.betainc`` (regularised,
  positive parameters), which is exact up to z = 1 where the function diverges;
* for z > 0.9 and 1 <= b < 31 (b not within 1e-4 of an integer), that value at b0 = b - ceil(b) + 1 in
  (0, 1), raised to b by the contiguous relation G(B, b) = (B+b-1)/((b-1) z) [1 - (1-z) G(B, b-1)]
  (from 1 - y = [(1 - zy) - (1 - z)] / z under the Beta integral), stable near z = 1.

The continued fraction stops at ``max_iter`` steps; the result is then accurate to about 1e-4 relative,
which only happens for 1 - z < 1e-7 with b within 1e-4 of 1, 2 or 3, i.e. at parameter values far from
any fitted optimum (one Gamma scale parameter 10^7 times the other).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, betaln

__all__ = ["log_hyp2f1_1"]

_TINY = 1e-300


def _cf_hyp2f1_1(
    B: NDArray[np.float64], b: NDArray[np.float64], z: NDArray[np.float64], *, max_iter: int, tol: float
) -> NDArray[np.float64]:
    """2F1(1, B; B+b; z) by the incomplete-beta continued fraction (modified Lentz), vectorised."""
    p = B + b - 1.0
    q = 1.0 - b
    out = np.empty(B.shape)
    d = 1.0 - B * z / (p + 1.0)
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    c = np.ones(B.shape)
    h = d.copy()
    idx = np.arange(B.size)
    for m in range(1, max_iter + 1):
        m2 = 2.0 * m
        for aa in (
            m * (q - m) * z / ((p + m2 - 1.0) * (p + m2)),
            -(p + m) * (p + q + m) * z / ((p + m2) * (p + m2 + 1.0)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = c * d
            h = h * delta
        done = np.abs(delta - 1.0) <= tol
        if done.any():
            out[idx[done]] = h[done]
            keep = ~done
            if not keep.any():
                return out
            idx, p, q, z, c, d, h = idx[keep], p[keep], q[keep], z[keep], c[keep], d[keep], h[keep]
    out[idx] = h
    return out


def _log_beta_route(p: NDArray[np.float64], q: NDArray[np.float64], z: NDArray[np.float64]) -> NDArray[np.float64]:
    """ln[p B_z(p, q) / (z^p (1-z)^q)] = ln 2F1(1, p+q; p+1; z), for p > 0, 0 < q < 1."""
    return np.log(p) + betaln(p, q) + np.log(betainc(p, q, z)) - p * np.log(z) - q * np.log1p(-z)


def _log_small_b(B: NDArray[np.float64], b: NDArray[np.float64], z: NDArray[np.float64]) -> NDArray[np.float64]:
    """ln G(B, b) for 0 < b < 1 by the incomplete-beta route; when B + b <= 1 (p <= 0) first use
    G(B, b) = 1 + z B / (B+b) G(B+1, b) (from y = [1 - (1 - zy)] / z under the Beta integral)."""
    p = B + b - 1.0
    shift = p <= 1e-3
    log_g = _log_beta_route(np.where(shift, p + 1.0, p), 1.0 - b, z)
    shifted = np.log1p(z * B / (B + b) * np.exp(log_g))
    return np.where(shift, shifted, log_g)


def log_hyp2f1_1(B: ArrayLike, b: ArrayLike, z: ArrayLike, *, max_iter: int = 20000) -> NDArray[np.float64]:
    """ln 2F1(1, B; B+b; z) for B > 0, b > 0, B + b > 1 and 0 <= z < 1 (broadcast)."""
    B_, b_, z_ = (np.asarray(v, dtype=np.float64) for v in (B, b, z))
    B_, b_, z_ = np.broadcast_arrays(B_, b_, z_)
    shape = B_.shape
    B_, b_, z_ = B_.ravel(), b_.ravel(), z_.ravel()
    out = np.zeros(B_.size)
    p = B_ + b_ - 1.0
    near_one = z_ > 0.9
    # z^p must not underflow for the incomplete-beta route
    no_underflow = (p + 1.0) * -np.log(np.maximum(z_, 0.5)) < 600.0
    use_beta = near_one & (b_ < 1.0) & no_underflow
    if use_beta.any():
        out[use_beta] = _log_small_b(B_[use_beta], b_[use_beta], z_[use_beta])
    # 1 <= b < 31 and b not within 1e-4 of an integer: start at b0 = b - k in (0, 1) by the route above
    # and climb with G(B, b) = (B+b-1) / ((b-1) z) * [1 - (1-z) G(B, b-1)], which is stable near z = 1
    # (the bracket tends to 1); it loses log10(1/b0) digits at most, hence the distance from integers.
    steps = np.ceil(b_) - 1.0
    b0 = b_ - steps
    use_climb = near_one & ~use_beta & (b_ >= 1.0) & (b_ < 31.0) & (b0 >= 1e-4) & (b0 <= 1.0 - 1e-4)
    use_climb &= (B_ + b0) * -np.log(np.maximum(z_, 0.5)) < 600.0
    if use_climb.any():
        BB, zz, kk, bb = B_[use_climb], z_[use_climb], steps[use_climb], b0[use_climb]
        g = np.exp(_log_small_b(BB, bb, zz))
        for _ in range(int(kk.max())):
            go = kk > 0
            bb = np.where(go, bb + 1.0, bb)
            g = np.where(go, (BB + bb - 1.0) / ((bb - 1.0) * zz) * (1.0 - (1.0 - zz) * g), g)
            kk = kk - 1
        out[use_climb] = np.log(g)
    use_cf = ~use_beta & ~use_climb & (z_ > 0)
    if use_cf.any():
        out[use_cf] = np.log(_cf_hyp2f1_1(B_[use_cf], b_[use_cf], z_[use_cf], max_iter=max_iter, tol=1e-15))
    return out.reshape(shape)
