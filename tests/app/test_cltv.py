"""``app.cltv`` called directly: the settings checked in neutral words, the calibration period, and a small
shop's predictions with a holdout check, hand-computed where the numbers are counts and sums."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from loyalty_cli.app.cltv import CltvSettings, check_tables, cltv, with_holdout
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.errors import ConfigError, ModelError, UsageError, setting
from loyalty_cli.metrics.cltv import Horizon
from loyalty_cli.metrics.cltv_fitting import fit_cltv_models

AS_OF = date(2024, 7, 1)


def shop_lines() -> str:
    """24 customers: customer c first buys on 2024-01-01 + 3c days, then buys again (c % 4) more times, 3 more
    when c % 3 == 0, every 9 + c % 5 days (three times that for odd c); purchase k costs 10 + 5 (c % 4) + k.

    c00: 01-01, 01-10, 01-19, 01-28 (10, 11, 12, 13). c03: 01-10, 02-15, 03-22, 04-27, 06-02 (25 ... 29), then
    07-08 and 08-13, on or after the as-of date 2024-07-01 (left out)."""
    rows = ["customer_id,order_date,amount"]
    for c in range(24):
        first = date(2024, 1, 1) + timedelta(days=3 * c)
        for k in range(c % 4 + 1 + (c % 3 == 0) * 3):
            day = first + timedelta(days=k * (9 + c % 5) * (1 + (c % 2) * 2))
            rows.append(f"c{c:02d},{day},{10 + (c % 4) * 5 + k}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    path: Path = tmp_path_factory.mktemp("cltv") / "tx.csv"
    path.write_text(shop_lines())
    return load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))


# ----------------------------------------------------------------------------------------------- settings
def test_settings_refuse_bad_values_naming_the_setting():
    with pytest.raises(ConfigError) as caught:
        CltvSettings(holdout=0)
    assert caught.value.name == "holdout" and str(caught.value).startswith(setting("holdout"))
    with pytest.raises(UsageError, match="not both") as both:
        CltvSettings(horizon=Horizon(39, "week"), horizon_months=6)
    assert setting("horizon") in both.value.message and setting("horizon_months") in both.value.message
    with pytest.raises(UsageError, match="not both") as check:
        CltvSettings(holdout=30, calibration_end=date(2024, 5, 31))
    assert setting("calibration_end") in check.value.message
    with pytest.raises(UsageError, match="Unknown model 'nope'"):
        CltvSettings(model="nope")
    with pytest.raises(UsageError, match="whole number of months >= 1, got 0"):
        CltvSettings(horizon_months=0)
    with pytest.raises(UsageError, match="monthly discount rate"):
        CltvSettings(discount=2.0)


def test_settings_build_the_models_config():
    assert CltvSettings().models.horizon == Horizon(12, "month")
    assert CltvSettings(horizon_months=6).models.horizon == Horizon(6, "month")
    models = CltvSettings(model="pnbd", unit="day", horizon=Horizon(39, "week"), discount=0.008).models
    assert (models.model, models.unit, models.suffix, models.discount_monthly) == ("pnbd", "day", "39w", 0.008)
    assert not CltvSettings().checking and CltvSettings(holdout=1).checking


def test_calibration_end():
    first = date(2024, 1, 1)
    assert CltvSettings().fit_end(first, AS_OF) == AS_OF
    assert CltvSettings(holdout=61).fit_end(first, AS_OF) == date(2024, 5, 1)
    # the calibration end is its last day; the period ends (exclusive) the day after
    assert CltvSettings(calibration_end=date(2024, 6, 29)).fit_end(first, AS_OF) == date(2024, 6, 30)
    # the last data day (06-30) would leave nothing to check; 200 days reach back before the first day
    for settings in (CltvSettings(calibration_end=date(2024, 6, 30)), CltvSettings(holdout=200)):
        with pytest.raises(UsageError, match="must end between 2024-01-01 and 2024-06-29") as caught:
            settings.fit_end(first, AS_OF)
        assert caught.value.hint == f"Use a shorter {setting('holdout')} or another {setting('calibration_end')}."


# ------------------------------------------------------------------------------------------------ results
def test_holdout_check_on_a_small_shop(shop: Inputs):
    result = cltv(shop, CltvSettings(holdout=61, penalizer=0.01))
    fit_end = date(2024, 5, 1)
    assert (result.as_of, result.fit.as_of, result.value_column) == (AS_OF, fit_end, "predicted_clv_12m")
    assert [m.text for m in result.messages] == [
        "BG/NBD + Gamma-Gamma, fitted on data before 2024-05-01, checked on 2024-05-01 to 2024-06-30; unit week; "
        "horizon 12 months, discount 1.00% a month"
    ]
    assert result.warnings == []  # the penalised fit is not at a boundary
    c = result.customers
    assert c.height == 24 and c["predicted_clv_12m"].is_sorted(descending=True)
    rows = {r["customer_id"]: r for r in c.iter_rows(named=True)}
    # c03 before 05-01: 01-10, 02-15, 03-22, 04-27; T runs to 04-30; 06-02 (29.00) in the holdout
    c03 = rows["c03"]
    assert (c03["frequency"], c03["recency_weeks"], c03["T_weeks"]) == (
        3,
        pytest.approx(108 / 7),
        pytest.approx(111 / 7),
    )
    assert (c03["historical_value"], c03["monetary_value"]) == (106.0, 27.0)  # 25+26+27+28; (26+27+28) / 3
    assert (c03["holdout_actual_purchases"], c03["holdout_actual_value"]) == (1, 29.0)
    c00 = rows["c00"]
    assert (c00["frequency"], c00["recency_weeks"], c00["T_weeks"], c00["holdout_actual_purchases"]) == (
        3,
        pytest.approx(27 / 7),
        pytest.approx(120 / 7),
        0,
    )
    # the check: 61 days; every purchase day in May and June of the calibration customers
    assert result.check is not None
    assert result.check.summary["holdout_days"] == 61
    assert result.check.summary["actual_purchases"] == c["holdout_actual_purchases"].sum()
    assert list(result.tables) == [
        "parameters.csv",
        "totals.csv",
        "holdout_summary.csv",
        "holdout_by_frequency.csv",
        "tracking.csv",
    ]
    assert result.tables["totals.csv"]["customers"].item() == 24
    # the notes on the fit end with the option that avoids BG/NBD's one-time buyers at P(alive) = 1
    assert result.model_notes[0].text.startswith("BG/NBD: log-likelihood ")
    assert result.model_notes[-1].text.endswith(f"({setting('model')} mbgnbd or pnbd)")


def test_the_fit_is_the_one_composition(shop: Inputs):
    """Without a check the customers are those of :func:`fit_cltv_models` on all the data, unchanged."""
    result = cltv(shop, CltvSettings(penalizer=0.01))
    fit = fit_cltv_models(shop.activity, result.fit.config, before=AS_OF).fitted()
    assert result.check is None and result.customers.equals(fit.customers)
    assert list(result.tables) == ["parameters.csv", "totals.csv"]
    assert "checked" not in result.messages[0].text
    assert with_holdout(fit.customers, None) is fit.customers
    assert list(check_tables(fit, None)) == ["parameters.csv", "totals.csv"]


def test_model_warnings_are_data(shop: Inputs):
    result = cltv(shop, CltvSettings(penalizer=0.001))
    assert result.warnings and all(m.level == "warning" for m in result.warnings)
    assert [m.text for m in result.warnings] == list(result.fit.warnings)
    assert "at a boundary (see the warning) after" in result.model_notes[0].text


def test_a_model_that_cannot_be_fitted_raises(shop: Inputs):
    with pytest.raises(ModelError):
        cltv(shop, CltvSettings())  # unpenalised, BG/NBD's b runs off to infinity on this shop
