"""Numbers in CSV and JSON files: money to cents, p-values to 4 significant digits, other decimals to 4 places,
half away from zero on the decimal a double stands for; Parquet, model parameters and rejects kept in full."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.io.precision import number_kind, readable_numbers, round_half_away, round_significant
from loyalty_cli.io.writers import write_table


def rounded(values: list[float | None], decimals: int) -> list[float | None]:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    return frame.select(round_half_away(pl.col("x"), decimals))["x"].to_list()


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (185.91199999999998, 2, "185.91"),  # float noise for 185.912
        (127.20052631578947, 2, "127.2"),
        (127.20052631578947, 4, "127.2005"),
        (0.125, 2, "0.13"),  # a half: away from zero
        (-0.125, 2, "-0.13"),
        (0.5, 0, "1.0"),
        (-0.5, 0, "-1.0"),
        (-2.5, 0, "-3.0"),
        (2.675, 2, "2.68"),  # 2.67499999999999982236431605997495353221893310546875 as a double
        (-2.675, 2, "-2.68"),
        (1.005, 2, "1.01"),  # 1.00499999999999989...: times 100 is 100.49999999999999
        (-1.005, 2, "-1.01"),
        (0.00005, 4, "0.0001"),
        (-0.00005, 4, "-0.0001"),
        (0.12344999, 4, "0.1234"),  # below the half by more than float noise: down
        (451.70520289303045, 2, "451.71"),  # 45171 / 100 exactly, not 451.71000000000004
        (-467338879.08548087, 2, "-467338879.09"),
        (0.1 + 0.2, 4, "0.3"),
        (-0.004, 2, "0.0"),  # not -0.0
        (-0.0, 2, "0.0"),
        (1234.5, 2, "1234.5"),
        (2.0**53, 2, "9007199254740992.0"),  # no digits at that place: as it is
    ],
)
def test_round_half_away_from_zero(value: float, decimals: int, expected: str) -> None:
    (got,) = rounded([value], decimals)
    assert repr(got) == expected


def test_missing_and_special_values_stay() -> None:
    got = rounded([None, math.nan, math.inf, -math.inf], 2)
    assert got[0] is None and math.isnan(got[1]) and got[2:] == [math.inf, -math.inf]


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**9), 10**9), st.integers(0, 3))
def test_rounding_matches_decimal_rounding_of_the_written_number(cents: int, extra: int) -> None:
    """A number with a few decimals (as a person writes it) rounds as its decimal does (Excel's ROUND)."""
    value = float(Decimal(cents).scaleb(-(2 + extra)))  # e.g. 12.345, -0.125
    expected = float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0
    (got,) = rounded([value], 2)
    assert got == expected and repr(got) == repr(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.020754896218989453, "0.02075"),
        (0.0025312, "0.002531"),
        (2.53049e-7, "2.53e-07"),
        (0.99995, "1.0"),
        (-0.12345, "-0.1235"),
        (12345.678, "12346.0"),  # at least whole numbers
        (0.0, "0.0"),
        (1e-30, "1e-30"),  # 33 decimals: beyond an exact power of ten, as it is
    ],
)
def test_round_significant(value: float, expected: str) -> None:
    frame = pl.DataFrame({"p": [value]})
    assert repr(frame.select(round_significant(pl.col("p"), 4))["p"][0]) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("net_spend", "money"),
        ("gross_spend", "money"),
        ("returns_value", "money"),
        ("mean_order_value", "money"),
        ("monetary_value", "money"),
        ("predicted_clv_12m", "money"),
        ("mean_predicted_clv_12m", "money"),
        ("incremental_revenue", "money"),
        ("treatment_revenue_per_customer", "money"),
        ("revenue_diff_low", "money"),
        ("revenue_mde", "money"),
        ("net_spend_per_customer_365d", "money"),
        ("liability_after_breakage", "money"),
        ("revenue", "money"),
        ("share_net_spend", "decimal"),  # a share of money is a share
        ("revenue_retention", "decimal"),
        ("nps_weighted_by_net_spend", "decimal"),  # NPS points
        ("p_alive", "decimal"),
        ("churn_rate", "decimal"),
        ("ipt_days", "decimal"),
        ("T_weeks", "decimal"),
        ("expected_purchases_12m", "decimal"),
        ("nps", "decimal"),
        ("se", "decimal"),
        ("p_value", "p_value"),
        ("revenue_p_value", "p_value"),  # a p-value, not money
        ("repurchase_p_value", "p_value"),
        ("value", None),  # a long table's figure: its row says
        ("ci_low", None),
        ("ci_high", None),
        ("m3", None),  # a retention matrix cell
    ],
)
def test_number_kind_by_name(name: str, kind: str | None) -> None:
    assert number_kind(name) == kind


