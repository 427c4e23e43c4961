"""``loyalty uplift`` and ``loyalty validate`` on Spark: their plans over the lines are per customer (each
customer's last line day; each customer's part of the transaction profile), so they run on buckets of customers
and give byte-identical outputs and the same printed text as on Polars. And ``engine = "spark"`` in
``rules/columns.toml`` runs a command on Spark when its command line gives no engine."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

import loyalty_cli.spark
from loyalty_cli.cli import app
from loyalty_cli.spark import SparkSettings

from .conftest import SAMPLE, bad_sample, sample_lines, write_lines
from .test_commands import RUNNER


def run(args: list[str], folder: Path) -> tuple[int, str, dict[str, bytes]]:
    """Exit code, what was printed, and every file written in ``folder`` (made if need be; run from it)."""
    folder.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = RUNNER.invoke(app, args)
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return result.exit_code, result.output.replace(str(folder), "<dir>"), files


@pytest.fixture
def on_spark(spark_settings: SparkSettings, monkeypatch: pytest.MonkeyPatch) -> list[SparkSettings]:
    """The settings each load on Spark is asked with; the load runs in the tests' session (small buckets, so
    that the per-customer plans run on several buckets and are put together)."""
    calls: list[SparkSettings] = []
    load = loyalty_cli.spark.load_transactions_spark

    def in_the_test_session(*args, settings: SparkSettings, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(settings)
        return load(*args, settings=spark_settings, **kwargs)

    monkeypatch.setattr(loyalty_cli.spark, "load_transactions_spark", in_the_test_session)
    return calls


def lists(folder: Path) -> list[str]:
    """A treatment list (every 10th customer of the sample, a segment each) and its control group (others)."""
    folder.mkdir(parents=True, exist_ok=True)
    with SAMPLE.open(encoding="utf-8") as file:
        ids = sorted({row["customer_id"] for row in csv.DictReader(file)})
    treatment, control = folder / "treatment.csv", folder / "control.csv"
    treatment.write_text("customer_id,segment\n" + "".join(f"{c},{'AB'[i % 2]}\n" for i, c in enumerate(ids[::10])))
    control.write_text("customer_id,segment\n" + "".join(f"{c},{'AB'[i % 2]}\n" for i, c in enumerate(ids[5::10])))
    return ["--treatment", str(treatment), "--control", str(control)]


def same_on_both(args: list[str], tmp_path: Path, calls: list[SparkSettings], *, code: int = 0) -> dict[str, bytes]:
    """The command run on Polars and with ``--engine spark`` (in the tests' session): the same exit code, files
    and printed text. The files written."""
    polars = run(args, tmp_path / "polars")
    spark = run([*args, "--engine", "spark", "--spark-master", "local[2]"], tmp_path / "spark")
    assert len(calls) == 1 and calls[0].master == "local[2]"  # read on Spark, once
    assert polars[0] == spark[0] == code, polars[1]
    assert polars[2].keys() == spark[2].keys()
    for name in polars[2]:
        assert polars[2][name] == spark[2][name], name
    assert polars[1] == spark[1]
    return spark[2]


def test_uplift(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    """The end of the data from each customer's last line day (no as-of date), the lists per segment."""
    args = ["uplift", str(SAMPLE), *lists(tmp_path / "lists"), "--start", "2024-11-15", "--window", "60d"]
    files = same_on_both([*args, "-o", "out.csv", "--outcomes", "outcomes.csv"], tmp_path, on_spark)
    assert set(files) == {"out.csv", "outcomes.csv"}
    overall = next(line for line in files["out.csv"].decode().splitlines() if line.startswith("(all),"))
    # the data ends on 2025-01-01, the day after the sample's last line: 47 of the window's 60 days observed
    assert overall.endswith(",2024-11-15,2025-01-13,47,false")


def test_uplift_with_bad_rows_skipped(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    bad = bad_sample(tmp_path)
    args = ["uplift", str(bad), *lists(tmp_path / "lists"), "--start", "2024-10-01", "-o", "out.csv"]
    files = same_on_both([*args, "--on-bad-rows", "skip", "--rejects", "rejects.csv"], tmp_path, on_spark)
    assert set(files) == {"out.csv", "rejects.csv"}


def test_validate(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    same_on_both(["validate", str(SAMPLE)], tmp_path, on_spark)


def test_validate_with_bad_rows(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    files = same_on_both(
        ["validate", str(bad_sample(tmp_path)), "--rejects", "rejects.csv"], tmp_path, on_spark, code=1
    )
    assert set(files) == {"rejects.csv"}


def test_validate_before_an_as_of_date(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    same_on_both(["validate", str(SAMPLE), "--as-of", "2024-07-01"], tmp_path, on_spark)


@pytest.mark.parametrize("policy", ["error", "keep-first"])
def test_validate_lines_repeated_across_files(on_spark: list[SparkSettings], tmp_path: Path, policy: str) -> None:
    """Under the error policy the repeats are a problem told beside the facts (exit 1), not a stop."""
    head, body = sample_lines()
    a = write_lines(tmp_path / "a.csv", head, body[:9000])
    b = write_lines(tmp_path / "b.csv", head, body[8000:])
    same_on_both(["validate", str(a), str(b), "--on-overlap", policy], tmp_path, on_spark, code=int(policy == "error"))


def test_the_mapping_files_engine(on_spark: list[SparkSettings], tmp_path: Path) -> None:
    """``engine = "spark"`` in rules/columns.toml and no --engine: segment runs on Spark, with the file's master,
    and writes what --engine polars (which wins over the file) writes."""
    outputs = {}
    for engine in ("polars", None):
        folder = tmp_path / str(engine)
        (folder / "rules").mkdir(parents=True)
        (folder / "rules" / "columns.toml").write_text('engine = "spark"\nspark_master = "local[2]"\n')
        args = ["segment", str(SAMPLE), "-o", "out.csv", *(["--engine", engine] if engine else [])]
        outputs[engine] = run(args, folder)
        assert len(on_spark) == (0 if engine else 1)
    assert on_spark[0].master == "local[2]"
    assert outputs["polars"][0] == outputs[None][0] == 0
    assert outputs["polars"][2] == outputs[None][2] and "out.csv" in outputs[None][2]
    assert outputs["polars"][1] == outputs[None][1]
