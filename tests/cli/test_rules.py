"""``loyalty rules check`` and the commands that load rules: a bad rules or mapping file is an ``Error:`` naming
the file, the rule or key and the problem, a ``Hint:``, exit code 1, no traceback; conditions never run SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.rules.grammar import CONDITION_SYNTAX

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
NOT_SQL = "Conditions are not SQL: no queries, casts or file and table functions. " + CONDITION_SYNTAX
SEPARATOR = 'e.g. separator = ";" (or "\\t" for tab, "whitespace").'
COMMA = "e.g. decimal_comma = true (no quotes; for amounts written 12,50)."
ENCODING = 'e.g. encoding = "latin-1" (or "utf-8", "cp1252").'
TYPES = "Compare text columns with quoted text (churn_status = 'active') and numbers with numbers (orders >= 5)."


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-02,20\nA,2024-01-05,30\n")
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def segment_map(when: str) -> str:
    return (
        f'bins = 5\nmatch = "first"\n[[segment]]\nname = "A"\nwhen = "{when}"\n[[segment]]\nname = "B"\nwhen = "true"\n'
    )


def lifecycle_rules(when: str) -> str:
    return f'[[rule]]\nstage = "A"\nwhen = "{when}"\naction = "x"\n[[rule]]\nstage = "B"\nwhen = "true"\naction = "y"\n'


def test_a_condition_cannot_read_files():
    """It used to: the SQL table function ran when the rules loaded, and the error showed the file's content."""
    Path("secret.csv").write_text("x\nTOP-SECRET\n")
    when = "r IN (SELECT x FROM read_csv('secret.csv'))"
    Path("map.toml").write_text(segment_map(when))
    for args in (("rules", "check", "map.toml"), ("segment", "tx.csv", "--rules", "map.toml")):
        result = run(*args)
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: map.toml: rule 'A': condition \"{when}\" is not allowed: 'SELECT' is SQL, which conditions "
            f"cannot use\nHint: {NOT_SQL}\n"
        )
        assert "TOP-SECRET" not in result.output


def test_rules_check_catches_a_cast_that_fails_at_run_time():
    """CAST(first_category AS INTEGER) passed the check, then tracebacked in segment."""
    when = "CAST(first_category AS INTEGER) > 1"
    Path("map.toml").write_text(segment_map(when))
    result = run("rules", "check", "map.toml")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: map.toml: rule 'A': condition '{when}' is not allowed: 'CAST' is SQL, which conditions cannot "
        f"use\nHint: {NOT_SQL}\n"
    )


def test_rules_check_catches_type_errors_in_lifecycle_rules():
    Path("life.toml").write_text(lifecycle_rules("first_channel > 3"))
    result = run("rules", "check", "life.toml")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: life.toml: rule #1 (stage 'A'): condition 'first_channel > 3' cannot be evaluated: it compares "
        f"first_channel (text) with 3 (a number)\nHint: {TYPES}\n"
    )


def test_conditions_beyond_plain_comparisons_still_run():
    Path("map.toml").write_text(segment_map("r >= 4 and coalesce(first_category, 'none') = 'none' and orders - 5 < 0"))
    result = run("rules", "check", "map.toml")
    assert result.exit_code == 0, result.stderr
    result = run("segment", "tx.csv", "--rules", "map.toml", "--as-of", "2024-01-10", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("line", "error", "hint"),
    [
        ("separator = 5", "separator must be text in quotes, got 5", SEPARATOR),
        ('decimal_comma = "false"', "decimal_comma must be true or false (without quotes), got 'false'", COMMA),
        ('encoding = "utf-42"', "encoding: unknown encoding 'utf-42'", ENCODING),
    ],
)
def test_mapping_values_of_the_wrong_type_are_exit_1(line, error, hint):
    """Used to: a traceback (separator = 5), exit 2 as if an option were wrong (encoding), or "false" read as
    true (decimal_comma)."""
    Path("columns.toml").write_text(f'[transactions]\ncustomer_id = "customer_id"\n{line}\n')
    expected = f"Error: columns.toml: [transactions] {error}\nHint: {hint}\n"
    result = run("rules", "check", "columns.toml")
    assert (result.exit_code, result.stderr) == (1, expected)
    result = run("segment", "tx.csv", "--mapping", "columns.toml", "--as-of", "2024-01-10")
    assert (result.exit_code, result.stderr) == (1, expected)


def test_bins_7_says_what_is_allowed():
    Path("map.toml").write_text('bins = 7\n[[segment]]\nname = "A"\nwhen = "true"\n')
    result = run("rules", "check", "map.toml")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: map.toml: bins must be 3, 4, 5 or 10 (the scores the map is written for), got 7\nHint: bins is the "
        "number of scores per dimension"
    )


