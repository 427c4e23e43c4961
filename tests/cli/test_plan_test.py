"""``loyalty plan-test`` end to end, and ``--arms`` on a list-writing command."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})


def run(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """100 customers who bought on 2024-01-10; 20 of them buy again for 50.00 on 2024-03-15, the data's last day:
    in the 30 days before (2024-02-15 to 2024-03-15) the baseline is 20%, revenue 10.00 a customer."""
    monkeypatch.chdir(tmp_path)
    ids = [f"c{i:03d}" for i in range(100)]
    lines = ["customer_id,order_date,amount,email"]
    lines += [f"{c},2024-01-10,20.00,{c}@example.com" for c in ids]
    lines += [f"{c},2024-03-15,50.00,{c}@example.com" for c in ids[:20]]
    Path("tx.csv").write_text("\n".join(lines) + "\n")
    Path("list.csv").write_text("customer_id\n" + "\n".join(ids[:10] + ids[50:90]) + "\n")
    return tmp_path


def test_plan_test_prints_and_writes_the_plan():
    # baseline 20% (window 2024-02-15 .. 2024-03-15), +10 points: 7.848879 x (0.16 + 0.21) / 0.01 = 290.41 -> 291
    result = run("plan-test", "tx.csv", "--mde", "0.1", "-o", "plan.csv")
    assert result.exit_code == 0, result.stderr
    assert "Baseline: 30 days from 2024-02-15 to 2024-03-15 (as of 2024-03-16), 100 customers" in result.stderr
    assert "Not enough customers: 100 available, 582 needed; with them the smallest difference detectable is" in (
        result.stderr.replace("\n", " ")
    )
    assert "Wrote the test plan to plan.csv" in result.stderr
    plan = pl.read_csv("plan.csv")
    assert plan["arm"].to_list() == ["treatment", "control", "(total)"]
    assert plan["customers_needed"].to_list() == [291, 291, 582]
    assert plan["baseline"][0] == pytest.approx(0.2) and plan["target"][0] == pytest.approx(0.3)


def test_piped_table_and_revenue_per_customer():
    # revenue: 20 x 50, 80 x 0: mean 10, variance (20 x 40^2 + 80 x 10^2) / 99 = 404.04; +50% = +5.00:
    # 7.848879 x 404.04 x 2 / 25 = 253.70 -> 254 a group
    result = run("plan-test", "tx.csv", "--metric", "revenue", "--mde", "50%")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# Test plan: revenue per customer within 30 days (baseline 2024-02-15 to 2024-03-15)")
    assert lines[1].split("\t")[:5] == ["arm", "share", "customers_needed", "customers_available", "enough"]
    assert lines[2].split("\t")[:5] == ["treatment", "0.5000", "254", "50", "false"]


def test_a_list_and_k_arms():
    # the list: c000-c009 (bought again) and c050-c089 (did not): 10 of 50 = 20%; 50 x 0.4 = 20 a treated arm
    arms = ("--arms", "a,b,control", "--arm-shares", "0.4,0.4,0.2")
    result = run("plan-test", "tx.csv", "--list", "list.csv", "--mde", "0.3", *arms)
    assert result.exit_code == 0, result.stderr
    assert "Audience: 50 customers in list.csv" in result.stderr
    assert "0.05 / 2 treatment arms, Bonferroni" in result.stderr.replace("\n", " ")
    rows = [line.split("\t") for line in result.stdout.splitlines()[2:]]
    assert [r[0] for r in rows] == ["a", "b", "control", "(total)"]
    assert [r[3] for r in rows] == ["20", "20", "10", "50"]
    assert rows[0][5] == "0.2000" and rows[0][6] == "0.5000"  # the list's baseline 20% (10 of 50), +30 points


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mde", "x"], "--mde 'x': expected a positive difference"),
        (["--mde", "0.1", "--metric", "orders"], "--metric must be repurchase or revenue"),
        (["--mde", "0.1", "--arms", "a,b"], "--arms needs an arm named control"),
        (["--mde", "0.1", "--arms", "a,control", "--arm-shares", "0.9,0.2"], "--arm-shares '0.9,0.2' sum to 1.1"),
        (["--mde", "0.1", "--window", "0"], "--window '0': expected a number of days of at least 1"),
        (["--mde", "0.1", "--list", "nowhere.csv"], "File not found: nowhere.csv"),
        (["--mde", "0.1", "-o", "plan.txt"], "plan.txt"),
    ],
)
def test_usage_errors_before_any_data_is_read(extra, message):
    result = run("plan-test", "missing.csv", *extra)
    assert result.exit_code in (1, 2), result.stderr
    assert message in result.stderr
    assert "Reading transactions" not in result.stderr


def test_segment_splits_its_list_into_arms():
    result = run(
        "segment", "tx.csv", "--arms", "reward_a,reward_b,control", "--arm-shares", "0.4,0.4,0.2", "--seed", "s1",
        "-o", "spring.csv", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in Path().iterdir() if p.name.startswith("spring"))
    assert names == ["spring.control.csv", "spring.manifest.json", "spring.reward_a.csv", "spring.reward_b.csv"]
    arms = pl.concat([pl.read_csv(f"spring.{a}.csv") for a in ("reward_a", "reward_b", "control")])
    assert arms.height == 100 and arms["customer_id"].n_unique() == 100
    manifest = json.loads(Path("spring.manifest.json").read_text())
    assert [a["customers"] for a in manifest["arms"]["arms"]] == [
        (arms["arm"] == a).sum() for a in ("reward_a", "reward_b", "control")
    ]
    shown = run(
        "segment", "tx.csv", "--arms", "reward_a,reward_b,control", "--arm-shares", "0.4,0.4,0.2", "--seed", "s1",
        "-o", "spring.csv",
    )  # fmt: skip
    assert "Arms (--arms reward_a,reward_b,control, --arm-shares 0.4,0.4,0.2, --seed s1; 100 in all" in shown.stderr
    assert "the control group, do not send them the campaign" in shown.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arms", "a,control", "--holdout-share", "0.1", "--seed", "s"], "--holdout-share and --arms cannot be"),
        (["--arms", "a,control"], "--arms needs --seed"),
        (["--arm-shares", "0.5,0.5", "--seed", "s"], "--arm-shares needs --arms"),
        (["--arms", "a,a,control", "--seed", "s"], "the arm 'a' is named twice"),
    ],
)
@pytest.mark.parametrize("command", ["segment", "churn"])
def test_arm_usage_errors_before_any_data_is_read(command, extra, message):
    result = run(command, "missing.csv", *extra, "-o", "l.csv")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
