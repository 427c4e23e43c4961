"""``--help`` of every command: the help texts show as written (square brackets included), and each option
shows what a person types (``FILE``, ``YYYY-MM-DD``, ``NAME``, ``N``; nothing for flags), not a Python type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from loyalty_cli.cli import app

# wide enough that no help line wraps: each help text then appears on one line, as written
ENV = {"COLUMNS": "3000", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)


def _commands() -> list[tuple[list[str], object]]:
    """Every command and group as (its arguments on the command line, its click object)."""
    found: list[tuple[list[str], object]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()
IDS = [" ".join(path) or "loyalty" for path, _ in COMMANDS]


def flat(text: str) -> str:
    return " ".join(text.split())


def written(text: str) -> str:
    """A help text as its author wrote it (the built command holds it escaped for rich: ``\\[surveys]``)."""
    return flat(text.replace("\\[", "["))


def show_help(path: list[str]) -> str:
    result = RUNNER.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return flat(result.stdout)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_help_text_shows_as_written(path: list[str], command) -> None:  # noqa: ANN001
    shown = show_help(path)
    for param in command.params:
        if param.help:
            assert written(param.help) in shown, (param.opts, param.help)
    for paragraph in (command.help or "").split("\n\n"):
        assert written(paragraph) in shown, paragraph
    for paragraph in (command.epilog or "").split("\n\n"):
        assert written(paragraph) in shown, paragraph


def test_table_names_in_brackets_survive() -> None:
    assert "mapped in the [surveys] table of the mapping file" in show_help(["report"])
    assert "[members]" in show_help(["program"]) and "[points]" in show_help(["program"])


# a Python type as typer shows it: <list[str]>, <bool>, <str>, <int range>, <%Y-%m-%d>, <path>, <float>
PYTHON_TYPE = re.compile(r"<(list\[|str>|bool>|int|float|path>|Path>|%|datetime>)")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_options_show_what_to_type(path: list[str], command) -> None:  # noqa: ANN001
    shown = show_help(path)
    assert not PYTHON_TYPE.findall(shown), PYTHON_TYPE.findall(shown)
    for param in command.params:
        if getattr(param, "is_flag", False):
            assert param.metavar == "", param.opts  # a flag takes no value: nothing shows after it
        else:
            assert param.metavar, param.opts


def test_metavars_of_common_options() -> None:
    shown = show_help(["segment"])
    assert "Usage: loyalty segment [OPTIONS] FILE..." in shown
    for expected in (
        "* FILE... CSV or Parquet files",
        "--as-of YYYY-MM-DD",
        "--customer-col NAME",
        "--mapping FILE",
        "-o FILE",
        "--bins N",
    ):
        assert expected in shown.replace("--output -o", "-o"), expected
    quiet = re.search(r"--quiet -q (\S+)", shown)
    assert quiet and quiet[1] == "No", quiet  # the help text follows the flag directly


# --- --quiet: what it hides, as its help says -------------------------------------------------------------------


@pytest.fixture
def orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-02,20\nA,2024-01-05,30\n")
    return tmp_path


def test_quiet_help_says_what_it_hides() -> None:
    shown = show_help(["segment"])
    assert "errors and data still show" not in shown  # the tables did not show with -o: it said otherwise
    assert (
        "--quiet -q No notes on stderr, and with -o no summary tables either (the data is in the file): silent "
        "unless there is a warning or an error. Without -o the table is the data and still prints." in shown
    )


def test_quiet_with_output_is_silent(orders: Path) -> None:
    result = RUNNER.invoke(app, ["segment", "tx.csv", "-o", "segments.csv", "-q"])
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "")
    assert Path("segments.csv").read_text().startswith("customer_id,")


def test_quiet_without_output_still_prints_the_data(orders: Path) -> None:
    result = RUNNER.invoke(app, ["segment", "tx.csv", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("# Cut points (as of 2024-01-06)\n")
    assert "# Segments (as of 2024-01-06, 2 customers)\n" in result.stdout


def test_paragraphs_flow_instead_of_keeping_the_docstring_line_breaks() -> None:
    result = RUNNER.invoke(app, ["program", "--help"])
    assert "(or their first purchase, when they enrolled before buying), non-members" in result.stdout
    result = RUNNER.invoke(app, ["rules", "--help"])
    assert "every segment reachable; churn and lifecycle rules: the checks" in result.stdout
