"""CLV assembly: the calibration summary from the activity table, value tiers, holdout actuals."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.cltv import CltvConfig, Horizon, calibration_summary, value_tier
from loyalty_cli.metrics.cltv_fitting import fit_cltv
from loyalty_cli.metrics.cltv_holdout import holdout_actuals

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
    [
        {"model": "lifetimes"},
        {"unit": "month"},
        {"horizon": (0, "month")},
        {"horizon": (2, "year")},
        {"horizon": (1.5, "month")},
        {"horizon": (5300, "week")},  # over 100 years
        {"discount_monthly": 1.5},
        {"penalizer": -1.0},
    ],
)
def test_config_rejects_bad_settings(kwargs):
    with pytest.raises(UsageError):
        if "horizon" in kwargs:
            kwargs = {"horizon": Horizon(*kwargs["horizon"])}
        CltvConfig(**kwargs)


@pytest.mark.parametrize(
    ("horizon", "unit", "suffix", "label", "units", "months"),
    [
        (Horizon(), "week", "12m", "12 months", 365.25 / 7, 12),
        (Horizon(1, "month"), "day", "1m", "1 month", 365.25 / 12, 1),
        (Horizon(39, "week"), "week", "39w", "39 weeks", 39, 273 / (365.25 / 12)),
        (Horizon(39, "week"), "day", "39w", "39 weeks", 273, 273 / (365.25 / 12)),
        (Horizon(90, "day"), "week", "90d", "90 days", 90 / 7, 90 / (365.25 / 12)),
        (Horizon(1, "day"), "day", "1d", "1 day", 1, 1 / (365.25 / 12)),
    ],
)
def test_horizon_in_days_weeks_or_months(horizon, unit, suffix, label, units, months):
    config = CltvConfig(unit=unit, horizon=horizon)
    assert (config.suffix, config.horizon.label) == (suffix, label)
    assert config.horizon_units == pytest.approx(units, rel=1e-12)
    assert config.horizon_months == pytest.approx(months, rel=1e-12)
    assert CltvConfig().horizon_months == 12 and isinstance(CltvConfig().horizon_months, int)


def test_fit_cltv_columns_units_and_order():
    from loyalty_cli.sample import generate_sample
    from loyalty_cli.stage1.customers import customer_activity

    tx = generate_sample(customers=600, seed=3).transactions
    lines = tx.lazy().select(
        "customer_id", "order_id", "order_date", (pl.col("amount") * 100).round().cast(pl.Int64).alias("amount_cents")
    )
    act = customer_activity(lines)
    before = date(2024, 7, 1)
    fit = fit_cltv(
        calibration_summary(act, before=before, unit="week").collect(),
        CltvConfig(unit="week", horizon=Horizon(6, "month")),
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
    params = fit.parameters()
    assert params["model"].to_list() == ["BG/NBD"] * 4 + ["Gamma-Gamma"] * 3
    # the purchase model's parameters are in the model's time unit (alpha: weeks); Gamma-Gamma's in money
    assert params.columns == ["model", "parameter", "value", "std_error", "unit"]
    assert params["unit"].to_list() == ["week"] * 4 + [None] * 3
    # a horizon in weeks: the columns say so, and the expected purchases are those of the next 13 weeks
    weeks = fit_cltv(
        calibration_summary(act, before=before, unit="day").collect(),
        CltvConfig(unit="day", horizon=Horizon(13, "week")),
        as_of=before,
    )
    assert {"predicted_clv_13w", "expected_purchases_13w", "p_no_purchase_13w"} <= set(weeks.customers.columns)
    assert weeks.parameters()["unit"].to_list() == ["day"] * 4 + [None] * 3
    c = weeks.customers
    expected = weeks.purchase.expected_purchases(91.0, c["frequency"], c["recency_days"], c["T_days"])
    assert c["expected_purchases_13w"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert set(weeks.totals()) >= {"expected_purchases_13w", "predicted_clv_13w"}
    # BG/NBD's P(alive) = 1 for one-time buyers is said, with their number; MBG/NBD has no such note
    one_time = int((c["frequency"] == 0).sum())
    assert one_time > 0 and weeks.notes() == [
        f"BG/NBD gives the {one_time:,} one-time buyers P(alive) = 1 by construction (it lets a customer drop out "
        "only right after a repeat purchase), however long ago they bought; MBG/NBD and Pareto/NBD do not"
    ]
    assert c.filter(pl.col("frequency") == 0)["p_alive"].unique().to_list() == [1.0]
    mbg = fit_cltv(
        calibration_summary(act, before=before, unit="week").collect(), CltvConfig(model="mbgnbd"), as_of=before
    )
    assert mbg.notes() == [] and mbg.warnings == ()


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


def _sample_activity(customers: int = 600) -> pl.LazyFrame:
    from loyalty_cli.sample import generate_sample
    from loyalty_cli.stage1.customers import customer_activity

    tx = generate_sample(customers=customers, seed=3).transactions
    return customer_activity(
        tx.lazy().select(
            "customer_id",
            "order_id",
            "order_date",
            (pl.col("amount") * 100).round().cast(pl.Int64).alias("amount_cents"),
        )
    )


def test_fit_cltv_models_is_the_summary_and_the_fit():
    """The one composition: the same numbers as :func:`calibration_summary` + :func:`fit_cltv`."""
    from loyalty_cli.metrics.cltv_fitting import fit_cltv_models

    act, before, config = _sample_activity(), date(2024, 7, 1), CltvConfig(model="mbgnbd")
    summary = calibration_summary(act, before=before, unit="week").collect()
    models = fit_cltv_models(act.collect(), config, before=before)
    fit = fit_cltv(summary, config, as_of=before)
    assert models.summary.sort("customer_id").equals(summary.sort("customer_id")) and models.spend_error is None
    assert models.fitted().customers.equals(fit.customers) and models.fitted().as_of == before
    assert models.purchase.params == fit.purchase.params
    assert models.warnings == fit.warnings


def test_fit_cltv_models_keeps_the_purchase_model_when_the_spend_model_fails():
    """Repeat purchase days worth nothing: P(alive) can still be predicted, spend cannot."""
    from loyalty_cli.errors import DataError, ModelError, setting
    from loyalty_cli.metrics.cltv_fitting import fit_cltv_models

    act = _sample_activity()
    first = pl.col("day") == pl.col("day").filter(pl.col("purchases") > 0).min().over("customer_id")
    free = act.with_columns(pl.when(first).then(pl.col("net_cents")).otherwise(0).alias("net_cents")).collect()
    models = fit_cltv_models(free, CltvConfig(), before=date(2024, 7, 1))
    assert models.fit is None and isinstance(models.spend_error, ModelError)
    assert "Gamma-Gamma needs at least 10 repeat customers with a positive mean spend" in models.spend_error.message
    assert models.purchase.name == "bgnbd" and models.warnings == models.purchase.warnings
    with pytest.raises(ModelError, match="Gamma-Gamma"):
        models.fitted()
    with pytest.raises(DataError, match="No customer made a purchase before 2020-01-01") as nobody:
        fit_cltv_models(free, CltvConfig(), before=date(2020, 1, 1))
    assert nobody.value.hint == f"Check {setting('as_of')} or {setting('holdout')}."
