"""Test arms against the control (Holm-adjusted) and the return on a reward, hand-computed."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from loyalty_cli.io.precision import number_kind
from loyalty_cli.metrics.uplift import NO_DIFFERENCE, TOO_FEW, UpliftConfig, campaign_outcomes
from loyalty_cli.metrics.uplift_arms import (
    ADJUSTED,
    RETURN_COLUMNS,
    RewardCost,
    adjust_arms,
    arm_comparisons,
    holm,
    reward_return,
)

START = date(2024, 1, 1)
CONFIG = UpliftConfig(start=START, window_days=30, min_n=1)


@pytest.mark.parametrize(
    ("p", "adjusted"),
    [
        # sorted 0.01, 0.03, 0.04: 3 x 0.01 = 0.03; 2 x 0.03 = 0.06; 1 x 0.04 = 0.04 -> 0.06 (never below the
        # one before)
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),
        # 4 x 0.01, 3 x 0.02, 2 x 0.03, 1 x 0.04 -> 0.04, 0.06, 0.06, 0.06 (the last raised to 0.06)
        ([0.01, 0.02, 0.03, 0.04], [0.04, 0.06, 0.06, 0.06]),
        ([0.5, 0.6], [1.0, 1.0]),  # 2 x 0.5 = 1 (capped at 1), then 0.6 -> 1
        ([0.02, 0.02], [0.04, 0.04]),  # ties
        ([0.03], [0.03]),  # one comparison: the identity
        ([0.01, None, 0.04], [0.02, math.nan, 0.04]),  # not tested: out of the family (m = 2)
        ([None, math.nan], [math.nan, math.nan]),
    ],
)
def test_holm_step_down(p, adjusted):
    np.testing.assert_allclose(holm(p), adjusted, rtol=0, atol=1e-12)


def test_verdicts_come_from_the_adjusted_p_values():
    # three arms, p 0.01, 0.04, 0.03 in (all): adjusted 0.03, 0.06, 0.06, so only the first is significant at 5%,
    # though all three raw p-values are below 0.05; a segment is its own family (one test: unchanged)
    table = pl.DataFrame(
        {
            "arm": ["a", "b", "c", "a"],
            "segment": ["(all)", "(all)", "(all)", "S"],
            "repurchase_diff": [0.1, 0.1, -0.1, 0.1],
            "repurchase_p_value": [0.01, 0.04, 0.03, 0.04],
            "repurchase_verdict": ["treatment higher", "treatment higher", "treatment lower", "treatment higher"],
            "revenue_diff": [1.0, None, -1.0, 1.0],
            "revenue_p_value": [0.2, None, 0.001, 0.5],
            "revenue_verdict": [NO_DIFFERENCE, TOO_FEW, "treatment lower", NO_DIFFERENCE],
        }
    )
    out = adjust_arms(table, CONFIG)
    assert out.columns[:5] == ["arm", "segment", "repurchase_diff", "repurchase_p_value", "repurchase_adjusted_p_value"]
    assert out["repurchase_adjusted_p_value"].to_list() == pytest.approx([0.03, 0.06, 0.06, 0.04])
    assert out["repurchase_verdict"].to_list() == ["treatment higher", NO_DIFFERENCE, NO_DIFFERENCE, "treatment higher"]
    # revenue: b was not tested (too few), so (all) is a family of 2: 2 x 0.001 = 0.002, then 0.2
    assert out["revenue_adjusted_p_value"].to_list() == pytest.approx([0.2, None, 0.002, 0.5])
    assert out["revenue_verdict"].to_list() == [NO_DIFFERENCE, TOO_FEW, "treatment lower", NO_DIFFERENCE]


def tiny_shop() -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Three arms of four customers. In the window (January 2024): a1 10.00, a2 20.00, a3 30.00; b1 40.00; c1 10.00;
    c2 bought on 2024-01-31, the first day after it. Segments: X is a1, a2, b1 .. b4, c1, c2; Y is a3, a4, c3, c4."""
    rows = [("a1", 10), ("a2", 20), ("a3", 30), ("b1", 40), ("c1", 10)]
    activity = pl.LazyFrame(
        [(c, date(2024, 1, 15), 1, cents * 100) for c, cents in rows] + [("c2", date(2024, 1, 31), 1, 5000)],
        schema={"customer_id": pl.String, "day": pl.Date, "purchases": pl.UInt32, "net_cents": pl.Int64},
        orient="row",
    )
    ids = [f"{arm}{i}" for arm in "abc" for i in range(1, 5)]
    lists = pl.LazyFrame(
        {
            "customer_id": ids,
            "group": ["treatment"] * 8 + ["control"] * 4,
            "arm": ["reward_a"] * 4 + ["reward_b"] * 4 + ["control"] * 4,
            "segment": ["X", "X", "Y", "Y", "X", "X", "X", "X", "X", "X", "Y", "Y"],
        }
    )
    return activity, lists


