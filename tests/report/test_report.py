"""loyalty report: golden context, self-contained HTML, escaping, reproducibility, missing inputs.

Regenerate the golden file after an intended change with:

    LOYALTY_UPDATE_GOLDEN=1 python -m pytest tests/report -q
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.io.readers import ReadOptions, read_surveys
from loyalty_cli.io.validate import collect_checked
from loyalty_cli.metrics.churn import load_churn_rules
from loyalty_cli.metrics.nps import NpsConfig, prepare_responses
from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig
from loyalty_cli.report import (
    FileInfo,
    InputInfo,
    ReportMeta,
    ReportSettings,
    build_context,
    compute_report,
)
from loyalty_cli.segments import load_segment_rules
from loyalty_cli.stage1 import load_transactions

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden" / "context.json"
AS_OF = date(2025, 1, 1)
XSS = "<script>alert(1)</script>"


def small_settings() -> ReportSettings:
    """Thresholds lowered so that the 80-customer fixture fills every section."""
    return ReportSettings(segments=load_segment_rules(None), churn=load_churn_rules(None),
                          nps=NpsConfig(min_n=5), second_purchase=SecondPurchaseConfig(min_n=5))


def context_for(transactions: Path, surveys: Path | None = None, *, as_of: date = AS_OF) -> dict:
    loaded = load_transactions([transactions], ReadOptions(), as_of=as_of, activity=True)
    assert loaded.activity is not None
    settings = small_settings()
    responses = None
    if surveys is not None:
        scan = read_surveys([surveys], ReadOptions(), as_of=as_of)
        (responses,), _ = collect_checked([scan], [prepare_responses(scan.rows, config=settings.nps)])
    data = compute_report(loaded.customers, loaded.activity, settings=settings, responses=responses)
    meta = ReportMeta(inputs=(InputInfo("transactions", (transactions.name,), ("fixture",)),),
                      files=(FileInfo("report.html", "this report"),))
    return build_context(data, settings, meta)


def run_report(tmp_path: Path, *args: str, name: str = "report.html") -> tuple[Path, str]:
    out = tmp_path / name
    result = CliRunner().invoke(app, ["report", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, out.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------- golden context
@pytest.fixture(scope="module")
def fixture_context() -> dict:
    return context_for(DATA / "transactions.csv", DATA / "surveys.csv")


def test_context_matches_golden_file(fixture_context: dict) -> None:
    context = fixture_context
    text = json.dumps(context, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("LOYALTY_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), "no golden file: run with LOYALTY_UPDATE_GOLDEN=1 to create it"
    assert text == GOLDEN.read_text(encoding="utf-8"), \
        "the report context changed; if intended, regenerate with LOYALTY_UPDATE_GOLDEN=1"


def test_context_has_every_section_and_chart(fixture_context: dict) -> None:
    context = fixture_context
    ids = [s["id"] for s in context["sections"]]
    assert ids == ["segments", "nps", "retention", "churn", "clv", "second-purchase", "lifecycle"]
    available = {s["id"]: s["available"] for s in context["sections"]}
    assert available == {"segments": True, "nps": True, "retention": True, "churn": True, "clv": True,
                         "second-purchase": True, "lifecycle": False}
    lifecycle = context["sections"][-1]
    assert lifecycle["missing"].startswith("lifecycle: not available")
    assert len(context["charts"]) == len(set(context["charts"])) >= 9


# ------------------------------------------------------------------------------------------- the page
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.scripts = 0
        self.svgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "data", "poster", "action") and value:
                self.urls.append((tag, name, value))
        if tag == "svg":
            self.svgs.append(dict(attrs).get("data-chart") or "")


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("report")
    return run_report(folder, str(DATA / "transactions.csv"), "--surveys", str(DATA / "surveys.csv"),
                      "--contacts", str(DATA / "contacts.csv"), "--as-of", "2025-01-01")


def test_no_external_resource(sample_page: tuple[Path, str]) -> None:
    _, html = sample_page
    parser = _Links()
    parser.feed(html)
    external = [u for u in parser.urls if not u[2].startswith("#")]
    assert external == []
    assert parser.scripts == 0
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)  # no CSS url() to the network
    assert "@import" not in html
    assert parser.svgs and all(parser.svgs)


def test_cli_report_sections_and_size(sample_page: tuple[Path, str]) -> None:
    path, html = sample_page
    assert path.stat().st_size < 1_000_000
    for section in ("header", "key-numbers", "segments", "nps", "retention", "churn", "clv", "second-purchase",
                    "lifecycle", "files"):
        assert f'<section id="{section}">' in html or f'<header id="{section}">' in html
    assert "lifecycle: not available" in html
    assert "As of 2025-01-01" in html


def test_reproducible_byte_for_byte(tmp_path: Path) -> None:
    args = [str(DATA / "transactions.csv"), "--surveys", str(DATA / "surveys.csv"), "--as-of", "2025-01-01"]
    path, _ = run_report(tmp_path, *args)
    first = path.read_bytes()
    path.unlink()
    path, _ = run_report(tmp_path, *args)  # the same output path: the page names the files it wrote
    assert path.read_bytes() == first


def test_values_from_the_data_are_escaped(tmp_path: Path) -> None:
    tx = pl.read_csv(DATA / "transactions.csv", infer_schema=False)
    tx = tx.with_columns(pl.when(pl.col("customer_id") == "C000001").then(pl.lit(XSS)).otherwise(
        pl.col("customer_id")).alias("customer_id"))
    tx.write_csv(tmp_path / "tx.csv")
    surveys = pl.DataFrame({
        "customer_id": [XSS] + [f"C{i:06d}" for i in range(2, 8)],
        "responded_at": [f"2024-12-0{i} 10:00:00" for i in range(1, 8)],
        "score": ["0", "1", "2", "3", "10", "9", "8"],
        "comment": [XSS, "<b>bold</b> & \"quoted\"", None, None, None, None, None],
        "survey_type": ["relational"] * 7,
    })
    surveys.write_csv(tmp_path / "surveys.csv")
    _, html = run_report(tmp_path, str(tmp_path / "tx.csv"), "--surveys", str(tmp_path / "surveys.csv"),
                         "--as-of", "2025-01-01")
    assert "<script" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;" in html


def test_missing_inputs_say_what_is_missing(tmp_path: Path) -> None:
    _, html = run_report(tmp_path, str(DATA / "transactions.csv"), "--as-of", "2025-01-01")
    assert "NPS: not available: no surveys given (--surveys FILE)" in html
    assert "not given: pass --surveys FILE for the NPS section" in html
    assert "not given: pass --contacts FILE" in html
    assert '<section id="segments">' in html and 'data-chart="segments"' in html


def test_failed_model_says_why_instead_of_failing(tmp_path: Path) -> None:
    # Three one-time buyers: no repeat purchase, so neither churn nor CLV can be computed.
    pl.DataFrame({"customer_id": ["a", "b", "c"], "order_date": ["2024-01-05", "2024-02-05", "2024-03-05"],
                  "amount": ["10", "20", "30"]}).write_csv(tmp_path / "tx.csv")
    _, html = run_report(tmp_path, str(tmp_path / "tx.csv"))
    assert "CLV: not available: the CLV model could not be fitted" in html
    assert "Churn: not available: no customer bought on two different days" in html
    assert '<section id="second-purchase">' in html


def test_output_must_be_html(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(DATA / "transactions.csv"), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 2
    assert "the report is an HTML file" in result.output
