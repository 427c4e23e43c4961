"""Open the report in a real headless Chromium: every chart rendered as an SVG with a visible title, no console
error, no horizontal overflow of the page at 600 px, and full-page screenshots at 1280 and 600 px.

Needs the Debian packages ``chromium`` and ``chromium-driver``, which ``.ci/run`` installs when it can; without
them the tests are skipped with the reason. The screenshots and the DOM are kept in ``$LOYALTY_TEST_ARTIFACTS``
(default: ``<tmp>/loyalty-test-artifacts``): ``report-1280.png``, ``report-600.png``, ``report.dom.html``.

The layout is measured through ChromeDriver's WebDriver HTTP interface on the loopback address (the page has
no script of its own: the measuring script is the test's).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
WIDTHS = (1280, 600)


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


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the fixture with every input (the sample's shape, small)."""
    report = tmp_path_factory.mktemp("browser") / "report.html"
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
            "--currency",
            "EUR",
            "-o",
            str(report),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return report


def test_report_renders_in_headless_chromium(report_page: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no headless browser found (looked for chromium, chromium-browser, google-chrome): install the "
            "Debian packages chromium and chromium-driver (.ci/run does when it runs as root with apt)"
        )
    html = report_page.read_text(encoding="utf-8")
    expected = re.findall(r'<svg class="chart" data-chart="([^"]+)"', html)
    assert len(expected) >= 11 and {"lifecycle-stages", "program-members"} <= set(expected)
    dom = _run(browser, "--dump-dom", report_page.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    (_artifacts() / "report.dom.html").write_text(dom.stdout, encoding="utf-8")
    rendered = re.findall(r'<svg class="chart" data-chart="([^"]+)"', dom.stdout)
    assert rendered == expected  # every chart is in the browser's DOM, in order
    for chart_id in expected:  # and has drawn shapes
        body = dom.stdout.split(f'data-chart="{chart_id}"', 1)[1].split("</svg>", 1)[0]
        assert re.search(r"<(rect|path|line)\b", body), chart_id
    errors = [line for line in dom.stderr.splitlines() if CONSOLE_ERROR.search(line)]
    assert errors == []


# ------------------------------------------------------------------------------------------- WebDriver
class WebDriver:
    """The few WebDriver commands the layout test needs, over HTTP to a ChromeDriver on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read()[:2000]!r}") from None

    def start(self, browser: str, profile: str) -> None:
        args = [*FLAGS[:6], f"--user-data-dir={profile}", "--window-size=1280,900"]
        options = {"binary": browser, "args": args}
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def cdp(self, cmd: str, **params: Any) -> Any:
        return self.call("POST", f"/session/{self.session}/goog/cdp/execute", {"cmd": cmd, "params": params})

    def script(self, source: str) -> Any:
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": source, "args": []})

    def open(self, url: str, width: int) -> None:
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def full_page_png(self) -> bytes:
        width, height = self.script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        shot = self.cdp(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(shot["data"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser, chromedriver = _browser(), shutil.which("chromedriver")
    if browser is None or chromedriver is None:
        pytest.skip(
            "no chromium and chromedriver found: install the Debian packages chromium and chromium-driver "
            "(.ci/run does when it runs as root with apt)"
        )
    port = _free_port()
    server = subprocess.Popen(
        [chromedriver, f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    web = WebDriver(port)
    try:
        for _ in range(100):  # up to 10 s for the driver to listen
            try:
                web.call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        with tempfile.TemporaryDirectory(prefix="loyalty-chromium-") as profile:
            web.start(browser, profile)
            try:
                yield web
            finally:
                web.call("DELETE", f"/session/{web.session}")
    finally:
        server.terminate()
        server.wait(timeout=10)


#: what the test measures on the page (in CSS pixels)
LAYOUT = """
const page = document.documentElement;
const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const title = svg.querySelector('.role-title-text text, .role-title text');
  const t = title ? title.getBoundingClientRect() : null;
  const holder = svg.parentElement.getBoundingClientRect();
  const axes = [...svg.querySelectorAll('.role-axis-title text')].map(e => e.textContent);
  return {id: svg.dataset.chart, width: box.width, title: title ? title.textContent : '', axes: axes,
          titleInside: !!t && t.left >= box.left - 1 && t.right <= box.right + 1 && t.top >= box.top - 1,
          holderInside: holder.right <= page.clientWidth + 1};
});
const boxes = [...document.querySelectorAll('section, header, nav')].map(e => {
  const r = e.getBoundingClientRect();
  return {id: e.id, right: r.right};
});
return {scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, innerWidth: window.innerWidth,
        charts: charts, boxes: boxes};
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_layout_and_screenshots(driver: WebDriver, report_page: Path, width: int) -> None:
    """At 1280 and 600 px: the page never scrolls sideways (wide tables and charts scroll inside their box),
    every chart shows its title inside itself and names its axes; a full-page screenshot is kept."""
    driver.open(report_page.resolve().as_uri(), width)
    facts = driver.script(LAYOUT)
    assert facts["innerWidth"] == width
    assert facts["scrollWidth"] <= facts["clientWidth"], f"the page overflows sideways at {width} px"
    assert all(box["right"] <= facts["clientWidth"] + 1 for box in facts["boxes"]), facts["boxes"]
    charts = facts["charts"]
    assert len(charts) >= 11
    for chart in charts:
        assert chart["title"].strip(), f"{chart['id']}: no visible title"
        assert chart["titleInside"], f"{chart['id']}: its title is outside the chart"
        assert chart["holderInside"], f"{chart['id']}: its box is wider than the page"
        assert chart["axes"], f"{chart['id']}: no axis title"
    shot = _artifacts() / f"report-{width}.png"
    shot.write_bytes(driver.full_page_png())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
