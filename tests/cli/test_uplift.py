"""``loyalty uplift`` end to end: what is printed and written, partial windows, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
TREATED = [f"t{i:02d}" for i in range(40)]
CONTROL = [f"c{i:02d}" for i in range(40)]


def run(*args: str):
    result = RUNNER.invoke(app, ["uplift", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """40 treated and 40 control customers, each with an order before the campaign (2024-03-01). In the 30-day
    window 20 treated and 10 control customers buy 50.00 each; a purchase on 2024-03-31 is after the window."""
    monkeypatch.chdir(tmp_path)
    lines = ["customer_id,order_date,amount"]
    lines += [f"{c},2024-01-10,20.00" for c in TREATED + CONTROL]
    lines += [f"{c},2024-03-05,50.00" for c in TREATED[:20] + CONTROL[:10]]
    lines += [f"{c},2024-03-31,80.00" for c in CONTROL[10:30]]  # first day after the window: not counted
    lines += ["zz,2024-04-15,1.00"]  # someone else, so the data runs past the window
    Path("tx.csv").write_text("\n".join(lines) + "\n")
    Path("treatment.csv").write_text(
        "customer_id,segment\n" + "".join(f"{c},{'Loyal' if i % 2 else 'At Risk'}\n" for i, c in enumerate(TREATED))
    )
    Path("control.csv").write_text(
        "customer_id,segment\n" + "".join(f"{c},{'Loyal' if i % 2 else 'At Risk'}\n" for i, c in enumerate(CONTROL))
    )
    return tmp_path


def test_uplift_compares_the_groups_with_intervals_and_tests():
    result = run(
        "tx.csv",
        "--treatment",
        "treatment.csv",
        "--control",
        "control.csv",
        "--start",
        "2024-03-01",
        "--by",
        "none",
        "--min-n",
        "10",
        "-o",
        "uplift.csv",
        "--outcomes",
        "outcomes.csv",
    )
    assert result.exit_code == 0, result.stderr
    # 20/40 vs 10/40: +25 points; Agresti-Caffo 21/42 vs 11/42, centre 0.238095, SE 0.102738 -> CI +3.7 to
    # +43.9; pooled SE 0.108253 -> z 2.3094, p 0.0209
    assert (
        "Repurchase within 30 days: treatment 50.0% of 40, control 25.0% of 40: +25.0 points (95% CI +3.7 to "
        "+43.9), p = 0.0209: treatment higher"
    ) in result.stderr
    treated, control = [50.0] * 20 + [0.0] * 20, [50.0] * 10 + [0.0] * 30
    welch = stats.ttest_ind(treated, control, equal_var=False)  # the interval
    pooled = stats.ttest_ind(treated, control)  # the test
    assert (
        f"Revenue per customer within 30 days: treatment 25.00, control 12.50: +12.50 (95% CI "
        f"{welch.confidence_interval().low:+,.2f} to {welch.confidence_interval().high:+,.2f}), "
        f"p = {pooled.pvalue:.3g}: treatment higher"
    ) in result.stderr
    low, high = welch.confidence_interval()
    assert (
        f"Incremental revenue: about +500.00 (95% CI {low * 40:+,.2f} to {high * 40:+,.2f}) from 40 treated "
        "customers" in result.stderr
    )
    assert "Window: 30 days (2024-03-01 to 2024-03-30), as of 2024-04-16; 40 treated, 40 control" in result.stderr
    assert "80 of 80 list customers have orders in the transactions" in result.stderr
    table = pl.read_csv("uplift.csv", try_parse_dates=True)
    row = table.row(0, named=True)
    assert table.height == 1 and row["segment"] == "(all)"
    assert row["repurchase_diff"] == pytest.approx(0.25) and row["repurchase_p_value"] == pytest.approx(
        0.020921, abs=1e-6
    )
    assert row["revenue_p_value"] == float(f"{pooled.pvalue:.4g}")  # a CSV keeps 4 significant digits of a p-value
    assert str(row["window_start"]) == "2024-03-01" and str(row["window_end"]) == "2024-03-30"
    assert row["window_complete"] is True and row["window_days_observed"] == 30
    outcomes = pl.read_csv("outcomes.csv")
    assert outcomes.height == 80 and outcomes.columns == [
        "customer_id",
        "group",
        "purchase_days",
        "purchases",
        "revenue",
        "repurchased",
    ]
    assert outcomes.filter(pl.col("group") == "control")["revenue"].sum() == 500.0  # 2024-03-31 not counted
    # piped: the two tables, tab-separated, on stdout
    assert "segment\ttreated\tcontrol\trate_treated" not in result.stdout  # --by none drops the segment column
    assert result.stdout.startswith("# Repurchase rate") and "treated\tcontrol\trate_treated" in result.stdout


def test_per_segment_rows_and_min_n():
    result = run(
        "tx.csv",
        "--treatment",
        "treatment.csv",
        "--control",
        "control.csv",
        "--start",
        "2024-03-01",
        "--min-n",
        "25",
        "-o",
        "uplift.csv",
    )
    assert result.exit_code == 0, result.stderr
    table = pl.read_csv("uplift.csv")
    assert table["segment"].to_list() == ["(all)", "At Risk", "Loyal"]
    assert table.select("treatment_customers", "control_customers").rows() == [(40, 40), (20, 20), (20, 20)]
    assert table["repurchase_verdict"].to_list()[1:] == ["too few customers"] * 2
    assert "2 segments with fewer than --min-n 25 customers in a group left empty" in result.stderr


def test_one_list_with_a_group_column():
    rows = [f"{c},Treatment" for c in TREATED] + [f"{c},holdout" for c in CONTROL]
    Path("groups.csv").write_text("Customer ID,Group\n" + "\n".join(rows) + "\n")
    result = run("tx.csv", "--groups", "groups.csv", "--start", "2024-03-01", "--min-n", "10")
    assert result.exit_code == 0, result.stderr
    assert "+25.0 points (95% CI +3.7 to +43.9), p = 0.0209: treatment higher" in result.stderr
    Path("groups.csv").write_text("customer_id,group\nt00,treatment\nc00,control\nc01,maybe\nc02,\n")
    result = run("tx.csv", "--groups", "groups.csv", "--start", "2024-03-01")
    assert result.exit_code == 1
    assert "2 rows of groups.csv have a 'group' that is neither treatment nor control: 'maybe', None" in result.stderr
    assert "Hint: Values: treatment (or test, target) and control (or holdout)." in result.stderr


def test_no_difference_and_too_small_groups():
    Path("t.csv").write_text("customer_id\n" + "\n".join(TREATED[:20] + TREATED[30:]) + "\n")  # 20 buyers of 30
    Path("c.csv").write_text("customer_id\n" + "\n".join(CONTROL[:10] + CONTROL[35:]) + "\n")  # 10 buyers of 15
    result = run("tx.csv", "--treatment", "t.csv", "--control", "c.csv", "--start", "2024-03-01")
    assert result.exit_code == 0, result.stderr
    assert "treatment 66.7% of 30, control 66.7% of 15: +0.0 points" in result.stderr
    assert ": no significant difference" in result.stderr
    result = run("tx.csv", "--treatment", "t.csv", "--control", "control.csv", "--start", "2024-03-01")
    assert "+41.7 points" in result.stderr and "repurchase difference" not in result.stderr  # above its MDE
    Path("c2.csv").write_text("customer_id\n" + "\n".join(CONTROL[:9] + CONTROL[35:]) + "\n")  # 9 of 14
    result = run("tx.csv", "--treatment", "t.csv", "--control", "c2.csv", "--start", "2024-03-01")
    assert (
        "Warning: Groups too small to detect the observed repurchase difference (+2.4 points): with 30 and 14 "
        "customers the smallest detectable difference is" in result.stderr
    )


def test_partial_window_is_said_and_recorded():
    result = run(
        "tx.csv",
        "--treatment",
        "treatment.csv",
        "--control",
        "control.csv",
        "--start",
        "2024-03-01",
        "--as-of",
        "2024-03-11",
        "--min-n",
        "10",
        "-o",
        "uplift.csv",
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: The window has not ended: the data (as of 2024-03-11) covers 10 of its 30 days. Results are "
        "partial; rerun after 2024-03-30 for the full window"
    ) in result.stderr
    row = pl.read_csv("uplift.csv").row(0, named=True)
    assert row["window_complete"] is False and row["window_days_observed"] == 10
    assert "dated on or after the as-of date 2024-03-11 left out" in result.stderr  # said, as every command does


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--start", "2025-01-01"],
            1,
            "Error: The transactions end before the campaign start 2025-01-01 (as of 2024-04-16)",
        ),
        (["--start", "2024-03-01", "--window", "soon"], 2, "--window 'soon': expected a number of days"),
        (["--start", "2024-03-01", "--by", "region"], 1, "No column 'region' in the list treatment.csv"),
        (["--start", "2024-03-01", "-o", "u.xls"], 2, "Cannot tell the output format of u.xls"),
    ],
)
def test_bad_input(args, code, message):
    result = run("tx.csv", "--treatment", "treatment.csv", "--control", "control.csv", *args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_lists():
    result = run("tx.csv", "--treatment", "treatment.csv", "--start", "2024-03-01")
    assert result.exit_code == 2 and "--treatment needs --control" in result.stderr
    result = run("tx.csv", "--start", "2024-03-01")
    assert result.exit_code == 2 and "Give the lists as --treatment and --control, or --groups" in result.stderr
    result = run("tx.csv", "--treatment", "treatment.csv", "--control", "control.csv")
    assert result.exit_code == 2 and "--start" in result.stderr
    Path("both.csv").write_text("customer_id\nc00\nc01\nt05\n")
    result = run("tx.csv", "--treatment", "treatment.csv", "--control", "both.csv", "--start", "2024-03-01")
    assert result.exit_code == 1
    assert "Error: 1 customer is in both the treatment and the control lists (e.g. t05)" in result.stderr
    Path("emails.csv").write_text("Email Address\na@x.com\n")
    result = run("tx.csv", "--treatment", "treatment.csv", "--control", "emails.csv", "--start", "2024-03-01")
    assert result.exit_code == 1 and "No customer id column in the list emails.csv" in result.stderr
    Path("empty.csv").write_text("customer_id\n")
    result = run("tx.csv", "--treatment", "treatment.csv", "--control", "empty.csv", "--start", "2024-03-01")
    assert result.exit_code == 1 and "No rows in empty.csv" in result.stderr
    result = run("tx.csv", "--manifest", "nope.json", "--start", "2024-03-01")
    assert result.exit_code == 1 and "File not found: nope.json" in result.stderr
    Path("m.json").write_text('{"files": {"treatment": [], "control": []}}')
    result = run("tx.csv", "--manifest", "m.json", "--start", "2024-03-01")
    assert result.exit_code == 1 and "The manifest m.json records no control group" in result.stderr


def test_ids_that_match_nothing_are_warned_about():
    Path("t.csv").write_text("customer_id\nx1\nx2\n")
    Path("c.csv").write_text("customer_id\ny1\n")
    result = run("tx.csv", "--treatment", "t.csv", "--control", "c.csv", "--start", "2024-03-01")
    assert result.exit_code == 0, result.stderr
    assert "Warning: None of the 3 customers of the lists appear in the transactions" in result.stderr


def test_an_older_manifest_without_hashes_is_read_and_its_rows_checked():
    manifest = {"files": {"treatment": [{"path": "treatment.csv", "rows": 40}], "control": [{"path": "control.csv"}]}}
    Path("old.manifest.json").write_text(json.dumps(manifest))
    result = run("tx.csv", "--manifest", "old.manifest.json", "--start", "2024-03-01")
    assert result.exit_code == 0, result.stderr
    assert (
        "The manifest old.manifest.json records no content hashes (an older version wrote it): the hash check was "
        "skipped; row counts match\n" in result.stderr
    )
    manifest["files"]["treatment"][0]["rows"] = 41
    Path("old.manifest.json").write_text(json.dumps(manifest))
    result = run("tx.csv", "--manifest", "old.manifest.json", "--start", "2024-03-01")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: treatment.csv has 40 rows, but the manifest old.manifest.json records 41: the file has changed "
        "since the list was written\nHint: "
    )
