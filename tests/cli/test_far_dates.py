"""Dates far ahead: a date option after 2999-12-31 is a typo, refused before anything is read (at 9999-12-31 the
horizons added to it overflowed: tracebacks in ``reminders`` and ``uplift``); and a report whose chart is too large
to draw (an ``--as-of`` 125 years after the data: ~1,500 monthly columns of retention) stops with a clear error,
not vl-convert's traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.report import charts

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
SAMPLE = Path(__file__).parents[2] / "sample_data" / "transactions.csv"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["segment", str(SAMPLE), "--as-of", "9999-12-31"], "--as-of"),
        (["churn", str(SAMPLE), "--as-of", "3000-01-01"], "--as-of"),
        (["cltv", str(SAMPLE), "--calibration-end", "3000-01-01"], "--calibration-end"),
    ],
)
def test_a_date_option_after_2999_is_refused_naming_it(args: list[str], flag: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"Error: {flag} " in result.output and "expected a date up to 2999-12-31" in result.output
    assert "Hint:" in result.output and "Traceback" not in result.output


def test_the_last_day_allowed_is_taken() -> None:
    result = RUNNER.invoke(app, ["segment", str(SAMPLE), "--as-of", "2999-12-31", "-q"])
    assert result.exit_code == 0, result.output


def test_a_chart_too_large_to_draw_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # vl-convert's own failure (as it came for ~1,500 columns), without drawing one that large in a test
    def refused(spec: object) -> str:
        raise ValueError(
            "Vega-Lite to SVG conversion failed:\nRangeError: Maximum call stack size exceeded\n    at Array.forEach"
        )

    monkeypatch.setattr(charts, "to_svg", refused)
    result = RUNNER.invoke(app, ["report", str(SAMPLE), "-o", str(tmp_path / "r.html"), "-q"])
    assert result.exit_code == 1, result.output
    assert "could not be drawn: RangeError: Maximum call stack size exceeded" in result.output
    assert "Hint: Check --as-of and the dates of the data" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r.html").exists()
