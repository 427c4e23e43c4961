"""Gamma-Gamma reproduces the published CDNOW spend model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import gamma as gamma_dist

from loyalty_cli.errors import ExitCode, ModelError
from loyalty_cli.models import GammaGammaModel, fit_gamma_gamma
from loyalty_cli.models.gamma_gamma import _gg_loglik


@pytest.fixture(scope="module")
def spend(cdnow_spend):
    return fit_gamma_gamma(cdnow_spend.x, cdnow_spend.zbar)


def test_fit_reproduces_published_mle(spend, cdnow_spend):
    for name, value in {"p": 6.2488, "q": 3.7446, "v": 15.4477}.items():
        assert spend.params[name] == pytest.approx(value, rel=2e-4), name
    assert spend.log_likelihood == pytest.approx(-4055.92, abs=0.01)
    assert spend.n_customers == 946 and spend.n_excluded == 2357 - 946
    assert spend.converged and all(0 < se < np.inf for se in spend.std_errors.values())
    repeat = cdnow_spend.x > 0
    each = spend.log_likelihood_each(cdnow_spend.x[repeat], cdnow_spend.zbar[repeat])
    assert each.sum() == pytest.approx(spend.log_likelihood, rel=1e-12)
    # the model assumes spend independent of frequency: the correlation is reported, and small here
    assert abs(spend.frequency_spend_correlation) < 0.2


def test_row_order_does_not_change_a_single_digit(spend, cdnow_spend):
    """Every sum is over the sorted patterns, so the same customers in another order fit the same numbers."""
    order = np.random.default_rng(1).permutation(cdnow_spend.x.size)
    again = fit_gamma_gamma(cdnow_spend.x[order], cdnow_spend.zbar[order])
    assert again.params == spend.params and again.std_errors == spend.std_errors
    assert again.frequency_spend_correlation == spend.frequency_spend_correlation


def test_conditional_expected_spend_first_ten(cdnow_spend):
    model = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(model.expected_spend(cdnow_spend.x[:10], cdnow_spend.zbar[:10]), expected, atol=0.1)


def test_population_mean_and_one_time_buyers(spend):
    assert spend.population_mean == pytest.approx(6.2488 * 15.4477 / 2.7446, rel=1e-3)
    assert spend.expected_spend(0, 0.0) == pytest.approx(spend.population_mean, rel=1e-15)
    # repeat customers with a non-positive mean (returns) are treated as zbar = 0: shrunk, never negative
    shrunk = spend.expected_spend([3, 3], [0.0, -20.0])
    assert shrunk[0] == shrunk[1] and 0 < shrunk[0] < spend.population_mean
    # more purchases: more weight on the customer's own mean
    e = spend.expected_spend([1, 5, 50], [100.0, 100.0, 100.0])
    assert e[0] < e[1] < e[2] < 100.0


def test_density_integrates_to_one():
    params = np.array([6.0, 3.5, 15.0])

    def density(z: float, x: float) -> float:
        return float(np.exp(_gg_loglik(params, np.array([x]), np.array([z]), grad=False)[0][0]))

    for x in (1.0, 4.0):
        assert quad(density, 0, np.inf, args=(x,), epsabs=0, epsrel=1e-10)[0] == pytest.approx(1.0, abs=1e-8)
    # x = 1: the mean of a Gamma(p, nu) value with nu ~ Gamma(q, v), checked by integrating over nu
    z = 30.0
    mixed = quad(
        lambda nu: gamma_dist.pdf(z, 6.0, scale=1 / nu) * gamma_dist.pdf(nu, 3.5, scale=1 / 15.0),
        0,
        np.inf,
        epsabs=0,
        epsrel=1e-11,
    )[0]
    assert np.exp(_gg_loglik(params, np.array([1.0]), np.array([z]), grad=False)[0][0]) == pytest.approx(
        mixed, rel=1e-8
    )


def test_gradient_matches_finite_differences(cdnow_spend):
    repeat = cdnow_spend.x > 0
    x, m = cdnow_spend.x[repeat], cdnow_spend.zbar[repeat]
    params = np.array([5.0, 3.0, 12.0])
    _, grad = _gg_loglik(params, x, m, grad=True)
    assert grad is not None
    for i in range(3):
        h = 1e-6 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        fd = (_gg_loglik(up, x, m, grad=False)[0].sum() - _gg_loglik(down, x, m, grad=False)[0].sum()) / (2 * h)
        assert grad[i].sum() == pytest.approx(fd, rel=1e-6)


def test_weights_give_the_same_fit(cdnow_spend, spend):
    pairs, counts = np.unique(np.column_stack([cdnow_spend.x, cdnow_spend.zbar]), axis=0, return_counts=True)
    weighted = fit_gamma_gamma(pairs[:, 0], pairs[:, 1], weights=counts)
    for name in spend.params:
        assert weighted.params[name] == pytest.approx(spend.params[name], rel=1e-6)
    assert weighted.n_excluded == spend.n_excluded


@pytest.mark.parametrize(
    ("frequency", "monetary", "fragment"),
    [
        ([1, 2, np.nan] * 5, [10.0] * 15, "missing"),
        ([1, 2, -1] * 5, [10.0] * 15, "whole number"),
        ([1.5, 2, 1] * 5, [10.0] * 15, "whole number"),
        ([1, 2, 3], [10.0, 20.0, 30.0], "at least 10"),
        ([0] * 20, [0.0] * 20, "at least 10"),
        ([1, 2] * 10, [10.0] * 20, "same mean spend"),
    ],
)
def test_invalid_inputs(frequency, monetary, fragment):
    with pytest.raises(ModelError, match=fragment) as info:
        fit_gamma_gamma(frequency, monetary)
    assert info.value.hint and info.value.exit_code == ExitCode.MODEL


def test_no_finite_mean_is_an_error():
    with pytest.raises(ModelError, match="no finite mean"):
        GammaGammaModel.from_params(p=2.0, q=0.9, v=10.0)
    with pytest.raises(ModelError, match="frequency > 0"):
        GammaGammaModel.from_params(p=2.0, q=3.0, v=10.0).log_likelihood_each([0, 1], [0.0, 5.0])


def test_summed_likelihood_and_gradient_match_the_per_customer_sum():
    from loyalty_cli.models.gamma_gamma import _summed_loglik

    rng = np.random.default_rng(5)
    x = rng.integers(1, 20, 500).astype(float)
    m = rng.gamma(3.0, 10.0, 500)
    w = rng.integers(1, 4, 500).astype(float)
    loglik, loglik_grad = _summed_loglik(x, m, w)
    for params in (np.array([6.25, 3.74, 15.44]), np.array([0.5, 1.2, 80.0])):
        ll, g = _gg_loglik(params, x, m, grad=True)
        assert loglik(params) == pytest.approx(float(w @ ll), rel=1e-12)
        total, grad = loglik_grad(params)
        assert total == pytest.approx(float(w @ ll), rel=1e-12)
        np.testing.assert_allclose(grad, g @ w, rtol=1e-10)
