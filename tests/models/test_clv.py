"""Sample customers of the published CDNOW table (fitted on the summary built from the transactions)."""

from __future__ import annotations

import numpy as np
import pytest

from loyalty_cli.errors import ModelError
from loyalty_cli.models import BGNBDModel, discounted_clv, fit_gamma_gamma, fit_purchase_model, month_ends

WEEKS_PER_MONTH_DAYS = 4.345 * 7  # 30.415 days: the month the published CLVs use for weekly models


@pytest.fixture(scope="module")
def fitted(cdnow_exact):
    s = cdnow_exact
    return fit_purchase_model("bgnbd", s.x, s.t_x, s.T), fit_gamma_gamma(s.x, s.zbar)


def test_summary_from_transactions_matches_hardie(cdnow_exact, cdnow_spend):
    assert np.array_equal(cdnow_exact.ids, cdnow_spend.ids)
    assert np.array_equal(cdnow_exact.x, cdnow_spend.x)
    for ours, theirs in (
        (cdnow_exact.t_x, cdnow_spend.t_x),
        (cdnow_exact.T, cdnow_spend.T),
        (cdnow_exact.zbar, cdnow_spend.zbar),
    ):
        assert np.abs(ours - theirs).max() < 0.006


def test_sample_customers(fitted, cdnow_exact):
    bg, gg = fitted
    x, t_x, T, zbar = cdnow_exact.rows(1, 3, 1516)
    np.testing.assert_allclose(bg.expected_purchases(39, x, t_x, T), [1.2260, 0.1948, 20.749], atol=1e-4, rtol=5e-5)
    np.testing.assert_allclose(bg.p_alive(x, t_x, T), [0.7266, 1.0, 0.9689], atol=5e-5)
    np.testing.assert_allclose(gg.expected_spend(x, zbar), [24.654, 35.170, 39.890], atol=5e-4)
    clv = discounted_clv(
        bg, gg, x, t_x, T, zbar, months=12, discount_monthly=0.01, unit_days=7, days_per_month=WEEKS_PER_MONTH_DAYS
    )
    np.testing.assert_allclose(clv, [36.274, 8.345, 972.05], rtol=1e-4)


def test_which_month_length_reproduces_the_published_clv(fitted, cdnow_exact):
    bg, gg = fitted
    x, t_x, T, zbar = cdnow_exact.rows(1, 3, 1516)

    def clv(days_per_month: float) -> np.ndarray:
        return discounted_clv(bg, gg, x, t_x, T, zbar, unit_days=7, days_per_month=days_per_month)

    published = np.array([36.274, 8.345, 972.05])
    assert np.all(np.abs(clv(30.415) / published - 1) < 1e-4)
    assert np.all(np.abs(clv(30.0) / published - 1) > 1e-2)  # 30-day months: 35.87, 8.24, 962.3
    assert np.all(np.abs(clv(30.4375) / published - 1) > 5e-4)  # 365.25 / 12 days: 36.30, 8.35, 972.6


def test_unit_bug_is_visible(fitted, cdnow_spend):
    """Reading a weekly model as if in days (lifetimes' quickstart, on Hardie's 2-decimal summary) inflates
    customer 1 to 140.10; explicit units give 36.27."""
    s = cdnow_spend
    bg = fit_purchase_model("bgnbd", s.x, s.t_x, s.T)
    gg = fit_gamma_gamma(s.x, s.zbar)
    x, t_x, T, zbar = s.rows(1)
    wrong = discounted_clv(bg, gg, x, t_x, T, zbar, unit_days=1, days_per_month=30)
    assert wrong[0] == pytest.approx(140.10, abs=0.01)
    right = discounted_clv(bg, gg, x, t_x, T, zbar, unit_days=7, days_per_month=WEEKS_PER_MONTH_DAYS)
    assert right[0] == pytest.approx(36.27, abs=0.01)
    with pytest.raises(TypeError):
        discounted_clv(*fitted, x, t_x, T, zbar)  # type: ignore[call-arg]  # unit_days is required


def test_clv_identities(fitted, cdnow_exact):
    bg, gg = fitted
    s = cdnow_exact
    undiscounted = discounted_clv(bg, gg, s.x, s.t_x, s.T, s.zbar, discount_monthly=0.0, unit_days=7)
    direct = gg.expected_spend(s.x, s.zbar) * bg.expected_purchases(365.25 / 7, s.x, s.t_x, s.T)  # 12 months = 1 year
    np.testing.assert_allclose(undiscounted, direct, rtol=1e-12)
    discounted = discounted_clv(bg, gg, s.x, s.t_x, s.T, s.zbar, unit_days=7)
    assert np.all(discounted < undiscounted) and np.all(discounted > 0)
    longer = discounted_clv(bg, gg, s.x, s.t_x, s.T, s.zbar, months=24, unit_days=7)
    assert np.all(longer > discounted)
    # days: the same model expressed per day gives the same CLV (alpha scales with the unit)
    p = bg.params
    daily = BGNBDModel.from_params(r=p["r"], alpha=p["alpha"] * 7, a=p["a"], b=p["b"])
    in_days = discounted_clv(daily, gg, s.x, s.t_x * 7, s.T * 7, s.zbar, unit_days=1)
    np.testing.assert_allclose(in_days, discounted, rtol=1e-10)


