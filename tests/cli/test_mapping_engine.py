"""The engine settings of ``rules/columns.toml`` on the command line: taken when the command line gives none,
the command line wins, a bad value stops the command naming the file and the key, and a pipeline keeps its own.
Where stage 1 ran is seen by a stand-in for the Spark engine (the real one: tests/spark)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import loyalty_cli.spark
from loyalty_cli.cli import app
from loyalty_cli.errors import DataError
from loyalty_cli.spark import SparkSettings

RUNNER = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
DATA = Path(__file__).parent.parent.parent / "sample_data"
SAMPLE = str(DATA / "transactions.csv")
ON_SPARK = "stage 1 on the stand-in Spark engine"


@pytest.fixture
def spark_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[SparkSettings]:
    """The settings each load on Spark was asked with; such a load stops the command (exit 1, ON_SPARK)."""
    monkeypatch.chdir(tmp_path)
    calls: list[SparkSettings] = []

    def stand_in(*args: object, settings: SparkSettings, **kwargs: object) -> None:
        calls.append(settings)
        raise DataError(ON_SPARK)

    monkeypatch.setattr(loyalty_cli.spark, "load_transactions_spark", stand_in)
    return calls


def columns_toml(top: str) -> Path:
    path = Path("rules") / "columns.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'{top}\n[transactions]\ncustomer_id = "customer_id"\n', encoding="utf-8")
    return path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_the_mapping_files_engine_is_taken_when_the_command_line_gives_none(spark_calls: list) -> None:
    columns_toml('engine = "spark"\nspark_master = "local[3]"')
    result = run("segment", SAMPLE, "-o", "out.csv")
    assert (result.exit_code, spark_calls) == (1, [SparkSettings(master="local[3]")])
    assert ON_SPARK in result.stderr and not Path("out.csv").exists()
    # validate and uplift read on Spark too
    assert run("validate", SAMPLE).exit_code == 1 and len(spark_calls) == 2
    Path("t.csv").write_text("customer_id\nC000034\n")
    Path("c.csv").write_text("customer_id\nC000058\n")
    result = run("uplift", SAMPLE, "--treatment", "t.csv", "--control", "c.csv", "--start", "2024-10-01")
    assert (result.exit_code, len(spark_calls)) == (1, 3), result.output


def test_the_command_line_wins(spark_calls: list) -> None:
    columns_toml('engine = "spark"\nspark_master = "local[3]"\nmemory_limit = "none"')
    run("segment", SAMPLE, "-o", "a.csv", "--spark-master", "local[1]")
    run("segment", SAMPLE, "-o", "a.csv", "--spark-remote", "sc://localhost:15002")
    assert spark_calls == [SparkSettings(master="local[1]"), SparkSettings(remote="sc://localhost:15002")]
    result = run("segment", SAMPLE, "-o", "b.csv", "--engine", "polars")  # the file's master goes with its engine
    assert result.exit_code == 0 and Path("b.csv").is_file() and len(spark_calls) == 2


def test_a_spark_master_needs_the_spark_engine_from_somewhere(spark_calls: list) -> None:
    columns_toml('memory_limit = "4GB"')
    result = run("segment", SAMPLE, "-o", "out.csv", "--spark-master", "local[1]")
    assert result.exit_code == 2 and "--spark-master needs --engine spark" in result.stderr
    columns_toml('engine = "spark"')
    assert run("segment", SAMPLE, "-o", "out.csv", "--spark-master", "local[1]").exit_code == 1
    assert spark_calls == [SparkSettings(master="local[1]")]


def test_a_bad_value_stops_the_command_naming_the_file_and_the_key(spark_calls: list) -> None:
    columns_toml('engine = "sparc"')
    result = run("segment", SAMPLE, "-o", "out.csv")
    assert result.exit_code == 1 and not Path("out.csv").exists()
    assert "Error: rules/columns.toml: engine must be polars or spark, got 'sparc'" in result.stderr
    assert 'Hint: e.g. engine = "spark" (or "polars", the default).' in result.stderr
    assert run("validate", SAMPLE).exit_code == 1
    result = run("rules", "check", "rules/columns.toml")  # checked as a mapping file, not as a pipeline
    assert result.exit_code == 1 and "engine must be polars or spark" in result.stderr
    columns_toml('engine = "spark"\nspark_master = "yarn"')
    result = run("rules", "check", "rules/columns.toml")
    assert result.exit_code == 0 and "columns.toml: OK (column mapping)" in result.stdout
    assert spark_calls == []


def test_validate_reads_surveys_here_and_says_the_spark_options_are_for_transactions(spark_calls: list) -> None:
    columns_toml('engine = "spark"')
    assert run("validate", str(DATA / "surveys.csv"), "--kind", "surveys").exit_code == 0
    result = run("validate", str(DATA / "surveys.csv"), "--kind", "surveys", "--engine", "spark")
    assert result.exit_code == 2
    assert "Error: --engine and the Spark options check transactions only, not surveys" in result.stderr
    assert spark_calls == []


def test_a_pipeline_keeps_its_own_engine_settings(spark_calls: list, tmp_path: Path) -> None:
    """A pipeline's inputs carry their own mapping: rules/columns.toml, and its engine, are not read."""
    columns_toml('engine = "spark"')
    Path("pipeline.toml").write_text(
        f'as_of = "2024-12-01"\noutput_dir = "out"\n\n[inputs.transactions]\npath = "{SAMPLE}"\n\n'
        '[[steps]]\ncommand = "segment"\noutput = "segments.csv"\n',
        encoding="utf-8",
    )
    result = run("run", "pipeline.toml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "segments.csv").is_file() and spark_calls == []
    Path("pipeline.toml").write_text('engine = "spark"\n' + Path("pipeline.toml").read_text(encoding="utf-8"))
    assert run("run", "pipeline.toml").exit_code == 1 and len(spark_calls) == 1
