"""Compression, the generic ML fitter, parameter recovery and the ModelError cases."""

from __future__ import annotations

import numpy as np
import pytest

from loyalty_cli.errors import ExitCode, ModelError
from loyalty_cli.models import (
    PURCHASE_MODELS,
    BGNBDModel,
    MBGNBDModel,
    ParetoNBDModel,
    compress,
    fit_mle,
    fit_purchase_model,
)
from loyalty_cli.models.base import Patterns
from loyalty_cli.models.fitting import _std_errors, unique_rows

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_registry():
    assert PURCHASE_MODELS == ("bgnbd", "pnbd", "mbgnbd")


def test_compress_cdnow(cdnow):
    x, t_x, T, counts = compress(cdnow.x, cdnow.t_x, cdnow.T)
    assert x.size == 1016 and counts.sum() == 2357 and counts.dtype == np.int64
    keys = list(zip(x, t_x, T, strict=True))
    assert keys == sorted(keys) and len(set(keys)) == x.size
    # whole weeks compress far more
    assert compress(cdnow.x, np.round(cdnow.t_x), np.round(cdnow.T))[0].size < 700
    # weights are summed per pattern
    w = np.full(cdnow.x.size, 0.5)
    assert np.allclose(compress(cdnow.x, cdnow.t_x, cdnow.T, weights=w)[3], counts * 0.5)
    assert compress([], [], [])[0].size == 0


def test_unique_rows_inverse():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 3, 50).astype(float), rng.integers(0, 4, 50).astype(float)
    (ua, ub), inverse, counts = unique_rows(a, b)
    assert np.array_equal(ua[inverse], a) and np.array_equal(ub[inverse], b) and counts.sum() == 50
    expected = np.unique(np.column_stack([a, b]), axis=0)
    assert np.array_equal(np.column_stack([ua, ub]), expected)


@pytest.mark.parametrize("cls", [BGNBDModel, ParetoNBDModel])
def test_compressed_and_per_customer_fits_agree(cls, cdnow):
    compressed = cls.fit(cdnow.x, cdnow.t_x, cdnow.T)
    data = Patterns(cdnow.x, cdnow.t_x, cdnow.T)  # one row per customer, no compression
    per_customer = fit_mle(
        cls.label, cls.param_names, cls._starts(data), cdnow.x.size, loglik=lambda p: float(cls._loglik(p, data).sum())
    )
    for name in cls.param_names:
        assert per_customer.params[name] == pytest.approx(compressed.params[name], rel=1e-5)
    assert per_customer.log_likelihood == pytest.approx(compressed.log_likelihood, abs=1e-6)
    # the weights form of the same data (one row per pattern) gives the same MLE again
    x, t_x, T, counts = compress(cdnow.x, cdnow.t_x, cdnow.T)
    weighted = cls.fit(x, t_x, T, weights=counts)
    assert weighted.n_customers == 2357 and weighted.n_patterns == 1016
    for name in cls.param_names:
        assert weighted.params[name] == pytest.approx(compressed.params[name], rel=1e-7)


@pytest.mark.parametrize("cls", [BGNBDModel, MBGNBDModel])
def test_analytic_gradient(cls, cdnow):
    data = Patterns(*compress(cdnow.x, cdnow.t_x, cdnow.T)[:3])
    params = np.array([0.5, 6.0, 1.3, 3.0])
    _, grad = cls._loglik_and_grad(params, data)
    for i in range(4):
        h = 1e-6 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        fd = (cls._loglik(up, data).sum() - cls._loglik(down, data).sum()) / (2 * h)
        assert grad[i].sum() == pytest.approx(fd, rel=1e-6)


def test_standard_errors_do_not_depend_on_the_hessian_route(cdnow):
    model = BGNBDModel.fit(cdnow.x, cdnow.t_x, cdnow.T)
    data = Patterns(*compress(cdnow.x, cdnow.t_x, cdnow.T)[:3], compress(cdnow.x, cdnow.t_x, cdnow.T)[3])
    theta = np.log(model.param_array)

    def loglik(p):
        return float(data.w @ BGNBDModel._loglik(p, data))

    from_values = _std_errors(BGNBDModel.param_names, theta, loglik, None, 0.0)
    for name, se in model.std_errors.items():
        assert from_values[name] == pytest.approx(se, rel=1e-3)


