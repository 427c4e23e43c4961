"""``loyalty segment`` and ``loyalty rules`` end to end: what is written and what is printed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"

# Ten customers: recency 1..10 days, orders 1,1,1,1,1,1,2,2,3,5 (see tests/metrics/test_rfm.py).
ORDERS = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    lines = ["customer_id,order_date,amount"]
    for i, n in enumerate(ORDERS):
        # last order 1+i days before the as-of date 2024-03-01, earlier ones a week apart
        for k in range(n):
            day = 29 - i - 7 * k
            lines.append(f"c{i:02d},2024-01-{day:02d}" if day > 0 else f"c{i:02d},2023-12-{31 + day:02d}")
            lines[-1] += f",{10 * (i + 1)}"
    # keep it simple: dates in January 2024 (as-of 2024-02-01 below)
    Path("tx.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_segment_writes_one_row_per_customer_with_scores_and_segment():
    result = run("segment", "tx.csv", "--as-of", "2024-01-30", "-o", "out.csv", "--cut-points", "cuts.csv")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("out.csv").sort("customer_id")
    assert out.height == 10
    assert out.columns[:7] == ["customer_id", "segment", "r_score", "f_score", "m_score", "rfm_cell", "first_purchase"]
    assert out["recency_days"].to_list() == list(range(1, 11))
    assert out["orders"].to_list() == ORDERS
    assert out["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert out["f_score"].to_list() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert out["segment"].to_list() == [
        "New",
        "New",
        "Promising",
        "Promising",
        "About to Sleep",
        "About to Sleep",
        "At Risk",
        "At Risk",
        "Can't Lose Them",
        "Can't Lose Them",
    ]
    cuts = pl.read_csv("cuts.csv")
    assert cuts.filter(pl.col("dimension") == "f").select("score", "customers").rows() == [
        (5, 2),
        (4, 2),
        (3, 0),
        (2, 0),
        (1, 6),
    ]
    assert "As of 2024-01-30 (data before that day); 10 customers" in result.stderr
    assert "F: score(s) 3, 2 hold no customers" in result.stderr
    # piped: plain tab-separated tables on stdout
    assert "segment\tcustomers\tshare_customers" in result.stdout


def test_segment_rows_are_sorted_by_segment_then_value_then_id():
    assert run("segment", "tx.csv", "--as-of", "2024-01-30", "-o", "out.csv").exit_code == 0
    assert pl.read_csv("out.csv")["customer_id"].to_list() == [  # segments in the map's order
        "c01",
        "c00",
        "c03",
        "c02",
        "c05",
        "c04",
        "c07",
        "c06",
        "c09",
        "c08",
    ]
    # equal values (one segment here): by id, whatever the file's order
    Path("ties.csv").write_text(
        "customer_id,order_date,amount\nz,2024-01-10,5\nq,2024-01-10,9\na,2024-01-10,5\nm,2024-01-10,5\n"
    )
    assert run("segment", "ties.csv", "--as-of", "2024-01-30", "-o", "ties_out.csv").exit_code == 0
    assert pl.read_csv("ties_out.csv")["customer_id"].to_list() == ["q", "a", "m", "z"]


def test_segment_filter_and_formats():
    result = run(
        "segment",
        "tx.csv",
        "--as-of",
        "2024-01-30",
        "--segment",
        "At Risk",
        "--segment",
        "New",
        "-o",
        "list.parquet",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert sorted(pl.read_parquet("list.parquet")["segment"].to_list()) == ["At Risk"] * 2 + ["New"] * 2
    result = run("segment", "tx.csv", "--as-of", "2024-01-30", "-o", "-", "--format", "json", "-q")
    assert pl.read_json(result.stdout_bytes).height == 10


def test_segment_unknown_segment_and_mismatched_bins():
    result = run("segment", "tx.csv", "--segment", "Nope")
    assert result.exit_code == 2 and "Unknown segment 'Nope'" in result.stderr
    result = run("segment", "tx.csv", "--bins", "3")
    assert result.exit_code == 1
    assert "written for 5 scores, but --bins is 3" in result.stderr


def test_segment_fixed_breaks_and_tertiles():
    result = run(
        "segment",
        "tx.csv",
        "--as-of",
        "2024-01-30",
        "--method",
        "fixed",
        "--breaks",
        "r=2,4,6,8",
        "--breaks",
        "f=1,2,3,4",
        "--breaks",
        "m=20,40,60,80",
        "-o",
        "fixed.csv",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("fixed.csv").sort("customer_id")
    assert out["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert out["f_score"].to_list() == [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]
    result = run("segment", "tx.csv", "--bins", "3", "--rules", "rfm_tertiles", "-o", "t.csv", "-q")
    assert result.exit_code == 0, result.stderr
    result = run("segment", "tx.csv", "--breaks", "r=oops")
    assert result.exit_code == 2 and "expected DIM=N,N,..." in result.stderr


def test_segment_on_the_shipped_sample():
    result = run("segment", str(SAMPLE), "-o", "seg.csv", "-q")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("seg.csv")
    assert out["customer_id"].is_unique().all()
    assert out["segment"].null_count() == 0
    assert {"email", "first_category", "first_channel", "second_purchase"} <= set(out.columns)


def test_rules_show_and_check(tmp_path):
    result = run("rules", "show")
    assert result.exit_code == 0 and "rfm_grid" in result.stdout and "rfm_tertiles" in result.stdout
    result = run("rules", "show", "rfm_grid")
    assert "Champions\tr = 5 and f >= 4" in result.stdout
    assert "5\tNew\tPotential Loyalist\tPotential Loyalist\tChampions\tChampions" in result.stdout
    good = ROOT / "rules" / "rfm_r_fm.toml"
    result = run("rules", "check", str(good))
    assert result.exit_code == 0 and "OK (11 segments" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('bins = 5\n[[segment]]\nname = "A"\nwhen = "r >= 2"\n')
    result = run("rules", "check", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: no rule covers r1")
    assert "Hint: " in result.stderr


def test_rules_check_knows_every_kind_of_rules_file(tmp_path):
    shipped = sorted((ROOT / "rules").glob("*.toml"))
    result = run("rules", "check", *map(str, shipped))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "churn.toml: OK (churn rules: lapsing after 1.5 x IPT" in out
    assert "lifecycle.toml: OK (lifecycle rules" in out and "columns.toml: OK (column mapping)" in out
    assert out.count(": OK (") == len(shipped)
    bad = tmp_path / "churn.toml"
    bad.write_text("[lapsing]\nmultiplier = 1.5\n")
    result = run("rules", "check", str(bad))
    assert result.exit_code == 1 and "no [lapsed] section" in result.stderr
    typo = tmp_path / "columns.toml"  # a mapping with one misspelt table is still checked as a mapping
    typo.write_text('[transactions]\ncustomer_id = "CustomerID"\n[member]\ncustomer_id = "id"\n')
    result = run("rules", "check", str(typo))
    assert result.exit_code == 1 and "unknown table [member]" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rule]\n")
    result = run("rules", "check", str(broken))
    assert result.exit_code == 1 and "is not valid TOML" in result.stderr
