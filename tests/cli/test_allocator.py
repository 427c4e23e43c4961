"""A memory budget on the command line makes Polars' allocator give freed pages back at once."""

from __future__ import annotations

import os

import pytest

from loyalty_cli.cli import RETURN_AT_ONCE, budget_allocator

VARIABLE = "_RJEM_MALLOC_CONF"


@pytest.mark.parametrize(
    ("argv", "set_"),
    [
        (["segment", "x.parquet", "--memory-limit", "1GB"], True),
        (["segment", "x.parquet", "--memory-limit=512MB", "-q"], True),
        (["segment", "x.parquet", "--memory-limit", "none"], False),
        (["segment", "x.parquet", "--memory-limit=None"], False),
        (["segment", "x.parquet"], False),
        (["segment", "x.parquet", "--memory-limit"], False),  # Typer says what is missing
        (["segment", "--", "--memory-limit", "1GB"], False),  # a file named so, not the option
    ],
)
def test_only_a_budget_given_sets_the_allocator(monkeypatch: pytest.MonkeyPatch, argv: list[str], set_: bool) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    budget_allocator(argv)
    assert (VARIABLE in os.environ) is set_
    if set_:
        assert os.environ[VARIABLE] == RETURN_AT_ONCE


def test_a_value_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "dirty_decay_ms:5000")
    budget_allocator(["segment", "x.parquet", "--memory-limit", "1GB"])
    assert os.environ[VARIABLE] == "dirty_decay_ms:5000"
