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
    assert summary["as_of"] == "2024-12-01" and summary["status"] == "ok" and summary["last_ok_run"] is None
    assert summary["started_at"] <= summary["ended_at"] and summary["started_at"].endswith("+00:00")
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["2024-12-01"]  # no staging folder left
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
    # everything but where the pipeline file is and when the runs were
    assert all(d["started_at"] <= d["ended_at"] for d in (a, b))
    for key in ("pipeline", "started_at", "ended_at"):
        del a[key], b[key]
    assert a == b and a["steps"] and a["inputs"]["transactions"]


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
    # nothing of a failed run is published: only its summary
    assert sorted(p.name for p in out.iterdir()) == ["run_summary.json"]
    assert not list((tmp_path / "out").glob(".*"))  # no staging folder left
    summary = json.loads((out / "run_summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["ok", "failed", "skipped", "skipped"]
    assert summary["status"] == "failed" and summary["last_ok_run"] is None
    assert "no_such_map.toml" in result.stderr


def test_keep_going_runs_the_other_steps_and_still_fails(tmp_path):
    pipeline = write(tmp_path, FAILING)
    result = run(str(pipeline), "--keep-going")
    assert result.exit_code == 1
    out = tmp_path / "out" / "2024-12-01"
    summary = json.loads((out / "run_summary.json").read_text())
    assert [s["status"] for s in summary["steps"]] == ["ok", "failed", "ok", "ok"]
    assert summary["status"] == "failed" and summary["steps"][3]["outputs"] == ["nps.json"]
    assert sorted(p.name for p in out.iterdir()) == ["run_summary.json"]  # published only when all succeed


def _files(out: Path) -> dict[str, tuple[int, bytes]]:
    """The outputs in a folder (not the summary): name -> (inode, bytes); a replaced file gets a new inode."""
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "run_summary.json"
    }


def _summary(out: Path) -> dict:
    return json.loads((out / "run_summary.json").read_text())


def _last_ok(summary: dict) -> dict:
    outputs = sorted(o for step in summary["steps"] for o in step["outputs"])
    return {**{key: summary[key] for key in ("as_of", "started_at", "ended_at", "inputs")}, "outputs": outputs}


def _first_run(tmp_path: Path) -> tuple[Path, Path, dict, dict]:
    pipeline = write(tmp_path, PIPELINE)
    assert run(str(pipeline), "-q").exit_code == 0
    out = tmp_path / "out" / "2024-12-01"
    return pipeline, out, _files(out), _summary(out)


def test_a_failed_run_leaves_every_previous_output_as_it_was(tmp_path):
    pipeline, out, before, ok = _first_run(tmp_path)
    write(tmp_path, PIPELINE + '\n[[steps]]\ncommand = "churn"\noptions = { rules = "no_such_rules.toml" }\n')
    result = run(str(pipeline), "-q")
    assert result.exit_code == 1
    assert _files(out) == before  # the same files, not one replaced
    summary = _summary(out)
    assert summary["status"] == "failed" and summary["started_at"] <= summary["ended_at"]
    assert summary["started_at"] >= ok["ended_at"]
    assert [s["status"] for s in summary["steps"]] == ["ok", "ok", "ok", "failed"]
    assert summary["last_ok_run"] == _last_ok(ok)  # whose outputs are in the folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2024-12-01"]  # no staging folder left


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_leaves_every_previous_output_and_says_interrupted(tmp_path, monkeypatch, signum):
    import loyalty_cli.cli.run as run_module

    pipeline, out, before, ok = _first_run(tmp_path)
    calls = []
    real = run_module._rows

    def rows_then_interrupted(path):
        calls.append(path)
        if len(calls) == 2:  # the second step is done, the third not begun
            signal.raise_signal(signum)  # delivered to this thread now, not to whichever thread the OS picks
        return real(path)

    monkeypatch.setattr(run_module, "_rows", rows_then_interrupted)
    result = run(str(pipeline), "-q")
    assert result.exit_code == 130
    assert _files(out) == before
    summary = _summary(out)
    assert summary["status"] == "interrupted" and summary["ended_at"] and summary["last_ok_run"] == _last_ok(ok)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2024-12-01"]


def test_while_a_run_goes_on_the_old_outputs_stay_and_the_summary_says_running(tmp_path, monkeypatch):
    import loyalty_cli.cli.run as run_module

    pipeline, out, before, ok = _first_run(tmp_path)
    seen = []
    real = run_module._rows

    def look(path):
        seen.append((_summary(out), _files(out)))
        return real(path)

    monkeypatch.setattr(run_module, "_rows", look)
    assert run(str(pipeline), "-q").exit_code == 0
    for summary, files in seen:
        assert summary["status"] == "running" and summary["ended_at"] is None and summary["started_at"]
        assert summary["as_of"] == "2024-12-01" and summary["last_ok_run"] == _last_ok(ok)
        assert files == before
    after = _files(out)
    assert after.keys() == before.keys()
    assert all(after[name][0] != before[name][0] and after[name][1] == before[name][1] for name in after)
    summary = _summary(out)
    assert summary["status"] == "ok" and summary["last_ok_run"] is None


KILL_9 = """
import os, signal, sys
import loyalty_cli.cli.run as run_module
from loyalty_cli.cli import app

real, calls = run_module._rows, []

def rows(path):
    calls.append(path)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path)

run_module._rows = rows
app(["run", sys.argv[1], "-q"])
"""


def test_kill_9_leaves_the_old_outputs_a_running_summary_and_a_staging_folder_the_next_run_removes(tmp_path):
    pipeline, out, before, ok = _first_run(tmp_path)
    (tmp_path / "tmp").mkdir()  # the killed run cannot remove its temporary folder: keep it in tmp_path
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    killed = subprocess.run([sys.executable, "-c", KILL_9, str(pipeline)], capture_output=True, timeout=120, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _files(out) == before
    summary = _summary(out)
    assert summary["status"] == "running" and summary["last_ok_run"] == _last_ok(ok)
    staging = [p for p in (tmp_path / "out").iterdir() if p.name not in ("2024-12-01", ".2024-12-01.loyalty.lock")]
    assert len(staging) == 1 and staging[0].name.startswith(".2024-12-01.")  # beside the output folder
    assert (tmp_path / ".pipeline.toml.lock").exists()  # and its lock files, which no process holds
    assert (tmp_path / "out" / ".2024-12-01.loyalty.lock").exists()
    assert run(str(pipeline), "-q").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2024-12-01"]
    assert _summary(out)["status"] == "ok" and _files(out).keys() == before.keys()


def test_an_output_that_would_replace_a_folder_fails_before_anything_moves(tmp_path):
    pipeline, out, before, ok = _first_run(tmp_path)
    (out / "nps.json").unlink()
    (out / "nps.json").mkdir()
    del before["nps.json"]
    result = run(str(pipeline), "-q")
    assert result.exit_code == 1
    assert f"Error: Cannot write {out / 'nps.json'}: {out / 'nps.json'} is a folder\n" in result.stderr
    assert _files(out) == before
    summary = _summary(out)
    assert summary["status"] == "failed" and summary["error"].startswith("Cannot write")
    assert summary["last_ok_run"] == _last_ok(ok)


CLTV_STEP = '\n[[steps]]\ncommand = "cltv"\noutput = "clv.csv"\noptions = { tables = "{output_dir}/cltv" }\n'


def test_outputs_of_the_last_run_that_this_run_does_not_write_go(tmp_path):
    """A step taken out of the pipeline (or a rejects file of last night's run) does not stay beside the new
    outputs; files the pipeline never wrote stay, and so does anything a garbled summary names outside."""
    pipeline = write(tmp_path, PIPELINE + CLTV_STEP)
    assert run(str(pipeline), "-q").exit_code == 0
    out = tmp_path / "out" / "2024-12-01"
    assert (out / "clv.csv").is_file() and (out / "cltv" / "parameters.csv").is_file()
    (out / "notes.txt").write_text("mine")
    (tmp_path / "out" / "outside.txt").write_text("mine too")
    summary = _summary(out)
    summary["steps"][0]["outputs"] += ["../outside.txt", str(tmp_path / "out" / "outside.txt"), "notes.txt/.."]
    (out / "run_summary.json").write_text(json.dumps(summary))
    write(tmp_path, PIPELINE)
    assert run(str(pipeline), "-q").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["cuts.csv", "notes.txt", "nps.json", "nudge_2024-12-01.csv", "run_summary.json", "segments.csv"]
    )
    assert (tmp_path / "out" / "outside.txt").read_text() == "mine too"


def test_a_failed_run_removes_no_output_of_the_last_run(tmp_path):
    pipeline = write(tmp_path, PIPELINE + CLTV_STEP)
    assert run(str(pipeline), "-q").exit_code == 0
    out = tmp_path / "out" / "2024-12-01"
    before = _files(out)
    write(tmp_path, FAILING)
    assert run(str(pipeline), "-q").exit_code == 1
    assert _files(out) == before


def test_the_summary_names_the_pipeline_file_when_run_from_another_folder(tmp_path, monkeypatch):
    (tmp_path / "jobs").mkdir()
    write(tmp_path / "jobs", PIPELINE)
    monkeypatch.chdir(tmp_path)
    assert run("jobs/pipeline.toml", "-q").exit_code == 0
    summary = _summary(tmp_path / "jobs" / "out" / "2024-12-01")
    assert summary["pipeline"] == str((tmp_path / "jobs" / "pipeline.toml").resolve())


def test_a_run_whose_inputs_fail_says_so_in_its_summary(tmp_path):
    pipeline, out, before, ok = _first_run(tmp_path)
    write(tmp_path, PIPELINE.replace(str(SAMPLE / "transactions.csv"), str(tmp_path / "gone.csv")))
    result = run(str(pipeline), "-q")
    assert result.exit_code == 1
    assert f"Error: File not found: {tmp_path / 'gone.csv'}\n" in result.stderr
    summary = _summary(out)
    assert summary["status"] == "failed" and summary["steps"] == [] and summary["ended_at"]
    assert summary["error"] == f"File not found: {tmp_path / 'gone.csv'}"
    assert summary["last_ok_run"] == _last_ok(ok) and _files(out) == before


HOLD_LOCK = """
import fcntl, sys
fh = open(sys.argv[1], "a+")
fcntl.flock(fh, fcntl.LOCK_EX)
fh.seek(0)
fh.truncate()
fh.write(sys.argv[2])
fh.flush()
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held_lock(tmp_path):
    """A lock held by another live process (flock), with the given content; released when it ends."""
    procs = []

    def hold(content: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / ".pipeline.toml.lock"), content],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline() == "locked\n"
        return proc

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_a_live_lock_refuses_a_second_run(tmp_path, held_lock):
    pipeline = write(tmp_path, PIPELINE)
    lock = tmp_path / ".pipeline.toml.lock"
    holder = held_lock(json.dumps({"pid": 4242, "host": "cron-7", "started": "2024-12-01T02:30:00+00:00"}))
    staging = tmp_path / "out" / ".2024-12-01.loyalty-staging-x"
    staging.mkdir(parents=True)  # the live run's staging folder: not touched
    result = run(str(pipeline))
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: Another run of this pipeline is in progress (lock {lock}, process 4242 on cron-7 since "
        "2024-12-01T02:30:00+00:00)\nHint: Wait for it to finish: the lock is released when its process ends.\n"
    )
    assert lock.exists() and staging.is_dir() and not (tmp_path / "out" / "2024-12-01").exists()
    assert holder.poll() is None


@pytest.mark.parametrize("content", ["", "garbage{é", "[1, 2]", '{"pid": "x", "host": 3}'])
def test_a_live_lock_with_garbage_content_still_refuses_without_a_traceback(tmp_path, held_lock, content):
    pipeline = write(tmp_path, PIPELINE)
    held_lock(content)
    result = run(str(pipeline))
    assert result.exit_code == 4
    lock = tmp_path / ".pipeline.toml.lock"
    assert result.stderr.startswith(f"Error: Another run of this pipeline is in progress (lock {lock})\n")


@pytest.mark.parametrize(
    "content",
    [
        "",  # written on a full disk
        "not json at all",
        '{"pid": 1, "host": "%HOST%"}',  # a pid now used by another process
        '{"pid": %ME%, "host": "%HOST%"}',  # even this process's own pid
        '{"pid": 12345, "host": "a-restarted-container"}',  # another host name
        '{"pid": %DEAD%, "host": "%HOST%"}',  # a dead process on this host
    ],
)
def test_a_stale_lock_file_does_not_block(tmp_path, content):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pipeline = write(tmp_path, PIPELINE)
    lock = tmp_path / ".pipeline.toml.lock"
    text = content.replace("%HOST%", socket.gethostname()).replace("%ME%", str(os.getpid()))
    lock.write_text(text.replace("%DEAD%", str(dead.pid)))
    result = run(str(pipeline), "-q")
    assert result.exit_code == 0, result.output
    assert not lock.exists()


def test_a_lock_whose_message_cannot_be_written_still_holds_and_the_run_goes_on(tmp_path, monkeypatch):
    import errno

    import loyalty_cli.pipeline.locks as pipeline_module

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline_module.os, "pwrite", full_disk)
    result = run(str(write(tmp_path, PIPELINE)), "-q")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / ".pipeline.toml.lock").exists()


def test_the_lock_names_its_holder_while_a_run_is_going_on(tmp_path, monkeypatch):
    import socket

    import loyalty_cli.cli.run as run_module

    seen = []
    real = run_module._rows

    def look(path):
        seen.append(json.loads((tmp_path / ".pipeline.toml.lock").read_text()))
        return real(path)

    monkeypatch.setattr(run_module, "_rows", look)
    assert run(str(write(tmp_path, PIPELINE)), "-q").exit_code == 0
    assert seen[0]["pid"] == os.getpid() and seen[0]["host"] == socket.gethostname() and seen[0]["started"]


def test_sigterm_mid_write_leaves_no_partial_file(tmp_path):
    from loyalty_cli.io.writers import atomic_write
    from loyalty_cli.pipeline.runner import terminate_as_interrupt as _terminate_as_interrupt

    target = tmp_path / "list.csv"

    def write_then_get_killed(fh):
        fh.write(b"customer_id\nA\n")
        signal.raise_signal(signal.SIGTERM)  # delivered to this thread now
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


def test_the_pipeline_loader_words_an_option_as_its_caller_asks(tmp_path):
    """pipeline/ writes no flag: the CLI hands over each command's options as a pipeline file names them and how
    to word one (as its flag, above); without that, the loader names the key."""
    from loyalty_cli.cli.steps import pipeline_commands
    from loyalty_cli.pipeline import PipelineError, load_pipeline

    commands = pipeline_commands()
    assert {"cut_points", "as_of", "on_bad_rows"} <= commands["segment"]
    pipeline = write(tmp_path, PIPELINE.replace("options = { cut_points", "options = { cut_pionts", 1))
    with pytest.raises(PipelineError, match="segment has no option 'cut_pionts'") as caught:
        load_pipeline(pipeline, commands)
    assert caught.value.hint is not None and "Did you mean 'cut_points'?" in caught.value.hint
    with pytest.raises(PipelineError, match="segment has no option <cut_pionts>"):
        load_pipeline(pipeline, commands, flag=lambda key: f"<{key}>")


AS_OF_HINT = 'Write as_of = "latest" (the day after the last transaction), "today" or a date such as 2024-07-01.'
NAME_HINT = 'Use letters, digits, _ - and . (not first), e.g. name = "winback_at_risk".'


@pytest.mark.parametrize(
    ("change", "error", "hint"),
    [
        (
            ('as_of = "2024-12-01"', 'as_of = "yesterday"'),
            "as_of: expected latest, today or a date, got 'yesterday'",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', 'as_of = "20241201"'),
            "as_of: expected latest, today or a date, got '20241201'",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', 'as_of = "2024-W48-7"'),
            "as_of: expected latest, today or a date, got '2024-W48-7'",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', 'as_of = "2024-02-30"'),
            "as_of: expected latest, today or a date, got '2024-02-30'",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', "as_of = 2024-12-01T10:00:00"),
            "as_of: expected latest, today or a date, got 2024-12-01T10:00:00",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', "as_of = 10:00:00"),
            "as_of: expected latest, today or a date, got 10:00:00",
            AS_OF_HINT,
        ),
        (
            ('as_of = "2024-12-01"', "as_of = 20241201"),
            "as_of: expected latest, today or a date, got 20241201",
            AS_OF_HINT,
        ),
        (('command = "nps"', 'command = "nps"\nname = "a/b"'), "step 3: name 'a/b' cannot name a file", NAME_HINT),
        (
            ('command = "nps"', 'command = "nps"\nname = "..\\\\x"'),
            "step 3: name '..\\\\x' cannot name a file",
            NAME_HINT,
        ),
        (('command = "nps"', 'command = "nps"\nname = ".."'), "step 3: name '..' cannot name a file", NAME_HINT),
        (
            ('command = "nps"', 'command = "nps"\nname = "a\\u0000b"'),
            "step 3: name 'a\\x00b' cannot name a file",
            NAME_HINT,
        ),
        (
            ('command = "nps"', 'command = "nps"\nname = "two words"'),
            "step 3: name 'two words' cannot name a file",
            NAME_HINT,
        ),
        (('command = "nps"', 'command = "nps"\nname = ""'), "step 3: name '' cannot name a file", NAME_HINT),
        (('command = "nps"', 'command = "nps"\nname = 3'), "step 3: name 3 cannot name a file", NAME_HINT),
        (
            ('command = "nps"', 'command = "nps"\nname = "' + "x" * 101 + '"'),
            f"step 3: name '{'x' * 101}' cannot name a file",
            NAME_HINT,
        ),
    ],
)
def test_a_bad_as_of_or_step_name_is_an_error_with_a_hint(tmp_path, change, error, hint):
    old, new = change
    assert old in PIPELINE
    pipeline = write(tmp_path, PIPELINE.replace(old, new, 1))
    result = run(str(pipeline))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {pipeline}: {error}\nHint: {hint}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["winback_at_risk", "at-risk.2024", "Q4", "émail_relance", "_x"])
def test_good_step_names_pass(tmp_path, name):
    pipeline = write(tmp_path, PIPELINE.replace('command = "nps"', f'command = "nps"\nname = "{name}"', 1))
    result = run(str(pipeline), "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"3. {name}: loyalty nps" in result.stdout


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
    import loyalty_cli.stage1.load as stage1

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


# --- JSON logs: every line a record, errors in the record of the step that failed --------------------------
def json_lines(stderr: str) -> list[dict]:
    """Every stderr line parsed as JSON (fails on the first line that is not), each with a UTC timestamp."""
    from datetime import datetime

    records = [json.loads(line) for line in stderr.splitlines()]
    for record in records:
        assert datetime.fromisoformat(record["time"]).utcoffset().total_seconds() == 0, record
        assert record["level"] in ("info", "warning", "error"), record
    return records


def test_json_log_every_line_parses_and_the_failed_step_holds_its_error(tmp_path):
    """A failing step (a rules file that does not exist) and a step with a warning (second-purchase on an export
    that starts after the customers' history), with --keep-going: nothing but JSON on stderr."""
    recent = tmp_path / "recent.csv"
    lines = (SAMPLE / "transactions.csv").read_text().splitlines(keepends=True)
    recent.write_text(lines[0] + "".join(line for line in lines[1:] if line.split(",")[2] >= "2023-10-01"))
    pipeline = write(tmp_path, FAILING.replace(str(SAMPLE / "transactions.csv"), str(recent)))
    result = run(str(pipeline), "--log-format", "json", "--keep-going")
    assert result.exit_code == 1
    records = json_lines(result.stderr)
    steps = {r["step"]: r for r in records if "step" in r}
    assert list(steps) == ["segment", "broken", "second-purchase", "nps"]
    broken = steps["broken"]
    assert (broken["status"], broken["level"], broken["exit_code"]) == ("failed", "error", 1)
    assert broken["error"] == "Rules file not found: no_such_map.toml"
    assert broken["hint"].startswith("Built-in maps: ")
    second = steps["second-purchase"]
    assert (second["status"], second["level"], second["error"]) == ("ok", "warning", None)
    assert [w[:58] for w in second["warnings"]] == ["The customers' history may start before the data: 239 of t"]
    assert steps["segment"]["level"] == "info" and steps["segment"]["warnings"] == []
    # the run summary keeps the same
    summary = _summary(tmp_path / "out" / "2024-12-01")
    assert summary["steps"][1]["error"] == broken["error"] and summary["steps"][1]["hint"] == broken["hint"]
    assert summary["steps"][2]["warnings"] == second["warnings"]


def test_json_log_a_bad_option_value_is_a_record_too(tmp_path):
    pipeline = write(tmp_path, PIPELINE.replace('command = "nps"', 'command = "nps"\noptions = { min_n = "many" }'))
    result = run(str(pipeline), "--log-format", "json")
    assert result.exit_code == 2
    failed = [r for r in json_lines(result.stderr) if r.get("status") == "failed"]
    assert len(failed) == 1 and failed[0]["error"].startswith("Invalid value for '--min-n': ")
    assert failed[0]["hint"] == "See loyalty nps --help."


def test_json_log_errors_before_the_steps(tmp_path, held_lock):
    # an invalid pipeline file
    pipeline = write(tmp_path, PIPELINE.replace('on_bad_rows = "skip"', 'on_bad_rows = "skip"\ncolour = true'))
    result = run(str(pipeline), "--log-format", "json")
    assert result.exit_code == 1
    [record] = json_lines(result.stderr)
    assert record["level"] == "error" and record["exit_code"] == 1
    assert record["error"] == f"{pipeline}: top level: unknown key 'colour'" and record["hint"].startswith("Keys are")
    # inputs that cannot be read: one record, that of the inputs
    write(tmp_path, PIPELINE.replace(str(SAMPLE / "transactions.csv"), str(tmp_path / "gone.csv")))
    result = run(str(pipeline), "--log-format", "json")
    assert result.exit_code == 1
    [record] = json_lines(result.stderr)
    assert (record["step"], record["status"], record["level"]) == ("inputs", "failed", "error")
    assert record["error"] == f"File not found: {tmp_path / 'gone.csv'}" and "hint" in record
    # another run holds the lock
    write(tmp_path, PIPELINE)
    held_lock("")
    result = run(str(pipeline), "--log-format", "json")
    assert result.exit_code == 4
    [record] = json_lines(result.stderr)
    assert record["error"].startswith("Another run of this pipeline is in progress") and record["exit_code"] == 4


# --- bad rows in a pipeline: the hint names the pipeline file's key -------------------------------------------
def test_bad_rows_hint_names_the_pipeline_key(tmp_path):
    bad = tmp_path / "orders.csv"
    bad_line = "999999,C000001,2024-06-01 10:00:00,X,Y,web,1,ten,ten,,\n"
    bad.write_text((SAMPLE / "transactions.csv").read_text() + bad_line)
    text = PIPELINE.replace('on_bad_rows = "skip"\n', "").replace(str(SAMPLE / "transactions.csv"), str(bad))
    pipeline = write(tmp_path, text)
    skip = (
        f'To go on without them, set on_bad_rows = "skip" in {pipeline}: each step writes the rows it rejects, '
        "with their reasons, to <step>.rejects.csv in the output folder."
    )
    result = run(str(pipeline))
    assert result.exit_code == 1
    assert "Error: 1 bad row in the transactions:" in result.stderr
    assert result.stderr.endswith(f"{skip}\n") and "--on-bad-rows" not in result.stderr
    # in a step (the surveys are read by the nps step), and in the JSON log
    surveys = tmp_path / "surveys.csv"
    surveys.write_text((SAMPLE / "surveys.csv").read_text() + "C000001,2024-06-01 10:00:00,11,,relational,annual\n")
    write(tmp_path, PIPELINE.replace('on_bad_rows = "skip"\n', "").replace(str(SAMPLE / "surveys.csv"), str(surveys)))
    result = run(str(pipeline))
    assert result.exit_code == 1
    assert "Error: 1 bad row in the surveys:" in result.stderr and result.stderr.count(skip) == 1
    assert "--on-bad-rows" not in result.stderr
    result = run(str(pipeline), "--log-format", "json")
    [nps] = [r for r in json_lines(result.stderr) if r.get("step") == "nps"]
    assert nps["error"].startswith("1 bad row in the surveys:") and nps["hint"].endswith(skip)
    assert _summary(tmp_path / "out" / "2024-12-01")["steps"][2]["hint"] == nps["hint"]


# --- review of issue 16.11: shared output folders, escaping outputs, summaries, symlinks ----------------------
def _small(step: str, output_dir: str = "out", as_of: str = "2024-12-01", transactions: Path | None = None) -> str:
    return (
        f'as_of = "{as_of}"\noutput_dir = "{output_dir}"\n\n'
        f'[inputs.transactions]\npath = "{transactions or SAMPLE / "transactions.csv"}"\n{step}'
    )


SEGMENTS_STEP = '\n[[steps]]\ncommand = "segment"\noutput = "segments.csv"\n'
NUDGE_STEP = '\n[[steps]]\ncommand = "second-purchase"\noutput = "nudge.csv"\n'
RETENTION_STEP = '\n[[steps]]\ncommand = "retention"\noutput = "retention.csv"\n'


def test_two_pipelines_sharing_an_output_folder_never_remove_each_others_files(tmp_path):
    nightly = write(tmp_path, _small(SEGMENTS_STEP + NUDGE_STEP), "nightly.toml")
    weekly = write(tmp_path, _small(RETENTION_STEP), "weekly.toml")
    out = tmp_path / "out"
    assert run(str(nightly), "-q").exit_code == 0
    assert run(str(weekly), "-q").exit_code == 0
    assert sorted(_files(out)) == ["nudge.csv", "retention.csv", "segments.csv"]
    summary = _summary(out)
    assert summary["pipeline"] == str(weekly) and summary["status"] == "ok" and summary["last_ok_run"] is None
    assert summary["other_pipelines"][str(nightly)]["outputs"] == ["nudge.csv", "segments.csv"]
    assert run(str(nightly), "-q").exit_code == 0  # again: weekly's file stays
    assert sorted(_files(out)) == ["nudge.csv", "retention.csv", "segments.csv"]
    assert _summary(out)["other_pipelines"][str(weekly)]["outputs"] == ["retention.csv"]
    # a run still removes what its own pipeline published before and no longer writes, after another's run
    assert run(str(weekly), "-q").exit_code == 0
    write(tmp_path, _small(SEGMENTS_STEP), "nightly.toml")
    assert run(str(nightly), "-q").exit_code == 0
    assert sorted(_files(out)) == ["retention.csv", "segments.csv"]
    # a file the other pipeline published last is no longer this one's to remove
    write(
        tmp_path, _small(RETENTION_STEP + SEGMENTS_STEP.replace("segment\n", "segment\nname = 'seg'\n")), "weekly.toml"
    )
    assert run(str(weekly), "-q").exit_code == 0
    write(tmp_path, _small(NUDGE_STEP), "nightly.toml")
    assert run(str(nightly), "-q").exit_code == 0
    assert sorted(_files(out)) == ["nudge.csv", "retention.csv", "segments.csv"]


def test_two_pipelines_sharing_an_output_folder_do_not_run_at_once(tmp_path, held_lock):
    pipeline = write(tmp_path, _small(SEGMENTS_STEP), "other.toml")
    (tmp_path / "out").mkdir()
    lock = tmp_path / ".out.loyalty.lock"  # beside the output folder, as its staging folders
    procs = []
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock), ""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    procs.append(proc)
    try:
        assert proc.stdout.readline() == "locked\n"
        result = run(str(pipeline))
        assert result.exit_code == 4
        assert result.stderr == (
            f"Error: Another run is writing to {tmp_path / 'out'} (lock {lock})\n"
            "Hint: Wait for it to finish, or give each pipeline its own output_dir.\n"
        )
        assert not (tmp_path / "out" / "segments.csv").exists()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert run(str(pipeline), "-q").exit_code == 0 and not lock.exists()


OUTSIDE_HINT = 'A step writes into output_dir: name a file or a folder in it, e.g. output = "segments.csv".'


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("../escaped.csv", "'../escaped.csv' is outside output_dir"),
        ("lists/../../escaped.csv", "'lists/../../escaped.csv' is outside output_dir"),
        ("%ABS%", "'%ABS%' is outside output_dir"),
        ("{output_dir}/escaped.csv", "'{output_dir}/escaped.csv' is outside output_dir"),
    ],
)
def test_a_step_output_outside_the_output_folder_is_refused_on_load(tmp_path, output, problem):
    absolute = str(tmp_path / "escaped.csv")
    output, problem = output.replace("%ABS%", absolute), problem.replace("%ABS%", absolute)
    failing = '\n[[steps]]\ncommand = "churn"\noptions = { rules = "no_such_rules.toml" }\n'
    pipeline = write(tmp_path, _small(f'\n[[steps]]\ncommand = "segment"\noutput = "{output}"\n' + failing))
    result = run(str(pipeline))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {pipeline}: step 1 (segment) output: {problem}\nHint: {OUTSIDE_HINT}\n"
    assert not (tmp_path / "escaped.csv").exists() and not (tmp_path / "out").exists()


