"""ln 2F1(1, B; B+b; z) against closed forms and numerical integration, over the whole domain."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import betaln, hyp2f1

from loyalty_cli.models.special import log_hyp2f1_1


def reference(B: float, b: float, z: float) -> float:
    """ln E[1/(1 - zY)], Y ~ Beta(B, b), by quadrature: with the algebraic weight y^(B-1) (1-y)^(b-1) for
    small B, b (endpoint singularities), else over the normalised density split around its peak."""
    if min(B, b) < 5:
        value = quad(
            lambda y: 1.0 / (1.0 - z * y),
            0.0,
            1.0,
            weight="alg",
            wvar=(B - 1.0, b - 1.0),
            epsabs=0,
            epsrel=1e-11,
            limit=500,
        )[0]
        return float(np.log(value) - betaln(B, b))
    mean = B / (B + b)
    sd = np.sqrt(B * b / ((B + b) ** 2 * (B + b + 1)))
    cuts = sorted({0.0, max(mean - 12 * sd, 0.0), mean, min(mean + 12 * sd, 1.0), 1.0})

    def f(y: float) -> float:
        return np.exp((B - 1) * np.log(y) + (b - 1) * np.log1p(-y) - betaln(B, b)) / (1.0 - z * y)

    pieces = zip(cuts[:-1], cuts[1:], strict=True)
    value = sum(quad(f, lo, hi, epsabs=1e-300, epsrel=1e-12, limit=200)[0] for lo, hi in pieces)
    return float(np.log(value))


GRID = [
    (B, b, z)
    for B, b, z in itertools.product(
        [0.3, 1.0, 2.5, 30.2, 600.7], [0.2, 0.6, 1.0, 1.6, 2.0, 3.4, 12.0, 101.0], [0.0, 0.05, 0.5, 0.85, 0.93, 0.99]
    )
    if B + b > 1
]


def test_matches_quadrature():
    B, b, z = (np.array(v) for v in zip(*GRID, strict=True))
    ours = log_hyp2f1_1(B, b, z)
    expected = np.array([reference(*row) for row in GRID])
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_matches_scipy_where_scipy_is_reliable():
    B, b, z = np.meshgrid([0.4, 3.0, 40.0], [0.5, 1.3, 7.0], [0.1, 0.4, 0.7])
    np.testing.assert_allclose(log_hyp2f1_1(B, b, z), np.log(hyp2f1(1.0, B, B + b, z)), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("z", [0.5, 0.95, 0.999, 1 - 1e-6])
def test_closed_forms_near_one(z):
    # 2F1(1, 1; 2; z) = -ln(1 - z) / z, and b < 1, b > 1 with a known limit at z -> 1
    assert log_hyp2f1_1(1.0, 1.0, z) == pytest.approx(np.log(-np.log1p(-z) / z), abs=1e-10)
    # 2F1(1, B; B+1... with B = 1, b = 2: 2F1(1, 1; 3; z) = 2 (z + (1 - z) ln(1 - z)) / z^2
    assert log_hyp2f1_1(1.0, 2.0, z) == pytest.approx(np.log(2 * (z + (1 - z) * np.log1p(-z)) / z**2), abs=1e-9)


def test_bounds_and_limits():
    # 1 <= G <= 1 / (1 - z); G(1) = (B + b - 1) / (b - 1) for b > 1
    rng = np.random.default_rng(5)
    B = rng.uniform(0.1, 50, 400)
    b = rng.uniform(2.0, 20, 400)  # for b < 2, G(z) approaches G(1) only like (1-z)^(b-1)
    z = rng.uniform(0, 1 - 1e-9, 400)
    g = log_hyp2f1_1(B, b, z)
    assert np.all(g >= -1e-15) and np.all(g <= -np.log1p(-z) + 1e-12)
    at_one = log_hyp2f1_1(B, b, 1 - 1e-13)
    np.testing.assert_allclose(at_one, np.log((B + b - 1) / (b - 1)), rtol=1e-6, atol=1e-8)


def test_degenerate_integer_case_where_scipy_fails():
    assert not np.isfinite(hyp2f1(1.0, 4.0, 106.0, 0.978))  # scipy: NaN (integer c - a - b)
    assert log_hyp2f1_1(4.0, 102.0, 0.978) == pytest.approx(reference(4.0, 102.0, 0.978), abs=1e-12)
