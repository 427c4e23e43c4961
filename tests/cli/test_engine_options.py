"""The engine options every transaction command has: ``--memory-limit`` (parsed, refused when no number of
passes can meet it) and ``--engine`` with its Spark settings (refused without ``--engine spark``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
SAMPLE = str(Path(__file__).parent.parent.parent / "sample_data" / "transactions.csv")


def test_a_budget_that_holds_one_pass_changes_nothing(tmp_path: Path) -> None:
    plain, budget = tmp_path / "plain.csv", tmp_path / "budget.csv"
    assert RUNNER.invoke(app, ["segment", SAMPLE, "-q", "-o", str(plain), "--memory-limit", "none"]).exit_code == 0
    assert RUNNER.invoke(app, ["segment", SAMPLE, "-q", "-o", str(budget), "--memory-limit", "2GB"]).exit_code == 0
    assert plain.read_bytes() == budget.read_bytes()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--memory-limit", "abc"], 2, "--memory-limit must be a size (e.g. 1GB, 512MB, 1.5GiB or a number of bytes)"),
        (["--memory-limit", "300KB"], 2, "--memory-limit of 300 kB is too small for these transactions"),
        (["--engine", "duckdb"], 2, "--engine must be polars or spark, got 'duckdb'"),
        (["--spark-master", "local[2]"], 2, "--spark-master needs --engine spark"),
        (["--spark-remote", "sc://h:15002"], 2, "--spark-remote needs --engine spark"),
    ],
)
def test_bad_engine_options_are_refused_with_the_option(
    args: list[str], code: int, message: str, tmp_path: Path
) -> None:
    result = RUNNER.invoke(app, ["segment", SAMPLE, "-o", str(tmp_path / "out.csv"), *args])
    assert result.exit_code == code
    assert message in result.output
    assert not (tmp_path / "out.csv").exists()
