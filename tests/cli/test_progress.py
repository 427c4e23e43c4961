"""The progress line of a long run: on a terminal only, what runs and since when, never on stdout."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from loyalty_cli.cli import app, console

TX = str(Path(__file__).resolve().parents[2] / "sample_data" / "transactions.csv")


def _terminal(monkeypatch: pytest.MonkeyPatch, *, quiet: bool = False) -> tuple[console.Output, io.StringIO]:
    """An Output whose stderr is a 100-column terminal writing to a buffer (stdout to another)."""
    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    monkeypatch.delenv("CI", raising=False)
    out = console.Output(quiet=quiet)
    err = io.StringIO()
    out.err = Console(file=err, force_terminal=True, width=100, no_color=True)  # type: ignore[assignment]
    out.out = Console(file=io.StringIO(), force_terminal=True, width=100, no_color=True)  # type: ignore[assignment]
    return out, err


def test_the_line_says_each_phase_with_the_time_since_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = _terminal(monkeypatch)
    with out.progress():
        out.phase("Reading transactions: pass 2 of 8")
        out.phase("Fitting the BG/NBD model")
    text = err.getvalue()
    assert "Reading transactions: pass 2 of 8 0:00:00" in text
    assert "Fitting the BG/NBD model 0:00:00" in text
    assert out._progress is None  # gone at the end


def test_nothing_when_quiet_or_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = _terminal(monkeypatch, quiet=True)
    with out.progress():
        out.phase("Reading transactions")
    assert err.getvalue() == ""
    monkeypatch.setattr(console, "_is_tty", lambda stream: False)
    piped = console.Output()
    piped.err = Console(file=io.StringIO(), width=100)  # type: ignore[assignment]
    with piped.progress():
        piped.phase("Reading transactions")
    assert piped.err.file.getvalue() == ""  # type: ignore[attr-defined]


def test_a_command_shows_its_phases_and_the_passes_of_a_read_within_a_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    buffers = {True: io.StringIO(), False: io.StringIO()}  # stderr, stdout

    def terminal(*, stderr: bool = False, **kwargs: object) -> Console:
        return Console(file=buffers[stderr], force_terminal=True, width=100, no_color=True)

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    monkeypatch.setattr(console, "_Console", terminal)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("loyalty_cli.stage1.load.plan_passes", lambda *args: 3)
    target = tmp_path / "segments.csv"
    result = CliRunner().invoke(app, ["segment", TX, "-o", str(target), "--memory-limit", "1GB"])
    assert result.exit_code == 0, result.output
    text = buffers[True].getvalue()
    for phase in ("Reading transactions: 3 partitions", "pass 2 of 3", "Computing segment", "Writing"):
        assert phase in text
    assert "Reading" not in buffers[False].getvalue()  # stdout holds the tables only
    assert target.read_text().startswith("customer_id,")
