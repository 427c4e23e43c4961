"""``loyalty second-purchase`` end to end: files written, notes, tables, and bad input.

The hand fixture is the Kaplan-Meier example of tests/metrics/test_second_purchase.py as transaction lines
(as of 2024-03-01): repeaters r1-r4 with gaps 5, 5, 10, 20 days; one-time buyers o1-o4 first seen 4, 11, 16
and 31 days before the as-of date.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"

TX = """customer_id,order_date,amount,category
r1,2024-01-20,10.00,X
r1,2024-01-25,20.00,X
r2,2024-02-23,10.00,Y
r2,2024-02-28,5.00,Y
r3,2024-02-17,10.00,X
r3,2024-02-27,10.00,X
r4,2024-02-04,10.00,Y
r4,2024-02-24,10.00,Y
o1,2024-02-26,10.00,X
o2,2024-02-19,12.50,Y
o3,2024-02-14,10.00,X
o4,2024-01-30,10.00,X
"""
BASE = ("second-purchase", "tx.csv", "--as-of", "2024-03-01", "--min-n", "1")


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text(TX)
    return tmp_path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_hand_fixture_files_and_notes():
    result = run(
        *BASE,
        "-o",
        "nudge.csv",
        "--summary",
        "summary.csv",
        "--shares",
        "shares.csv",
        "--curve",
        "curve.csv",
        "--value",
        "value.parquet",
    )
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert (
        "As of 2024-03-01 (data before that day): 8 first-time buyers, 4 bought again on a later day, 4 have not (yet)"
    ) in err
    assert "Bought again within 30 / 60 / 90 days: 50.0% of 2 / n/a of 0 / n/a of 0 first-time buyers" in err
    assert "Repeaters only (4, one-time buyers left out): median 7.5 days, mean 10.0 days" in err
    assert (
        "p75, p90 (all first-time buyers) empty: the Kaplan-Meier curve never gets that low (28.6% had not "
        "bought again by day 30"
    ) in err
    assert "Window: p25-p75 of the repeaters' gap = days 5-10 after the first purchase" in err
    assert "To nudge: 1 one-time buyer, 0 in their window now, 1 whose window opens and closes within 14 days" in err
    assert "Wrote 1 one-time buyer to nudge to nudge.csv" in err
    # the list: o1 (4 days since 2024-02-26) has a window 5-10 that opens 03-02 and closes 03-07 (leap year)
    nudge = pl.read_csv("nudge.csv")
    assert nudge.select(
        "customer_id",
        "first_purchase",
        "first_category",
        "days_since_first",
        "status",
        "nudge_date",
        "window_opens",
        "window_closes",
    ).rows() == [("o1", "2024-02-26", "X", 4, "upcoming", "2024-03-02", "2024-03-02", "2024-03-07")]
    assert nudge["net_spend"].to_list() == [10.0]
    summary = pl.read_csv("summary.csv")
    assert summary.select("group", "p25_days", "p50_days", "window_from_days", "window_to_days").row(0) == (
        "(all)",
        5,
        20,
        5,
        10,
    )
    shares = pl.read_csv("shares.csv")
    assert shares.select("within_days", "observed", "returned").rows()[:3] == [(7, 6, 1), (14, 4, 1), (30, 2, 1)]
    curve = pl.read_csv("curve.csv")
    assert curve["day"].to_list() == [3, 5, 10, 15, 20, 30]
    assert curve["not_repurchased"].to_list() == [1, 0.7143, 0.5714, 0.5714, 0.2857, 0.2857]  # 1, 5/7 ...: 4 decimals
    value = pl.read_parquet("value.parquet")
    assert value["customers"].sum() == 0 and value["share_customers"].null_count() == 6  # nobody observed 365 d
    # piped: tab-separated tables on stdout
    assert "# Bought again within N days" in result.stdout
    assert "first_buyers\t7d\t14d\t30d" in result.stdout


def test_fixed_window_and_closing():
    result = run(*BASE, "--window", "10-16", "-o", "nudge.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    nudge = pl.read_csv("nudge.csv")
    # o3 (16 days since: last day today), o2 (11 days, closes 02-19 + 16 = 03-06), o1 (4 days: opens 03-07,
    # closes 03-13, within 14 days); o4 (31 days) is past its window
    assert nudge.select("customer_id", "status", "nudge_date", "window_closes", "window_source").rows() == [
        ("o3", "open", "2024-03-01", "2024-03-01", "fixed"),
        ("o2", "open", "2024-03-01", "2024-03-06", "fixed"),
        ("o1", "upcoming", "2024-03-07", "2024-03-13", "fixed"),
    ]
    result = run(*BASE, "--window", "10d-16d", "--closing", "1w", "-o", "nudge.csv", "-q")
    assert pl.read_csv("nudge.csv")["customer_id"].to_list() == ["o3", "o2"]  # o1 closes in 12 days


def test_by_category_with_min_n():
    result = run(*BASE[:-1], "2", "--by", "category", "-o", "nudge.csv", "--summary", "summary.csv")
    assert result.exit_code == 0, result.stderr
    assert "--by category: grouping by first_category" in result.stderr
    summary = pl.read_csv("summary.csv")
    # X: r1, r3, o1, o3, o4 (gaps 5, 10 -> window 5-10); Y: r2, r4, o2 (gaps 5, 20 -> window 5-20)
    assert summary.select(
        "group", "first_buyers", "repeaters", "window_from_days", "window_to_days", "window_source"
    ).rows() == [("(all)", 8, 4, 5, 10, "(all)"), ("X", 5, 2, 5, 10, "X"), ("Y", 3, 2, 5, 20, "Y")]
    nudge = pl.read_csv("nudge.csv")
    assert nudge.select("customer_id", "status", "nudge_date", "window_source").rows() == [
        ("o2", "open", "2024-03-01", "Y"),
        ("o1", "upcoming", "2024-03-02", "X"),
    ]
    # with --min-n 3 both groups have too few repeaters: the (all) window, and o2 (11 days) is past it
    run(*BASE[:-1], "3", "--by", "first_category", "-o", "nudge.csv", "-q")
    assert pl.read_csv("nudge.csv").select("customer_id", "window_source").rows() == [("o1", "(all)")]
    # the terminal tables carry the group column
    assert "group\tfirst_buyers\t7d" in result.stdout
    # a value column of the list as the group: listed once (was a duplicate-column traceback)
    result = run(*BASE, "--by", "orders", "-o", "nudge.csv", "-q")
    assert result.exit_code == 0, result.output
    assert pl.read_csv("nudge.csv").columns.count("orders") == 1


def test_stdout_json_and_quiet():
    result = run(*BASE, "--window", "10-16", "-o", "-", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = json.loads(result.stdout)
    assert [r["customer_id"] for r in rows] == ["o3", "o2", "o1"]
    # -o - without -q: the tables go to stderr, the list alone to stdout
    result = run(*BASE, "--window", "10-16", "-o", "-")
    assert result.stdout.startswith("customer_id,first_purchase,first_category,days_since_first,status")
    assert "# Days to second purchase" in result.stderr


def test_terminal_tables(monkeypatch):
    import loyalty_cli.cli.console as console

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    result = run(*BASE)
    assert result.exit_code == 0, result.stderr
    assert "┃" in result.stdout and "\t" not in result.stdout
    assert "50.0%" in result.stdout  # shares as percentages


def test_sample_data():
    result = run("second-purchase", str(SAMPLE), "-o", "nudge.csv", "--by", "first_category", "--value", "v.csv")
    assert result.exit_code == 0, result.stderr
    assert "As of 2025-01-01 (data before that day): 3,000 first-time buyers, 1,502 bought again" in result.stderr
    assert "Bought again within 30 / 60 / 90 days: 24.0% of 2,822 / 34.5% of 2,640 / 40.3% of 2,450" in result.stderr
    assert "Repeaters only (1,502, one-time buyers left out): median 34 days" in result.stderr
    nudge = pl.read_csv("nudge.csv", try_parse_dates=True)
    assert nudge.height > 0 and nudge["customer_id"].is_unique().all()
    assert {"email", "first_category", "first_channel", "nudge_date", "net_spend"} <= set(nudge.columns)
    assert (nudge["orders"] >= 1).all() and (nudge["days_since_first"] <= nudge["window_to_days"]).all()
    assert (nudge["nudge_date"].cast(pl.String) >= "2025-01-01").all()
    value = pl.read_csv("v.csv").filter(pl.col("group") == "(all)")
    assert value["customers"].sum() == 1152
    spend = dict(zip(value["bucket"], value["mean_spend_365d"], strict=True))
    assert spend["0-30"] > spend["181-365"] > spend["never"]


def test_a_history_that_starts_before_the_data_is_flagged():
    """The sample from 2023-10-01 on (as a shop's export of its last 15 months): its first 30 days hold 239 of
    the 570 first purchases of the first 90 (41.9%, z = 4.3), customers who bought before October included."""
    lines = pl.read_csv(SAMPLE, infer_schema=False)
    lines.filter(pl.col("order_date") >= "2023-10-01").write_csv("recent.csv")
    result = run("second-purchase", "recent.csv", "-o", "nudge.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "Warning: The customers' history may start before the data: 239 of the 570 first purchases in the first "
        "90 days of the data (from 2023-10-01) fall in its first 30 days (41.9%; a steady flow of new customers "
        "gives 33%). A customer who bought before the data starts shows a later purchase as the first, so the "
        "shares bought again and the value by timing overstate how often first-time buyers come back; the "
        "365-day share most (239 of the 586 customers it counts first bought in those 30 days). Read the order "
        "history from the shop's first order if you can.\n"
    )
    # the whole sample (from 2023-01-01: 85 of 238, 35.7%) is not flagged
    result = run("second-purchase", str(SAMPLE), "-o", "nudge.csv", "-q")
    assert result.exit_code == 0 and result.stderr == ""
    # the report says it in its second-purchase section
    result = run("report", "recent.csv", "-o", "report.html", "-q")
    assert result.exit_code == 0, result.stderr
    page = Path("report.html").read_text()
    assert "history may start before the data: 239 of the 570 first purchases in the first 90 days" in page


# --- bad input --------------------------------------------------------------------------------------------


def assert_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert any(line.startswith("Error: ") for line in result.stderr.splitlines()) or code == 2, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert result.stdout == ""
    assert not Path("out.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "soon"), "--window 'soon': expected percentiles like p25-p75 or days like 20-45"),
        (("--window", "p80-p20"), "percentiles must satisfy 0 < low <= high <= 100"),
        (("--window", "30-10"), "days must satisfy 0 <= from <= to"),
        (("--closing", "a week"), "--closing 'a week': expected a number of days, e.g. 14d, 2w or 14"),
        (("--format", "json"), "--format needs --output"),
        (("--summary", "timing.txt"), "Cannot tell the output format of timing.txt"),
        (("--curve", "-"), "--curve needs a file name"),
        (("-o", "out.xls"), "Cannot tell the output format of out.xls"),
        (("--by", "nope"), "--by 'nope': no such column in the customer summary"),
        (("--min-n", "0"), "Invalid value for '--min-n'"),
    ],
)
def test_usage_errors(args, message):
    result = run("second-purchase", "tx.csv", *args)
    assert_error(result, 2, message)
    assert "Traceback" not in result.output


def test_by_a_column_the_data_lacks():
    Path("plain.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\n")
    result = run("second-purchase", "plain.csv", "--by", "category", "-o", "out.csv")
    assert_error(
        result,
        1,
        "Error: --by category: the transactions have no category column",
        "Hint: Name it with --category-col COLUMN",
    )


def test_bad_rows_and_no_customers():
    Path("bad.csv").write_text(TX + "o5,2024-02-20,ten,X\n")
    result = run("second-purchase", "bad.csv", "--as-of", "2024-03-01", "-o", "out.csv")
    assert_error(result, 1, "Error: 1 bad row in the transactions", "unparseable amount", "Hint: ")
    result = run(
        "second-purchase",
        "bad.csv",
        "--as-of",
        "2024-03-01",
        "-o",
        "out.csv",
        "--on-bad-rows",
        "skip",
        "-q",
        "--min-n",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("out.rejects.csv").height == 1
    Path("out.csv").unlink()
    Path("returns.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,-10\n")
    result = run("second-purchase", "returns.csv", "-o", "out.csv")
    assert_error(result, 1, "Error: No customer made a purchase before the as-of date in returns.csv")
