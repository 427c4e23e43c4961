"""``loyalty next-order`` end to end on a small hand-made export: the list of every repeat customer, the due list
(window open within N days and P(alive) high enough), the parameters file, and bad input.

The export (as of 2024-12-01, so December's lines are left out): r00-r29 buy every 3 + 4 (i mod 10) days from day
5 (i mod 7) of 2024; every third one (r00, r03, ...) stopped on day 150 + 10 i; o00-o09 bought once.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
START = date(2024, 1, 1)
# the fit of so few customers needs a little help (a penalizer) to find where customers stop
BASE = ("next-order", "tx.csv", "--as-of", "2024-12-01", "--penalizer", "0.01")


def export() -> str:
    rows = ["customer_id,order_date,amount"]
    for i in range(30):
        gap, start = 3 + 4 * (i % 10), 5 * (i % 7)
        stop = 150 + 10 * i if i % 3 == 0 else 364
        rows += [f"r{i:02d},{START + timedelta(days=day)},{10 + i}.00" for day in range(start, stop, gap)]
    rows += [f"o{i:02d},{START + timedelta(days=30 * i + 7)},25.00" for i in range(10)]
    return "\n".join(rows) + "\n"


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text(export())
    return tmp_path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def read(path: str) -> pl.DataFrame:
    return pl.read_csv(path, try_parse_dates=True)


def test_every_repeat_customer_then_the_due_ones():
    every = run(*BASE, "-o", "all.csv", "--parameters", "model.csv")
    assert every.exit_code == 0, every.stderr
    assert "30 repeat customers dated; 10 one-time buyers get no date" in every.stderr
    assert "Wrote 30 customers with a next-order date to all.csv" in every.stderr
    table = read("all.csv")
    assert sorted(table["customer_id"]) == [f"r{i:02d}" for i in range(30)]
    assert table["next_order_date"].is_sorted()
    assert (
        (table["contact_from"] <= table["next_order_date"]) & (table["next_order_date"] <= table["contact_to"])
    ).all()
    assert (table["contact_from"] >= date(2024, 12, 1)).all()
    model = read("model.csv")
    assert model.columns == ["model", "parameter", "value", "std_error", "unit"]
    assert model["parameter"].to_list() == ["r", "alpha", "a", "b", "alpha"]

    due = run(*BASE, "--due-within", "1w", "-o", "due.csv")
    assert due.exit_code == 0, due.stderr
    listed = read("due.csv")
    # due: the window opens by 12-07 (as of + 6 days) and P(alive) >= 0.5
    expected = table.filter((pl.col("contact_from") <= date(2024, 12, 7)) & (pl.col("p_alive") >= 0.5))
    assert listed["customer_id"].to_list() == expected["customer_id"].to_list()
    assert 0 < listed.height < table.height
    assert f"Due within 7 days (window opens by then, P(alive) >= 0.5): {listed.height} customers" in due.stderr
    assert f"Wrote {listed.height} customers due to due.csv" in due.stderr
    # r10 buys every 3 days to the end; r00 bought every 3 days too but stopped in May: its window opens (the
    # dates assume a customer still active) but P(alive) is about 0, so it is not due
    r00 = table.filter(pl.col("customer_id") == "r00").row(0, named=True)
    assert r00["contact_from"] <= date(2024, 12, 7) and r00["p_alive"] < 0.01
    assert "r10" in listed["customer_id"] and "r00" not in listed["customer_id"]

    loose = run(*BASE, "--due-within", "7", "--min-p-alive", "0", "-o", "loose.csv")
    assert loose.exit_code == 0, loose.stderr
    opens = table.filter(pl.col("contact_from") <= date(2024, 12, 7))
    assert sorted(read("loose.csv")["customer_id"]) == sorted(opens["customer_id"])


def test_terminal_tables():
    result = run(*BASE, "--due-within", "7", "--top", "3")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "# BG/NBD parameters (purchase rate while active ~ Gamma(r, alpha))" in out
    assert "within_days\twindow_opens\tdue\n7\t" in out
    assert "# The 3 soonest of" in out and "(due within 7 days)" in out


def test_too_few_repeat_customers_is_a_model_failure():
    Path("small.csv").write_text("customer_id,order_date,amount\na,2024-01-01,10\na,2024-02-01,10\nb,2024-01-05,10\n")
    result = run("next-order", "small.csv", "-o", "out.csv")
    assert result.exit_code == 3
    assert "Error: Only 1 customer bought on two different days" in result.stderr
    assert not Path("out.csv").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--due-within", "soon"), "--due-within 'soon': expected a number of days"),
        (("--due-within", "0"), "--due-within '0': expected a number of days of at least 1"),
        (("--min-p-alive", "1.5"), "--min-p-alive must be between 0 and 1"),
        (("--model", "xgboost"), "--model must be one of bgnbd, pnbd, mbgnbd"),
    ],
)
def test_bad_settings_are_refused_before_reading(args: tuple[str, ...], words: str):
    result = run("next-order", "missing.csv", *args)
    assert result.exit_code == 2, result.stderr
    assert words in result.stderr
