"""Open the report in a real headless Chromium: every chart rendered as an SVG, no console error, a screenshot.

Needs the Debian packages ``chromium`` (and ``chromium-driver``), which ``.ci/run`` installs when it can;
without a browser the test is skipped with the reason. The screenshot and the DOM are kept in
``$LOYALTY_TEST_ARTIFACTS`` (default: ``<tmp>/loyalty-test-artifacts``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

DATA = Path(__file__).parent / "data"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
# The page has no script, so any console message at all (e.g. "INFO:CONSOLE:1] Uncaught ...") is a failure.
CONSOLE_ERROR = re.compile(r"Uncaught|:CONSOLE[:(]|CONSOLE\(\d+\)|console\.error")


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _artifacts() -> Path:
    folder = Path(os.environ.get("LOYALTY_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "loyalty-test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _run(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="loyalty-chromium-") as profile:  # a fresh user-data dir each run
        return subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no headless browser found (looked for chromium, chromium-browser, google-chrome): install the "
            "Debian packages chromium and chromium-driver (.ci/run does when it runs as root with apt)"
        )
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(DATA / "transactions.csv"),
            "--surveys",
            str(DATA / "surveys.csv"),
            "--contacts",
            str(DATA / "contacts.csv"),
            "--members",
            str(DATA / "members.csv"),
            "--points",
            str(DATA / "points.csv"),
            "--as-of",
            "2025-01-01",
            "-o",
            str(report),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    expected = re.findall(r'<svg class="chart" data-chart="([^"]+)"', html)
    assert len(expected) >= 11 and {"lifecycle-stages", "program-members"} <= set(expected)
    url = report.resolve().as_uri()
    artifacts = _artifacts()

    dom = _run(browser, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    (artifacts / "report.dom.html").write_text(dom.stdout, encoding="utf-8")
    rendered = re.findall(r'<svg class="chart" data-chart="([^"]+)"', dom.stdout)
    assert rendered == expected  # every chart is in the browser's DOM, in order
    for chart_id in expected:  # and has drawn shapes
        body = dom.stdout.split(f'data-chart="{chart_id}"', 1)[1].split("</svg>", 1)[0]
        assert re.search(r"<(rect|polyline|circle)\b", body), chart_id
    errors = [line for line in dom.stderr.splitlines() if CONSOLE_ERROR.search(line)]
    assert errors == []

    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    screenshot = _run(browser, f"--screenshot={shot}", "--window-size=1100,6000", url)
    assert screenshot.returncode == 0, screenshot.stderr[-2000:]
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [line for line in screenshot.stderr.splitlines() if CONSOLE_ERROR.search(line)] == []