def test_each_arm_against_the_control_on_a_tiny_shop():
    activity, lists = tiny_shop()
    outcomes = campaign_outcomes(activity, lists, start=START, end=CONFIG.end)
    table, stats = arm_comparisons(outcomes, ["reward_a", "reward_b"], CONFIG)
    assert table["arm"].to_list() == ["reward_a", "reward_b"] and stats["arm"].to_list() == ["reward_a", "reward_b"]
    assert table["treatment_customers"].to_list() == [4, 4] and table["control_customers"].to_list() == [4, 4]
    # repurchase: a 3/4, b 1/4, control 1/4
    assert table["treatment_repurchase_rate"].to_list() == [0.75, 0.25]
    assert table["control_repurchase_rate"].to_list() == [0.25, 0.25]
    assert table["repurchase_diff"].to_list() == [0.5, 0.0]
    # a: pooled rate 4/8 = 0.5, SE sqrt(0.25 x (1/4 + 1/4)) = 0.353553, z = 1.414214, p = 0.157299; b: 0 -> p = 1
    assert table["repurchase_p_value"].to_list() == pytest.approx([0.157299, 1.0], abs=1e-6)
    # Holm: 2 x 0.157299 = 0.314598, then 1 x 1.0
    assert table["repurchase_adjusted_p_value"].to_list() == pytest.approx([0.314598, 1.0], abs=1e-6)
    # revenue per customer: a 60 / 4 = 15.00, b 40 / 4 = 10.00, control 10 / 4 = 2.50 (c2's order is after the window)
    assert table["treatment_revenue_per_customer"].to_list() == [15.0, 10.0]
    assert table["control_revenue_per_customer"].to_list() == [2.5, 2.5]
    assert table["revenue_diff"].to_list() == [12.5, 7.5]
    assert table["incremental_revenue"].to_list() == [50.0, 30.0]
    # pooled-variance t-tests (df 6): a: variances 500/3 and 25, pooled 95.8333, SE 6.922180, t 1.805790 ->
    # p 0.120979; b: variances 400 and 25, pooled 212.5, SE 10.307764, t 0.727607 -> p 0.494256
    assert table["revenue_p_value"].to_list() == pytest.approx([0.120979, 0.494256], abs=1e-6)
    # Holm: 2 x 0.120979 = 0.241958; 0.494256
    assert table["revenue_adjusted_p_value"].to_list() == pytest.approx([0.241958, 0.494256], abs=1e-6)
    assert table["revenue_verdict"].to_list() == [NO_DIFFERENCE, NO_DIFFERENCE]
    assert stats["treatment_repurchasers"].to_list() == [3, 1] and stats["control_repurchasers"].to_list() == [1, 1]


def test_each_segment_is_its_own_family():
    activity, lists = tiny_shop()
    outcomes = campaign_outcomes(activity, lists, start=START, end=CONFIG.end)
    config = UpliftConfig(start=START, window_days=30, min_n=2)
    table, _ = arm_comparisons(outcomes, ["reward_a", "reward_b"], config, by="segment")
    assert table.select("arm", "segment", "treatment_customers", "control_customers").rows() == [
        ("reward_a", "(all)", 4, 4),
        ("reward_a", "X", 2, 2),
        ("reward_a", "Y", 2, 2),
        ("reward_b", "(all)", 4, 4),
        ("reward_b", "X", 4, 2),
        ("reward_b", "Y", 0, 2),
    ]
    p = table["repurchase_p_value"].to_list()
    adjusted = table["repurchase_adjusted_p_value"].to_list()
    # X: a 2/2 vs 1/2, b 1/4 vs 1/2: two tests; Y: only a was tested (b has nobody there), a family of one
    x_a, x_b = p[1], p[4]
    assert adjusted[1] == pytest.approx(min(1.0, 2 * min(x_a, x_b)))
    assert adjusted[4] == pytest.approx(max(min(1.0, 2 * min(x_a, x_b)), max(x_a, x_b)))
    assert adjusted[2] == pytest.approx(p[2]) and adjusted[5] is None
    assert table["repurchase_verdict"][5] == TOO_FEW


