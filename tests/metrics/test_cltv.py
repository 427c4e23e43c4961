"""CLV assembly: the calibration summary from the activity table, value tiers, holdout actuals."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.cltv import (
    CltvConfig,
    calibration_summary,
    fit_cltv,
    holdout_actuals,
    value_tier,
)

# customer x day activity (see customer_activity): purchases that day and the day's net value in cents
ACTIVITY = pl.DataFrame(
    [
        ("A", date(2024, 1, 1), 2, 3500),
        ("A", date(2024, 1, 10), 1, 3000),
        ("A", date(2024, 1, 12), 0, -500),
        ("B", date(2024, 1, 5), 1, 1200),
        ("C", date(2024, 1, 3), 0, 0),  # only a cancelled order: not a customer
        ("D", date(2024, 1, 2), 1, 700),
        ("D", date(2024, 1, 9), 1, 900),
        ("D", date(2024, 1, 11), 1, 1500),
    ],
    schema={"customer_id": pl.String, "day": pl.Date, "purchases": pl.UInt32, "net_cents": pl.Int64},
    orient="row",
)


def summary(before: date, unit: str = "day") -> dict[str, dict]:
    frame = calibration_summary(ACTIVITY.lazy(), before=before, unit=unit).collect()  # type: ignore[arg-type]
    return {row["customer_id"]: row for row in frame.iter_rows(named=True)}


def test_calibration_summary_hand_computed():
    s = summary(date(2024, 1, 15))
    assert set(s) == {"A", "B", "D"}
    a = s["A"]  # first Jan 1, last purchase Jan 10; the return on Jan 12 counts in value, not as a purchase
    assert (a["first_purchase"], a["last_purchase"], a["purchase_days"], a["orders"]) == (
        date(2024, 1, 1),
        date(2024, 1, 10),
        2,
        3,
    )
    assert a["historical_value"] == 60.0
    # frequency = repeat purchase days; recency = age at last purchase; T = age on the last observed day (Jan 14)
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 9.0, 13.0, 30.0)
    assert (s["B"]["frequency"], s["B"]["recency"], s["B"]["T"], s["B"]["monetary_value"]) == (0, 0.0, 9.0, 0.0)
    # D: repeat days Jan 9 (9.00) and Jan 11 (15.00): mean of the per-day sums, first day excluded
    assert (s["D"]["frequency"], s["D"]["monetary_value"]) == (2, 12.0)


def test_calibration_summary_cuts_at_the_calibration_end_and_converts_units():
    s = summary(date(2024, 1, 11))  # data before Jan 11: D's Jan 11 purchase and A's return are in the holdout
    assert (s["A"]["historical_value"], s["A"]["T"]) == (65.0, 9.0)
    assert (s["D"]["frequency"], s["D"]["monetary_value"]) == (1, 9.0)
    weeks = summary(date(2024, 1, 15), unit="week")
    assert weeks["A"]["recency"] == pytest.approx(9 / 7) and weeks["A"]["T"] == pytest.approx(13 / 7)


def test_holdout_actuals_count_purchase_days_and_average_per_day_sums():
    act = holdout_actuals(ACTIVITY.lazy(), start=date(2024, 1, 9), end=date(2024, 1, 12)).collect()
    rows = {r[0]: r[1:] for r in act.rows()}
    assert rows == {"A": (1, 30.0, 30.0), "D": (2, 24.0, 12.0)}  # A's Jan 12 return is after the end


def test_value_tiers_top_20_next_30_rest_by_position():
    frame = pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(10)], "clv": [5.0, 9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 8.0, 7.0, 6.0]}
    )
    tiers = frame.sort("clv", "customer_id", descending=[True, False]).with_columns(value_tier().alias("tier"))
    got = dict(tiers.select("customer_id", "tier").rows())
    assert [c for c, t in got.items() if t == "high"] == ["c1", "c2"]  # tied at 9.0: both in, by id
    assert sorted(c for c, t in got.items() if t == "medium") == ["c7", "c8", "c9"]
    assert sum(t == "low" for t in got.values()) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"model": "lifetimes"}, {"unit": "month"}, {"horizon_months": 0}, {"discount_monthly": 1.5}, {"penalizer": -1.0}],
)
def test_config_rejects_bad_settings(kwargs):
    with pytest.raises(UsageError):
        CltvConfig(**kwargs)


def test_fit_cltv_columns_units_and_order():
    from loyalty_cli.metrics.customers import customer_activity
    from loyalty_cli.sample import generate_sample

    tx = generate_sample(customers=600, seed=3).transactions
    lines = tx.lazy().select(
        "customer_id", "order_id", "order_date", (pl.col("amount") * 100).round().cast(pl.Int64).alias("amount_cents")
    )
    act = customer_activity(lines)
    before = date(2024, 7, 1)
    fit = fit_cltv(
        calibration_summary(act, before=before, unit="week").collect(),
        CltvConfig(unit="week", horizon_months=6),
        as_of=before,
    )
    c = fit.customers
    assert c.columns[:7] == [
        "customer_id",
        "value_tier",
        "predicted_clv_6m",
        "expected_purchases_6m",
        "p_alive",
        "p_no_purchase_6m",
        "expected_spend",
    ]
    assert "recency_weeks" in c.columns and "T_weeks" in c.columns
    assert c["predicted_clv_6m"].is_sorted(descending=True)
    assert c.select(pl.all().is_null().any()).row(0) == (False,) * c.width
    assert ((c["p_alive"] >= 0) & (c["p_alive"] <= 1)).all()
    # the discounted CLV is below the undiscounted expected value over the same horizon
    assert (c["predicted_clv_6m"] <= c["expected_purchases_6m"] * c["expected_spend"] + 1e-9).all()
    assert fit.totals()["customers"] == c.height
    assert fit.parameters()["model"].to_list() == ["BG/NBD"] * 4 + ["Gamma-Gamma"] * 3


def test_calibration_summary_rows_line_up_without_optimisations_and_are_sorted():
    """Each customer's history and BTYD inputs come from one row (not two frames side by side that only
    line up when the optimiser shares their group-by)."""
    rng = __import__("numpy").random.default_rng(5)
    n = 20_000
    act = pl.DataFrame(
        {
            "customer_id": pl.Series(rng.integers(0, 4000, n)).cast(pl.String),
            "day": pl.Series(rng.integers(19_700, 20_000, n)).cast(pl.Date),
            "purchases": pl.Series(rng.integers(0, 3, n), dtype=pl.UInt32),
            "net_cents": rng.integers(-500, 5000, n),
        }
    ).unique(["customer_id", "day"])
    plan = calibration_summary(act.lazy(), before=date(2024, 10, 1), unit="day")
    plain = plan.collect(optimizations=pl.QueryOptFlags.none()).sort("customer_id")
    assert plain.equals(plan.collect().sort("customer_id"))
    assert (plain["recency"] == (plain["last_purchase"] - plain["first_purchase"]).dt.total_days()).all()
    assert (plain["frequency"] == plain["purchase_days"] - 1).all()
