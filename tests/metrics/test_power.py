"""Sample sizes of a reward test, against hand calculations.

z values (two-sided alpha 0.05, power 0.8): z_0.975 = 1.959964, z_0.8 = 0.841621, sum 2.801585, squared 7.848879.
Bonferroni for 2 arms (alpha 0.025): z_0.9875 = 2.241403, sum 3.083024, squared 9.505037.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from loyalty_cli.metrics.power import (
    Means,
    Proportions,
    bonferroni,
    detectable_difference,
    n_per_group,
    plan_sizes,
    z_sum,
)

Z2 = 7.848879  # (1.959964 + 0.841621)^2
Z2_BONF2 = 9.505037  # (2.241403 + 0.841621)^2


def test_z_values():
    assert z_sum(0.05, 0.8) == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert z_sum(0.025, 0.8) == pytest.approx(2.241403 + 0.841621, abs=1e-6)
    assert z_sum(0.01, 0.9) == pytest.approx(2.575829 + 1.281552, abs=1e-6)
    assert bonferroni(0.05, 2) == 0.025 and bonferroni(0.05, 1) == 0.05
    with pytest.raises(ValueError):
        z_sum(0.0, 0.8)
    with pytest.raises(ValueError):
        bonferroni(0.05, 0)


def test_textbook_two_proportions():
    # n = (z_a + z_b)^2 (p1 q1 + p2 q2) / d^2 = 7.848879 x (0.09 + 0.1056) / 0.0004 = 3838.10 per group
    n_c, n_t = n_per_group(Proportions(0.10, 0.12), alpha=0.05, power=0.8)
    assert n_c == pytest.approx(Z2 * 0.1956 / 0.0004, rel=1e-6)
    assert n_c == pytest.approx(3838.10, abs=0.01)
    assert n_t == n_c
    plan = plan_sizes(Proportions(0.10, 0.12), names=["treatment", "control"], shares=[0.5, 0.5])
    assert plan.needed == (3839, 3839) and plan.total == 7678 and plan.alpha == 0.05 and plan.comparisons == 1


def test_a_decrease_needs_what_the_mirror_increase_needs():
    # p 0.5 -> 0.45 and 0.45 -> 0.5 have the same variances: 7.848879 x (0.25 + 0.2475) / 0.0025 = 1561.93
    down = n_per_group(Proportions(0.5, 0.45), alpha=0.05, power=0.8)[0]
    up = n_per_group(Proportions(0.45, 0.5), alpha=0.05, power=0.8)[0]
    assert down == pytest.approx(Z2 * 0.4975 / 0.0025, rel=1e-6)
    assert down == pytest.approx(up, rel=1e-12)


def test_two_means():
    # n = (z_a + z_b)^2 x 2 sd^2 / d^2 = 7.848879 x 2 x 1600 / 25 = 1004.66 per group
    n_c, _ = n_per_group(Means(20.0, 25.0, 40.0), alpha=0.05, power=0.8)
    assert n_c == pytest.approx(Z2 * 2 * 1600 / 25, rel=1e-6)
    assert n_c == pytest.approx(1004.66, abs=0.01)
    plan = plan_sizes(Means(20.0, 25.0, 40.0), names=["treatment", "control"], shares=[0.5, 0.5])
    assert plan.needed == (1005, 1005) and plan.total == 2010


def test_unequal_allocation():
    # treatment 4x the control: n_c = 7.848879 x (0.1056 / 4 + 0.09) / 0.0004 = 2284.02, n_t = 9136.10
    n_c, n_t = n_per_group(Proportions(0.10, 0.12), alpha=0.05, power=0.8, ratio=4.0)
    assert n_c == pytest.approx(Z2 * (0.1056 / 4 + 0.09) / 0.0004, rel=1e-6)
    assert n_c == pytest.approx(2284.02, abs=0.01)
    assert n_t == pytest.approx(4 * n_c)
    plan = plan_sizes(Proportions(0.10, 0.12), names=["treatment", "control"], shares=[0.8, 0.2])
    assert plan.needed == (9137, 2285) and plan.total == 9137 + 2285
    # means: n_c = 7.848879 x 1600 x (1 + 1/4) / 25 = 627.91; the list 3139.55; treatment 2511.64
    means = plan_sizes(Means(0.0, 5.0, 40.0), names=["treatment", "control"], shares=[0.8, 0.2])
    assert means.needed == (2512, 628)
    # an unbalanced split needs more customers in all than a balanced one (7678)
    assert plan.total > 7678


def test_k_arms_are_planned_at_the_bonferroni_level():
    # 2 treatment arms (0.4, 0.4) and a control (0.2): alpha 0.025 per comparison, ratio 2:
    # n_c = 9.505037 x (0.1056 / 2 + 0.09) / 0.0004 = 3393.30; the list 3393.30 / 0.2 = 16966.49
    plan = plan_sizes(
        Proportions(0.10, 0.12), names=["reward_a", "reward_b", "control"], shares=[0.4, 0.4, 0.2], alpha=0.05
    )
    n_c = Z2_BONF2 * (0.1056 / 2 + 0.09) / 0.0004
    assert n_c == pytest.approx(3393.30, abs=0.01)
    assert plan.alpha == 0.025 and plan.comparisons == 2
    assert plan.needed == (math.ceil(0.4 * n_c / 0.2), math.ceil(0.4 * n_c / 0.2), math.ceil(n_c)) == (6787, 6787, 3394)
    assert plan.total == sum(plan.needed)


def test_the_largest_comparison_sets_the_list_size():
    # arms of unequal shares: the smaller arm (0.2 vs control 0.3) needs the larger list
    plan = plan_sizes(Means(0.0, 5.0, 40.0), names=["big", "small", "control"], shares=[0.5, 0.2, 0.3])
    small = Z2_BONF2 * 1600 * (1 + 0.3 / 0.2) / 25  # n_control for the small arm: 1520.81
    big = Z2_BONF2 * 1600 * (1 + 0.3 / 0.5) / 25
    assert small > big
    total = small / 0.3
    assert plan.needed == (math.ceil(0.5 * total), math.ceil(0.2 * total), math.ceil(0.3 * total))


def test_bad_designs_are_value_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        plan_sizes(Means(0, 1, 1), names=["a", "control"], shares=[0.5, 0.6])
    with pytest.raises(ValueError, match="no control"):
        plan_sizes(Means(0, 1, 1), names=["a", "b"], shares=[0.5, 0.5])
    with pytest.raises(ValueError, match="one share per arm"):
        plan_sizes(Means(0, 1, 1), names=["a", "control"], shares=[1.0])
    with pytest.raises(ValueError):
        Proportions(0.1, 0.1)
    with pytest.raises(ValueError):
        Proportions(0.9, 1.2)
    with pytest.raises(ValueError):
        Means(1.0, 2.0, 0.0)


def test_detectable_difference_inverts_the_sample_size():
    # 3838.10 per group detect 0.10 -> 0.12; fewer customers detect only a larger difference
    d = detectable_difference(
        "proportion",
        baseline=0.10,
        available=2 * 3838.10,
        treatment_share=0.5,
        control_share=0.5,
        alpha=0.05,
        power=0.8,
    )
    assert d == pytest.approx(0.02, abs=1e-5)
    smaller = detectable_difference(
        "proportion", baseline=0.10, available=2000, treatment_share=0.5, control_share=0.5, alpha=0.05, power=0.8
    )
    assert smaller is not None and smaller > 0.02
    # means, closed form: 2.801585 x 40 x sqrt(2 / 1004.66) = 5.00
    m = detectable_difference(
        "mean", baseline=20, available=2 * 1004.66, treatment_share=0.5, control_share=0.5, alpha=0.05, power=0.8, sd=40
    )
    assert m == pytest.approx(5.0, abs=1e-3)
    # too few customers to detect even a rate of 100%: None
    assert (
        detectable_difference(
            "proportion", baseline=0.5, available=4, treatment_share=0.5, control_share=0.5, alpha=0.05, power=0.8
        )
        is None
    )


def test_simulated_power_is_the_planned_power():
    """3839 customers a group, rates 10% and 12%: the two-sided unpooled z-test at 5% rejects in about 80% of
    simulated tests (3,000 of them: standard error 0.7 points)."""
    rng = np.random.default_rng(20240601)
    n, sims = 3839, 3000
    x0 = rng.binomial(n, 0.10, sims) / n
    x1 = rng.binomial(n, 0.12, sims) / n
    z = (x1 - x0) / np.sqrt(x0 * (1 - x0) / n + x1 * (1 - x1) / n)
    power = float((np.abs(z) > 1.959964).mean())
    assert power == pytest.approx(0.80, abs=0.025)
    # and at the Bonferroni level of 2 arms, 6787/3394 customers (ratio 2) keep 80% per comparison
    n_t, n_c = 6787, 3394
    x0 = rng.binomial(n_c, 0.10, sims) / n_c
    x1 = rng.binomial(n_t, 0.12, sims) / n_t
    z = (x1 - x0) / np.sqrt(x0 * (1 - x0) / n_c + x1 * (1 - x1) / n_t)
    assert float((np.abs(z) > 2.241403).mean()) == pytest.approx(0.80, abs=0.025)
