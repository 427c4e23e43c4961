"""``loyalty program`` end to end: the long table, terminal tables, sample data, and bad input."""

from __future__ import annotations

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
TX = (
    "customer_id,order_date,amount\nA,2023-01-10,100\nA,2023-03-01,50\nA,2024-02-01,30\nB,2023-02-01,80\n"
    "C,2023-01-15,40\nC,2023-06-01,60\nC,2023-06-10,-10\nD,2023-05-01,20\nE,2024-06-01,10\n"
)
MEMBERS = (
    "customer_id,enrolled_at,tier,tier_since\nA,2023-01-20,Bronze,2023-01-20\nA,2023-01-20,Silver,2023-03-01\n"
    "B,2023-01-01,Bronze,\nF,2024-01-01,Bronze,\n"
)
POINTS = (
    "customer_id,at,points,type\nA,2023-01-20,100,earn\nA,2023-03-01,50,earn\nA,2023-06-01,-100,redeem\n"
    "A,2023-06-05,-10,adjust\nB,2023-02-01,80,earn\nB,2024-02-01,80,expire\nF,2024-01-01,25,adjust\n"
    "G,2024-03-01,5,earn\n"
)


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text(TX)
    Path("members.csv").write_text(MEMBERS)
    Path("points.csv").write_text(POINTS)
    return tmp_path


def run(*args: str):  # noqa: ANN201
    return RUNNER.invoke(app, [str(a) for a in args])


