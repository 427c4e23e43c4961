"""``loyalty run``: pipelines over the sample data, failures, the lock, signals, idempotence, bad files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data"

PIPELINE = f"""
as_of = "2024-12-01"
output_dir = "out/{{as_of}}"
on_bad_rows = "skip"

[inputs.transactions]
path = "{SAMPLE / "transactions.csv"}"

[inputs.surveys]
path = "{SAMPLE / "surveys.csv"}"

[[steps]]
command = "segment"
output = "segments.csv"
options = {{ cut_points = "{{output_dir}}/cuts.csv" }}

[[steps]]
command = "second-purchase"
output = "nudge_{{as_of}}.csv"

[[steps]]
command = "nps"
output = "nps.json"
"""


def run(*args: str):
    result = RUNNER.invoke(app, ["run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write(folder: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    pipeline = write(folder, PIPELINE)
    result = RUNNER.invoke(app, ["run", str(pipeline), "--log-format", "json"])
    assert result.exit_code == 0, result.output
    return folder, result


def test_pipeline_writes_every_output_and_a_correct_summary(first_run):
    folder, result = first_run
    out = folder / "out" / "2024-12-01"
    for name in ("segments.csv", "cuts.csv", "nudge_2024-12-01.csv", "nps.json", "run_summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["as_of"] == "2024-12-01" and summary["status"] == "ok"
    assert [(s["step"], s["status"], s["exit_code"]) for s in summary["steps"]] == [
        ("segment", "ok", 0),
        ("second-purchase", "ok", 0),
        ("nps", "ok", 0),
    ]
    assert summary["steps"][0]["outputs"] == ["segments.csv", "cuts.csv"]
    segments = (out / "segments.csv").read_text().splitlines()
    assert summary["steps"][0]["rows"] == len(segments) - 1
    tx = summary["inputs"]["transactions"][0]
    data = (SAMPLE / "transactions.csv").read_bytes()
    assert tx["bytes"] == len(data) and tx["sha256"] == hashlib.sha256(data).hexdigest()
    # one JSON log line per step on stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    steps = [line for line in lines if "step" in line]
    assert [s["step"] for s in steps] == ["segment", "second-purchase", "nps"]
    assert all(s["status"] == "ok" and s["seconds"] >= 0 for s in steps)


def test_two_runs_give_identical_bytes(first_run, tmp_path):
    folder, _ = first_run
    again = write(tmp_path, PIPELINE)
    assert run(str(again), "-q").exit_code == 0
    first, second = folder / "out" / "2024-12-01", tmp_path / "out" / "2024-12-01"
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        if name != "run_summary.json":
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a, b = (json.loads((d / "run_summary.json").read_text()) for d in (first, second))
    assert a["steps"] == b["steps"] and a["inputs"] == b["inputs"]


FAILING = PIPELINE.replace('options = { cut_points = "{output_dir}/cuts.csv" }', "").replace(
    '[[steps]]\ncommand = "second-purchase"',
    '[[steps]]\ncommand = "segment"\nname = "broken"\n'
    'output = "broken.csv"\noptions = { rules = "no_such_map.toml" }\n\n[[steps]]\ncommand = "second-purchase"',
)


def test_a_failing_step_stops_the_run_with_its_exit_code(tmp_path):
    pipeline = write(tmp_path, FAILING)
    result = run(str(pipeline))
    assert result.exit_code == 1, result.output
    out = tmp_path / "out" / "2024-12-01"
    assert (out / "segments.csv").is_file() and not (out / "nps.json").exists()
    summary = json.loads((out / "run_summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["ok", "failed", "skipped", "skipped"]
    assert summary["status"] == "failed"
    assert "no_such_map.toml" in result.stderr


def test_keep_going_runs_the_other_steps_and_still_fails(tmp_path):
    pipeline = write(tmp_path, FAILING)
    result = run(str(pipeline), "--keep-going")
    assert result.exit_code == 1
    out = tmp_path / "out" / "2024-12-01"
    assert (out / "nps.json").is_file() and (out / "nudge_2024-12-01.csv").is_file()
    summary = json.loads((out / "run_summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["ok", "failed", "ok", "ok"]


def test_a_live_lock_refuses_a_second_run(tmp_path):
    pipeline = write(tmp_path, PIPELINE)
    import socket

    lock = tmp_path / ".pipeline.toml.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    result = run(str(pipeline))
    assert result.exit_code == 4
    assert "Another run of this pipeline is in progress" in result.stderr
    assert lock.exists() and not (tmp_path / "out").exists()


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    import socket

    pipeline = write(tmp_path, PIPELINE)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / ".pipeline.toml.lock"
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    assert run(str(pipeline), "-q").exit_code == 0
    assert not lock.exists()


def test_sigterm_mid_write_leaves_no_partial_file(tmp_path):
    from loyalty_cli.cli.run import _terminate_as_interrupt
    from loyalty_cli.io.writers import atomic_write

    target = tmp_path / "list.csv"

    def write_then_get_killed(fh):
        fh.write(b"customer_id\nA\n")
        os.kill(os.getpid(), signal.SIGTERM)
        fh.write(b"B\n")  # never reached

    with _terminate_as_interrupt(), pytest.raises(KeyboardInterrupt):
        atomic_write(target, write_then_get_killed)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file
    assert signal.getsignal(signal.SIGTERM) is not None


def test_dry_run_checks_and_prints_the_plan_without_running(tmp_path):
    pipeline = write(tmp_path, PIPELINE)
    result = run(str(pipeline), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1. segment: loyalty segment" in result.stdout and "3. nps: loyalty nps" in result.stdout
    assert "customer_id <- 'customer_id'" in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("step", "missing"),
    [
        ('command = "churn"\noptions = { rules = "nope_churn.toml" }', "nope_churn.toml"),
        ('command = "lifecycle"\noptions = { churn_rules = "nope_churn.toml" }', "nope_churn.toml"),
        ('command = "report"\noutput = "r.html"\noptions = { lifecycle_rules = "nope_life.toml" }', "nope_life.toml"),
    ],
)
def test_dry_run_loads_every_rules_file(tmp_path, step, missing):
    """Every rules option of every step is loaded, not only the segment maps."""
    pipeline = write(tmp_path, PIPELINE + f"\n[[steps]]\n{step}\n")
    result = run(str(pipeline), "--dry-run")
    assert result.exit_code != 0, result.output
    assert missing in result.stderr and "valid" not in result.stderr


def test_dry_run_finds_a_missing_column(tmp_path):
    pipeline = write(
        tmp_path,
        PIPELINE.replace(
            'path = "' + str(SAMPLE / "transactions.csv") + '"',
            'path = "' + str(SAMPLE / "transactions.csv") + '"\ncustomer_id = "Kundennummer"',
        ),
    )
    result = run(str(pipeline), "--dry-run")
    assert result.exit_code == 1
    assert "Kundennummer" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('as_of = "2024-12-01"', 'as_of = "yesterday"'), "as_of: expected latest, today or a date"),
        (('on_bad_rows = "skip"', 'on_bad_rows = "skip"\ncolour = true'), "top level: unknown key 'colour'"),
        (('command = "nps"', 'command = "npz"'), "step 3: unknown command 'npz'"),
        (
            ("options = { cut_points", "options = { cut_pionts"),
            "step 1 (segment) options.cut_pionts: segment has no option --cut-pionts",
        ),
        (
            ("options = { cut_points", 'options = { as_of = "2020-01-01", cut_points'),
            "options.as_of: is set by the pipeline",
        ),
        (("[inputs.surveys]", "[inputs.survey]"), "[inputs.survey]: unknown input"),
        (
            ('[[steps]]\ncommand = "second-purchase"', '[[steps]]\ncommand = "segment"'),
            "step 2 (segment): the name is used",
        ),
        (("output_dir", "output_dir = 3\n#"), "output_dir: expected a folder name"),
    ],
)
def test_invalid_pipelines_name_file_step_and_key(tmp_path, change, message):
    old, new = change
    assert old in PIPELINE
    pipeline = write(tmp_path, PIPELINE.replace(old, new, 1))
    result = run(str(pipeline))
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert str(pipeline) in result.stderr


def test_nps_step_needs_surveys(tmp_path):
    text = PIPELINE.replace('[inputs.surveys]\npath = "' + str(SAMPLE / "surveys.csv") + '"\n', "")
    result = run(str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert "step 3 (nps): nps needs [inputs.surveys]" in result.stderr


def test_not_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in run(str(write(tmp_path, "steps = ["))).stderr
    result = run(str(tmp_path / "nope.toml"))
    assert result.exit_code == 1 and "Pipeline file not found" in result.stderr


def test_the_example_pipeline_is_valid():
    result = run(str(ROOT / "examples" / "pipeline.toml"), "--dry-run")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("as_of", ["2024-12-01", "latest"])
def test_the_transactions_are_read_once_per_run(tmp_path, monkeypatch, as_of):
    import loyalty_cli.stage1 as stage1

    calls = []
    real = stage1.read_transactions

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(stage1, "read_transactions", counting)
    text = PIPELINE.replace('as_of = "2024-12-01"', f'as_of = "{as_of}"') + (
        '\n[[steps]]\ncommand = "cltv"\noutput = "clv.csv"\n\n[[steps]]\ncommand = "churn"\noutput = "churn.csv"\n'
    )
    assert run(str(write(tmp_path, text)), "-q").exit_code == 0
    assert len(calls) == 1  # segment, second-purchase, nps (its --transactions), cltv and churn share one read
