"""Campaign uplift: outcomes over the window, hand-computed tests, and simulated campaigns with known effects."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from loyalty_cli.metrics.uplift import (
    ALL,
    NO_DIFFERENCE,
    TOO_FEW,
    UpliftConfig,
    campaign_outcomes,
    group_stats,
    uplift_table,
    uplift_warnings,
    window_coverage,
)

START = date(2024, 1, 1)


def activity(rows: list[tuple[str, date, int, int]]) -> pl.LazyFrame:
    """customer_id, day, purchases, net_cents (the shape of customer_activity)."""
    return pl.LazyFrame(
        rows,
        schema={"customer_id": pl.String, "day": pl.Date, "purchases": pl.UInt32, "net_cents": pl.Int64},
        orient="row",
    )


def groups(treatment: list[str], control: list[str], segment: list[str] | None = None) -> pl.LazyFrame:
    frame = pl.DataFrame(
        {"customer_id": treatment + control, "group": ["treatment"] * len(treatment) + ["control"] * len(control)}
    )
    if segment is not None:
        frame = frame.with_columns(pl.Series("segment", segment))
    return frame.lazy()


def analyse(act: pl.LazyFrame, grp: pl.LazyFrame, config: UpliftConfig, by: str | None = None):
    outcomes = campaign_outcomes(act, grp, start=config.start, end=config.end)
    st = group_stats(outcomes, by=by).collect()
    return outcomes.collect(), st, uplift_table(st, config)


# Four treated, four control customers. In the window: t0 buys 10.00, t1 buys 20.00, t2 only returns 5.00
# (not a purchase), c0 buys 10.00. Outside it: t3 the day before the start, c1 on the first day after it.
SMALL = activity(
    [
        ("t0", date(2024, 1, 1), 1, 1000),
        ("t1", date(2024, 1, 30), 2, 2000),
        ("t2", date(2024, 1, 15), 0, -500),
        ("c0", date(2024, 1, 10), 1, 1000),
        ("t3", date(2023, 12, 31), 1, 9900),
        ("c1", date(2024, 1, 31), 1, 4400),
    ]
)
SMALL_GROUPS = groups(["t0", "t1", "t2", "t3"], ["c0", "c1", "c2", "c3"])


def test_outcomes_over_the_window_only():
    config = UpliftConfig(start=START, window_days=30, min_n=1)
    outcomes, _, _ = analyse(SMALL, SMALL_GROUPS, config)
    got = {
        r["customer_id"]: (r["purchase_days"], r["purchases"], r["revenue"], r["repurchased"])
        for r in outcomes.iter_rows(named=True)
    }
    assert got == {
        "t0": (1, 1, 10.0, True),
        "t1": (1, 2, 20.0, True),
        "t2": (0, 0, -5.0, False),
        "t3": (0, 0, 0.0, False),
        "c0": (1, 1, 10.0, True),
        "c1": (0, 0, 0.0, False),
        "c2": (0, 0, 0.0, False),
        "c3": (0, 0, 0.0, False),
    }


def test_hand_computed_two_proportion_test_and_welch_interval():
    config = UpliftConfig(start=START, window_days=30, min_n=1)
    _, st, table = analyse(SMALL, SMALL_GROUPS, config)
    row = table.row(0, named=True)
    assert row["segment"] == ALL and (row["treatment_customers"], row["control_customers"]) == (4, 4)
    # repurchase: 2/4 vs 1/4; pooled 3/8 -> SE 0.342327. Agresti-Caffo interval: 3/6 vs 2/6, centre 1/6,
    # SE sqrt(.5*.5/6 + (1/3)(2/3)/6) = sqrt(0.0787037) = 0.280542
    assert row["treatment_repurchase_rate"] == 0.5 and row["control_repurchase_rate"] == 0.25
    assert row["repurchase_diff"] == pytest.approx(0.25)
    assert row["repurchase_diff_low"] == pytest.approx(1 / 6 - 1.959964 * 0.280542, abs=1e-5)  # -0.383185
    assert row["repurchase_diff_high"] == pytest.approx(0.716519, abs=1e-5)
    assert row["repurchase_p_value"] == pytest.approx(0.465209, abs=1e-5)  # z = 0.25 / 0.342327 = 0.730297
    assert row["repurchase_lift"] == pytest.approx(1.0)  # +100% on the control rate
    assert row["repurchase_mde"] == pytest.approx((1.959964 + 0.841621) * 0.342327, abs=1e-5)  # 0.959058
    assert row["repurchase_verdict"] == NO_DIFFERENCE
    # revenue: [10, 20, -5, 0] vs [10, 0, 0, 0]: means 6.25 and 2.50, variances 122.9167 and 25
    # SE = sqrt(122.9167/4 + 25/4) = 6.08105 (equal groups: Welch's and the pooled SE agree), t = 0.616670;
    # the interval uses Welch's df = 4.17186, the test the pooled df = 6
    assert row["treatment_revenue_per_customer"] == 6.25 and row["control_revenue_per_customer"] == 2.5
    assert row["revenue_diff"] == pytest.approx(3.75)
    assert row["revenue_p_value"] == pytest.approx(0.560108, abs=1e-5)
    assert row["revenue_diff_low"] == pytest.approx(-12.862902, abs=1e-5)
    assert row["revenue_diff_high"] == pytest.approx(20.362902, abs=1e-5)
    assert row["revenue_mde"] == pytest.approx(2.801585 * 6.08105, abs=1e-4)
    assert row["incremental_revenue"] == pytest.approx(15.0)  # 3.75 x 4 treated customers
    # the same as SciPy: Welch's interval, the pooled-variance test
    welch = stats.ttest_ind([10, 20, -5, 0], [10, 0, 0, 0], equal_var=False)
    assert row["revenue_diff_low"] == pytest.approx(welch.confidence_interval(0.95).low)
    assert row["revenue_diff_high"] == pytest.approx(welch.confidence_interval(0.95).high)
    assert row["revenue_p_value"] == pytest.approx(stats.ttest_ind([10, 20, -5, 0], [10, 0, 0, 0]).pvalue)
    assert st.row(0, named=True)["treatment_revenue_var"] == pytest.approx(368.75 / 3)


def test_small_groups_warn_with_the_minimum_detectable_effect():
    config = UpliftConfig(start=START, window_days=30, min_n=1)
    _, st, table = analyse(SMALL, SMALL_GROUPS, config)
    warnings = uplift_warnings(table, st, config)
    assert len(warnings) == 3
    assert warnings[0] == (
        "Only 2 treatment and 1 control customers bought in the window: the intervals rest on very "
        "few purchases and may be too narrow"
    )
    assert warnings[1].startswith(
        "Groups too small to detect the observed repurchase difference (+25.0 points): "
        "with 4 and 4 customers the smallest detectable difference is 95.9 points "
        "(80% power, 95% confidence), so no significant difference does not mean no "
        "effect; about "
    )
    # n = (1.959964 + 0.841621)^2 x 0.375 x 0.625 x (1/0.5 + 1/0.5) / 0.25^2 = 117.7 customers in total
    assert "about 118 customers in total" in warnings[1]
    # pooled variance 73.9583: n = 2.801585^2 x 73.9583 x 4 / 3.75^2 = 165.1
    assert "observed revenue difference (+3.75 per customer)" in warnings[2] and "about 165 customers" in warnings[2]


def test_segments_below_min_n_keep_their_counts_only():
    grp = groups(["t0", "t1", "t2", "t3"], ["c0", "c1", "c2", "c3"], segment=["A", "A", "B", None, "A", "B", "B", "A"])
    config = UpliftConfig(start=START, window_days=30, min_n=2)
    _, _, table = analyse(SMALL, grp, config, by="segment")
    assert table["segment"].to_list() == [ALL, "(missing)", "A", "B"]
    assert table.select("treatment_customers", "control_customers").rows() == [(4, 4), (1, 0), (2, 2), (1, 2)]
    a = table.row(2, named=True)
    assert (a["treatment_repurchase_rate"], a["control_repurchase_rate"]) == (1.0, 0.5)
    assert table["repurchase_verdict"].to_list()[1:] == [TOO_FEW, NO_DIFFERENCE, TOO_FEW]
    assert table.row(3, named=True)["repurchase_diff"] is None and table.row(3, named=True)["revenue_diff"] is None
    assert table.row(0, named=True)["repurchase_diff"] is not None  # (all) is always computed


def test_window_coverage():
    config = UpliftConfig(start=START, window_days=30)
    assert config.end == date(2024, 1, 31)
    assert window_coverage(config, date(2024, 1, 31)) == (True, 30)
    assert window_coverage(config, date(2024, 3, 1)) == (True, 30)
    assert window_coverage(config, date(2024, 1, 11)) == (False, 10)
    assert window_coverage(config, date(2023, 12, 1)) == (False, 0)


def simulate(
    n_treat: int,
    n_control: int,
    p_treat: float,
    p_control: float,
    *,
    seed: int,
    mean_spend: float = 50.0,
    segments: bool = False,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """A campaign: each customer buys in the window with probability p (one purchase day, gamma spend with the
    given mean, in cents), plus purchases outside the window that must not count."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:06d}" for i in range(n_treat + n_control)])
    treated = np.arange(ids.size) < n_treat
    buys = rng.random(ids.size) < np.where(treated, p_treat, p_control)
    spend = np.round(rng.gamma(2.0, mean_spend / 2.0, ids.size) * 100).astype(np.int64)
    offset = rng.integers(0, 30, ids.size)
    inside = pl.DataFrame(
        {
            "customer_id": ids[buys],
            "day": [START + timedelta(days=int(d)) for d in offset[buys]],
            "purchases": np.ones(buys.sum(), dtype=np.uint32),
            "net_cents": spend[buys],
        }
    )
    outside = pl.DataFrame(
        {
            "customer_id": ids,
            "day": [START - timedelta(days=1)] * (ids.size // 2)
            + [START + timedelta(days=30)] * (ids.size - ids.size // 2),
            "purchases": np.ones(ids.size, dtype=np.uint32),
            "net_cents": spend * 3,
        }
    )
    act = pl.concat([inside, outside]).with_columns(pl.col("day").cast(pl.Date))
    grp = pl.DataFrame({"customer_id": ids, "group": np.where(treated, "treatment", "control")})
    if segments:
        grp = grp.with_columns(pl.Series("segment", np.where(np.arange(ids.size) % 2 == 0, "Loyal", "At Risk")))
    return act.lazy(), grp.lazy()


def test_simulated_campaign_recovers_the_known_effect_within_its_interval():
    # 10% control, repurchase 25% vs 20%: +5 points; revenue per customer +0.05 x 50.00 = +2.50
    act, grp = simulate(18_000, 2_000, 0.25, 0.20, seed=11, segments=True)
    config = UpliftConfig(start=START, window_days=30)
    _, st, table = analyse(act, grp, config, by="segment")
    row = table.row(0, named=True)
    assert row["repurchase_diff_low"] < 0.05 < row["repurchase_diff_high"]
    assert row["repurchase_diff"] == pytest.approx(0.05, abs=0.025)
    assert row["repurchase_verdict"] == "treatment higher" and row["repurchase_p_value"] < 0.001
    assert row["revenue_diff_low"] < 2.5 < row["revenue_diff_high"]
    assert row["revenue_verdict"] == "treatment higher"
    # big enough to detect the repurchase effect; the revenue estimate (+1.39, true +2.50) is significant but
    # below the revenue MDE: said so, without calling the groups too small
    warnings = uplift_warnings(table, st, config)
    assert len(warnings) == 1
    assert warnings[0].startswith("The revenue difference (+1.39 per customer) is significant but below")
    assert table["segment"].to_list() == [ALL, "At Risk", "Loyal"]
    for seg in table.filter(pl.col("segment") != ALL).iter_rows(named=True):
        assert seg["repurchase_diff_low"] < 0.05 < seg["repurchase_diff_high"]


def test_simulated_campaign_without_effect_reports_no_significant_difference():
    act, grp = simulate(9_000, 1_000, 0.20, 0.20, seed=5)
    config = UpliftConfig(start=START, window_days=30)
    _, _, table = analyse(act, grp, config)
    row = table.row(0, named=True)
    assert row["repurchase_verdict"] == row["revenue_verdict"] == NO_DIFFERENCE
    assert row["repurchase_diff_low"] < 0 < row["repurchase_diff_high"]
    assert row["revenue_diff_low"] < 0 < row["revenue_diff_high"]


def test_interval_coverage_is_close_to_nominal():
    # 200 simulated campaigns with a true +4 point effect: ~95% of the intervals hold it
    rng = np.random.default_rng(3)
    n_t, n_c, reps = 2_000, 500, 200
    hits_t = rng.binomial(n_t, 0.24, reps)
    hits_c = rng.binomial(n_c, 0.20, reps)
    st = pl.DataFrame(
        {
            "segment": [ALL] * reps,
            "treatment_customers": [n_t] * reps,
            "treatment_repurchasers": hits_t,
            "treatment_revenue_mean": [1.0] * reps,
            "treatment_revenue_var": [1.0] * reps,
            "treatment_revenue_total": [1.0] * reps,
            "control_customers": [n_c] * reps,
            "control_repurchasers": hits_c,
            "control_revenue_mean": [1.0] * reps,
            "control_revenue_var": [1.0] * reps,
            "control_revenue_total": [1.0] * reps,
        }
    )
    table = uplift_table(st, UpliftConfig(start=START))
    covered = ((table["repurchase_diff_low"] < 0.04) & (0.04 < table["repurchase_diff_high"])).mean()
    assert abs(covered - 0.95) < 3.5 * math.sqrt(0.95 * 0.05 / reps)


def test_groups_with_no_variance():
    # everyone bought the same in both groups: no difference, p = 1, a zero-width interval; no crash
    act = activity([(c, date(2024, 1, 5), 1, 1000) for c in ("a", "b", "x", "y")])
    config = UpliftConfig(start=START, min_n=1)
    _, st, table = analyse(act, groups(["a", "b"], ["x", "y"]), config)
    row = table.row(0, named=True)
    assert row["repurchase_diff"] == 0 and row["repurchase_p_value"] == 1.0
    assert row["revenue_diff"] == 0 and row["revenue_p_value"] == 1.0
    assert (row["revenue_diff_low"], row["revenue_diff_high"]) == (0.0, 0.0)
    assert row["repurchase_verdict"] == row["revenue_verdict"] == NO_DIFFERENCE
    assert [w[:30] for w in uplift_warnings(table, st, config)] == ["Only 2 treatment and 2 control"]


def test_revenue_test_keeps_its_false_positive_rate_with_a_small_control_group():
    # 90/10 split, 10% buyers, skewed spend, no effect: the pooled test rejects ~5% of the time (Welch's ~12%)
    rng = np.random.default_rng(8)
    n_t, n_c, reps = 361, 46, 600
    t = (rng.random((reps, n_t)) < 0.1) * rng.gamma(2.0, 30.0, (reps, n_t))
    c = (rng.random((reps, n_c)) < 0.1) * rng.gamma(2.0, 30.0, (reps, n_c))
    st = pl.DataFrame(
        {
            "segment": [ALL] * reps,
            "treatment_customers": [n_t] * reps,
            "treatment_repurchasers": (t > 0).sum(1),
            "treatment_revenue_mean": t.mean(1),
            "treatment_revenue_var": t.var(1, ddof=1),
            "treatment_revenue_total": t.sum(1),
            "control_customers": [n_c] * reps,
            "control_repurchasers": (c > 0).sum(1),
            "control_revenue_mean": c.mean(1),
            "control_revenue_var": c.var(1, ddof=1),
            "control_revenue_total": c.sum(1),
        }
    )
    rejected = (uplift_table(st, UpliftConfig(start=START))["revenue_p_value"] < 0.05).mean()
    assert abs(rejected - 0.05) < 3.5 * math.sqrt(0.05 * 0.95 / reps), rejected


def test_a_group_without_buyers_gets_an_interval_that_agrees_with_the_test():
    """0 of 38 controls bought, 5 of 171 treated: the Wald interval (0% has no spread) excluded 0 next to an
    insignificant p-value. Agresti-Caffo: 6/173 vs 1/40, centre 0.009682, SE 0.028336 -> -0.0459 to 0.0652."""
    st = pl.DataFrame(
        {
            "segment": [ALL],
            "treatment_customers": [171],
            "control_customers": [38],
            "treatment_repurchasers": [5],
            "control_repurchasers": [0],
            "treatment_revenue_mean": [1.0],
            "control_revenue_mean": [0.0],
            "treatment_revenue_var": [4.0],
            "control_revenue_var": [0.0],
            "treatment_revenue_total": [171.0],
            "control_revenue_total": [0.0],
        }
    )
    row = uplift_table(st, UpliftConfig(start=START, window_days=30, min_n=1)).row(0, named=True)
    assert row["repurchase_verdict"] == NO_DIFFERENCE and row["repurchase_p_value"] > 0.05
    assert row["repurchase_diff_low"] == pytest.approx(6 / 173 - 1 / 40 - 1.959964 * 0.028336, abs=1e-5)
    assert row["repurchase_diff_low"] < 0 < row["repurchase_diff_high"]