def test_the_return_on_a_reward_per_customer_and_per_redemption():
    activity, lists = tiny_shop()
    outcomes = campaign_outcomes(activity, lists, start=START, end=CONFIG.end)
    table, stats = arm_comparisons(outcomes, ["reward_a", "reward_b"], CONFIG)
    costs = [RewardCost(2.0), RewardCost(5.0, "redemption")]
    out = reward_return(table, stats["treatment_repurchasers"], costs)
    assert out.columns == [*table.columns, *RETURN_COLUMNS]  # after incremental_revenue, the table's last
    later = reward_return(table.with_columns(pl.lit(1).alias("after")), stats["treatment_repurchasers"], costs)
    assert later.columns == [*table.columns, *RETURN_COLUMNS, "after"]
    a, b = out.rows(named=True)
    # a: 2.00 x 4 customers treated = 8.00; incremental 12.50 x 4 = 50.00; net 42.00; return on cost 42 / 8 = 5.25
    assert (a["cost_per"], a["unit_cost_amount"], a["redemptions"], a["total_cost_amount"]) == ("customer", 2.0, 3, 8.0)
    assert a["net_return_amount"] == 42.0 and a["return_on_cost"] == 5.25
    # the interval: Welch's for the revenue difference (-6.955376 to +31.955376) x 4 customers, less the cost
    assert a["incremental_revenue_low"] == pytest.approx(-6.955376 * 4, abs=1e-5)
    assert a["incremental_revenue_high"] == pytest.approx(31.955376 * 4, abs=1e-5)
    assert a["net_return_amount_low"] == pytest.approx(-6.955376 * 4 - 8, abs=1e-5)
    assert a["net_return_amount_high"] == pytest.approx(31.955376 * 4 - 8, abs=1e-5)
    assert a["return_on_cost_low"] == pytest.approx((-6.955376 * 4 - 8) / 8, abs=1e-6)
    # b: 5.00 per redemption, 1 treated buyer (b1) = 5.00; incremental 7.50 x 4 = 30.00; net 25.00; 25 / 5 = 5.0
    assert (b["cost_per"], b["redemptions"], b["total_cost_amount"]) == ("redemption", 1, 5.0)
    assert b["net_return_amount"] == 25.0 and b["return_on_cost"] == 5.0
    assert b["net_return_amount_high"] == pytest.approx(38.341790 * 4 - 5, abs=1e-5)
    # a reward that cost nothing has no return on cost; the net return is the incremental revenue
    free = reward_return(table, stats["treatment_repurchasers"], [RewardCost(0.0), RewardCost(0.0, "redemption")])
    assert free["return_on_cost"].to_list() == [None, None] and free["net_return_amount"].to_list() == [50.0, 30.0]


def test_a_cost_is_checked():
    with pytest.raises(ValueError, match="0 or more"):
        RewardCost(-1.0)
    with pytest.raises(ValueError, match="per customer or per redemption"):
        RewardCost(1.0, "order")  # type: ignore[arg-type]


def test_the_return_columns_round_as_money_or_as_ratios():
    # CSV and JSON files round by a column's name: money to cents, the return on cost (a ratio) to 4 decimals
    money = [c for c in RETURN_COLUMNS if number_kind(c) == "money"]
    assert money == [
        "unit_cost_amount",
        "total_cost_amount",
        "incremental_revenue_low",
        "incremental_revenue_high",
        "net_return_amount",
        "net_return_amount_low",
        "net_return_amount_high",
    ]
    assert {number_kind(c) for c in ("return_on_cost", "return_on_cost_low", "return_on_cost_high")} == {"decimal"}
    assert {number_kind(c) for c in ADJUSTED.values()} == {"p_value"}
