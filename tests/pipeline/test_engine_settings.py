"""A pipeline's top-level ``memory_limit``, ``engine``, ``spark_master`` and ``spark_remote``: checked when the
file loads, given to every step that reads transactions (a step's own options win) and to the run's first read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import loyalty_cli.spark
import loyalty_cli.stage1
from loyalty_cli.cli import app
from loyalty_cli.cli.steps import pipeline_commands
from loyalty_cli.pipeline import engine_values, load_pipeline, step_values
from loyalty_cli.spark import SparkSettings

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
SAMPLE = Path(__file__).parent.parent.parent / "sample_data"

PIPELINE = f"""
as_of = "2024-12-01"
output_dir = "out"
{{settings}}

[inputs.transactions]
path = "{SAMPLE / "transactions.csv"}"

[inputs.surveys]
path = "{SAMPLE / "surveys.csv"}"

[[steps]]
command = "segment"
output = "segments.csv"

[[steps]]
command = "retention"
output = "retention.csv"

[[steps]]
command = "nps"
output = "nps.json"
"""


def write(folder: Path, settings: str = "", text: str = PIPELINE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.toml"
    path.write_text(text.replace("{settings}", settings))
    return path


def run(*args: str):
    result = RUNNER.invoke(app, ["run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "out").iterdir()) if p.name != "run_summary.json"}


def test_a_memory_limit_gives_the_same_outputs_and_reaches_every_read(tmp_path, monkeypatch):
    plain = write(tmp_path / "plain")
    assert run(str(plain)).exit_code == 0
    limits: list[object] = []
    load = loyalty_cli.stage1.load_transactions

    def recording(*args, **kwargs):
        limits.append(kwargs.get("memory_limit"))
        return load(*args, **kwargs)

    monkeypatch.setattr(loyalty_cli.stage1, "load_transactions", recording)
    limited = write(tmp_path / "limited", 'memory_limit = "2GB"')
    result = run(str(limited))
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "limited") == outputs(tmp_path / "plain")
    assert set(outputs(tmp_path / "plain")) == {"segments.csv", "retention.csv", "nps.json"}
    # the run's first read, then segment's, retention's and nps's (its transactions, for segments and stages)
    assert limits == [2_000_000_000] * 4


@pytest.mark.parametrize(
    ("settings", "key", "problem"),
    [
        ('memory_limit = "lots"', "memory_limit", "expected a size such as 1GB or none, got 'lots'"),
        ('memory_limit = "0"', "memory_limit", "expected a size such as 1GB or none, got '0'"),
        ("memory_limit = true", "memory_limit", "expected a size in quotes, got True"),
        ('engine = "dask"', "engine", "expected polars or spark, got 'dask'"),
        ('spark_master = "yarn"', "spark_master", 'needs engine = "spark"'),
        ('engine = "polars"\nspark_remote = "sc://h:15002"', "spark_remote", 'needs engine = "spark"'),
        ('engine = "spark"\nspark_master = ""', "spark_master", "expected a URL in quotes, got ''"),
        ('engine = "spark"\nspark_remote = "http://h:15002"', "spark_remote", "expected a Spark Connect URL"),
        (
            'engine = "spark"\nspark_master = "yarn"\nspark_remote = "sc://h:15002"',
            "spark_remote",
            "a Spark master or a Spark Connect remote, not both",
        ),
    ],
)
def test_a_bad_setting_is_refused_when_the_pipeline_loads(tmp_path, settings, key, problem):
    pipeline = write(tmp_path, settings)
    for args in (["run", str(pipeline), "--dry-run"], ["rules", "check", str(pipeline)]):
        result = RUNNER.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert f"{pipeline}: {key}: " in result.output and problem in result.output
        assert "--" not in result.output.replace("--dry-run", "")  # the file's keys, not the command's flags
    assert not (tmp_path / "out").exists()


def test_an_unknown_top_level_key_lists_the_new_ones(tmp_path):
    result = run(str(write(tmp_path, 'memory_limt = "1GB"')), "--dry-run")
    assert result.exit_code == 1
    assert "unknown key 'memory_limt'" in result.output and "Did you mean 'memory_limit'?" in result.output
    assert "spark_remote" in result.output


def test_engine_spark_reaches_each_step_and_the_first_read(tmp_path, monkeypatch):
    calls: list[dict[str, object]] = []
    load = loyalty_cli.stage1.load_transactions

    def fake_spark(inputs, options=None, *, settings=None, **kwargs):  # Polars in place of a Spark session
        calls.append({"settings": settings, "step": "on_scan" in kwargs})
        return load(inputs, options, **kwargs)

    monkeypatch.setattr(loyalty_cli.spark, "load_transactions_spark", fake_spark)
    text = PIPELINE + '\n[[steps]]\nname = "own"\ncommand = "segment"\noutput = "own.csv"\n'
    text += 'options = { engine = "polars" }\n'
    pipeline = write(tmp_path, 'engine = "spark"\nspark_master = "local[2]"', text)
    result = run(str(pipeline), "--log-format", "json")
    assert result.exit_code == 0, result.output
    wanted = SparkSettings(master="local[2]")
    assert calls[0] == {"settings": wanted, "step": False}  # the run's first read
    # segment, retention and nps (its transactions, for segments and stages) on Spark; "own" stays on Polars
    assert calls[1:] == [{"settings": wanted, "step": True}] * 3
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["ok"] * 4


def test_a_steps_own_options_win(tmp_path):
    text = PIPELINE.replace('output = "retention.csv"', 'output = "retention.csv"\noptions = { memory-limit = "1GB" }')
    pipeline = load_pipeline(write(tmp_path, 'memory_limit = "2GB"', text), pipeline_commands())
    segment, retention, nps = pipeline.steps
    assert engine_values(pipeline, segment) == {"memory_limit": "2GB"}
    assert engine_values(pipeline, retention) == {}
    assert engine_values(pipeline, nps) == {"memory_limit": "2GB"}  # nps reads the transactions too
    found = step_values(pipeline, segment, as_of=None, output_dir=tmp_path, values={"output_dir": str(tmp_path)})
    assert found["memory_limit"] == "2GB"

    spark = write(tmp_path / "spark", 'engine = "spark"\nspark_master = "yarn"', PIPELINE)
    on_spark = load_pipeline(spark, pipeline_commands())
    assert engine_values(on_spark, on_spark.steps[0]) == {"engine": "spark", "spark_master": "yarn"}
    assert on_spark.memory_limit is None and on_spark.engine == "spark"


def test_dry_run_shows_the_settings(tmp_path):
    pipeline = write(tmp_path, 'memory_limit = "2GB"\nengine = "spark"\nspark_remote = "sc://h:15002"')
    result = run(str(pipeline), "--dry-run")
    assert result.exit_code == 0, result.output
    assert 'engine: memory_limit = "2GB", engine = "spark", spark_remote = "sc://h:15002"' in result.stdout
    segment = next(line for line in result.stdout.splitlines() if line.startswith("1. segment:"))
    assert "--memory-limit 2GB --engine spark --spark-remote sc://h:15002" in segment
    nps = next(line for line in result.stdout.splitlines() if line.startswith("3. nps:"))
    assert "--memory-limit 2GB --engine spark --spark-remote sc://h:15002" in nps  # for its transactions