def test_readable_numbers_by_column() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "orders": [3, 1],
            "first_purchase": [date(2024, 1, 2), date(2024, 3, 4)],
            "net_spend": [185.91199999999998, -0.125],
            "mean_order_value": [127.20052631578947, 0.005],
            "p_alive": [0.95583335991866, 0.00004999],
            "revenue_p_value": [0.020754896218989453, 2.53049e-7],
            "days": [6.5, 9.833333333333334],
            "ratio32": pl.Series([0.1234567, 2.0], dtype=pl.Float32),
        }
    )
    out = readable_numbers(frame)
    assert out.to_dict(as_series=False) == {
        "customer_id": ["a", "b"],
        "orders": [3, 1],
        "first_purchase": [date(2024, 1, 2), date(2024, 3, 4)],
        "net_spend": [185.91, -0.13],
        "mean_order_value": [127.2, 0.01],
        "p_alive": [0.9558, 0.0],
        "revenue_p_value": [0.02075, 2.53e-07],
        "days": [6.5, 9.8333],
        "ratio32": [0.1235, 2.0],
    }


def test_a_long_table_rounds_each_row_by_its_metric() -> None:
    """loyalty program: money figures to cents, rates to 4 decimals, in the same columns."""
    frame = pl.DataFrame(
        {
            "metric": ["net_spend_per_customer_365d", "enrolment_rate", "orders_per_customer_365d", None],
            "value": [201.03195266272189, 0.3916666666666667, 3.668789808917197, 1.23456],
            "n": [471, 3000, 471, 1],
            "ci_low": [173.155, 0.37400001, 3.14249999, None],
            "ci_high": [228.9049999999, 0.40900049, 4.19512, None],
        }
    )
    out = readable_numbers(frame)
    assert out["value"].to_list() == [201.03, 0.3917, 3.6688, 1.2346]
    assert out["ci_low"].to_list() == [173.16, 0.374, 3.1425, None]
    assert out["ci_high"].to_list() == [228.9, 0.409, 4.1951, None]
    assert out["n"].to_list() == [471, 3000, 471, 1]


def test_model_parameters_and_rejected_rows_are_kept_in_full() -> None:
    parameters = pl.DataFrame({"model": ["BG/NBD"], "parameter": ["r"], "value": [0.29154779246926976]})
    assert readable_numbers(parameters).equals(parameters)
    rejects = pl.DataFrame({"reject_reason": ["missing customer id"], "amount": [1.23456], "revenue": [12.345]})
    assert readable_numbers(rejects).equals(rejects)


def test_csv_and_json_are_rounded_parquet_keeps_every_bit(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["C001908"],
            "monetary_value": [185.91199999999998],
            "T_weeks": [38.42857142857142],
            "p_value": [0.020754896218989453],
            "share": [-0.0000001],
        }
    )
    write_table(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == (
        "customer_id,monetary_value,T_weeks,p_value,share\nC001908,185.91,38.4286,0.02075,0.0\n"
    )
    write_table(frame, tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text()) == [
        {"customer_id": "C001908", "monetary_value": 185.91, "T_weeks": 38.4286, "p_value": 0.02075, "share": 0.0}
    ]
    assert '"monetary_value":185.91,' in (tmp_path / "t.json").read_text()
    write_table(frame, tmp_path / "t.parquet")
    assert pl.read_parquet(tmp_path / "t.parquet").equals(frame)