def test_parameter_recovery_from_simulated_data(simulate):
    rng = np.random.default_rng(20240611)
    T = rng.uniform(20.0, 60.0, 20000)
    x, t_x, T = simulate(20000, *TRUE.values(), T, rng)
    model = BGNBDModel.fit(x, t_x, T)
    for name, value in TRUE.items():
        assert abs(model.params[name] - value) < 3 * model.std_errors[name], name
        assert model.params[name] == pytest.approx(value, rel=0.2), name
    # the model's own predictions agree with the simulated data in aggregate
    assert model.expected_purchases_new(T).sum() == pytest.approx(x.sum(), rel=0.03)


def test_penalizer_shrinks_log_parameters(cdnow):
    plain = BGNBDModel.fit(cdnow.x, cdnow.t_x, cdnow.T)
    penalised = BGNBDModel.fit(cdnow.x, cdnow.t_x, cdnow.T, penalizer=0.1)
    assert penalised.penalizer == 0.1
    assert np.sum(np.log(penalised.param_array) ** 2) < np.sum(np.log(plain.param_array) ** 2)
    assert penalised.log_likelihood < plain.log_likelihood
    assert all(np.isfinite(se) and se > 0 for se in penalised.std_errors.values())


def _no_dropout_data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, 200).astype(float)
    T = np.full(200, 30.0)
    return x, T.copy(), T  # everyone bought on the last day: nothing identifies dropout


@pytest.mark.parametrize("name", PURCHASE_MODELS)
def test_unidentified_fit_is_an_error_and_a_penalizer_fixes_it(name):
    x, t_x, T = _no_dropout_data()
    with pytest.raises(ModelError, match="did not converge") as info:
        fit_purchase_model(name, x, t_x, T)
    assert "penalizer" in info.value.hint and info.value.exit_code == ExitCode.MODEL
    model = fit_purchase_model(name, x, t_x, T, penalizer=0.01)
    assert all(np.isfinite(v) for v in model.params.values())


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "fragment"),
    [
        ([1, 2, np.nan] * 5, [1.0, 2.0, 3.0] * 5, [5.0] * 15, "missing"),
        ([1, 2, 3] * 5, [1.0, 2.0, np.inf] * 5, [5.0] * 15, "missing"),
        ([1, 2, -3] * 5, [1.0, 2.0, 3.0] * 5, [5.0] * 15, "negative"),
        ([1, 2, 3] * 5, [1.0, 2.0, 3.0] * 5, [5.0, 5.0, -1.0] * 5, "negative"),
        ([1, 2, 3] * 5, [1.0, 2.0, 6.0] * 5, [5.0] * 15, "larger than T"),
        ([1, 2.5, 3] * 5, [1.0, 2.0, 3.0] * 5, [5.0] * 15, "whole number"),
        ([0, 2, 3] * 5, [1.0, 2.0, 3.0] * 5, [5.0] * 15, "recency must be 0"),
        ([1, 2, 3], [1.0, 2.0], [5.0, 5.0, 5.0], "same length"),
        ([1, 2, 3], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0], "at least 10"),
        ([0] * 20, [0.0] * 20, [5.0] * 20, "no customer has a repeat purchase"),
        (["a"] * 20, [0.0] * 20, [5.0] * 20, "numeric"),
    ],
)
@pytest.mark.parametrize("name", PURCHASE_MODELS)
def test_invalid_inputs(name, frequency, recency, T, fragment):
    with pytest.raises(ModelError, match=fragment) as info:
        fit_purchase_model(name, frequency, recency, T)
    assert info.value.hint and info.value.exit_code == ExitCode.MODEL
    assert str(info.value).count("\n") == 1  # one sentence, then the hint


