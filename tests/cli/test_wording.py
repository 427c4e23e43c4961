"""Messages that count agree with the number: ``1 row``, ``2 rows`` (one helper, :func:`loyalty_cli.words.count`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.words import count

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
PACKAGE = Path(__file__).parent.parent.parent / "src" / "loyalty_cli"


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1234, "1,234 rows"), (-1, "-1 rows")]
)
def test_count(n: int, expected: str) -> None:
    assert count(n, "row") == expected


def test_count_with_an_irregular_plural() -> None:
    assert count(1, "entry", "entries") == "1 entry"
    assert count(3, "entry", "entries") == "3 entries"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-02,20\nA,2024-01-05,30\n")
    Path("nps.csv").write_text(
        "customer_id,responded_at,score,survey_type\nA,2024-01-02,9,relational\nB,2024-01-03,3,relational\n"
    )
    return tmp_path


def invoke(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_one_row_table_is_one_row(work: Path) -> None:
    result = invoke("nps", "nps.csv", "-o", "nps_table.csv")
    assert result.exit_code == 0, result.output
    assert "Wrote the NPS table (1 row) to nps_table.csv" in result.stderr


def test_one_empty_score_holds_no_customers(work: Path) -> None:
    sample = Path(__file__).parent.parent.parent / "sample_data" / "transactions.csv"
    result = invoke("segment", str(sample), "-o", "segments.csv")
    assert result.exit_code == 0, result.output
    assert "F: score 2 holds no customers" in result.stderr


def test_one_step_pipeline_is_one_step(work: Path) -> None:
    Path("pipeline.toml").write_text(
        'output_dir = "out"\n[inputs.transactions]\npath = "tx.csv"\n'
        '[[steps]]\ncommand = "segment"\noutput = "segments.csv"\n'
    )
    result = invoke("run", "pipeline.toml")
    assert result.exit_code == 0, result.output
    assert "1 step," in result.stderr and "1 steps" not in result.stderr


# a count written into a message by hand: "{n:,} rows", "({table.height} rows)", "{len(steps)} steps",
# "{n} file(s)"
HAND_PLURAL = re.compile(
    r"\{[^{}]*\}\)? \(?(?:\w+ )?(?:rows|customers|steps|files|segments|cohorts|answers|parts)\b|\{\} \w+\(s\)"
)


# counts that agree by construction, and words that are not counts: whole f-strings, then parts of one
AGREE = {"{} files", "all {} files"}  # io/readers: more than one file on these branches
NOT_A_HAND_PLURAL = (
    " ({} identifies rows by {})",  # io/targets: not a count
    "with {} and {} customers",  # metrics/uplift: two groups' sizes together
    "about {} customers in total",  # metrics/uplift: an estimate
    "needs at least {} customers",  # models: a minimum of 2 or more
    "needs at least {} repeat customers",  # models: a minimum of 2 or more
    "{} members enrolled before",  # report: formatted figures, not numbers
    "{} of customers",  # report: a rate of customers
    "{} no customers: ties merged",  # cli/segment: "score 2 holds no customers", the subject agrees
)


def f_string_parts(path: Path) -> list[tuple[int, str]]:
    """The literal text of every f-string in a module, with its placeholders as ``{}``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_messages_count_through_the_helper(path: Path) -> None:
    hand = [
        (line, text)
        for line, text in f_string_parts(path)
        if HAND_PLURAL.search(text) and text not in AGREE and not any(ok in text for ok in NOT_A_HAND_PLURAL)
    ]
    assert not hand, f"{path.name}: word these counts with loyalty_cli.words.count: {hand}"