def test_long_table_with_hand_computed_figures() -> None:
    result = run(
        "program",
        "tx.csv",
        "--members",
        "members.csv",
        "--points",
        "points.csv",
        "--point-value",
        "0.01",
        "--as-of",
        "2024-07-01",
        "-o",
        "programme.csv",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    table = pl.read_csv("programme.csv")
    assert tuple(table.columns) == ("section", "metric", "group", "period", "value", "n", "ci_low", "ci_high")
    value = {(s, m, g): v for s, m, g, v in table.select("section", "metric", "group", "value").iter_rows()}
    assert value[("programme", "enrolment_rate", None)] == pytest.approx(0.4)
    assert value[("programme", "members_without_purchase", None)] == 1
    assert value[("points", "outstanding_points", None)] == 70
    assert value[("points", "liability", None)] == pytest.approx(0.7)
    assert value[("points", "breakage_rate", None)] == 0.3404  # 80 / 235 = 0.340426: 4 decimals in a CSV
    assert value[("tiers", "share_of_members", "Silver")] == 0.3333  # 1 / 3
    assert value[("tier_movement", "members", "Silver -> Silver")] == 1
    assert value[("members_vs_non_members", "net_spend_per_customer_365d", "non-members")] == 25
    assert set(table.filter(pl.col("section") == "members_vs_non_members")["metric"]) >= {
        "repeat_purchase_rate_365d",
        "retained_3m_to_6m",
        "retained_6m_to_9m",
        "retained_12m_to_15m",
        "orders_per_customer_365d",
        "net_spend_per_customer_365d",
    }


def test_transaction_file_options_do_not_apply_to_the_members_file() -> None:
    """--delimiter describes the transactions; the members file is sniffed (or set in its mapping table)."""
    Path("tx_semi.csv").write_text(TX.replace(",", ";"))
    result = run(
        "program",
        "tx_semi.csv",
        "--delimiter",
        ";",
        "--members",
        "members.csv",
        "--points",
        "points.csv",
        "--as-of",
        "2024-07-01",
        "-o",
        "programme.csv",
        "-q",
    )
    assert result.exit_code == 0, result.output
    table = pl.read_csv("programme.csv")
    rate = table.filter((pl.col("section") == "programme") & (pl.col("metric") == "enrolment_rate"))["value"]
    assert rate.to_list() == [pytest.approx(0.4)]


def test_members_in_several_files_are_all_read() -> None:
    """--members is repeatable (a pipeline passes one flag per file): every file counts, not the last one."""
    head, *rows = MEMBERS.splitlines()
    Path("m1.csv").write_text("\n".join([head, *rows[:2]]) + "\n")
    Path("m2.csv").write_text("\n".join([head, *rows[2:]]) + "\n")
    one = run("program", "tx.csv", "--members", "members.csv", "--as-of", "2024-07-01", "-o", "one.csv", "-q")
    two = run(
        "program",
        "tx.csv",
        "--members",
        "m1.csv",
        "--members",
        "m2.csv",
        "--as-of",
        "2024-07-01",
        "-o",
        "two.csv",
        "-q",
    )
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert pl.read_csv("one.csv").equals(pl.read_csv("two.csv"))


def test_terminal_tables_and_the_caveat() -> None:
    result = run("program", "tx.csv", "--members", "members.csv", "--as-of", "2024-07-01", "--tiers-from", "2023-02-15")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "# Loyalty programme as of 2024-07-01\nmetric\tfigure\tn\ncustomers\t5\t\n" in out
    assert "enrolment_rate\t40.0%\t5\n" in out
    assert "Bronze -> Silver\t1\n" in out
    assert "points_earned" not in out  # no ledger given
    assert "repeat_purchase_rate_365d\t50.0%\t9.5% to 90.5%\t50.0%\t9.5% to 90.5%\t0.0%" in out
    assert "correlations, not the programme's effect" in result.stderr
    assert "loyalty uplift" in result.stderr
    assert "No predicted CLV comparison: the models could not be fitted" in result.stderr


def test_sample_data_end_to_end(tmp_path: Path) -> None:
    result = run(
        "program",
        SAMPLE / "transactions.csv",
        "--members",
        SAMPLE / "members.csv",
        "--points",
        SAMPLE / "points.csv",
        "--surveys",
        SAMPLE / "surveys.csv",
        "--point-value",
        "0.01",
        "-o",
        tmp_path / "p.parquet",
    )
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(tmp_path / "p.parquet")
    versus = table.filter(pl.col("section") == "members_vs_non_members", pl.col("group") == "difference")
    by_metric = {m: (lo, hi) for m, lo, hi in versus.select("metric", "ci_low", "ci_high").iter_rows()}
    assert set(by_metric) == {
        "repeat_purchase_rate_365d",
        "retained_3m_to_6m",
        "retained_6m_to_9m",
        "retained_12m_to_15m",
        "orders_per_customer_365d",
        "net_spend_per_customer_365d",
        "nps",
        "mean_predicted_clv_12m",
    }
    assert by_metric["repeat_purchase_rate_365d"][0] > 0.2  # the generator's self-selected members
    figures = dict(table.filter(pl.col("section") == "programme").select("metric", "value").iter_rows())
    assert figures["customers"] == 3000 and figures["members_without_purchase"] > 0
    assert "BG/NBD + Gamma-Gamma fitted" in result.stderr


def test_stdout_output_keeps_tables_on_stderr() -> None:
    result = run(
        "program", "tx.csv", "--members", "members.csv", "--as-of", "2024-07-01", "-o", "-", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[{") and "# Loyalty programme" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--members", "missing.csv"], 1, "Error:"),
        (["--members", "members.csv", "--period", "day"], 2, "--period must be week, month or quarter"),
        (["--members", "members.csv", "--point-value", "-1"], 2, "--point-value must be 0 or more"),
        (["--members", "members.csv", "-o", "out.txt"], 2, "Cannot tell the output format of out.txt"),
        (["--members", "members.csv", "--tiers-from", "2025-01-01"], 2, "tier movement needs a start date"),
        (["--members", "members.csv", "--as-of", "2022-01-01"], 1, "No customer made a purchase before the as-of"),
    ],
)
def test_usage_and_input_errors(args: list[str], code: int, message: str) -> None:
    result = run("program", "tx.csv", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_rows_stop_or_go_to_rejects_files() -> None:
    Path("points.csv").write_text(POINTS + "A,2024-03-02,7,gift\nA,2024-03-03,-7,earn\n")
    result = run("program", "tx.csv", "--members", "members.csv", "--points", "points.csv", "--as-of", "2024-07-01")
    assert result.exit_code == 1
    assert "2 bad rows in the points:" in result.stderr
    assert (
        "unknown points type (expected earn, redeem, expire or adjust) in points.csv, column 'type' (row 10"
        in result.stderr
    )
    assert "--on-bad-rows skip" in result.stderr
    result = run(
        "program",
        "tx.csv",
        "--members",
        "members.csv",
        "--points",
        "points.csv",
        "--as-of",
        "2024-07-01",
        "--on-bad-rows",
        "skip",
        "-o",
        "p.csv",
        "-q",
    )
    assert result.exit_code == 0, result.output
    rejects = pl.read_csv("p.rejects.points.csv")
    assert rejects["source_row"].to_list() == [10, 11]
    assert not Path("p.rejects.members.csv").exists()


def test_no_member_before_as_of_and_missing_columns() -> None:
    Path("late.csv").write_text("customer_id,enrolled_at\nA,2024-06-30\n")
    result = run("program", "tx.csv", "--members", "late.csv", "--as-of", "2024-06-01")
    assert result.exit_code == 1
    assert "No member enrolled before the as-of date 2024-06-01 in late.csv" in result.stderr
    Path("bad.csv").write_text("customer_id,tier\nA,Gold\n")
    result = run("program", "tx.csv", "--members", "bad.csv")
    assert result.exit_code == 1
    assert "Error: No enrolled_at column in bad.csv" in result.stderr
    assert "[members] table of the mapping file" in result.stderr