def test_invalid_options(cdnow):
    with pytest.raises(ModelError, match="Unknown purchase model"):
        fit_purchase_model("bgbb", cdnow.x, cdnow.t_x, cdnow.T)  # type: ignore[arg-type]
    for penalizer in (-0.1, float("nan")):
        with pytest.raises(ModelError, match="penalizer"):
            fit_purchase_model("bgnbd", cdnow.x, cdnow.t_x, cdnow.T, penalizer=penalizer)
    with pytest.raises(ModelError, match="weights"):
        fit_purchase_model("bgnbd", cdnow.x, cdnow.t_x, cdnow.T, weights=[1.0, 2.0])
    with pytest.raises(ModelError, match="weights"):
        fit_purchase_model("bgnbd", cdnow.x, cdnow.t_x, cdnow.T, weights=-np.ones(cdnow.x.size))


def test_invalid_prediction_inputs():
    model = BGNBDModel.from_params(**TRUE)
    with pytest.raises(ModelError, match="horizon"):
        model.expected_purchases(-1.0, 1, 1.0, 2.0)
    with pytest.raises(ModelError, match="larger than T"):
        model.p_alive(1, 3.0, 2.0)
    with pytest.raises(ModelError, match="needs parameters"):
        BGNBDModel.from_params(r=1.0, alpha=1.0, a=1.0)
    with pytest.raises(ModelError, match="positive"):
        BGNBDModel.from_params(r=1.0, alpha=-1.0, a=1.0, b=1.0)
    with pytest.raises(ModelError, match="whole number"):
        model.probability_of_purchases(1.0, 0.5)


def test_boundary_fit_is_flagged(rare_dropout):
    """Customers who almost never drop out drive BG/NBD's a to ~0.006 (b's standard error larger than b) and
    P(alive) to ~1 for everyone: a converged fit, but one the data hardly determine. It says so."""
    model = fit_purchase_model("bgnbd", *rare_dropout)
    assert model.converged and model.params["a"] < 0.01
    assert model.std_errors["b"] > model.params["b"]
    assert model.boundary == (
        f"a = {model.params['a']:.3g} is near its lower bound 0",
        f"the standard error of a ({model.std_errors['a']:.3g}) is larger than a = {model.params['a']:.3g}",
        f"the standard error of b ({model.std_errors['b']:.3g}) is larger than b = {model.params['b']:.3g}",
    )
    (warning,) = model.warnings
    assert warning.startswith("The BG/NBD fit lies at a boundary of its parameters, so the data hardly determine")
    assert "a near 0 means almost nobody is predicted to drop out" in warning
    assert model.summary()["warnings"] == [warning]


@pytest.mark.parametrize("name", PURCHASE_MODELS)
def test_published_fits_are_not_flagged(name, cdnow):
    assert fit_purchase_model(name, cdnow.x, cdnow.t_x, cdnow.T).warnings == ()


def test_boundary_rules():
    sound = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
    se = {"r": 0.001, "alpha": 0.4, "a": 0.2, "b": 0.7}
    assert BGNBDModel(params=sound, std_errors=se, n_customers=100).boundary == ()
    assert BGNBDModel.from_params(**{**sound, "a": 0.001}).warnings == ()  # known parameters: no fit to doubt
    # a small scale parameter (alpha, in time units) is no boundary; a small shape parameter is
    small_alpha = BGNBDModel(params={**sound, "alpha": 0.001}, std_errors={**se, "alpha": 1e-4}, n_customers=100)
    assert small_alpha.boundary == ()
    assert BGNBDModel(params={**sound, "r": 0.009}, std_errors=se, n_customers=100).boundary == (
        "r = 0.009 is near its lower bound 0",
    )
    assert BGNBDModel(params=sound, std_errors={**se, "alpha": float("inf")}, n_customers=100).boundary == (
        "the standard error of alpha is not finite",
    )
    pnbd_se = {"r": 0.05, "alpha": 0.8, "s": 0.001, "beta": 6.0}
    pnbd = ParetoNBDModel(params={"r": 0.5, "alpha": 10, "s": 0.005, "beta": 11}, std_errors=pnbd_se, n_customers=9)
    assert pnbd.boundary == ("s = 0.005 is near its lower bound 0",)
