"""Pareto/NBD reproduces the published CDNOW numbers; its likelihood stays finite at extreme values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from loyalty_cli.models import ParetoNBDModel, fit_purchase_model
from loyalty_cli.models.pnbd import _log_tail

DATA = Path(__file__).parent.parent / "data"
CALIBRATION_END = 272  # 1997-09-30 in days since 1997-01-01


@pytest.fixture(scope="module")
def pnbd(cdnow):
    return fit_purchase_model("pnbd", cdnow.x, cdnow.t_x, cdnow.T)


def test_fit_reproduces_published_mle(pnbd, cdnow):
    expected = {"r": 0.5533, "alpha": 10.578, "s": 0.6061, "beta": 11.669}
    for name, value in expected.items():
        assert pnbd.params[name] == pytest.approx(value, rel=5e-4), name
    assert pnbd.log_likelihood == pytest.approx(-9594.97, abs=0.01)
    assert pnbd.n_customers == 2357 and pnbd.n_patterns == 1016 and pnbd.converged
    assert all(0 < se < np.inf for se in pnbd.std_errors.values())
    each = pnbd.log_likelihood_each(cdnow.x, cdnow.t_x, cdnow.T)
    assert each.sum() == pytest.approx(pnbd.log_likelihood, rel=1e-12)


def test_fixed_parameter_predictions(pnbd):
    model = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    assert model.p_alive(26, 30.86, 31) == pytest.approx(0.9979, abs=5e-5)
    np.testing.assert_allclose(model.expected_purchases_new([1, 3, 6]), [0.0510045, 0.1461243, 0.2750506], rtol=2e-6)
    assert pnbd.expected_purchases(52, 26, 30.86, 31) == pytest.approx(25.46, abs=5e-3)
    assert model.expected_purchases(52, 26, 30.86, 31) == pytest.approx(25.46, abs=1e-2)


def test_tracking_curve(pnbd, cdnow_exact):
    """Cumulative repeat transactions of the cohort, weeks 1..25: sum over customers of E[X(w - first)]."""
    reference = np.genfromtxt(DATA / "clv_cumulative_transactions.csv", delimiter=",", names=True)
    first_purchase = CALIBRATION_END / 7.0 - cdnow_exact.T  # weeks since 1997-01-01, exact
    weeks = np.arange(1, reference.size + 1, dtype=float)
    age = np.maximum(weeks[:, None] - first_purchase[None, :], 0.0)
    predicted = pnbd.expected_purchases_new(age).sum(axis=1)
    np.testing.assert_allclose(predicted, reference["predicted"], rtol=1e-4)


def test_actual_tracking_curve_from_transactions(cdnow_days):
    reference = np.genfromtxt(DATA / "clv_cumulative_transactions.csv", delimiter=",", names=True)
    first = np.minimum.reduceat(cdnow_days.day, np.flatnonzero(np.r_[True, np.diff(cdnow_days.customer) != 0]))
    _, inverse = np.unique(cdnow_days.customer, return_inverse=True)
    repeat = cdnow_days.day > first[inverse]
    actual = [(repeat & (cdnow_days.day < 7 * w)).sum() for w in range(1, reference.size + 1)]
    np.testing.assert_array_equal(actual, reference["actual"])


@pytest.mark.parametrize(
    ("r", "alpha", "s", "beta", "x", "t"),
    [
        (0.55, 10.6, 0.6, 11.7, 2, 30.0),
        (0.55, 10.6, 0.6, 11.7, 0, 0.0),
        (0.55, 12.0, 0.6, 1.7, 5, 3.0),
        (2.0, 0.1, 3.0, 50.0, 100, 1.0),
        (0.3, 100.0, 0.2, 0.01, 0, 0.0),
        (1.0, 0.01, 1.0, 100.0, 0, 0.0),
        (1.0, 5.0, 2.0, 5.0, 3, 10.0),
    ],
)
def test_tail_integral_matches_quadrature(r, alpha, s, beta, x, t):
    """ln of integral_t^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau, including alpha >< beta and
    integer parameters where scipy's hyp2f1 returns NaN."""

    def f(tau: float) -> float:
        return (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1)

    head = quad(f, t, t + 1e4, limit=500, epsabs=0, epsrel=1e-12, points=[t + 1e-3, t + 0.1, t + 1, t + 100])[0]
    tail = quad(f, t + 1e4, np.inf, epsabs=0, epsrel=1e-12)[0]
    assert _log_tail(r, alpha, s, beta, np.array(float(x)), np.array(t)) == pytest.approx(np.log(head + tail), abs=1e-9)