def test_binary_and_missing_rules_files():
    Path("map.toml").write_bytes(b"bins = 5\n\x00\x00\xff\xfe")
    result = run("rules", "check", "map.toml")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Could not read rules map.toml: it is not a text file (it contains NUL bytes)\nHint: Rules, mapping "
        "and pipeline files are UTF-8 text (TOML): save it as UTF-8 in a text editor, or pass the .toml file you "
        "meant.\n",
    )
    Path("latin.toml").write_bytes('[transactions]\ncustomer_id = "N\u00famero"\n'.encode("latin-1"))
    result = run("rules", "check", "latin.toml")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Could not read rules latin.toml: it is not UTF-8 text (byte 0xfa at offset 31)\nHint: Rules, "
        "mapping and pipeline files are UTF-8 text (TOML): save it as UTF-8 in a text editor (Save As, encoding "
        "UTF-8).\n",
    )
    result = run("rules", "check", "nope.toml")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Rules file not found: nope.toml\nHint: Check the file name and the folder you run loyalty from. The "
        "shipped files are in rules/: rfm_grid.toml, rfm_tertiles.toml, rfm_r_fm.toml, churn.toml, lifecycle.toml, "
        "columns.toml.\n",
    )


# --- examples, pipelines and "did you mean" ---------------------------------------------------------------------


@pytest.mark.parametrize("args", [["rules"], ["rules", "show"], ["rules", "check"]])
def test_rules_help_has_examples(args):
    result = run(*args, "--help")
    assert result.exit_code == 0
    shown = " ".join(result.stdout.split())
    assert "Examples:" in shown
    assert f"loyalty {' '.join(args)} " in shown.split("Examples:", 1)[1]


PIPELINE = (
    'as_of = "2024-01-10"\noutput_dir = "out"\n[inputs.transactions]\npath = "tx.csv"\n'
    '[[steps]]\ncommand = "segment"\noutput = "segments.csv"\noptions = { rules = "map.toml" }\n'
)


def test_rules_check_checks_a_pipeline_with_the_pipeline_loader():
    """Used to: the pipeline was read as a segment map ("unknown key(s) as_of, inputs, ...")."""
    Path("map.toml").write_text('bins = 5\nmatch = "first"\n[[segment]]\nname = "All"\nwhen = "true"\n')
    Path("pipeline.toml").write_text(PIPELINE)
    result = run("rules", "check", "pipeline.toml")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "pipeline.toml: OK (pipeline: 1 step (segment), inputs transactions; every key, command and option known; "
        "rules file map.toml checked; loyalty run --dry-run also reads the inputs)\n"
    )


def test_rules_check_of_a_pipeline_checks_the_rules_files_its_steps_name():
    Path("map.toml").write_text('bins = 7\n[[segment]]\nname = "A"\nwhen = "true"\n')
    Path("pipeline.toml").write_text(PIPELINE)
    result = run("rules", "check", "pipeline.toml")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: map.toml: bins must be 3, 4, 5 or 10")


@pytest.mark.parametrize(
    ("text", "error", "suggestion"),
    [
        (PIPELINE.replace("[[steps]]", "[[step]]"), "top level: unknown key 'step'", "Did you mean 'steps'?"),
        (
            PIPELINE.replace('output = "s', 'outptu = "s'),
            "step 1 (segment): unknown key 'outptu'",
            "Did you mean 'output'?",
        ),
        (PIPELINE.replace('"segment"', '"segmnet"'), "step 1: unknown command 'segmnet'", "Did you mean 'segment'?"),
        (
            PIPELINE.replace("rules = ", "rule = "),
            "step 1 (segment) options.rule: segment has no option --rule",
            "Did you mean 'rules'?",
        ),
        (
            PIPELINE.replace("inputs.transactions", "inputs.transaction"),
            "[inputs.transaction]: unknown input",
            "Did you mean 'transactions'?",
        ),
    ],
)
def test_pipeline_typos_get_a_suggestion(text, error, suggestion):
    Path("pipeline.toml").write_text(text)
    for args in (["rules", "check", "pipeline.toml"], ["run", "pipeline.toml", "--dry-run"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        message, hint = result.stderr.splitlines()[:2]
        assert message == f"Error: pipeline.toml: {error}"
        assert hint.startswith(f"Hint: {suggestion} "), hint


def test_a_misspelt_segment_gets_a_suggestion():
    """Used to: an empty list, silently."""
    result = run("segment", "tx.csv", "--segment", "Champion", "-o", "out.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: Unknown segment 'Champion'\nHint: Did you mean 'Champions'? Segments: Champions, "
    )
    assert not Path("out.csv").exists()


def test_a_misspelt_map_name_gets_a_suggestion():
    result = run("rules", "show", "rfm_gird")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No segment map called 'rfm_gird'\nHint: Did you mean 'rfm_grid'? ")


@pytest.mark.parametrize(
    ("args", "error", "hint"),
    [
        (["churn", "tx.csv", "--status", "lapsng"], "Unknown status 'lapsng'", "Did you mean 'lapsing'? Statuses: "),
        (["lifecycle", "tx.csv", "--stage", "Loyl"], "Unknown stage 'Loyl'", "Did you mean 'loyal'? Stages: "),
    ],
)
def test_misspelt_list_filters_get_a_suggestion(args, error, hint):
    result = run(*args)
    assert result.exit_code == 2
    message, shown = result.stderr.splitlines()[:2]
    assert message == f"Error: {error}"
    assert shown.startswith(f"Hint: {hint}"), shown
