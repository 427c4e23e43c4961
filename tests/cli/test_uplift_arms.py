"""``loyalty uplift`` with test arms and ``--cost`` end to end: the lists of each way in, what is printed and
written, and bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
ARMS = {
    "reward_a": [f"a{i:02d}" for i in range(20)],  # all buy 50.00 in the window
    "reward_b": [f"b{i:02d}" for i in range(20)],  # none buys
    "control": [f"c{i:02d}" for i in range(40)],  # 10 buy 50.00
}


def run(*args: str):
    result = RUNNER.invoke(app, ["uplift", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    lines = ["customer_id,order_date,amount"]
    lines += [f"{c},2024-01-10,20.00" for ids in ARMS.values() for c in ids]
    lines += [f"{c},2024-03-05,50.00" for c in ARMS["reward_a"] + ARMS["control"][:10]]
    lines += ["zz,2024-04-15,1.00"]
    Path("tx.csv").write_text("\n".join(lines) + "\n")
    for arm, ids in ARMS.items():
        Path(f"s.{arm}.csv").write_text("customer_id,arm\n" + "".join(f"{c},{arm}\n" for c in ids))
    rows = [f"{c},{arm}" for arm, ids in ARMS.items() for c in ids]
    Path("all.csv").write_text("customer_id,arm\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_each_arm_against_the_control_with_its_cost():
    arms = [f"--arm={arm}=s.{arm}.csv" for arm in ARMS]
    cost = "reward_a=2.5,reward_b=1/redemption"
    result = run("tx.csv", *arms, "--start", "2024-03-01", "--by", "none", "--cost", cost, "-o", "u.csv")
    assert result.exit_code == 0, result.stderr
    # a: 20/20 vs 10/40; b: 0/20 vs 10/40 (pooled 1/6, SE 0.102062, z -2.449490, p 0.014306; Agresti-Caffo
    # 1/22 vs 11/42, centre -0.216450, SE 0.081086: -37.5 to -5.8); a's p is far smaller, so Holm gives b
    # 1 x 0.014306: still below 0.05
    assert (
        "Window: 30 days (2024-03-01 to 2024-03-30), as of 2024-04-16; 20 in reward_a, 20 in reward_b, 40 control"
        in (result.stderr)
    )
    assert "Repurchase within 30 days: reward_a 100.0% of 20, control 25.0% of 40: +75.0 points" in result.stderr
    assert (
        "Repurchase within 30 days: reward_b 0.0% of 20, control 25.0% of 40: -25.0 points (95% CI -37.5 to -5.8), "
        "p = 0.0143 (Holm-adjusted 0.0143): reward_b lower"
    ) in result.stderr
    # a: 2.50 x 20 = 50.00 against (50.00 - 12.50) x 20 = 750.00 more revenue: +700.00, 1400%
    assert "Return on reward_a (2.50 per customer treated, 20 customers): cost 50.00, incremental revenue +750.00" in (
        result.stderr
    )
    assert ", net +700.00 (95% CI " in result.stderr and "return on cost +1400% (95% CI " in result.stderr
    # b: nobody bought, so no redemption costs anything: cost 0.00, no return on cost
    assert "Return on reward_b (1.00 per redemption, 0 redemptions): cost 0.00, incremental revenue -250.00" in (
        result.stderr
    )
    table = pl.read_csv("u.csv")
    assert table["arm"].to_list() == ["reward_a", "reward_b"]
    assert table["repurchase_adjusted_p_value"][1] == 0.01431  # 4 significant digits, as a p-value
    assert table["total_cost_amount"].to_list() == [50.0, 0.0] and table["net_return_amount"].to_list() == [
        700.0,
        -250.0,
    ]
    assert table["return_on_cost"].to_list() == [14.0, None]
    # piped: the three tables with the arm first
    assert "# Return on the reward" in result.stdout
    assert "arm\ttreated\tcontrol\trate_treated\trate_control\tdiff\tci_low\tci_high\tp_value\tp_adjusted\tverdict" in (
        result.stdout
    )
    assert "arm\ttreated\tredemptions\tcost\tincremental\tnet\tnet_low\tnet_high\treturn_on_cost\n" in result.stdout


def test_a_list_with_an_arm_column_and_a_manifest_of_arms():
    result = run("tx.csv", "--groups", "all.csv", "--group-col", "arm", "--start", "2024-03-01", "-o", "g.csv")
    assert result.exit_code == 0, result.stderr
    manifest = {
        "files": {
            "treatment": [{"path": "s.reward_a.csv", "rows": 20}, {"path": "s.reward_b.csv", "rows": 20}],
            "control": [{"path": "s.control.csv", "rows": 40}],
        },
        "arms": {
            "control": "control",
            "arms": [{"name": arm, "files": [f"s.{arm}.csv"]} for arm in ARMS],
        },
    }
    Path("s.manifest.json").write_text(json.dumps(manifest))
    result = run("tx.csv", "--manifest", "s.manifest.json", "--start", "2024-03-01", "-o", "m.csv")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("m.csv").equals(pl.read_csv("g.csv"))
    assert pl.read_csv("m.csv")["revenue_verdict"].to_list() == ["treatment higher", "treatment lower"]
    # the control arm under another name
    Path("h.csv").write_text(Path("all.csv").read_text().replace(",control", ",holdout"))
    result = run("tx.csv", "--groups", "h.csv", "--group-col", "arm", "--start", "2024-03-01")
    assert result.exit_code == 1 and "is in the control arm 'control'" in result.stderr
    assert "Hint: Name the control arm with --control-arm." in result.stderr
    result = run(
        "tx.csv", "--groups", "h.csv", "--group-col", "arm", "--control-arm", "holdout", "--start", "2024-03-01"
    )
    assert result.exit_code == 0 and "20 in reward_a, 20 in reward_b, 40 control customers" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--groups", "all.csv", "--group-col", "arm", "--cost", "5/order"],
            2,
            "Error: --cost '5/order': '5/order' is not a cost",
        ),
        (
            ["--treatment", "s.reward_a.csv", "--control", "s.control.csv", "--cost", "reward_a=1"],
            2,
            "Error: --cost gives a cost per arm (reward_a), but the lists are not split into arms",
        ),
        (
            ["--groups", "all.csv", "--group-col", "arm", "--cost", "reward_a=1,reward_c=2"],
            2,
            "Error: --cost names the arm 'reward_c': not an arm of the lists",
        ),
        (
            ["--arm", "reward_a", "--arm", "control=s.control.csv"],
            2,
            "Error: --arm 'reward_a': expected NAME=FILE[,FILE]",
        ),
        (
            ["--arm", "reward_a=s.reward_a.csv", "--groups", "all.csv"],
            2,
            "or --manifest, or --arm per arm (one of them)",
        ),
        (
            ["--arm", "reward_a=s.reward_a.csv,s.control.csv", "--arm", "control=s.control.csv"],
            1,
            "Error: 40 customers are in more than one arm (e.g. c00: reward_a and control)",
        ),
    ],
)
def test_bad_arms_and_costs(args, code, message):
    result = run("tx.csv", *args, "--start", "2024-03-01")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
