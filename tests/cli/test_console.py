"""Terminal output: rich tables on a terminal, tab-separated text when piped or under CI."""

from __future__ import annotations

import io

import polars as pl
import pytest

from loyalty_cli.cli import console


def _table_text(monkeypatch: pytest.MonkeyPatch, *, tty: bool) -> str:
    buffer = io.StringIO()
    monkeypatch.setattr(console, "_is_tty", lambda stream: tty)
    out = console.Output()
    out.out.file = buffer
    out.table(pl.DataFrame({"segment": ["Champions"], "customers": [12]}), title="Segments")
    return buffer.getvalue()


def test_table_on_a_terminal_is_drawn(monkeypatch: pytest.MonkeyPatch):
    text = _table_text(monkeypatch, tty=True)
    assert "Champions" in text and "│" in text and "\t" not in text


def test_piped_table_is_tab_separated(monkeypatch: pytest.MonkeyPatch):
    assert _table_text(monkeypatch, tty=False) == "# Segments\nsegment\tcustomers\nChampions\t12\n"


def test_ci_gets_plain_tables_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    assert _table_text(monkeypatch, tty=True) == "# Segments\nsegment\tcustomers\nChampions\t12\n"


# --- what reaches spreadsheets and terminals ---------------------------------------------------------------

HOSTILE = "A\x1b]0;title\x07B\x1b[2JC\u202eD\x9bE\x00F"
SHOWN = "A\\x1b]0;title\\x07B\\x1b[2JC\\u202eD\\x9bE\\x00F"


def _output(monkeypatch: pytest.MonkeyPatch, *, tty: bool) -> tuple[console.Output, io.StringIO, io.StringIO]:
    monkeypatch.setattr(console, "_is_tty", lambda stream: tty)
    if tty:
        monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a real terminal (colours, styles)
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = console.Output()
    stdout, stderr = io.StringIO(), io.StringIO()
    out.out.file, out.err.file = stdout, stderr
    return out, stdout, stderr


def _no_controls(text: str, *, tabs: bool = False) -> None:
    """No control character but rich's own styling (SGR ``ESC [ ... m``), line ends and (``tabs``) separators."""
    import re

    rest = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\n", "")
    rest = rest.replace("\t", "") if tabs else rest
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]", rest), repr(text)


def test_printable_escapes_controls_visibly():
    assert console.printable(HOSTILE) == SHOWN
    assert console.printable("tab\tnew\nline\rend\x7f\u2066") == "tab\\tnew\\nline\\rend\\x7f\\u2066"
    assert console.printable("two\nlines\t", newlines=True) == "two\nlines\\t"
    assert console.printable("Café, Zürich 東京 C:\\dir [bold]") == "Café, Zürich 東京 C:\\dir [bold]"


@pytest.mark.parametrize("tty", [True, False])
def test_controls_in_tables_are_shown_not_run(monkeypatch: pytest.MonkeyPatch, tty: bool):
    out, stdout, _ = _output(monkeypatch, tty=tty)
    out.table(pl.DataFrame({HOSTILE: [HOSTILE], "n": [1]}), title=f"By {HOSTILE}")
    text = stdout.getvalue()
    _no_controls(text, tabs=not tty)
    assert text.count(SHOWN) == 3  # title, header and cell


@pytest.mark.parametrize("tty", [True, False])
def test_controls_in_messages_are_shown_not_run(monkeypatch: pytest.MonkeyPatch, tty: bool):
    from loyalty_cli.errors import DataError

    out, _, stderr = _output(monkeypatch, tty=tty)
    out.note(f"note {HOSTILE}\nsecond line")
    out.warn(f"warn {HOSTILE}")
    out.error(DataError(f"bad id {HOSTILE} in x.csv", hint=f"fix {HOSTILE}"))
    text = stderr.getvalue()
    _no_controls(text)
    assert text.count(SHOWN) == 4
    assert f"note {SHOWN}\nsecond line\n" in text  # messages keep their own line breaks


def test_piped_tables_stay_one_row_a_line(monkeypatch: pytest.MonkeyPatch):
    out, stdout, _ = _output(monkeypatch, tty=False)
    out.table(pl.DataFrame({"id": ["a\tb", "c\nd", 'e"f', "g\r\nh"], "n": [1, 2, 3, 4]}))
    lines = stdout.getvalue().splitlines()
    assert lines == ["id\tn", "a\\tb\t1", "c\\nd\t2", '"e""f"\t3', "g\\r\\nh\t4"]


def test_piped_tables_are_formula_safe(monkeypatch: pytest.MonkeyPatch):
    out, stdout, _ = _output(monkeypatch, tty=False)
    df = pl.DataFrame({"segment": ["+SUM(1,1)", "=1+1", "-3.5", "@x", "ok"], "=by": ["\t=x", "a", "b", "c", "d"]})
    out.table(df.with_columns(pl.col("segment").cast(pl.Categorical), n=pl.Series([-1, 2, 3, 4, 5])))
    assert stdout.getvalue().splitlines() == [
        "segment\t'=by\tn",
        "'+SUM(1,1)\t\\t=x\t-1",
        "'=1+1\ta\t2",
        "-3.5\tb\t3",
        "'@x\tc\t4",
        "ok\td\t5",
    ]


def test_drawn_tables_show_text_as_it_is(monkeypatch: pytest.MonkeyPatch):
    out, stdout, _ = _output(monkeypatch, tty=True)
    out.table(pl.DataFrame({"segment": ["+SUM(1,1)"], "note": ["[bold]x[/bold]"]}))
    text = stdout.getvalue()
    assert "+SUM(1,1)" in text and "'+SUM" not in text  # a terminal runs no formulas
    assert "[bold]x[/bold]" in text