def test_month_ends():
    np.testing.assert_allclose(month_ends(3, unit_days=7, days_per_month=30.415), [0, 4.345, 8.69, 13.035])
    for kwargs in (
        {"months": 0, "unit_days": 7},
        {"months": 2, "unit_days": 0},
        {"months": 2, "unit_days": 7, "days_per_month": -1},
    ):
        with pytest.raises(ModelError):
            month_ends(**kwargs)


def test_invalid_discount(fitted):
    bg, gg = fitted
    with pytest.raises(ModelError, match="discount"):
        discounted_clv(bg, gg, [1], [1.0], [2.0], [10.0], discount_monthly=-1.0, unit_days=7)


class _Linear:
    """A stand-in purchase model: c purchases per time unit, whoever the customer (E[X(t)] = c t)."""

    def __init__(self, c: float) -> None:
        self.c = c

    def expected_purchases(self, t, frequency, recency, T):
        return self.c * np.broadcast_to(np.asarray(t, dtype=float), np.broadcast_shapes(np.shape(t), np.shape(T)))


class _FlatSpend:
    def expected_spend(self, frequency, monetary_value):
        return np.full(np.shape(frequency), 10.0)


def test_partial_last_month_is_counted_pro_rata_and_discounted_at_its_month():
    """Model time unit = one month (unit_days = days_per_month), 2 purchases a month at 10 each, 1% a month:
    2.5 months = 20/1.01 + 20/1.01^2 + (half of month 3: 10)/1.01^3 = 49.1138."""
    model, spend = _Linear(2.0), _FlatSpend()

    def clv(months: float) -> float:
        value = discounted_clv(model, spend, [0], [0.0], [5.0], [0.0], months=months, unit_days=30, days_per_month=30)
        return float(value[0])

    assert clv(2.5) == pytest.approx(20 / 1.01 + 20 / 1.01**2 + 10 / 1.01**3, rel=1e-12)
    assert clv(2.5) == pytest.approx(49.1138, abs=1e-4)
    assert clv(2) == pytest.approx(20 / 1.01 + 20 / 1.01**2, rel=1e-12)
    # the whole months around it: 2 months + half of month 3's value, discounted as month 3 is
    assert clv(2.5) - clv(2) == pytest.approx((clv(3) - clv(2)) / 2, rel=1e-12)
    assert clv(0.25) == pytest.approx(5 / 1.01, rel=1e-12)  # a quarter of month 1, discounted at month 1


def test_non_whole_month_horizon_on_the_cdnow_fit(fitted, cdnow_exact):
    """13 weeks = 91 days = 2.99 months of 30.4375 days: months 1 and 2, then most of month 3 discounted at
    month 3; it falls short of the 3-month CLV by the purchases between day 91 and day 91.31."""
    bg, gg = fitted
    x, t_x, T, zbar = cdnow_exact.rows(1, 3, 1516)
    spend = gg.expected_spend(x, zbar)

    def clv(months: float) -> np.ndarray:
        return discounted_clv(bg, gg, x, t_x, T, zbar, months=months, unit_days=7)

    def purchases(days: float) -> np.ndarray:
        return bg.expected_purchases(days / 7, x, t_x, T)

    month = 365.25 / 12
    thirteen_weeks = 91 / month
    np.testing.assert_allclose(
        clv(3) - clv(thirteen_weeks), spend * (purchases(3 * month) - purchases(91)) / 1.01**3, rtol=1e-9
    )
    np.testing.assert_allclose(
        clv(thirteen_weeks) - clv(2), spend * (purchases(91) - purchases(2 * month)) / 1.01**3, rtol=1e-9
    )
    undiscounted = discounted_clv(bg, gg, x, t_x, T, zbar, months=thirteen_weeks, discount_monthly=0.0, unit_days=7)
    np.testing.assert_allclose(undiscounted, spend * purchases(91), rtol=1e-12)


def test_month_ends_of_a_partial_month():
    np.testing.assert_allclose(month_ends(2.5, unit_days=7, days_per_month=30.415), [0, 4.345, 8.69, 10.8625])
    np.testing.assert_allclose(month_ends(0.5, unit_days=1, days_per_month=30), [0, 15])
    for bad in (-1.0, float("nan"), float("inf"), 0.0):
        with pytest.raises(ModelError, match="months"):
            month_ends(bad, unit_days=7)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pnbd"])
def test_the_clv_is_the_same_whatever_the_block_of_patterns(monkeypatch, cdnow_exact, model):
    # the purchase curve is evaluated a block of patterns at a time (memory): the blocks give the same numbers, to
    # the last bit, as all the patterns at once (2,357 customers, 1,016 patterns; blocks of 7 leave a remainder)
    from loyalty_cli.models import clv

    s = cdnow_exact
    purchase, spend = fit_purchase_model(model, s.x, s.t_x, s.T), fit_gamma_gamma(s.x, s.zbar)
    args = (purchase, spend, s.x, s.t_x, s.T, s.zbar)
    whole = discounted_clv(*args, months=12.5, unit_days=7)
    monkeypatch.setattr(clv, "PATTERN_BLOCK", 7)
    blocks = discounted_clv(*args, months=12.5, unit_days=7)
    assert np.array_equal(blocks, whole) and whole.sum() > 0
    # the patterns given by a caller that has them (metrics/cltv_fitting.py): the same numbers
    from loyalty_cli.models.fitting import unique_rows

    columns, inverse, _ = unique_rows(*(np.asarray(c, dtype=np.float64) for c in (s.x, s.t_x, s.T)))
    given = discounted_clv(*args, months=12.5, unit_days=7, patterns=(columns, inverse))
    assert np.array_equal(given, whole)