def test_an_option_path_under_output_dir_cannot_climb_out_of_it(tmp_path):
    step = '\n[[steps]]\ncommand = "segment"\noutput = "s.csv"\noptions = { cut_points = "{output_dir}/../c.csv" }\n'
    pipeline = write(tmp_path, _small(step))
    result = run(str(pipeline))
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: {pipeline}: step 1 (segment) options.cut_points: '{{output_dir}}/../c.csv' is outside output_dir\n"
        "Hint: Name a file or folder in it after {output_dir}/, or a path outside it without {output_dir}.\n"
    )


def test_a_staged_path_that_resolves_outside_the_staging_folder_is_refused(tmp_path):
    from loyalty_cli.pipeline import PipelineError, staged_path

    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "link").symlink_to(tmp_path)
    assert staged_path(staging, "lists/a.csv") == staging / "lists" / "a.csv"
    with pytest.raises(PipelineError, match="is outside the output folder"):
        staged_path(staging, "link/a.csv")
    with pytest.raises(PipelineError, match="is outside the output folder"):
        staged_path(staging, "../a.csv")


def test_an_input_failure_writes_the_summary_to_the_fixed_part_of_the_output_folder(tmp_path):
    bad = tmp_path / "orders.csv"
    text = (SAMPLE / "transactions.csv").read_text()
    bad.write_text(text + "999999,C000001,not a date,X,Y,web,1,1.0,1.0,,\n")
    pipeline = write(tmp_path, _small(SEGMENTS_STEP, output_dir="out2/{as_of}", as_of="latest", transactions=bad))
    result = run(str(pipeline), "-q")
    assert result.exit_code == 1
    assert "\nError: 1 bad row in the transactions:" in result.stderr
    summary = _summary(tmp_path / "out2")
    assert summary["status"] == "failed" and summary["steps"] == [] and summary["ended_at"]
    assert summary["error"].startswith("1 bad row in the transactions:") and summary["as_of"] is None
    assert summary["pipeline"] == str(pipeline) and summary["last_ok_run"] is None
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["run_summary.json"]
    # the next run that gets to its folder writes its summary there, and takes the stale one away
    bad.write_text(text)
    assert run(str(pipeline), "-q").exit_code == 0
    [dated] = list((tmp_path / "out2").iterdir())
    assert _summary(dated)["status"] == "ok" and (dated / "segments.csv").is_file()


