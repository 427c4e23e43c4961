"""The commands give byte-identical outputs with ``--engine spark``: every file written, and what is printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import loyalty_cli.spark
from loyalty_cli.cli import app
from loyalty_cli.spark import SparkSettings

from .conftest import ROOT, SAMPLE, bad_sample

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
DATA = ROOT / "sample_data"

COMMANDS = {
    "segment": ["segment", str(SAMPLE), "-o", "out.csv"],
    "segment with bad rows skipped": [
        "segment",
        "BAD",
        "--on-bad-rows",
        "skip",
        "--rejects",
        "rejects.csv",
        "-o",
        "out.csv",
    ],
    "churn": ["churn", str(SAMPLE), "-o", "out.csv", "--rates", "rates.csv"],
    "retention": ["retention", str(SAMPLE), "-o", "out.csv", "--cohorts", "cohorts.csv", "--as-of", "2024-10-01"],
    "second-purchase": ["second-purchase", str(SAMPLE), "-o", "out.csv", "--summary", "timing.csv"],
    "lifecycle": ["lifecycle", str(SAMPLE), "--contacts", str(DATA / "contacts.csv"), "-o", "out.csv"],
    "cltv": ["cltv", str(SAMPLE), "-o", "out.csv"],
    "nps by segment and stage": [
        "nps",
        str(DATA / "surveys.csv"),
        "--transactions",
        str(SAMPLE),
        "--by",
        "stage",
        "-o",
        "out.csv",
    ],
    "program": [
        "program",
        str(SAMPLE),
        "--members",
        str(DATA / "members.csv"),
        "--points",
        str(DATA / "points.csv"),
        "-o",
        "out.csv",
    ],
}


def run(args: list[str], folder: Path) -> tuple[int, str, dict[str, bytes]]:
    """Exit code, what was printed, and every file written in ``folder``."""
    folder.mkdir()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = RUNNER.invoke(app, args)
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    return result.exit_code, result.output.replace(str(folder), "<dir>"), files


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_writes_the_same_files_on_spark(
    name: str, spark_settings: SparkSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = bad_sample(tmp_path)
    args = [str(bad) if a == "BAD" else a for a in COMMANDS[name]]
    polars = run(args, tmp_path / "polars")

    calls = []
    on_spark = loyalty_cli.spark.load_transactions_spark

    def counted(*args, **kwargs):
        calls.append(kwargs["settings"])
        return on_spark(*args, **kwargs)

    monkeypatch.setattr(loyalty_cli.spark, "load_transactions_spark", counted)
    args += ["--engine", "spark", "--spark-master", spark_settings.master]
    spark = run(args, tmp_path / "spark")
    assert len(calls) == 1 and calls[0].master == spark_settings.master  # stage 1 ran on Spark
    assert polars[0] == spark[0] == 0
    assert polars[2].keys() == spark[2].keys() and "out.csv" in spark[2]
    for file in polars[2]:
        assert polars[2][file] == spark[2][file], file
    assert polars[1] == spark[1]
