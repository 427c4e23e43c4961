"""BG/NBD and MBG/NBD reproduce the published CDNOW numbers (tests/data, see conftest for attribution)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import beta as beta_dist

from loyalty_cli.models import BGNBDModel, MBGNBDModel, fit_purchase_model

PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def bgnbd(cdnow):
    return fit_purchase_model("bgnbd", cdnow.x, cdnow.t_x, cdnow.T)


@pytest.fixture(scope="module")
def paper_model():
    return BGNBDModel.from_params(**PAPER)


def test_fit_reproduces_published_mle(bgnbd, cdnow):
    expected = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4259}
    for name, value in expected.items():
        assert bgnbd.params[name] == pytest.approx(value, rel=2e-4), name  # 3+ significant digits
    assert bgnbd.log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert bgnbd.n_customers == 2357 and bgnbd.n_patterns == 1016
    assert bgnbd.converged and bgnbd.iterations > 0 and bgnbd.penalizer == 0.0
    assert all(0 < se < bgnbd.params[k] for k, se in bgnbd.std_errors.items())
    assert bgnbd.name == "bgnbd"
    # the reported LL is the sum of the per-customer ones
    each = bgnbd.log_likelihood_each(cdnow.x, cdnow.t_x, cdnow.T)
    assert each.sum() == pytest.approx(bgnbd.log_likelihood, rel=1e-12)


def test_conditional_expectation_paper_customer(paper_model):
    # FHL 2005 p. 280: x = 2, t_x = 30.43, T = 38.86, next 39 weeks
    assert paper_model.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_new_customer_curve(paper_model):
    np.testing.assert_allclose(
        paper_model.expected_purchases_new([1, 3, 6]), [0.0532679, 0.1508652, 0.2807559], rtol=2e-6
    )
    # Hardie's spreadsheet values (4 decimals) sit up to 0.16% below the closed form FHL eq. 9, which
    # numerical integration confirms (test_conditional_expectation_matches_integral); lifetimes checks
    # them to 3 decimals, pymc-marketing to rtol 1e-2
    t = [0.1429, 1, 3, 31.8571, 32, 78]
    np.testing.assert_allclose(
        paper_model.expected_purchases_new(t), [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576], rtol=2e-3, atol=5e-5
    )
    assert paper_model.expected_purchases_new(0.0) == 0.0


def test_probability_of_purchases(paper_model):
    assert paper_model.probability_of_purchases(39, 0) == pytest.approx(0.5737864, rel=1e-6)
    assert paper_model.probability_of_purchases(2, 10) == pytest.approx(1.07869e-07, rel=1e-5)
    # a probability distribution over n whose mean is E[X(t)]
    n = np.arange(0, 400)
    probs = paper_model.probability_of_purchases(20.0, n)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert probs @ n == pytest.approx(paper_model.expected_purchases_new(20.0), rel=1e-9)
    assert paper_model.probability_of_purchases(0.0, [0, 1]).tolist() == [1.0, 0.0]


def test_p_alive_edge_cases(paper_model):
    # x = 0: exactly 1 whatever T; huge x with a long silence: exactly 0 and no overflow warning
    assert paper_model.p_alive([0, 0, 0], [0, 0, 0], [1.0, 38.0, 1e4]).tolist() == [1.0, 1.0, 1.0]
    assert paper_model.p_alive(1000, 10, 100) == 0.0
    assert paper_model.expected_purchases(39, 1000, 10, 100) == 0.0
    assert 0.0 < paper_model.p_alive(2, 30.43, 38.86) < 1.0


def test_stable_log_likelihood_single_customers():
    # Fader & Hardie's #NUM! note: a naive implementation overflows for x = 200
    model = BGNBDModel.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    ll = model.log_likelihood_each([0, 200], [0, 38], [40, 40])
    assert ll[0] == pytest.approx(-0.59947382, abs=1e-8)
    assert ll[1] == pytest.approx(100.7957, abs=1e-4)
    assert np.isfinite(model.log_likelihood_each(5000, 39.9, 40.0))


@pytest.mark.parametrize("cls", [BGNBDModel, MBGNBDModel])
@pytest.mark.parametrize(
    ("a", "b", "x", "t"),
    [(0.8, 2.4, 0, 39.0), (0.8, 2.4, 7, 500.0), (3.0, 0.5, 2, 10.0), (1.5, 10.0, 50, 39.0), (1.0, 2.0, 3, 52.0)],
)
def test_conditional_expectation_matches_integral(cls, a, b, x, t):
    """E[Y(t)] = P(alive) E[(1 - (A/(A + p t))^(r+x)) / p] over p ~ Beta(a, b + x (+1 for MBG))."""
    r, alpha, T = 0.4, 5.0, 38.0
    t_x = 0.0 if x == 0 else 30.0
    model = cls.from_params(r=r, alpha=alpha, a=a, b=b)
    c = b + x + (1 if cls is MBGNBDModel else 0)
    big_a, big_r = alpha + T, r + x

    def integrand(p: float) -> float:
        return -np.expm1(-big_r * np.log1p(p * t / big_a)) / p * beta_dist.pdf(p, a, c)

    value = quad(integrand, 0, 1, limit=200, epsabs=0, epsrel=1e-11, points=[1e-4, 1e-2])[0]
    expected = value * model.p_alive(x, t_x, T)
    assert model.expected_purchases(t, x, t_x, T) == pytest.approx(expected, rel=1e-8)


def test_predictions_broadcast_and_are_monotone(bgnbd, cdnow):
    t = np.array([[0.0], [13.0], [39.0], [104.0]])
    e = bgnbd.expected_purchases(t, cdnow.x, cdnow.t_x, cdnow.T)
    assert e.shape == (4, cdnow.x.size)
    assert np.all(e[0] == 0) and np.all(np.diff(e, axis=0) >= 0)
    p = bgnbd.p_alive(cdnow.x, cdnow.t_x, cdnow.T)
    assert np.all((p > 0) & (p <= 1))


def test_holdout_prediction(bgnbd, cdnow, cdnow_days):
    """39 weeks after 1997-09-30: actual 1,882 repeat purchase days; BG/NBD predicts 1,653.4 (MAE 0.786)."""
    pred = bgnbd.expected_purchases(39, cdnow.x, cdnow.t_x, cdnow.T)
    assert pred.sum() == pytest.approx(1653.4, abs=0.05)
    end = 272  # 1997-09-30 in days since 1997-01-01
    hold = (cdnow_days.day > end) & (cdnow_days.day <= end + 273)
    actual = np.bincount(np.searchsorted(cdnow.ids, cdnow_days.customer[hold]), minlength=cdnow.ids.size)
    assert actual.sum() == 1882
    assert np.abs(pred - actual).mean() == pytest.approx(0.786, abs=1e-3)


def test_mbgnbd_fit(cdnow):
    model = fit_purchase_model("mbgnbd", cdnow.x, cdnow.t_x, cdnow.T)
    assert isinstance(model, MBGNBDModel) and model.name == "mbgnbd"
    for name, value in {"r": 0.5248, "alpha": 6.1831, "a": 0.8914, "b": 1.6140}.items():
        assert model.params[name] == pytest.approx(value, rel=5e-4), name
    # one-time buyers: P(alive) falls with T (BG/NBD keeps it at 1)
    p = model.p_alive([0, 0, 0], [0, 0, 0], [1.0, 20.0, 40.0])
    assert 1 > p[0] > p[1] > p[2] > 0
    # a new customer may drop out at time 0: E[X(t)] = b/(a+b) * BG-like curve, still increasing
    e = model.expected_purchases_new([1.0, 10.0, 100.0])
    assert 0 < e[0] < e[1] < e[2]


def test_near_singular_parameters_are_finite():
    # a = 1 (removable singularity of (a+b+x-1)/(a-1)) and a + b = 1 (pole of the 2F1 at x = 0)
    for params in ({"a": 1.0, "b": 2.0}, {"a": 1.0 + 3e-6, "b": 2.0}, {"a": 0.4, "b": 0.6}):
        model = BGNBDModel.from_params(r=0.3, alpha=4.0, **params)
        e = model.expected_purchases([1.0, 39.0], [0, 3], [0, 20.0], [30.0, 30.0])
        assert np.all(np.isfinite(e)) and np.all(e > 0)
    left = BGNBDModel.from_params(r=0.3, alpha=4.0, a=1.0 - 2e-5, b=2.0).expected_purchases_new(39.0)
    mid = BGNBDModel.from_params(r=0.3, alpha=4.0, a=1.0, b=2.0).expected_purchases_new(39.0)
    right = BGNBDModel.from_params(r=0.3, alpha=4.0, a=1.0 + 2e-5, b=2.0).expected_purchases_new(39.0)
    assert mid == pytest.approx((left + right) / 2, rel=1e-8)


def test_probability_no_purchase(paper_model):
    # a brand-new customer is alive: the published unconditional P(N(39) = 0) = 0.5737864
    assert paper_model.probability_no_purchase(39, 0, 0.0, 0.0) == pytest.approx(0.5737864, abs=1e-7)
    # otherwise: dead, or alive with no Poisson event in t (no dropout before the next purchase)
    x, t_x, T, t = 2, 30.43, 38.86, 39.0
    alive = paper_model.p_alive(x, t_x, T)
    none_if_alive = ((4.414 + T) / (4.414 + T + t)) ** (0.243 + x)
    assert paper_model.probability_no_purchase(t, x, t_x, T) == pytest.approx(1 - alive + alive * none_if_alive)
    assert paper_model.probability_no_purchase(0.0, x, t_x, T) == pytest.approx(1.0)


def test_mbgnbd_probability_no_purchase_of_new_customer_is_unconditional():
    """MBG/NBD: a new customer may drop out at time 0 (P(alive) = b/(a+b))."""
    model = MBGNBDModel.from_params(r=0.5248, alpha=6.1831, a=0.8914, b=1.6140)
    alive = 1.6140 / (0.8914 + 1.6140)
    assert model.p_alive(0, 0.0, 0.0) == pytest.approx(alive)
    expected = 1 - alive + alive * (6.1831 / (6.1831 + 39)) ** 0.5248
    assert model.probability_no_purchase(39.0, 0, 0.0, 0.0) == pytest.approx(expected)
