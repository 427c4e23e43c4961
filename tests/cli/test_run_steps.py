"""``loyalty run`` with the steps of issue 22: ``next-order``, ``products`` and ``plan-test`` (its required
``mde``, and its ``list`` written by an earlier step), and ``churn``/``lifecycle`` with ``next_order``: checked
by ``--dry-run``, and run to the same bytes as the commands typed by hand."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
SAMPLE = Path(__file__).parent.parent.parent / "sample_data"
TX = str(SAMPLE / "transactions.csv")

PIPELINE = f"""
as_of = "2025-01-01"
output_dir = "out"

[inputs.transactions]
path = "{TX}"

[[steps]]
command = "next-order"
output = "due.csv"
options = {{ due_within = 7 }}

[[steps]]
command = "products"
output = "next_best.csv"
options = {{ table = "list", target = "klaviyo", cycle = "{{output_dir}}/cycle.csv" }}

[[steps]]
name = "at_risk"
command = "segment"
output = "at_risk.csv"
options = {{ segment = ["At Risk"] }}

[[steps]]
command = "plan-test"
output = "plan.csv"
options = {{ mde = "0.1", list = "{{output_dir}}/at_risk.csv", arms = "3" }}

[[steps]]
command = "churn"
output = "lapsing.csv"
options = {{ status = ["lapsing"], next_order = true }}

