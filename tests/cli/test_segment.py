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
    assert out.columns[:7] == ["customer_id", "segment", "segment_action", "r_score", "f_score", "m_score", "rfm_cell"]
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
    assert "F: scores 3, 2 hold no customers" in result.stderr
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


HAND_MAP = (
    'bins = 5\n[[segment]]\nname = "Recent"\nwhen = "r >= 4"\naction = "Thank them: early access"\n'
    '[[segment]]\nname = "Fading"\nwhen = "r = 3"\naction = "Reconnect with a <b>10%</b> offer"\n'
    '[[segment]]\nname = "Gone"\nwhen = "r <= 2"\n'
)
HAND_ACTIONS = {"Recent": "Thank them: early access", "Fading": "Reconnect with a <b>10%</b> offer", "Gone": None}


def test_segment_lists_and_summary_carry_each_segments_action():
    Path("hand.toml").write_text(HAND_MAP)
    args = ("segment", "tx.csv", "--as-of", "2024-01-30", "--rules", "hand.toml")
    result = run(*args, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("out.csv")
    assert out.columns[:3] == ["customer_id", "segment", "segment_action"]
    assert out["segment"].value_counts().sort("segment").rows() == [("Fading", 2), ("Gone", 4), ("Recent", 4)]
    assert [HAND_ACTIONS[s] for s in out["segment"]] == out["segment_action"].to_list()
    assert run(*args, "--segment", "Fading", "-o", "f.parquet", "-q").exit_code == 0  # other formats, --segment
    assert pl.read_parquet("f.parquet")["segment_action"].to_list() == ["Reconnect with a <b>10%</b> offer"] * 2
    # piped: the action is the summary's last column, one row per segment of the map
    lines = result.stdout.split("# Segments")[1].splitlines()
    assert lines[1].split("\t")[0] == "segment" and lines[1].split("\t")[-1] == "action"
    assert [(r.split("\t")[0], r.split("\t")[-1]) for r in lines[2:5]] == [
        ("Recent", "Thank them: early access"),
        ("Fading", "Reconnect with a <b>10%</b> offer"),
        ("Gone", ""),
    ]


def test_segment_actions_on_a_terminal_are_a_table_of_their_own(monkeypatch: pytest.MonkeyPatch):
    from loyalty_cli.cli import console

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    monkeypatch.delenv("CI", raising=False)
    Path("hand.toml").write_text(HAND_MAP)
    result = run("segment", "tx.csv", "--as-of", "2024-01-30", "--rules", "hand.toml")
    assert result.exit_code == 0, result.stderr
    numbers, actions = result.stdout.split("Segments (as of 2024-01-30, 10 customers)")[1].split(
        "Actions per segment (hand.toml)"
    )
    # drawn headers are words ("share" is share_customers); piped output keeps the column names
    assert "┃ share ┃" in numbers and "action" not in numbers and "Thank them" not in numbers
    rows = [line.split("│")[1:4] for line in actions.splitlines() if "│" in line]  # the body (the header has ┃)
    assert [tuple(cell.strip() for cell in row) for row in rows] == [
        ("Recent", "4", "Thank them: early access"),
        ("Fading", "2", "Reconnect with a <b>10%</b> offer"),
        ("Gone", "4", ""),
    ]


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
