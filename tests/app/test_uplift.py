"""``app.uplift`` called directly: the config and the lists checked in neutral words, and a small campaign's
outcomes, table and notes read through ``load_inputs`` (the lists as an input kind), hand-computed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.campaign_lists import CampaignLists
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.uplift import LINES, UpliftConfig, uplift
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting

START = date(2024, 3, 1)
# A 10-day window from 2024-03-01 (to 2024-03-10):
#   T1  2024-02-01 10 (before), 2024-03-02 50       repurchased, revenue 50
#   T2  2024-03-05 30, 2024-03-09 -10 (a return)    repurchased (one purchase day), revenue 20
#   T3  2024-03-11 100 (the first day after)        0
#   T4  no orders at all                            0
#   C1  2024-03-03 40                               repurchased, revenue 40
#   C2  2024-02-15 5 (before)                       0
#   C3  2024-03-10 20 (the window's last day)       repurchased, revenue 20
#   C4  no orders at all                            0
#   Z   2024-03-20 1 (not in the lists): the data ends on 2024-03-21
# Treatment 2/4 = 50%, revenue 70 / 4 = 17.50; control 2/4 = 50%, 60 / 4 = 15.00: +0 points, +2.50.
TX = """customer_id,order_date,amount
T1,2024-02-01,10
T1,2024-03-02,50
T2,2024-03-05,30
T2,2024-03-09,-10
T3,2024-03-11,100
C1,2024-03-03,40
C2,2024-02-15,5
C3,2024-03-10,20
Z,2024-03-20,1
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "tx.csv").write_text(TX)
    (tmp_path / "t.csv").write_text("customer_id,segment\nT1,A\nT2,B\nT3,A\nT4,B\n")
    (tmp_path / "c.csv").write_text("customer_id,segment\nC1,A\nC2,B\nC3,A\nC4,B\n")
    return tmp_path


def lists_of(folder: Path, **more: object) -> CampaignLists:
    return CampaignLists(treatment=[str(folder / "t.csv")], control=[str(folder / "c.csv")], **more)  # type: ignore[arg-type]


def inputs_of(folder: Path, lists: CampaignLists, *, as_of: date | None = None, tx: str = "tx.csv") -> Inputs:
    spec = InputSpec(
        transactions=[str(folder / tx)], as_of=as_of, lists=lists, summary=False, activity=True, lines=LINES
    )
    return load_inputs(spec)


def test_config_and_lists_are_checked_in_neutral_words(shop):
    lists = lists_of(shop)
    for field, value, message in [
        ("window", 0, "must be at least 1 day, got 0"),
        ("confidence", 0.2, "must be between 0.5 and 0.999, got 0.2"),
        ("power", 1.0, "must be between 0.5 and 0.99, got 1.0"),
        ("min_n", 0, "must be at least 1, got 0"),
    ]:
        with pytest.raises(ConfigError) as caught:
            UpliftConfig(start=START, lists=lists, **{field: value})  # type: ignore[arg-type]
        assert caught.value.name == field and caught.value.message == f"{setting(field)} {message}"
    with pytest.raises(UsageError) as none:
        CampaignLists()
    assert none.value.message.startswith(f"Give the lists as {setting('treatment')} and {setting('control')}, or")
    with pytest.raises(UsageError) as two:
        CampaignLists(groups=["g.csv"], manifest="m.json")
    assert "(one of them)" in two.value.message
    with pytest.raises(UsageError) as half:
        CampaignLists(treatment=["t.csv"])
    assert half.value.message == f"{setting('treatment')} needs {setting('control')} (and the other way round)"
    assert UpliftConfig(start=START, lists=lists, window=10).stats.end == date(2024, 3, 11)


def test_the_lists_are_an_input_kind(shop):
    (shop / "t.csv").write_text("customer_id,segment\nT1,A\nT2,B\nT3,A\nT4,B\nT1,A\n")  # T1 twice
    inputs = inputs_of(shop, lists_of(shop))
    assert inputs.tables["lists"].rows() == [
        ("T1", "treatment", "A"),
        ("T2", "treatment", "B"),
        ("T3", "treatment", "A"),
        ("T4", "treatment", "B"),
        ("C1", "control", "A"),
        ("C2", "control", "B"),
        ("C3", "control", "A"),
        ("C4", "control", "B"),
    ]
    assert "customers" not in inputs.tables and inputs.loaded is None  # no stage 1: the activity and the plans
    # each customer's last line day (a per-customer plan, so that it runs on Spark), the latest taken by uplift
    assert inputs.tables["last"]["last"].max() == date(2024, 3, 20) and inputs.activity.height == 9
    assert inputs.tables["last"].height == inputs.activity["customer_id"].n_unique()
    none = inputs_of(shop, lists_of(shop, by="none"))
    assert none.tables["lists"].columns == ["customer_id", "group"]