def test_an_input_failure_with_no_fixed_folder_writes_the_summary_beside_the_pipeline(tmp_path):
    pipeline = write(
        tmp_path, _small(SEGMENTS_STEP, output_dir="{as_of}", as_of="latest", transactions=tmp_path / "gone.csv")
    )
    assert run(str(pipeline), "-q").exit_code == 1
    assert _summary(tmp_path)["error"] == f"File not found: {tmp_path / 'gone.csv'}"


def test_publish_replaces_the_target_of_a_symlinked_output_and_keeps_the_link(tmp_path):
    pipeline = write(tmp_path, _small(SEGMENTS_STEP + NUDGE_STEP))
    assert run(str(pipeline), "-q").exit_code == 0
    out = tmp_path / "out"
    expected = (out / "segments.csv").read_bytes()
    (tmp_path / "shared").mkdir()
    target = tmp_path / "shared" / "segments.csv"
    target.write_text("old list\n")
    target.chmod(0o640)
    (out / "segments.csv").unlink()
    (out / "segments.csv").symlink_to(target)
    (out / "nudge.csv").unlink()
    (out / "nudge.csv").symlink_to(tmp_path / "shared" / "new_nudge.csv")  # a link to no file yet
    assert run(str(pipeline), "-q").exit_code == 0
    assert (out / "segments.csv").is_symlink() and (out / "segments.csv").resolve() == target
    assert target.read_bytes() == expected and (target.stat().st_mode & 0o777) == 0o640
    assert (out / "nudge.csv").is_symlink() and (tmp_path / "shared" / "new_nudge.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["new_nudge.csv", "segments.csv"]


def test_an_output_linked_to_a_folder_fails_before_anything_moves(tmp_path):
    pipeline = write(tmp_path, _small(SEGMENTS_STEP))
    (tmp_path / "out").mkdir()
    (tmp_path / "folder").mkdir()
    (tmp_path / "out" / "segments.csv").symlink_to(tmp_path / "folder")
    result = run(str(pipeline), "-q")
    assert result.exit_code == 1
    link = tmp_path / "out" / "segments.csv"
    assert f"Error: Cannot write {link}: {link} is a folder\n" in result.stderr
    assert link.is_symlink() and list((tmp_path / "folder").iterdir()) == []


def test_publish_through_a_link_to_another_file_system_copies_then_renames(tmp_path, monkeypatch):
    import errno

    import loyalty_cli.pipeline.staging as pipeline_module

    staging, out, shared = tmp_path / "staging", tmp_path / "out", tmp_path / "shared"
    for folder in (staging, out, shared):
        folder.mkdir()
    (staging / "list.csv").write_text("new\n")
    (shared / "list.csv").write_text("old\n")
    (out / "list.csv").symlink_to(shared / "list.csv")
    real = os.replace

    def cross_device(src, dst):
        if Path(src).parent == staging:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst)

    monkeypatch.setattr(pipeline_module.os, "replace", cross_device)
    assert pipeline_module.publish(staging, out) == [out / "list.csv"]
    assert (out / "list.csv").is_symlink() and (shared / "list.csv").read_text() == "new\n"
    assert sorted(p.name for p in shared.iterdir()) == ["list.csv"] and not staging.exists()


