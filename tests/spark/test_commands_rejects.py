"""Rejected rows to a cluster path (``--rejects s3a://...``, here ``file://``): written by the Spark session of
the run, the very file the Polars engine writes locally; refused, before anything is read, off the Spark engine.

The commands run as ``test_commands.py`` runs them (``--spark-master local[2]``): the direct writes use the same
settings, so the tests share that session (one JVM start less)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import loyalty_cli.spark
from loyalty_cli.app.rejects import ClusterPath, rejects_target, write_rejects
from loyalty_cli.cli import app
from loyalty_cli.errors import ConfigError, DataError
from loyalty_cli.io.writers import write_table
from loyalty_cli.spark import SparkSettings
from loyalty_cli.spark.rejects import write_rejects_spark
from loyalty_cli.stage1 import load_transactions

from .conftest import bad_sample, sample_lines, with_field, write_lines

RUNNER = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def run(args: list[str], folder: Path) -> tuple[int, str]:
    folder.mkdir(exist_ok=True)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = RUNNER.invoke(app, args)
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def risky_sample(folder: Path) -> Path:
    """The bad sample, one bad amount a formula a spreadsheet would run: the CSV writer defuses it."""
    path = bad_sample(folder)
    head, *body = path.read_text(encoding="utf-8").splitlines()
    body[3000] = with_field(body[3000], 8, '=HYPERLINK("http://x")')
    return write_lines(path, head, body)


@pytest.fixture(scope="module")
def cli_settings(spark_settings: SparkSettings) -> SparkSettings:
    """The settings a command line with --spark-master gives (the session the commands use)."""
    return SparkSettings(master=spark_settings.master)


@pytest.mark.parametrize("name", ["rejects.csv", "rejects.parquet"])
def test_rejects_to_a_file_url_are_the_file_the_polars_engine_writes(
    cli_settings: SparkSettings, tmp_path: Path, name: str
) -> None:
    bad = risky_sample(tmp_path)
    segment = ["segment", str(bad), "--on-bad-rows", "skip", "-o", "out.csv"]
    code, polars = run([*segment, "--rejects", name], tmp_path / "polars")
    assert code == 0
    url = (tmp_path / "cluster" / "exports" / name).as_uri()  # a folder that does not exist yet
    code, spark = run(
        [*segment, "--rejects", url, "--engine", "spark", "--spark-master", cli_settings.master], tmp_path
    )
    assert code == 0, spark
    written = (tmp_path / "polars" / name).read_bytes()
    assert (tmp_path / "cluster" / "exports" / name).read_bytes() == written
    assert sorted(p.name for p in (tmp_path / "cluster" / "exports").iterdir()) == [name]  # no .crc, no temp file
    assert f"7 rejected rows written to {url}:" in spark and f"7 rejected rows written to {name}:" in polars
    if name.endswith(".csv"):
        assert b"'=HYPERLINK" in written


def test_validate_on_spark_writes_the_rows_it_would_reject_to_a_file_url(
    cli_settings: SparkSettings, tmp_path: Path
) -> None:
    bad = bad_sample(tmp_path)
    code, _ = run(["validate", str(bad), "--rejects", "local.csv"], tmp_path)
    url = (tmp_path / "cluster.csv").as_uri()
    spark = ["--engine", "spark", "--spark-master", cli_settings.master]
    code_spark, said = run(["validate", str(bad), "--rejects", url, *spark], tmp_path)
    assert code == code_spark == 1 and f"6 rejected rows written to {url}" in said
    assert (tmp_path / "cluster.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_a_cluster_path_off_the_spark_engine_is_refused_before_reading(tmp_path: Path) -> None:
    bad = bad_sample(tmp_path)
    code, said = run(["segment", str(bad), "--on-bad-rows", "skip", "--rejects", "s3a://bucket/r.csv"], tmp_path)
    assert code == 2
    assert "Error: --rejects s3a://bucket/r.csv is a cluster path: only the Spark engine writes there" in said
    assert "--engine spark" in said and "Reading transactions" not in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]  # no folder named s3a:
    code, said = run(["validate", str(bad), "--rejects", "hdfs:///exports/r.csv"], tmp_path)
    assert code == 2 and "--rejects hdfs:///exports/r.csv is a cluster path" in said


def test_a_cluster_path_must_name_a_csv_or_parquet_file(cli_settings: SparkSettings, tmp_path: Path) -> None:
    bad = bad_sample(tmp_path)
    args = ["segment", str(bad), "--on-bad-rows", "skip", "--engine", "spark", "--spark-master", cli_settings.master]
    for url in ("s3a://bucket", "s3a://bucket/exports/", "gs://bucket/r.json"):
        code, said = run([*args, "--rejects", url], tmp_path)
        assert code == 2 and f"--rejects {url} must name a .csv or .parquet file" in said


def test_the_files_named_beside_a_cluster_path_stay_on_the_cluster(cli_settings: SparkSettings) -> None:
    """``loyalty program`` writes each input's rejects beside ``--rejects`` (``<stem>.members<suffix>``)."""
    base = rejects_target("abfss://box@acct.dfs.core.windows.net/x/r.csv", cli_settings)
    assert isinstance(base, ClusterPath) and base.spark == cli_settings
    beside = base.with_name(f"{base.stem}.members{base.suffix}")
    assert str(beside) == "abfss://box@acct.dfs.core.windows.net/x/r.members.csv" and beside.spark is cli_settings
    assert rejects_target(beside, None) is beside
    assert rejects_target("rejects.csv", None) == Path("rejects.csv")
    with pytest.raises(ConfigError, match="only the Spark engine writes there"):
        rejects_target("gs://bucket/r.csv", None)


