"""Dates with two-digit years are not guessed. The formats tried spell the year %Y, which also reads one or two
digits: an export of '31/01/24' dates was read as %Y/%m/%d (the day as the year 31, the year as the day 24) or
'01/31/24' as %m/%d/%Y (31 January of the year 24), every command went on with exit code 0 and customers 2,000
years old. Now such dates are not recognised: an error with examples and their rows, and a hint naming %y.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def orders(dates: list[str]) -> Path:
    lines = [f"C{i % 3},{day},{10 + i}.50\n" for i, day in enumerate(dates)]
    path = Path("orders.csv")
    path.write_text("customer_id,order_date,amount\n" + "".join(lines), encoding="utf-8")
    return path


DAY_FIRST = ["05/01/24", "17/02/24", "28/03/24", "09/04/24", "30/05/24", "11/06/24"]
MONTH_FIRST = ["01/05/24", "02/17/24", "03/28/24", "04/09/24", "05/30/24", "06/11/24"]
DOTTED = ["05.01.24 10:00", "17.02.24 11:30", "28.03.24 09:15"]


@pytest.mark.parametrize("dates", [DAY_FIRST, MONTH_FIRST, DOTTED], ids=["day-first", "month-first", "dotted"])
@pytest.mark.parametrize("command", ["segment", "validate"])
def test_two_digit_years_are_an_error_naming_rows_with_a_hint(dates: list[str], command: str) -> None:
    orders(dates)
    argv = [command, "orders.csv", *(["-o", "out.csv"] if command == "segment" else [])]

    result = RUNNER.invoke(app, argv)

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert not Path("out.csv").exists()
    assert (
        f"Error: Could not recognise the dates in column 'order_date' of orders.csv (e.g. '{dates[0]}' in row 2, "
        f"'{dates[1]}' in row 3, '{dates[2]}' in row 4)"
    ) in result.stderr
    sep = dates[0][2]
    assert (
        f"Hint: Two-digit years are not guessed: give the format with --date-format, %y for the year, e.g. "
        f"'%d{sep}%m{sep}%y' (day first) or '%m{sep}%d{sep}%y' (month first) for '{dates[0]}'"
    ) in result.stderr


def test_with_the_format_given_two_digit_years_read_as_this_century() -> None:
    orders(DAY_FIRST)

    result = RUNNER.invoke(app, ["segment", "orders.csv", "--date-format", "%d/%m/%y", "-o", "out.csv"])

    assert result.exit_code == 0, result.output
    got = pl.read_csv("out.csv").sort("customer_id").select("customer_id", "first_purchase", "last_purchase")
    # C0: rows 0 and 3 (05/01/24, 09/04/24); C1: rows 1 and 4; C2: rows 2 and 5
    assert got.rows() == [
        ("C0", "2024-01-05", "2024-04-09"),
        ("C1", "2024-02-17", "2024-05-30"),
        ("C2", "2024-03-28", "2024-06-11"),
    ]


def test_a_few_two_digit_years_among_four_digit_ones_are_bad_rows() -> None:
    orders(["2024-01-05", "2024-02-17", "2024-03-28", "2024-04-09", "01/05/24", "2024-06-11"])

    result = RUNNER.invoke(app, ["segment", "orders.csv", "-o", "out.csv"])

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        "1 row with unparseable order date (expected %Y-%m-%d) in orders.csv, column 'order_date' "
        "(row 6; values '01/05/24')"
    ) in result.stderr
