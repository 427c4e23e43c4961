"""``loyalty lifecycle`` end to end: the sample shop with surveys and contacts, a previous snapshot and the
transition matrix, filters and outputs, what is said without surveys, and bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(
    env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data"
TX, SURVEYS, CONTACTS = (str(SAMPLE / f"{n}.csv") for n in ("transactions", "surveys", "contacts"))


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, ["lifecycle", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_sample_shop_with_surveys_and_contacts():
    result = run(TX, "--surveys", SURVEYS, "--contacts", CONTACTS, "-o", "todo.csv", "--summary", "stages.csv")
    assert result.exit_code == 0, result.stderr
    todo = pl.read_csv("todo.csv", infer_schema_length=None)
    assert todo.height == 3450 and todo["customer_id"].n_unique() == 3450  # 3,000 customers + 450 prospects
    assert todo.columns[:7] == ["customer_id", "email", "stage", "action", "theme", "flags", "flag_actions"]
    assert {
        "churn_status",
        "value_tier",
        "recency_days",
        "orders",
        "latest_nps",
        "window_to_days",
        "rule",
        "as_of",
    } <= set(todo.columns)
    counts = dict(todo.group_by("stage").len().iter_rows())
    assert counts == {
        "prospect": 450,
        "new": 378,
        "one-time lapsing": 42,
        "advocate": 58,
        "loyal": 233,
        "repeat": 236,
        "lapsing": 224,
        "lapsed": 1829,
    }
    assert todo.filter(pl.col("stage") == "advocate")["latest_nps"].min() >= 9
    assert todo.filter(pl.col("flags").str.contains("detractor VIP", literal=True).fill_null(False)).height == 16
    assert todo["email"].null_count() == 0
    stages = pl.read_csv("stages.csv")
    assert stages.columns == ["stage", "action", "customers", "share_customers", "net_spend", "share_net_spend"]
    assert stages.filter(pl.col("stage") == "lapsed").select("action", "customers").rows() == [
        ("win-back offer", 786),
        ("none", 1043),
    ]
    assert (
        "As of 2025-01-01 (data before that day): 3,000 customers and 450 prospects (contacts with no "
        "purchase)" in result.stderr
    )
    assert "per first-order category" in result.stderr
    assert "No --previous snapshot: rule #2 (stage 'reactivated') can never apply" in result.stderr
    assert "Wrote 3,450 customers and prospects to todo.csv" in result.stderr
    assert "stage\taction\tcustomers\tshare_customers\tnet_spend\tshare_net_spend" in result.stdout
    assert "prospect\tfirst-order offer\t450\t0.1304\t0.0000\t0.0000" in result.stdout
    assert "detractor VIP\tpersonal call back\t16\t" in result.stdout


def test_previous_snapshot_reactivates_and_shows_transitions():
    first = run(TX, "--as-of", "2024-07-01", "-o", "before.json", "-q")
    assert first.exit_code == 0, first.stderr
    assert json.loads(Path("before.json").read_text())[0]["as_of"] == "2024-07-01"
    result = run(TX, "--previous", "before.json", "-o", "now.parquet", "--transitions", "moves.csv")
    assert result.exit_code == 0, result.stderr
    now = pl.read_parquet("now.parquet")
    before = pl.read_json("before.json")
    back = now.filter(pl.col("stage") == "reactivated")
    assert back.height > 0
    assert back["previous_stage"].unique().to_list() == ["lapsed"]
    assert back["last_purchase"].min() >= date(2024, 7, 1)
    moves = pl.read_csv("moves.csv")
    assert moves["total"].sum() == now.height  # nobody left; new customers are "(not in previous)"
    lapsed_row = moves.filter(pl.col("previous_stage") == "lapsed")
    assert lapsed_row["reactivated"].item() == back.height
    assert lapsed_row["total"].item() == before.filter(pl.col("stage") == "lapsed").height
    assert "Previous snapshot as of 2024-07-01" in result.stderr
    assert "# Transitions: previous stage (rows) to stage now (columns), customers" in result.stdout


def test_stage_filter_stdout_json_and_quiet():
    result = run(TX, "--stage", "lapsing", "--stage", "new", "-o", "-", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["stage"] for r in rows} == {"lapsing", "new"}
    assert len(rows) == 378 + 224
    assert result.stderr == ""


def test_without_surveys_says_why_there_are_no_advocates():
    result = run(TX, "--stage", "advocate")
    assert result.exit_code == 2
    assert "Error: --stage advocate needs --surveys" in result.stderr
    result = run(TX, "--stage", "reactivated")
    assert result.exit_code == 2 and "--stage reactivated needs --previous" in result.stderr
    result = run(TX, "--stage", "prospect", "--surveys", SURVEYS)
    assert result.exit_code == 2 and "--stage prospect needs --contacts" in result.stderr
    result = run(TX, "-o", "todo.csv")
    assert result.exit_code == 0, result.stderr
    assert (
        "No --surveys: nobody has a latest NPS, so rule #5 (stage 'advocate'), flag 'detractor VIP', flag "
        "'promoter' can never apply" in result.stderr
    )
    todo = pl.read_csv("todo.csv")
    assert "advocate" not in todo["stage"].to_list() and todo.height == 3000


def test_custom_rules_and_usage_errors(tmp_path: Path):
    Path("mine.toml").write_text('[[rule]]\nstage = "buyer"\nwhen = "not prospect"\naction = "thank"\n')
    result = run(TX, "--rules", "mine.toml")
    assert result.exit_code == 1
    assert "Error: mine.toml: no rule covers" in result.stderr
    Path("mine.toml").write_text('[[rule]]\nstage = "buyer"\nwhen = "true"\naction = "thank"\n')
    result = run(TX, "--rules", "mine.toml", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("out.csv")["stage"].unique().to_list() == ["buyer"]
    for args, message in [
        (["--stage", "vip"], "Error: Unknown stage 'vip'"),
        (["--transitions", "t.csv"], "Error: --transitions needs --previous"),
        (["-o", "x.txt"], "Error: Cannot tell the output format of x.txt"),
        (["--format", "json"], "Error: --format needs --output"),
        (["--window", "soon"], "Error: --window 'soon'"),
        (["--summary", "-"], "Error: --summary needs a file name"),
    ]:
        result = run(TX, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


def test_bad_input(tmp_path: Path):
    Path("tx.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-05,oops\nA,2024-02-01,5\nC,2024-02-03,7\n"
    )
    result = run("tx.csv")
    assert result.exit_code == 1
    assert "Error: 1 bad row in the transactions:" in result.stderr and "Hint:" in result.stderr
    result = run("tx.csv", "--on-bad-rows", "skip", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("out.rejects.csv")["reject_reason"].to_list() == ["unparseable amount"]
    assert sorted(pl.read_csv("out.csv")["customer_id"].to_list()) == ["A", "C"]
    Path("prev.csv").write_text("customer_id,segment\nA,x\n")
    result = run("tx.csv", "--on-bad-rows", "skip", "--previous", "prev.csv")
    assert result.exit_code == 1
    assert "Error: The previous snapshot prev.csv has no column 'stage', 'as_of'" in result.stderr
    result = run("tx.csv", "--on-bad-rows", "skip", "--previous", "missing.csv")
    assert result.exit_code == 1 and "Error: Previous snapshot not found: missing.csv" in result.stderr
    Path("surveys.csv").write_text("customer_id,responded_at,score\nA,2024-01-10,12\n")
    result = run("tx.csv", "--on-bad-rows", "skip", "--surveys", "surveys.csv")
    assert result.exit_code == 0, result.stderr
    assert "2 rejected rows written to rejects.csv" in result.stderr
    result = run("tx.csv", "--as-of", "2023-01-01", "--on-bad-rows", "skip")
    assert result.exit_code == 1 and "Error: No customer made a purchase before the as-of date" in result.stderr
    result = run("nothing.csv")
    assert result.exit_code == 1 and "Error:" in result.stderr