@pytest.fixture(scope="module")
def rejected(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    return load_transactions(
        [str(risky_sample(tmp_path_factory.mktemp("bad")))], as_of=None, on_bad_rows="skip"
    ).rejects[0]


def test_a_plain_path_through_spark_and_the_app_function(
    cli_settings: SparkSettings, tmp_path: Path, rejected: pl.DataFrame
) -> None:
    """The Spark writer takes a plain path too (the cluster's default file system: here, the local one); the
    application function sends a cluster path to it and a local one to the local writer."""
    write_table(rejected, tmp_path / "local.csv")
    assert write_rejects_spark(rejected, str(tmp_path / "plain.csv"), cli_settings) == str(tmp_path / "plain.csv")
    assert (tmp_path / "plain.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    url = (tmp_path / "app.csv").as_uri()
    written = write_rejects([rejected.head(2), rejected.tail(5)], url, cli_settings)
    assert written is not None and written.where == url and written.table.height == 7
    assert (tmp_path / "app.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert write_rejects([rejected.clear()], url, cli_settings) is None


def test_a_file_replaced_and_a_folder_refused(
    cli_settings: SparkSettings, tmp_path: Path, rejected: pl.DataFrame
) -> None:
    target = tmp_path / "r.csv"
    target.write_text("old rows\n")
    write_rejects_spark(rejected.head(1), target.as_uri(), cli_settings)
    assert pl.read_csv(target, infer_schema=False).height == 1
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DataError, match=r"folder\.csv: it is a folder"):
        write_rejects_spark(rejected, (tmp_path / "folder.csv").as_uri(), cli_settings)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_written_as_spark_writes_a_table_as_on_spark_connect(
    cli_settings: SparkSettings, tmp_path: Path, rejected: pl.DataFrame, kind: str
) -> None:
    """Spark Connect has no file system on the client: a folder of the given name with one part file, which the
    message names; a CSV's part file holds the CSV's bytes exactly."""
    write_table(rejected, tmp_path / f"local.{kind}")
    url = (tmp_path / f"r.{kind}").as_uri()
    said = write_rejects_spark(rejected, url, cli_settings, folder=True)
    parts = [p for p in (tmp_path / f"r.{kind}").iterdir() if p.name.startswith("part-")]
    assert len(parts) == 1
    assert (
        said
        == f"{parts[0].as_uri().replace('file:///', 'file:/')} (Spark writes a folder: {url} holds this one part file)"
    )
    if kind == "csv":
        assert parts[0].read_bytes() == (tmp_path / "local.csv").read_bytes()
    else:
        assert_frame_equal(pl.read_parquet(parts[0]), rejected)


PIPELINE = """
output_dir = "out"
on_bad_rows = "skip"
{engine}

[inputs.transactions]
path = "{path}"

[[steps]]
command = "segment"
output = "segments.csv"
"""


def test_a_pipeline_on_spark_writes_its_rejects_beside_its_outputs(
    cli_settings: SparkSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline sets each step's rejects itself (``<step>.rejects.csv`` in its output folder, on this machine)."""
    calls = []
    on_spark = loyalty_cli.spark.load_transactions_spark

    def counted(*args, **kwargs):
        calls.append(kwargs["settings"])
        return on_spark(*args, **kwargs)

    monkeypatch.setattr(loyalty_cli.spark, "load_transactions_spark", counted)
    head, body = sample_lines()
    body[10] = with_field(body[10], 8, "abc")
    data = write_lines(tmp_path / "tx.csv", head, body[:3000])
    files = {}
    for name, engine in (("polars", ""), ("spark", f'engine = "spark"\nspark_master = "{cli_settings.master}"')):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "pipeline.toml").write_text(PIPELINE.format(engine=engine, path=data))
        code, said = run(["run", str(folder / "pipeline.toml")], folder)
        assert code == 0, said
        files[name] = {p.name: p.read_bytes() for p in (folder / "out").iterdir() if p.name != "run_summary.json"}
    assert files["polars"] == files["spark"]
    assert set(files["spark"]) == {"segments.csv", "segment.rejects.csv"}
    assert calls and {c.master for c in calls} == {cli_settings.master}  # the spark run's stage 1 ran on Spark