def test_likelihood_matches_direct_integration():
    """The likelihood bracket: alive term + s * integral_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1)."""
    r, alpha, s, beta = 0.6, 8.0, 0.7, 12.0
    model = ParetoNBDModel.from_params(r=r, alpha=alpha, s=s, beta=beta)
    x, t_x, T = 4, 20.0, 38.0
    died = quad(lambda tau: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1), t_x, T, epsabs=0, epsrel=1e-13)[0]
    lead = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    assert model.log_likelihood_each(x, t_x, T) == pytest.approx(lead + np.log(alive + s * died), abs=1e-10)
    assert model.p_alive(x, t_x, T) == pytest.approx(alive / (alive + s * died), rel=1e-10)
    # t_x = T: no room to die unseen
    assert model.p_alive(3, 38.0, 38.0) == 1.0


def test_extreme_inputs_are_finite():
    for params in (
        {"r": 1.0, "alpha": 1e-3, "s": 1.0, "beta": 1e4},
        {"r": 0.2, "alpha": 1e4, "s": 2.0, "beta": 1e-3},
        {"r": 2.0, "alpha": 3.0, "s": 1.0, "beta": 3.0},
    ):
        model = ParetoNBDModel.from_params(**params)
        x = np.array([0, 1, 50, 1000])
        t_x = np.array([0, 0.5, 30.0, 10.0])
        T = np.full(4, 40.0)
        assert np.all(np.isfinite(model.log_likelihood_each(x, t_x, T)))
        p = model.p_alive(x, t_x, T)
        assert np.all((p >= 0) & (p <= 1))
        assert np.all(np.isfinite(model.expected_purchases(52, x, t_x, T)))
    # s = 1 exactly: the limit (beta+T) ln(1 + t/(beta+T)) of the conditional expectation
    at_one = ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=1.0, beta=10.0).expected_purchases_new(20.0)
    near = ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=1.0 + 1e-7, beta=10.0).expected_purchases_new(20.0)
    assert at_one == pytest.approx(near, rel=1e-6)
    assert at_one == pytest.approx(0.5 / 10.0 * 10.0 * np.log(3.0), rel=1e-12)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0), (26, 30.86, 31.0, 52.0), (80, 60.0, 61.0, 100.0)],
)
def test_probability_no_purchase_matches_product_quadrature(x, t_x, T, t):
    """P(no purchase in (T, T+t]) = 1 - P(alive) E[lambda/(lambda+mu) (1 - e^-(lambda+mu)t)] over independent
    lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T): checked against a different method, a 2-D product of
    generalised Gauss-Laguerre rules (one per gamma density; agrees with scipy's dblquad to 1e-10)."""
    from scipy.special import roots_genlaguerre

    r, alpha, s, beta = 0.5534, 10.5802, 0.6061, 11.6562
    model = ParetoNBDModel.from_params(r=r, alpha=alpha, s=s, beta=beta)
    u_l, w_l = roots_genlaguerre(60, r + x - 1)
    u_m, w_m = roots_genlaguerre(60, s - 1)
    lam, mu = u_l[:, None] / (alpha + T), u_m[None, :] / (beta + T)
    total = lam + mu
    inner = (w_l / w_l.sum()) @ (lam / total * -np.expm1(-total * t)) @ (w_m / w_m.sum())
    alive = model.p_alive(x, t_x, T)
    assert model.probability_no_purchase(t, x, t_x, T) == pytest.approx(1 - alive * inner, abs=1e-7)


def test_probability_no_purchase_limits():
    model = ParetoNBDModel.from_params(r=0.55, alpha=10.6, s=1e-9, beta=11.7)
    # no dropout: only the Poisson part is left, ((alpha+T)/(alpha+T+t))^(r+x)
    assert model.probability_no_purchase(10.0, 3, 20.0, 30.0) == pytest.approx(
        1 - model.p_alive(3, 20.0, 30.0) * (1 - (40.6 / 50.6) ** 3.55), rel=1e-6
    )
    fitted = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    assert fitted.probability_no_purchase(0.0, 5, 20.0, 30.0) == pytest.approx(1.0)
    p = fitted.probability_no_purchase(np.array([1.0, 10.0, 100.0]), 2, 10.0, 30.0)
    assert np.all(np.diff(p) < 0) and np.all((p > 0) & (p < 1))
