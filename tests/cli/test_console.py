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
