"""``app.uplift`` with test arms and a reward's cost: a tiny shop of three arms read three ways (a manifest that
records arms, one list with an arm column, each arm's files), hand-computed; the cost setting parsed and matched
to the arms; the errors in neutral words."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from scipy import stats

from loyalty_cli.app.campaign_lists import CampaignLists
from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.app.uplift import LINES, UpliftConfig, uplift
from loyalty_cli.app.uplift_cost import RewardCosts, parse_cost
from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.metrics.uplift_arms import RewardCost

START = date(2024, 3, 1)
# A 10-day window from 2024-03-01 (to 2024-03-10); the data ends on 2024-03-21 (Z's order).
#   reward_a: A1 30.00 (03-02), A2 10.00 (03-05), A3 nothing, A4 only after the window (03-12)   2/4, 40 / 4 = 10.00
#   reward_b: B1 50.00 (03-03), B2 only before it (02-01), B3, B4 nothing                        1/4, 50 / 4 = 12.50
#   control:  C1 20.00 (03-04), C2 .. C4 nothing                                                1/4, 20 / 4 =  5.00
TX = """customer_id,order_date,amount
A1,2024-03-02,30
A2,2024-03-05,10
A4,2024-03-12,99
B1,2024-03-03,50
B2,2024-02-01,70
C1,2024-03-04,20
Z,2024-03-20,1
"""
ARMS = {"reward_a": ["A1", "A2", "A3", "A4"], "reward_b": ["B1", "B2", "B3", "B4"], "control": ["C1", "C2", "C3", "C4"]}
REVENUE = {"reward_a": [30, 10, 0, 0], "reward_b": [50, 0, 0, 0], "control": [20, 0, 0, 0]}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "tx.csv").write_text(TX)
    manifest: dict = {"files": {"treatment": [], "control": []}, "arms": {"control": "control", "arms": []}}
    for arm, ids in ARMS.items():
        (tmp_path / f"s.{arm}.csv").write_text("customer_id,arm\n" + "".join(f"{c},{arm}\n" for c in ids))
        group = "control" if arm == "control" else "treatment"
        manifest["files"][group].append({"path": f"s.{arm}.csv", "rows": 4})
        manifest["arms"]["arms"].append({"name": arm, "files": [f"s.{arm}.csv"]})
    (tmp_path / "s.manifest.json").write_text(json.dumps(manifest))
    rows = [f"{c},{arm}" for arm, ids in ARMS.items() for c in ids]
    (tmp_path / "all.csv").write_text("customer_id,arm\n" + "\n".join(rows) + "\n")
    return tmp_path


def run(folder: Path, lists: CampaignLists, cost: str | None = None):
    spec = InputSpec(transactions=[str(folder / "tx.csv")], lists=lists, summary=False, activity=True, lines=LINES)
    return uplift(load_inputs(spec), UpliftConfig(start=START, lists=lists, window=10, min_n=1, cost=parse_cost(cost)))


def three_ways(folder: Path) -> list[CampaignLists]:
    return [
        CampaignLists(manifest=str(folder / "s.manifest.json")),
        CampaignLists(groups=[str(folder / "all.csv")], group_col="arm"),
        CampaignLists(arms=[(arm, [str(folder / f"s.{arm}.csv")]) for arm in ARMS]),
    ]


def test_three_arms_each_against_the_control(shop):
    for lists in three_ways(shop):
        result = run(shop, lists, cost="reward_a=2,reward_b=5/redemption")
        assert result.arms == ("reward_a", "reward_b") and result.costed
        table = result.table
        assert table["arm"].to_list() == ["reward_a", "reward_b"] and table["segment"].to_list() == ["(all)"] * 2
        assert table["treatment_repurchase_rate"].to_list() == [0.5, 0.25]
        assert table["control_repurchase_rate"].to_list() == [0.25, 0.25]
        assert table["treatment_revenue_per_customer"].to_list() == [10.0, 12.5]
        assert table["revenue_diff"].to_list() == [5.0, 7.5]
        # repurchase: a pooled 3/8, SE sqrt(0.375 x 0.625 x 0.5) = 0.342327, z 0.730297, p 0.465209; b: +0, p 1;
        # Holm: 2 x 0.465209 = 0.930418, then max(0.930418, 1 x 1) = 1
        assert table["repurchase_p_value"].to_list() == pytest.approx([0.465209, 1.0], abs=1e-6)
        assert table["repurchase_adjusted_p_value"].to_list() == pytest.approx([0.930418, 1.0], abs=1e-6)
        # revenue, pooled t-tests (df 6): a: variances 200 and 100, pooled 150, SE sqrt(75) = 8.660254, t 0.577350,
        # p 0.584700; b: variances 625 and 100, pooled 362.5, SE 13.462912, t 0.557086, p 0.597620
        p = [stats.ttest_ind(REVENUE[arm], REVENUE["control"]).pvalue for arm in ("reward_a", "reward_b")]
        assert table["revenue_p_value"].to_list() == pytest.approx([0.584700, 0.597620], abs=1e-6) == p
        # Holm: 2 x 0.584700 = 1.17, capped at 1; then max(1, 0.597620) = 1
        assert table["revenue_adjusted_p_value"].to_list() == [1.0, 1.0]
        # the return: a 2.00 x 4 customers = 8.00 against 5.00 x 4 = 20.00 more revenue: +12.00, 150%;
        # b 5.00 x 1 redemption (B1) = 5.00 against 7.50 x 4 = 30.00: +25.00, 500%
        assert table["total_cost_amount"].to_list() == [8.0, 5.0]
        assert table["net_return_amount"].to_list() == [12.0, 25.0]
        assert table["return_on_cost"].to_list() == [1.5, 5.0]
        assert table.columns[-4:] == ["window_start", "window_end", "window_days_observed", "window_complete"]
        # the outcomes: treatment first, the arms in order, by id; each with its arm
        assert result.outcomes["arm"].to_list() == ["reward_a"] * 4 + ["reward_b"] * 4 + ["control"] * 4
        assert result.outcomes["customer_id"].to_list()[:2] == ["A1", "A2"]


def test_the_notes_name_each_arm(shop):
    result = run(shop, three_ways(shop)[2], cost="reward_a=2,reward_b=5/redemption")
    texts = [m.text for m in result.messages]
    assert (
        "Window: 10 days (2024-03-01 to 2024-03-10), as of 2024-03-21; 4 in reward_a, 4 in reward_b, 4 control "
        "customers" in texts
    )
    assert any(
        t.startswith("Each of the 2 arms against the control group: p-values Holm-adjusted over the 2") for t in texts
    )
    repurchase = [t for t in texts if t.startswith("Repurchase within 10 days: ")]
    assert repurchase[0].startswith("Repurchase within 10 days: reward_a 50.0% of 4, control 25.0% of 4: +25.0 points")
    assert repurchase[0].endswith("p = 0.465 (Holm-adjusted 0.93): no significant difference")
    assert repurchase[1].startswith("Repurchase within 10 days: reward_b 25.0% of 4, control 25.0% of 4: +0.0 points")
    returns = [t for t in texts if t.startswith("Return on ")]
    assert returns[0].startswith(
        "Return on reward_a (2.00 per customer treated, 4 customers): cost 8.00, incremental revenue +20.00 (95% CI "
    )
    assert ", net +12.00 (95% CI " in returns[0] and ", return on cost +150% (95% CI " in returns[0]
    assert returns[1].startswith("Return on reward_b (5.00 per redemption, 1 redemption): cost 5.00, incremental ")


def test_one_cost_for_every_arm_and_for_a_treatment_group(shop):
    result = run(shop, three_ways(shop)[0], cost="1.5/customer")
    assert result.table["total_cost_amount"].to_list() == [6.0, 6.0]  # 1.50 x 4 customers each
    # two groups (one treated arm): today's table, with the return after incremental_revenue
    lists = CampaignLists(treatment=[str(shop / "s.reward_a.csv")], control=[str(shop / "s.control.csv")])
    result = run(shop, lists, cost="4/redemption")
    assert result.arms == () and "arm" not in result.table.columns
    assert result.table["total_cost_amount"].to_list() == [8.0]  # 4.00 x 2 buyers (A1, A2)
    assert result.table["net_return_amount"].to_list() == [12.0]  # 20.00 - 8.00
    assert "repurchase_adjusted_p_value" not in result.table.columns
    at = result.table.columns.index("incremental_revenue")
    assert result.table.columns[at + 1 : at + 3] == ["cost_per", "unit_cost_amount"]
    # an arms set of one treated arm is two groups too, its arm named in the cost
    lists = CampaignLists(
        arms=[("reward_a", [str(shop / "s.reward_a.csv")]), ("control", [str(shop / "s.control.csv")])]
    )
    result = run(shop, lists, cost="reward_a=2")
    assert result.arms == () and result.table["total_cost_amount"].to_list() == [8.0]


def test_a_cost_per_arm_needs_arms_that_match(shop):
    lists = CampaignLists(treatment=[str(shop / "s.reward_a.csv")], control=[str(shop / "s.control.csv")])
    with pytest.raises(ConfigError) as no_arms:
        run(shop, lists, cost="reward_a=2")
    assert (
        no_arms.value.message == f"{setting('cost')} gives a cost per arm (reward_a), but the lists are not split "
        "into arms"
    )
    with pytest.raises(ConfigError) as unknown:
        run(shop, three_ways(shop)[0], cost="reward_a=2,reward_c=1")
    assert unknown.value.message == f"{setting('cost')} names the arm 'reward_c': not an arm of the lists"
    assert unknown.value.hint == "The treated arms: reward_a, reward_b."
    with pytest.raises(ConfigError) as control:
        run(shop, three_ways(shop)[0], cost="reward_a=2,reward_b=1,control=1")
    assert "names the arm 'control': the control group, which gets no reward" in control.value.message
    with pytest.raises(ConfigError) as missing:
        run(shop, three_ways(shop)[0], cost="reward_a=2")
    assert missing.value.message == f"{setting('cost')} gives no cost for the arm 'reward_b'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.50", RewardCosts(each=RewardCost(2.5))),
        (" 2.5 / customer ", RewardCosts(each=RewardCost(2.5))),
        ("5/redemption", RewardCosts(each=RewardCost(5.0, "redemption"))),
        ("5/Redemptions", RewardCosts(each=RewardCost(5.0, "redemption"))),
        (".5", RewardCosts(each=RewardCost(0.5))),
        ("0", RewardCosts(each=RewardCost(0.0))),
        (
            "reward_a=2.5,reward_b=5/redemption",
            RewardCosts(arms={"reward_a": RewardCost(2.5), "reward_b": RewardCost(5.0, "redemption")}),
        ),
    ],
)
def test_the_cost_setting(text, expected):
    assert parse_cost(text) == expected
    assert parse_cost(None) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-2", "'-2': '-2' is not a cost"),
        ("2.50 EUR", "'2.50 EUR': '2.50 EUR' is not a cost"),
        ("5/order", "'5/order': '5/order' is not a cost"),
        ("", "'': '' is not a cost"),
        ("2,50", "'2,50': one cost, or one per arm as NAME=COST"),
        ("reward_a=2,3", "'reward_a=2,3': '3' is not NAME=COST"),
        ("=2", "'=2': '=2' is not NAME=COST"),
        ("a=1,a=2", "'a=1,a=2': the arm 'a' is given twice"),
        ("a=x", "'a=x': 'x' is not a cost"),
    ],
)
def test_bad_cost_text(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_cost(text)
    assert caught.value.name == "cost" and caught.value.message == f"{setting('cost')} {message}"
    assert "5/redemption" in str(caught.value.hint)


def test_a_customer_in_two_arms_is_an_error(shop):
    (shop / "all.csv").write_text("customer_id,arm\nA1,reward_a\nA1,reward_b\nC1,control\nB2,reward_b\nB2,control\n")
    with pytest.raises(DataError) as caught:
        run(shop, three_ways(shop)[1])
    assert caught.value.message == "2 customers are in more than one arm (e.g. A1: reward_a and reward_b)"
    lists = CampaignLists(
        arms=[("reward_a", [str(shop / "s.reward_a.csv")]), ("control", [str(shop / "s.reward_a.csv")])]
    )
    with pytest.raises(DataError) as files:
        run(shop, lists)
    assert files.value.message == "4 customers are in more than one arm (e.g. A1: reward_a and control)"
