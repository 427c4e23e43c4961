"""A Parquet column of lists (or other nested values) where a plain value is read stops the command with an error
naming the file, and a hint about the column's type: not the CSV hint about delimiters, encodings and fields per
line, which a Parquet file has none of."""

from __future__ import annotations

from datetime import date
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


@pytest.mark.parametrize("command", ["segment", "validate"])
def test_a_list_amount_column_in_parquet_gets_a_parquet_hint(command: str) -> None:
    pl.DataFrame(
        {
            "customer_id": ["A", "B", "A"],
            "order_date": [date(2024, 1, 5), date(2024, 1, 6), date(2024, 2, 1)],
            "amount": [[10.0], [20.0, 1.0], [30.0]],
        }
    ).write_parquet("orders.parquet")

    result = RUNNER.invoke(app, [command, "orders.parquet"])

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert "Error: Could not read orders.parquet: " in result.stderr
    assert "Hint: A column read holds values of a type that cannot be read (a list, a nested record, ...)" in (
        result.stderr
    )
    assert "delimiter" not in result.stderr