# --- found in review ---------------------------------------------------------------------------------------------


def test_a_hand_off_step_is_screened_with_the_pipelines_contacts(tmp_path):
    pipeline = write(
        tmp_path,
        f'as_of = "2025-01-01"\noutput_dir = "out"\n'
        f'[inputs.transactions]\npath = "{SAMPLE / "transactions.csv"}"\n'
        f'[inputs.contacts]\npath = "{SAMPLE / "contacts.csv"}"\n'
        '[[steps]]\nname = "mc"\ncommand = "segment"\noutput = "list.csv"\noptions = { target = "mailchimp" }\n',
    )
    result = run(str(pipeline))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert (out / "list.dropped.csv").is_file()  # the sample's contacts say no for some customers
    dropped = (out / "list.dropped.csv").read_text()
    assert "no email consent" in dropped


def test_a_pipeline_run_through_a_link_is_the_same_pipeline(tmp_path):
    real = write(tmp_path, PIPELINE)
    (tmp_path / "cron").mkdir()
    link = tmp_path / "cron" / "nightly.toml"
    link.symlink_to(real)
    assert run(str(link), "-q").exit_code == 0
    summary = _summary(tmp_path / "out" / "2024-12-01")
    assert summary["pipeline"] == str(real)
    assert run(str(real), "-q").exit_code == 0
    assert (
        "other_pipelines" not in _summary(tmp_path / "out" / "2024-12-01")
        or not _summary(tmp_path / "out" / "2024-12-01")["other_pipelines"]
    )
