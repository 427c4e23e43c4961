"""What reaches spreadsheets and terminals from the data (issue 16): formula-like headers and cells in every
CSV and tab-separated table, and control characters in tables and messages, through the commands."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app, console

RUNNER = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None})
FORMULA = "=cmd|' /C calc'!A0"
SEGMENT_MAP = """\
name = "hostile"
version = "1"
description = "Segment names a spreadsheet would run."
bins = 5
match = "first"

[[segment]]
name = "+SUM(1,1)"
when = "r >= 4"

[[segment]]
name = "=1+1"
when = "r >= 1"
"""


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def csv_rows(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def tsv_block(stdout: str, title: str) -> list[str]:
    """The lines of the piped table under ``# <title>``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# {title}")) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("# ")), len(lines))
    return lines[start:end]


def test_rejects_keep_a_formula_like_header_neutralised():
    Path("tx.csv").write_text(
        f"customer_id,order_date,amount,{FORMULA}\nA,2024-01-01,10,x\nB,2024-01-02,abc,+SUM(1;1)\nC,2024-01-03,5,y\n"
    )
    result = run("segment", "tx.csv", "--on-bad-rows", "skip", "-o", "seg.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert csv_rows("seg.rejects.csv") == [
        ["source_file", "source_row", "reject_reason", "reject_column", "reject_value"]
        + ["customer_id", "order_date", "amount", "'" + FORMULA],
        ["tx.csv", "3", "unparseable amount", "amount", "abc", "B", "2024-01-02", "abc", "'+SUM(1;1)"],
    ]


def test_segment_names_that_start_like_formulas_are_neutralised_in_piped_tables():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-20,5\nC,2024-01-03,7\n")
    Path("map.toml").write_text(SEGMENT_MAP)
    result = run("segment", "tx.csv", "--rules", "map.toml", "--as-of", "2024-02-01", "-o", "seg.csv")
    assert result.exit_code == 0, result.stderr
    segments = [line.split("\t")[:2] for line in tsv_block(result.stdout, "Segments")]
    assert segments == [["segment", "customers"], ["'+SUM(1,1)", "1"], ["'=1+1", "2"]]
    assert sorted(row[1] for row in csv_rows("seg.csv")[1:]) == ["'+SUM(1,1)", "'=1+1", "'=1+1"]


def test_nps_by_a_formula_like_column_neutralises_its_header():
    Path("s.csv").write_text(f'customer_id,responded_at,score,"{FORMULA.replace(chr(34), chr(34) * 2)}"\n')
    with open("s.csv", "a", encoding="utf-8") as fh:
        fh.write("A,2024-01-01,9,north\nB,2024-01-02,3,south\n")
    result = run("nps", "s.csv", "--by", FORMULA, "--min-n", "1", "-o", "by.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert csv_rows("by.csv")[0][:3] == ["survey_type", "'" + FORMULA, "responses"]
    result = run("nps", "s.csv", "--by", FORMULA, "--min-n", "1", "-q")
    assert result.exit_code == 0, result.stderr
    assert tsv_block(result.stdout, "NPS by")[0].split("\t")[:3] == ["survey_type", "'" + FORMULA, "responses"]


def test_control_characters_in_notes_and_errors_are_shown_not_run():
    """A file name (a folder of daily exports names them) quoted raw in a note and an error."""
    name = "t\x1b]0;pwned\x07\u202e.csv"
    Path(name).write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-20,5x\n")
    result = run("segment", name, "-o", "s.csv")
    assert result.exit_code == 1
    shown = "t\\x1b]0;pwned\\x07\\u202e.csv"
    assert result.stderr.splitlines()[0] == f"Reading transactions from {shown}"
    assert result.stderr.splitlines()[3:5] == [
        "Error: 1 bad row in the transactions:",
        f"  1 row with unparseable amount in {shown}, column 'amount' (row 3; values '5x')",
    ]
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


@pytest.mark.parametrize("tty", [False, True])
def test_control_characters_in_table_values_are_shown_not_run(monkeypatch: pytest.MonkeyPatch, tty: bool):
    monkeypatch.setattr(console, "_is_tty", lambda stream: tty)
    Path("s.csv").write_text(
        "customer_id,responded_at,score,touchpoint\n"
        'A,2024-01-01,9,"web\x1b]0;pwned\x07\x1b[2J\u202eevil"\nB,2024-01-02,3,"two\tparts"\n'
    )
    result = run("nps", "s.csv", "--by", "touchpoint", "--min-n", "1", "-q")
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout
    assert "web\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in result.stdout
    if not tty:
        rows = [line.split("\t") for line in tsv_block(result.stdout, "NPS by")]
        assert [row[1] for row in rows] == ["touchpoint", "two\\tparts", "web\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil"]
        assert {len(row) for row in rows} == {9}


def test_control_characters_in_the_run_log_are_shown_not_run():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-20,5\n")
    Path("pipeline.toml").write_text(
        'as_of = "2024-02-01"\noutput_dir = "out\\u001b]0;pwned\\u0007\\u202e"\n\n'
        '[inputs.transactions]\npath = "tx.csv"\n\n[[steps]]\ncommand = "segment"\noutput = "segments.csv"\n'
    )
    shown = "out\\x1b]0;pwned\\x07\\u202e"
    result = RUNNER.invoke(app, ["run", "pipeline.toml"])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr and "\x07" not in result.stderr
    assert f"/{shown}\nsegment [segment]: ok, 2 rows -> segments.csv (" in result.stderr
    result = RUNNER.invoke(app, ["run", "pipeline.toml", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.output and "\u202e" not in result.output and "\x07" not in result.output
    assert f"as of: 2024-02-01; outputs in {shown}\n" in result.stdout


def test_control_characters_in_a_rules_file_name_are_shown_not_run():
    name = "map\x1b]0;pwned\x07\u202e.toml"
    Path(name).write_text(SEGMENT_MAP)
    result = run("rules", "check", name)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("map\\x1b]0;pwned\\x07\\u202e.toml: OK (2 segments, bins 5, match first")