[[steps]]
command = "lifecycle"
output = "todo.csv"
options = {{ next_order = true }}
"""
# each step's output, and the same command as a person types it (its output in the folder "by_hand")
BY_HAND = {
    "due.csv": ["next-order", TX, "--due-within", "7"],
    "next_best.csv": ["products", TX, "--table", "list", "--target", "klaviyo", "--cycle", "by_hand/cycle.csv"],
    "cycle.csv": None,  # written by the products step above
    "at_risk.csv": ["segment", TX, "--segment", "At Risk"],
    "plan.csv": ["plan-test", TX, "--mde", "0.1", "--list", "by_hand/at_risk.csv", "--arms", "3"],
    "lapsing.csv": ["churn", TX, "--status", "lapsing", "--next-order"],
    "todo.csv": ["lifecycle", TX, "--next-order"],
}


def invoke(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write(folder: Path, text: str) -> Path:
    path = folder / "pipeline.toml"
    path.write_text(text)
    return path


def test_dry_run_checks_the_new_steps_and_prints_their_command_lines(tmp_path):
    result = invoke("run", str(write(tmp_path, PIPELINE)), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line[:2] in {f"{i}." for i in range(1, 7)}]
    common = "--as-of 2025-01-01 --quiet --on-bad-rows error"
    assert lines == [
        f"1. next-order: loyalty next-order {TX} --output <output_dir>/due.csv {common} --due-within 7",
        f"2. products: loyalty products {TX} --output <output_dir>/next_best.csv {common} --table list --target "
        "klaviyo --cycle <output_dir>/cycle.csv",
        f'3. at_risk: loyalty segment {TX} --output <output_dir>/at_risk.csv {common} --segment "At Risk"',
        f"4. plan-test: loyalty plan-test {TX} --output <output_dir>/plan.csv {common} --mde 0.1 --list "
        "<output_dir>/at_risk.csv --arms 3",
        f"5. churn: loyalty churn {TX} --output <output_dir>/lapsing.csv {common} --status lapsing --next-order",
        f"6. lifecycle: loyalty lifecycle {TX} --output <output_dir>/todo.csv {common} --next-order",
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('options = { mde = "0.1", ', "options = { ", "step 4 (plan-test): plan-test needs --mde"),
        ('table = "list"', 'table = "lists"', "--table must be first, next, pairs, cycle or list, got 'lists'"),
        ('mde = "0.1"', 'mde = "a lot"', "--mde 'a lot': expected a positive difference"),
        ('mde = "0.1"', 'mde = "0.1", window = "soon"', "--window"),
        ("next_order = true }", 'next_order = "yes" }', "Invalid value for '--next-order': 'yes' is not a valid"),
    ],
)
def test_dry_run_refuses_a_bad_option_of_the_new_steps(tmp_path, old, new, error):
    assert old in PIPELINE
    result = invoke("run", str(write(tmp_path, PIPELINE.replace(old, new, 1))), "--dry-run")
    assert result.exit_code in (1, 2), result.output
    assert error in result.stderr


def test_a_missing_required_option_is_named_when_the_file_loads(tmp_path):
    pipeline = write(tmp_path, PIPELINE.replace('options = { mde = "0.1", ', "options = { ", 1))
    result = invoke("run", str(pipeline))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {pipeline}: step 4 (plan-test): plan-test needs --mde\n"
        'Hint: Add it to the step\'s options: options = { mde = "0.05" }.\n'
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("listed", "ok"),
    [
        ("{output_dir}/at_risk.csv", True),
        ("{output_dir}/./at_risk.csv", True),
        ("{output_dir}/at_risk.control.csv", True),  # beside the step's output (a control group, a part file)
        ("{output_dir}/at_*.csv", True),
        ("{output_dir}/at_rsk.csv", False),
        ("{output_dir}/plan.csv", False),  # written by this step, not an earlier one
        ("{output_dir}/due.control.csv", True),
    ],
)
def test_a_list_in_the_output_folder_must_come_from_an_earlier_step(tmp_path, listed, ok):
    text = PIPELINE.replace("{output_dir}/at_risk.csv", listed, 1)
    result = invoke("run", str(write(tmp_path, text)), "--dry-run")
    if ok:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    assert f"step 4 (plan-test) options.list: '{listed}' is written by no earlier step" in result.stderr
    assert "put that step first" in result.stderr


def test_the_new_steps_run_to_the_bytes_of_the_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", str(write(tmp_path, PIPELINE)))
    assert result.exit_code == 0, result.output
    steps = [line.split(" [")[0] for line in result.stderr.splitlines() if " [" in line]
    assert steps == ["next-order", "products", "at_risk", "plan-test", "churn", "lifecycle"]
    Path("by_hand").mkdir()
    for name, argv in BY_HAND.items():
        if argv is not None:
            done = invoke(*argv, "--as-of", "2025-01-01", "-q", "-o", f"by_hand/{name}")
            assert done.exit_code == 0, done.output
    for name in BY_HAND:
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "by_hand" / name).read_bytes(), name
    header = (tmp_path / "out" / "lapsing.csv").read_text().splitlines()[0]
    assert header.endswith(",as_of,next_order_date,contact_from,contact_to")


def test_every_required_option_of_a_pipeline_command_is_known_to_the_loader():
    """The loader knows every option without a default of the commands a step can run: REQUIRED_OPTIONS, the
    required inputs (REQUIRED_EXTRAS) and the output (NEEDS_OUTPUT)."""
    import importlib

    from loyalty_cli.cli.steps import option_names
    from loyalty_cli.pipeline.config import (
        COMMAND_INPUTS,
        NEEDS_OUTPUT,
        READ_OPTIONS,
        REQUIRED_EXTRAS,
        REQUIRED_OPTIONS,
        RESERVED,
    )

    for command in COMMAND_INPUTS:
        name = command.replace("-", "_")
        function = getattr(importlib.import_module(f"loyalty_cli.cli.{name}"), name)
        required = {
            key
            for key, parameter in option_names()[command].items()
            if inspect.signature(function).parameters[parameter].default is inspect.Parameter.empty
            and key not in {"inputs", *RESERVED}  # report's output: NEEDS_OUTPUT
        }
        assert required == {*REQUIRED_OPTIONS.get(command, {}), *REQUIRED_EXTRAS.get(command, ())}, command
        assert set(READ_OPTIONS.get(command, ())) <= set(option_names()[command]), command
        output = inspect.signature(function).parameters[option_names()[command]["output"]]
        assert (output.default is inspect.Parameter.empty) == (command in NEEDS_OUTPUT), command


def test_a_report_step_without_an_output_is_named_when_the_file_loads(tmp_path):
    text = f'as_of = "2025-01-01"\n[inputs.transactions]\npath = "{TX}"\n[[steps]]\ncommand = "report"\n'
    pipeline = write(tmp_path, text)
    result = invoke("run", str(pipeline), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: {pipeline}: step 1 (report): report needs an output\nHint: Add output = "report.html" to the step.\n'
    )
