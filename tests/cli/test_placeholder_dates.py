"""Dates that systems write for "no date" (0001-01-01, 1900-01-01, Excel's 1899-12-30, 1970-01-01) are bad rows,
as dates in the future are: read as real, one such order made a customer 2,000 years old, 24,000 monthly
retention cohorts (27 s, a table of 24,000 columns) and a report that stopped with a traceback (its retention chart
too wide to draw). The message names the file, the column, the rows and the values, with a hint; exit code 1.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
GOOD = "".join(f"C{i % 5},2024-0{1 + i % 6}-1{i % 9},{10 + i}.50\n" for i in range(20))
REASON = "order date on or before 1970-01-01 (a placeholder for no date)"


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_refused(result, *fragments: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert any(line.startswith("Hint: ") and "for no date" in line for line in lines[errors[0] :]), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("placeholder", ["0001-01-01", "1753-01-01", "1899-12-30", "1900-01-01", "1970-01-01"])
@pytest.mark.parametrize("command", ["segment", "retention", "report"])
def test_a_placeholder_date_in_a_csv_is_a_bad_row(placeholder: str, command: str) -> None:
    # rows 2-21 are good; row 22 (the 21st data row) holds the placeholder
    Path("orders.csv").write_text("customer_id,order_date,amount\n" + GOOD + f"Z,{placeholder},10\n")
    out = "out.html" if command == "report" else "out.csv"

    result = RUNNER.invoke(app, [command, "orders.csv", "-o", out])

    assert_refused(result, f"1 row with {REASON} in orders.csv, column 'order_date' (row 22; values '{placeholder}')")
    assert not Path(out).exists()


def test_the_day_after_the_unix_epoch_is_a_date() -> None:
    Path("orders.csv").write_text("customer_id,order_date,amount\n" + GOOD + "Z,1970-01-02,10\n")

    result = RUNNER.invoke(app, ["segment", "orders.csv", "-o", "out.csv"])

    assert result.exit_code == 0, result.output
    first = pl.read_csv("out.csv").filter(pl.col("customer_id") == "Z")["first_purchase"].to_list()
    assert first == ["1970-01-02"]


def test_a_parquet_datetime_of_year_1_is_a_bad_row_with_its_row() -> None:
    pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "order_date": [datetime(2024, 1, 5, 10), datetime(1, 1, 1), datetime(2024, 2, 1, 9)],
            "amount": [10.0, 20.0, 30.0],
        }
    ).write_parquet("orders.parquet")

    result = RUNNER.invoke(app, ["churn", "orders.parquet", "-o", "out.csv"])

    assert_refused(result, f"1 row with {REASON} in orders.parquet, column 'order_date' (row 2;")


def test_skip_leaves_the_placeholder_rows_out_and_writes_them_to_the_rejects() -> None:
    Path("orders.csv").write_text("customer_id,order_date,amount\n" + GOOD + "Z,0001-01-01,10\n")

    result = RUNNER.invoke(app, ["segment", "orders.csv", "-o", "out.csv", "--on-bad-rows", "skip"])

    assert result.exit_code == 0, result.output
    assert "Z" not in pl.read_csv("out.csv")["customer_id"].to_list()
    rejects = pl.read_csv("out.rejects.csv", infer_schema_length=0)
    assert rejects.select("source_row", "reject_reason").rows() == [("22", REASON)]


def test_a_member_enrolled_in_year_1_is_a_bad_row() -> None:
    Path("orders.csv").write_text("customer_id,order_date,amount\n" + GOOD)
    Path("members.csv").write_text("customer_id,enrolled_at\nC0,2024-01-02\nC1,0001-01-01\n", encoding="utf-8")

    result = RUNNER.invoke(app, ["program", "orders.csv", "--members", "members.csv", "-o", "out.csv"])

    assert_refused(
        result,
        "enrolment date on or before 1970-01-01 (a placeholder for no date) in members.csv, column 'enrolled_at' "
        "(row 3; values '0001-01-01')",
    )
