"""``app.plan_test`` called directly: the baseline of a small shop by hand, the plan from it, the list as the
audience, and the errors in neutral words."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.plan_test import TOTAL, PlanTestConfig, parse_difference, plan_test
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting

Z2 = 7.848879  # (z_0.975 + z_0.8)^2

# The data ends on 2024-03-20 (as of 2024-03-21). Baseline window from 2024-03-01, 10 days (to 2024-03-10):
#   A  first 2024-02-01; 2024-03-02 50                  repurchased, revenue 50
#   B  first 2024-02-10; 2024-03-05 30, 03-09 -10       repurchased (one purchase day), revenue 20
#   C  first 2024-01-05                                 0
#   D  first 2024-02-20; 2024-03-11 100 (after)         0
#   F  first 2024-02-28; 2024-03-04 -12 (a return)      not repurchased, revenue -12
#   E  first 2024-03-03: a customer only since the window started, not in the baseline
#   Z  first 2024-03-20: the same
# Baseline: 5 customers, 2 repurchased (40%); revenue 50, 20, 0, 0, -12: mean 11.6,
# variance (3044 - 5 x 11.6^2) / 4 = 2371.2 / 4 = 592.8.
# Default window (as of - 10 days): 2024-03-11 to 2024-03-20: A B C D E F in it (first purchase before 03-11),
# only D buys (100): 1/6.
TX = """customer_id,order_date,amount
A,2024-02-01,10
A,2024-03-02,50
B,2024-02-10,30
B,2024-03-05,30
B,2024-03-09,-10
C,2024-01-05,5
D,2024-02-20,8
D,2024-03-11,100
F,2024-02-28,12
F,2024-03-04,-12
E,2024-03-03,7
Z,2024-03-20,1
"""
START = date(2024, 3, 1)


@pytest.fixture
def shop(tmp_path: Path) -> Inputs:
    (tmp_path / "tx.csv").write_text(TX)
    return load_inputs(InputSpec(transactions=[str(tmp_path / "tx.csv")], activity=True))


def config(**given: object) -> PlanTestConfig:
    return PlanTestConfig(**{"mde": "0.2", "window": 10, "baseline_start": START, **given})  # type: ignore[arg-type]


def test_the_baseline_by_hand(shop: Inputs):
    result = plan_test(shop, config())
    b = result.baseline
    assert (b.customers, b.buyers) == (5, 2)
    assert b.rate == pytest.approx(0.4)
    assert b.revenue_mean == pytest.approx(11.6)
    assert b.revenue_sd == pytest.approx(math.sqrt(592.8))
    assert (result.start, result.end, result.as_of) == (START, date(2024, 3, 11), date(2024, 3, 21))
    assert result.available == 7  # every customer with a purchase before the as-of date
    # the default window: the last 10 days of the data
    last = plan_test(shop, config(baseline_start=None)).baseline
    assert (last.customers, last.buyers) == (6, 1)


def test_the_plan_from_the_baseline(shop: Inputs):
    # 0.4 -> 0.6: 7.848879 x (0.24 + 0.24) / 0.04 = 94.19 -> 95 a group
    result = plan_test(shop, config())
    table = result.table
    assert table["arm"].to_list() == ["treatment", "control", TOTAL]
    assert table["customers_needed"].to_list() == [95, 95, 190]
    assert table["customers_available"].to_list() == [3, 3, 7]  # 7 x 0.5 = 3.5 expected in an arm, rounded down
    assert table["enough"].to_list() == [False, False, False] and not result.enough
    treated = table.row(0, named=True)
    assert treated["baseline"] == pytest.approx(0.4) and treated["target"] == pytest.approx(0.6)
    assert treated["difference"] == pytest.approx(0.2) and treated["relative_difference"] == pytest.approx(0.5)
    assert treated["alpha"] == pytest.approx(0.05) and treated["power"] == 0.8
    assert table["target"][1] is None and table["difference"][1] is None
    assert set(table["metric"]) == {"repurchase"} and set(table["baseline_customers"]) == {5}
    assert set(table["baseline_start"]) == {START} and set(table["baseline_end"]) == {date(2024, 3, 10)}
    words = [m.text for m in result.messages]
    assert any(
        w.startswith("To detect a repurchase rate within 10 days of 60.0% against a baseline of 40.0%") for w in words
    )
    assert any(w.startswith("Not enough customers: 7 available, 190 needed; with them") for w in words)


def test_revenue_and_a_relative_difference(shop: Inputs):
    # 11.6 x 50% = 5.80 more; n = 7.848879 x 592.8 x 2 / 5.8^2 = 276.62 -> 277 a group
    result = plan_test(shop, config(metric="revenue", mde="50%"))
    treated = result.table.row(0, named=True)
    assert treated["target"] == pytest.approx(17.4) and treated["difference"] == pytest.approx(5.8)
    assert treated["sd"] == pytest.approx(math.sqrt(592.8))
    assert Z2 * 592.8 * 2 / 5.8**2 == pytest.approx(276.62, abs=0.01)
    assert result.table["customers_needed"].to_list() == [277, 277, 554]


def test_k_arms_at_the_bonferroni_level(shop: Inputs):
    # 2 arms vs control at 0.025: 9.505037 x (0.24 + 0.24) / 0.04 = 114.06 -> 115 per arm (equal shares)
    result = plan_test(shop, config(arms="a,b,control"))
    assert result.table["customers_needed"].to_list() == [115, 115, 115, 345]
    assert result.table["alpha"].to_list() == pytest.approx([0.025] * 4)
    words = " ".join(m.text for m in result.messages)
    assert (
        "two-sided alpha 0.025 per comparison (0.05 / 2 treatment arms, Bonferroni; conservative for the Holm" in words
    )


def test_a_list_is_the_audience_and_its_baseline(shop: Inputs, tmp_path: Path):
    # the list: A and C (in the baseline), E (first purchase after the window started), X (no orders)
    (tmp_path / "list.csv").write_text("customer_id,segment\nA,x\nC,x\nE,x\nX,x\nA,x\n")
    result = plan_test(shop, config(lists=(str(tmp_path / "list.csv"),), mde="0.1"))
    assert result.available == 4
    b = result.baseline
    assert (b.customers, b.buyers, b.rate, b.revenue_mean) == (2, 1, 0.5, 25.0)
    assert result.everyone is not None and result.everyone.customers == 5
    words = [m.text for m in result.messages]
    assert words[0].endswith("4 customers in " + str(tmp_path / "list.csv") + " (1 repeated row counted once)")
    assert "2 customers with a first purchase before 2024-03-01 of the 4 list customers" in words[1]


def test_a_list_chosen_on_the_window_is_warned_about(shop: Inputs, tmp_path: Path):
    # default window 03-11..03-20: every customer 1/6; the list A, C bought nothing then: under half the rate
    (tmp_path / "list.csv").write_text("customer_id\nA\nC\n")
    lists = (str(tmp_path / "list.csv"),)
    result = plan_test(shop, config(lists=lists, baseline_start=None))
    warnings = [m.text for m in result.messages if m.level == "warning"]
    assert len(warnings) == 1 and "under half the rate of every customer (16.7%)" in warnings[0]
    assert setting("baseline_start") in warnings[0]
    # a baseline start given: the user chose the window, no warning
    assert not [m for m in plan_test(shop, config(lists=lists)).messages if m.level == "warning"]


def test_config_errors_in_neutral_words():
    for field, value, message in [
        ("metric", "orders", "must be repurchase or revenue, got 'orders'"),
        ("window", 0, "must be at least 1 day, got 0"),
        ("confidence", 0.3, "must be between 0.5 and 0.999, got 0.3"),
        ("power", 0.995, "must be between 0.5 and 0.99, got 0.995"),
    ]:
        with pytest.raises(ConfigError) as caught:
            config(**{field: value})
        assert caught.value.message == f"{setting(field)} {message}"
    with pytest.raises(UsageError, match="needs an arm named control"):
        config(arms="a,b")
    with pytest.raises(UsageError, match="sum to 0.9"):
        config(arms="a,control", arm_shares="0.5,0.4")
    assert parse_difference("0.02") == (0.02, False)
    assert parse_difference("10%") == (pytest.approx(0.1), True)
    assert parse_difference(" 2.5 ") == (2.5, False)
    for bad in ("0", "-0.1", "abc", "%", "1e-2"):
        with pytest.raises(ConfigError, match="expected a positive difference"):
            parse_difference(bad)


def test_data_errors(shop: Inputs, tmp_path: Path):
    with pytest.raises(DataError, match="ends after the data"):
        plan_test(shop, config(baseline_start=date(2024, 3, 15)))
    with pytest.raises(UsageError, match="the target rate 140.0% is above 100%"):
        plan_test(shop, config(mde="1.0"))
    (tmp_path / "none.csv").write_text("customer_id\nC\nX\n")
    with pytest.raises(DataError, match=r"1 customer of the list had a first purchase before the baseline window \("):
        plan_test(shop, config(lists=(str(tmp_path / "none.csv"),)))
    with pytest.raises(DataError, match=r"^1 customer had a first purchase before the baseline window \(2024-01-06\)"):
        plan_test(shop, config(baseline_start=date(2024, 1, 6), window=5))
    # 2024-02-21 to 02-25: A, B, C, D in the baseline, nobody bought: no relative difference, no revenue spread
    quiet = config(baseline_start=date(2024, 2, 21), window=5)
    assert (plan_test(shop, quiet).baseline.customers, plan_test(shop, quiet).baseline.buyers) == (4, 0)
    with pytest.raises(UsageError, match="is relative, but the baseline is 0"):
        plan_test(shop, config(baseline_start=date(2024, 2, 21), window=5, mde="10%"))
    with pytest.raises(DataError, match="revenue has no spread"):
        plan_test(shop, config(baseline_start=date(2024, 2, 21), window=5, metric="revenue"))


def test_the_table_has_one_dtype_per_column(shop: Inputs):
    table = plan_test(shop, config()).table
    assert table.schema["customers_needed"] == pl.Int64 and table.schema["enough"] == pl.Boolean
    assert table.schema["target"] == pl.Float64 and table.schema["baseline_start"] == pl.Date
