"""``app.retention`` called directly: the config checked in neutral words, the long table, the cohort table,
the repeat purchase rate, the matrices and the notes, hand-computed on a small shop."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.retention import RetentionConfig, retention
from loyalty_cli.errors import ConfigError, setting

AS_OF = date(2024, 4, 1)

# Monthly cohorts as of 2024-04-01 (January to March are over):
#   A  2024-01-10 100, 2024-02-05 50, 2024-03-20 30   cohort 2024-01
#   B  2024-01-20 200                                 cohort 2024-01
#   C  2024-02-14 80, 2024-03-01 40                   cohort 2024-02
# Retention "on": 2024-01: 2/2, 1/2 (A in Feb), 1/2 (A in Mar); 2024-02: 1/1, 1/1 (C in Mar), not over.
# Average: k0 3/3, k1 (1 + 1) / (2 + 1), k2 1/2 (only January's cell is over).
# Repeat within 30 days: every window has closed (first purchase + 30 days before April); A (26 days) and
# C (16 days, 2024 is a leap year) bought again within it, B did not: January 1/2, February 1/1, all 2/3.
SHOP = """customer_id,order_date,amount
A,2024-01-10,100
A,2024-02-05,50
A,2024-03-20,30
B,2024-01-20,200
C,2024-02-14,80
C,2024-03-01,40
"""


@pytest.fixture
def shop(tmp_path: Path) -> Inputs:
    path = tmp_path / "tx.csv"
    path.write_text(SHOP)
    return load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))


def test_long_table_cohorts_and_repeat_rate(shop):
    result = retention(shop, RetentionConfig(repeat_window=30, show=("on", "revenue")))
    assert result.as_of == AS_OF and result.period == "month" and result.horizon == 3 and result.repeat_window == 30
    long = result.long.select("cohort", "period", "cohort_customers", "active_customers", "retention", "revenue")
    assert long.rows() == [
        ("2024-01", 0, 2, 2, 1.0, 300.0),
        ("2024-01", 1, 2, 1, 0.5, 50.0),
        ("2024-01", 2, 2, 1, 0.5, 30.0),
        ("2024-02", 0, 1, 1, 1.0, 80.0),
        ("2024-02", 1, 1, 1, 1.0, 40.0),
        ("2024-02", 2, 1, None, None, None),
        ("average", 0, 3, 3, 1.0, 380.0),
        ("average", 1, 3, 2, pytest.approx(2 / 3), 90.0),
        ("average", 2, 2, 1, 0.5, 30.0),
    ]
    assert result.cohorts.select("cohort", "customers", "mature_periods", "first_period_revenue").rows() == [
        ("2024-01", 2, 3, 300.0),
        ("2024-02", 1, 2, 80.0),
        ("all", 3, None, 380.0),
    ]
    assert result.cohort_count == 2
    assert result.repeat == {"2024-01": 0.5, "2024-02": 1.0, "average": pytest.approx(2 / 3)}
    assert [m.text for m in result.messages] == [
        "As of 2024-04-01 (data before that day); 3 customers in 2 monthly cohorts; blank cells: periods not over "
        "yet (never counted as 0)",
        "Repeat purchase rate within 30 days of the first purchase: 66.7% (2 of 3 customers whose 30 days are over)",
    ]


def test_matrices_asked_for_and_the_wide_file(shop):
    result = retention(shop, RetentionConfig(show=("on", "revenue")))
    assert list(result.matrices) == ["on", "revenue"]
    on = result.matrices["on"]
    assert on.columns == ["cohort", "cohort_customers", "m0", "m1", "m2"]
    assert on.rows() == [
        ("2024-01", 2, 1.0, 0.5, 0.5),
        ("2024-02", 1, 1.0, 1.0, None),
        ("average", 3, 1.0, pytest.approx(2 / 3), 0.5),
    ]
    assert result.matrices["revenue"]["m1"].to_list() == [pytest.approx(50 / 300), 0.5, pytest.approx(90 / 380)]
    wide = result.wide()
    assert wide["metric"].unique(maintain_order=True).to_list()[:2] == ["retention", "retention_within"]
    assert wide.filter(pl.col("metric") == "retention").drop("metric").rows() == on.rows()
    # no window has closed under the default 90 days
    assert result.repeat == {"2024-01": None, "2024-02": None, "average": None}
    assert result.messages[-1].text == (
        "Repeat purchase rate within 90 days of the first purchase: none yet (no customer's 90 days are over)"
    )


def test_within_a_horizon(shop):
    # within 2 months: January cohort k0 (Jan or Feb) 2/2, k1 (Feb or Mar) 1/2, k2 not over (April);
    # February cohort k0 (Feb or Mar) 1/1, k1 not over
    result = retention(shop, RetentionConfig(horizon=2, show=("within",)))
    assert result.horizon == 2
    assert result.matrices["within"].rows() == [
        ("2024-01", 2, 1.0, 0.5, None),
        ("2024-02", 1, 1.0, None, None),
        ("average", 3, 1.0, 0.5, None),
    ]
    assert result.messages[1].text == (
        "Within: a purchase in any of the 2 months from k; a cell is blank until its last month (k+1) is over"
    )


def test_quarters(shop):
    result = retention(shop, RetentionConfig(period="quarter", show=()))
    assert result.long.filter(pl.col("cohort") != "average").select("cohort", "period", "active_customers").rows() == [
        ("2024-Q1", 0, 3)
    ]
    assert result.matrices == {} and result.horizon == 2


@pytest.mark.parametrize(
    ("settings", "name", "text"),
    [
        ({"period": "year"}, "period", "must be week, month or quarter, got 'year'"),
        ({"repeat_window": 0}, "repeat_window", "must be at least 1 day, got 0"),
        ({"horizon": 0, "period": "week"}, "horizon", "must be at least 1 week, got 0"),
        ({"show": ("on", "nope")}, "show", "'nope' is not a matrix"),
        ({"show": ("on-or-after",)}, "show", "'on-or-after' is gone"),
    ],
)
def test_config_rejects_bad_settings(settings, name, text):
    with pytest.raises(ConfigError) as caught:
        RetentionConfig(**settings)
    assert caught.value.name == name
    assert caught.value.message.startswith(f"{setting(name)} {text}")
    assert "--" not in caught.value.message + (caught.value.hint or "")