def test_a_campaign_compared_over_its_window(shop):
    result = uplift(inputs_of(shop, lists_of(shop)), UpliftConfig(start=START, lists=lists_of(shop), window=10))
    assert result.as_of == date(2024, 3, 21) and result.window_end == date(2024, 3, 10) and result.complete
    assert result.by_segment
    assert result.outcomes.select("customer_id", "group", "purchase_days", "revenue", "repurchased").rows() == [
        ("T1", "treatment", 1, 50.0, True),
        ("T2", "treatment", 1, 20.0, True),
        ("T3", "treatment", 0, 0.0, False),
        ("T4", "treatment", 0, 0.0, False),
        ("C1", "control", 1, 40.0, True),
        ("C2", "control", 0, 0.0, False),
        ("C3", "control", 1, 20.0, True),
        ("C4", "control", 0, 0.0, False),
    ]
    overall = result.table.row(0, named=True)
    assert overall["segment"] == "(all)" and (overall["treatment_customers"], overall["control_customers"]) == (4, 4)
    assert overall["treatment_repurchase_rate"] == 0.5 and overall["control_repurchase_rate"] == 0.5
    assert overall["repurchase_diff"] == 0.0 and overall["repurchase_verdict"] == "no significant difference"
    assert overall["treatment_revenue_per_customer"] == 17.5 and overall["control_revenue_per_customer"] == 15.0
    assert overall["revenue_diff"] == 2.5 and overall["incremental_revenue"] == 10.0
    assert (overall["window_start"], overall["window_end"]) == (START, date(2024, 3, 10))
    assert (overall["window_days_observed"], overall["window_complete"]) == (10, True)
    # segments A (T1, T3 vs C1, C3) and B have 2 customers a group: fewer than min_n 30, counts only
    assert result.table.select("segment", "treatment_customers", "repurchase_verdict").rows()[1:] == [
        ("A", 2, "too few customers"),
        ("B", 2, "too few customers"),
    ]
    texts = [(m.level, m.text, m.always) for m in result.messages]
    assert texts[0] == ("note", "6 of 8 list customers have orders in the transactions", False)
    assert texts[1] == (
        "note",
        "Window: 10 days (2024-03-01 to 2024-03-10), as of 2024-03-21; 4 treated, 4 control customers",
        False,
    )
    assert texts[2][1].startswith("Repurchase within 10 days: treatment 50.0% of 4, control 50.0% of 4: +0.0 points")
    assert texts[2][2] and texts[3][1].startswith("Revenue per customer within 10 days: treatment 17.50, control 15.00")
    assert texts[-1] == (
        "note",
        f"2 segments with fewer than {setting('min_n')} 30 customers in a group left empty",
        False,
    )


def test_a_window_not_yet_over_is_partial(shop):
    # as of 2024-03-06: T2's return (03-09) and C3's order (03-10) are not in the data yet
    inputs = inputs_of(shop, lists_of(shop, by="none"), as_of=date(2024, 3, 6))
    result = uplift(inputs, UpliftConfig(start=START, lists=lists_of(shop), window=10))
    assert not result.complete and result.as_of == date(2024, 3, 6) and not result.by_segment
    assert dict(result.outcomes.select("customer_id", "revenue").iter_rows()) == {
        "T1": 50.0,
        "T2": 30.0,
        "T3": 0.0,
        "T4": 0.0,
        "C1": 40.0,
        "C2": 0.0,
        "C3": 0.0,
        "C4": 0.0,
    }
    assert result.table["window_days_observed"].to_list() == [5]
    assert result.messages[0].level == "warning" and result.messages[0].text == (
        "The window has not ended: the data (as of 2024-03-06) covers 5 of its 10 days. Results are partial; "
        "rerun after 2024-03-10 for the full window"
    )


def test_the_data_ends_the_day_after_its_last_line(shop):
    # order O9 of Z has a line on 2024-03-20 and one on 2024-03-25: the data runs to the later line
    rows = ["order_id," + TX.splitlines()[0]]
    rows += [f"O{i}," + line for i, line in enumerate(TX.splitlines()[1:])]
    rows.append("O8,Z,2024-03-25,1")
    (shop / "orders.csv").write_text("\n".join(rows) + "\n")
    result = uplift(inputs_of(shop, lists_of(shop), tx="orders.csv"), UpliftConfig(start=START, lists=lists_of(shop)))
    assert result.as_of == date(2024, 3, 26)


def test_data_that_ends_before_the_start_is_an_error(shop):
    inputs = inputs_of(shop, lists_of(shop))
    with pytest.raises(DataError) as caught:
        uplift(inputs, UpliftConfig(start=date(2024, 4, 1), lists=lists_of(shop)))
    assert caught.value.message == "The transactions end before the campaign start 2024-04-01 (as of 2024-03-21)"
    assert setting("start") in str(caught.value.hint)


def test_data_that_starts_after_the_window_is_an_error(shop):
    # the data starts on 2024-02-01 (T1's first order): a 10-day window from 2024-01-22 ends on 2024-01-31, so every
    # outcome would be 0 (it exited 0 comparing 0 with 0); one from 2024-01-23 ends on its first day, and counts
    inputs = inputs_of(shop, lists_of(shop))
    with pytest.raises(DataError) as caught:
        uplift(inputs, UpliftConfig(start=date(2024, 1, 22), window=10, lists=lists_of(shop)))
    assert caught.value.message == (
        "The transactions start on 2024-02-01, after the campaign window (2024-01-22 to 2024-01-31)"
    )
    assert setting("start") in str(caught.value.hint)
    found = uplift(inputs, UpliftConfig(start=date(2024, 1, 23), window=10, lists=lists_of(shop)))
    assert found.table.height > 0


def test_lists_that_match_nobody_are_warned_about(shop):
    (shop / "t.csv").write_text("customer_id\nx1\nx2\n")
    (shop / "c.csv").write_text("customer_id\ny1\n")
    result = uplift(inputs_of(shop, lists_of(shop)), UpliftConfig(start=START, lists=lists_of(shop), window=10))
    assert result.messages[0].level == "warning"
    assert result.messages[0].text.startswith("None of the 3 customers of the lists appear in the transactions")
    assert result.outcomes.filter(pl.col("repurchased")).height == 0
