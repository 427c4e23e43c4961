"""The report's charts (Altair + vl-convert), its summary, currency and inputs, with hand-computed expectations."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.report.charts import render_chart, vega_lite, warm_up
from loyalty_cli.report.format import Money, every_nth
from loyalty_cli.report.header import files_read
from loyalty_cli.report.nps import nps_domain
from loyalty_cli.report.summary import period_name, relative_change
from loyalty_cli.report.value import day_ticks, histogram, nice_step

DATA = Path(__file__).parent / "data"
XSS = "<script>alert(1)</script>"


def _bars(label: str = "Champions", cid: str = "test-bars") -> dict:
    return {
        "kind": "bars",
        "id": cid,
        "title": "Customers by segment",
        "subtitle": "a subtitle",
        "labels": [label, "A & B"],
        "series": [{"name": "share of customers", "values": [0.25, 0.75], "text": ["25.0%", "75.0%"]}],
        "x_title": "share of customers (%)",
        "x_format": "pct",
        "y_title": "segment",
    }


def _heatmap(cid: str) -> dict:
    return {
        "kind": "heatmap",
        "id": cid,
        "title": "Retention",
        "rows": ["2024-01 (10)", "average"],
        "cols": ["0", "1"],
        "values": [[1.0, 0.2], [1.0, None]],
        "text": [["100%", "20%"], ["100%", ""]],
        "max": 0.2,
        "x_title": "months since the first purchase (k)",
        "y_title": "cohort (customers)",
        "legend_title": "customers active",
    }


# ------------------------------------------------------------------------------------------- charts
def test_chart_is_one_scaling_svg_with_a_visible_title_and_axis_titles() -> None:
    svg = str(render_chart(_bars()))
    root = re.match(r"<svg [^>]*>", svg)
    assert root is not None
    assert 'class="chart"' in root.group(0) and 'data-chart="test-bars"' in root.group(0)
    assert 'role="img"' in root.group(0) and 'aria-label="Customers by segment"' in root.group(0)
    assert re.search(r'viewBox="0 0 [\d.]+ [\d.]+"', root.group(0))
    assert re.search(r'style="min-width:\d+px;max-width:\d+px"', root.group(0))
    assert "xmlns" not in root.group(0)
    # drawn text: the title, the subtitle, both axis titles, the tick labels with units
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for text in ("Customers by segment", "a subtitle", "share of customers (%)", "segment", "0%", "25.0%"):
        assert text in texts, text
    assert svg.count("<svg") == 1 and svg.endswith("</svg>")


def test_chart_escapes_every_label_from_the_data() -> None:
    svg = str(render_chart(_bars(label=XSS)))
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # the segment's label on the axis
    assert "A &amp; B" in svg and "A & B" not in svg


def test_same_spec_gives_the_same_bytes_and_charts_share_no_id() -> None:
    first = str(render_chart(_heatmap("retention-a")))
    render_chart(_bars())  # whatever is drawn in between (vl-convert numbers its ids on one counter)
    second = str(render_chart(_heatmap("retention-b")))
    again = str(render_chart(_heatmap("retention-a")))
    assert first == again
    ids_a = re.findall(r' id="([^"]+)"', first)
    ids_b = re.findall(r' id="([^"]+)"', second)
    assert ids_a == ["retention-a-0"] and ids_b == ["retention-b-0"]  # the legend's gradient
    assert "url(#retention-a-0)" in first


def test_heatmap_writes_its_values_and_has_a_legend() -> None:
    svg = str(render_chart(_heatmap("retention-c")))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts.count("100%") == 2 and "20%" in texts  # each cell's value; the blank cell has none
    assert "customers active" in texts  # the legend's title
    assert "linearGradient" in svg


def test_every_chart_of_the_fixture_is_valid_vega_lite(fixture_charts: list[dict]) -> None:
    for spec in fixture_charts:
        vl = vega_lite(spec, validate=True)  # raises on a spec the schema refuses
        assert vl["title"]["text"], spec["id"]


def test_the_specifications_are_those_altair_wrote() -> None:
    # vega_lite writes the dicts itself (Altair took most of the drawing time): the same keys in the same order
    # as Altair 6.3 wrote for these specs (golden/vega_lite.json, written by Altair), so vl-convert draws the
    # same bytes; every chart kind and option: one series or two, intervals, a shade, a zero line, classes ...
    import json

    golden = json.loads((Path(__file__).parent / "golden" / "vega_lite.json").read_text(encoding="utf-8"))
    assert len(golden) == 11
    for chart in golden:
        assert json.dumps(vega_lite(chart["spec"])) == json.dumps(chart["vega_lite"]), chart["spec"]["id"]


def test_warm_up_starts_the_engine_once_and_changes_no_drawing() -> None:
    from loyalty_cli.report import charts

    before = str(render_chart(_heatmap("warm-a")))
    warm_up()
    warm_up()
    assert len(charts._warming) == 1
    charts._warming[0].join()
    assert str(render_chart(_heatmap("warm-a"))) == before


@pytest.fixture(scope="module")
def fixture_charts() -> list[dict]:
    import json

    context = json.loads((Path(__file__).parent / "golden" / "context.json").read_text(encoding="utf-8"))
    return [chart for section in context["sections"] for chart in section["charts"]]


def test_the_fixture_charts_have_titles_axes_and_no_fixed_nps_axis(fixture_charts: list[dict]) -> None:
    for spec in fixture_charts:
        assert spec["title"], spec["id"]
        assert spec.get("x_title") and (spec.get("y_title") or spec["kind"] == "bars"), spec["id"]
    trend = next(c for c in fixture_charts if c["id"] == "nps-trend-0")
    assert trend["y_domain"] != [-100, 100]
    assert trend["y_domain"] == nps_domain(trend["series"][0]["low"], trend["series"][0]["high"])


# ------------------------------------------------------------------------------------------- numbers
def test_nice_step_and_round_bins() -> None:
    assert nice_step(864, 10) == 100  # 86.4 a bin -> 100
    assert nice_step(360, 12) == 50  # 30 -> 50 (1, 2, 2.5, 5 x 10)
    assert nice_step(240, 12) == 20
    assert nice_step(300, 12) == 25
    assert nice_step(7, 10) == 1  # 0.7 -> 1
    assert nice_step(0.9, 10) == pytest.approx(0.1)
    assert nice_step(0, 10) == 1
    # 20 values 0..95 by 5, upto the max: step nice(95 / 4 = 23.75) = 25, bins 0-25, 25-50, 50-75, 75+
    labels, counts = histogram(pl.Series([float(v) for v in range(0, 100, 5)]), bins=4, upto=1.0)
    assert labels == ["0-25", "25-50", "50-75", "75+"]
    assert counts == [5, 5, 5, 5]
    labels, counts = histogram(pl.Series([0.1, 0.3, 0.35, -1.0, 9.0]), bins=4, upto=0.75)  # top 0.35
    assert labels == ["0.0-0.1", "0.1-0.2", "0.2-0.3", "0.3+"]  # step 0.1: one decimal
    assert counts == [1, 1, 0, 3]  # -1 in the first bin; 0.1 in the second; 0.3, 0.35 and 9 in the last


def test_nps_axis_holds_the_intervals_on_tens() -> None:
    assert nps_domain([-26.74, 2.0, None], [71.19, 33.0, None]) == [-40.0, 80.0]  # -31.74 -> -40; 76.19 -> 80
    assert nps_domain([-98.0], [99.0]) == [-100.0, 100.0]
    assert nps_domain([None], [None]) == [-100.0, 100.0]


def test_axis_labels_and_words() -> None:
    assert day_ticks(100) == [0, 30, 60, 90]
    assert day_ticks(730) == list(range(0, 721, 90))
    assert day_ticks(2000) == [0, 365, 730, 1095, 1460, 1825]
    assert every_nth([f"m{k}" for k in range(24)]) == ["m0", "m3", "m6", "m9", "m12", "m15", "m18", "m21"]
    assert every_nth(["a", "b"]) == ["a", "b"]
    assert Money()(1234.5) == "1,234.50" and Money().header("net spend") == "net spend"
    assert Money("EUR")(1234.5) == "EUR 1,234.50" and Money("EUR").header("net spend") == "net spend (EUR)"
    assert Money("EUR")(None) == "n/a"
    from datetime import date

    assert period_name("2024-12", date(2024, 12, 1), "month") == "December 2024"
    assert period_name("2024-Q4", date(2024, 10, 1), "quarter") == "2024-Q4"
    assert period_name("2024-W52", date(2024, 12, 23), "week") == "week 2024-W52"
    assert relative_change(180, 150) == pytest.approx(0.2)
    assert relative_change(5, 0) is None


def test_a_folder_of_many_files_is_one_line() -> None:
    files = [f"exports/day{k:03d}.csv" for k in range(305)] + ["extra/late.csv"]
    assert files_read(files) == ("exports/ (305 files)", "extra/late.csv")
    assert files_read(["a.csv", "b/c.csv"]) == ("a.csv", "b/c.csv")
    assert files_read([f"x/{k}.csv" for k in range(3)]) == ("x/0.csv", "x/1.csv", "x/2.csv")  # 3: each named


# ------------------------------------------------------------------------------------------- the page
def _report(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", *args, "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def _cards(html: str) -> dict[str, tuple[str, str, str]]:
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    found = re.findall(
        r'<div class="what">(.*?)</div><div class="figure">(.*?)</div>'
        r'(?:<div class="change[^"]*">(.*?)</div>)?<div class="since">(.*?)</div>',
        summary,
    )
    return {label: (value, change, since) for label, value, change, since in found}


# a first purchase in October (so November is covered), then: November a 100.00 and b 50.00 (b new);
# December a 60.00, c 90.00 and 30.00 on two days (c new)
SHOP = (
    "customer_id,order_date,amount\n"
    "a,2024-10-10,20.00\n"
    "a,2024-11-05,100.00\n"
    "b,2024-11-20,50.00\n"
    "a,2024-12-03,60.00\n"
    "c,2024-12-10,90.00\n"
    "c,2024-12-20,30.00\n"
)


def test_summary_compares_the_last_full_month_with_the_one_before(tmp_path: Path) -> None:
    (tmp_path / "shop.csv").write_text(SHOP)
    html = _report(tmp_path, str(tmp_path / "shop.csv"), "--as-of", "2025-01-01", "--currency", "eur")
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "December 2024, the last full month before 2025-01-01, against November 2024." in summary
    cards = _cards(html)
    # net revenue 180.00 vs 150.00: +20.0%; orders 3 vs 2: +50.0%; customers 2 vs 2; new customers 1 vs 1
    assert cards["Net revenue"] == ("EUR 180.00", "+20.0%", "vs EUR 150.00 in November 2024")
    assert cards["Purchase orders"] == ("3", "+50.0%", "vs 2 in November 2024")
    assert cards["Customers who bought"] == ("2", "+0.0%", "vs 2 in November 2024")
    assert cards["New customers"] == ("1", "+0.0%", "vs 1 in November 2024")
    assert '<div class="change up good">+20.0%</div>' in summary
    assert '<div class="change flat ">+0.0%</div>' in summary


def test_summary_compares_nothing_with_a_month_the_data_starts_in(tmp_path: Path) -> None:
    (tmp_path / "shop.csv").write_text(SHOP.replace("a,2024-10-10,20.00\n", ""))  # starts on 2024-11-05
    html = _report(tmp_path, str(tmp_path / "shop.csv"), "--as-of", "2025-01-01")
    assert "(November 2024 is only partly in the data: no comparison)" in html
    assert _cards(html)["Net revenue"] == ("180.00", "", "no comparison: the data starts during November 2024")
    (tmp_path / "late.csv").write_text("customer_id,order_date,amount\na,2024-12-03,60.00\nb,2024-12-04,5.00\n")
    html = _report(tmp_path, str(tmp_path / "late.csv"), "--as-of", "2025-01-01")
    assert "The data does not cover a whole month before 2025-01-01: nothing to compare yet." in html


def test_currency_on_money_and_refused_when_not_a_code(tmp_path: Path) -> None:
    html = _report(tmp_path, str(DATA / "transactions.csv"), "--as-of", "2025-01-01", "--currency", "EUR")
    values = dict(re.findall(r'<div class="label">(.*?)</div><div class="value">(.*?)</div>', html))
    assert values["Net revenue"] == "EUR 16,001.70"
    assert '<th class="num">net revenue (EUR)</th>' in html
    assert "predicted 12-month CLV (EUR)</text>" in html  # the CLV chart's axis
    plain = _report(tmp_path, str(DATA / "transactions.csv"), "--as-of", "2025-01-01")
    assert "EUR" not in plain and '<th class="num">net revenue</th>' in plain
    result = CliRunner().invoke(
        app, ["report", str(DATA / "transactions.csv"), "--currency", "euro", "-o", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 2
    assert "--currency must be a three-letter currency code such as EUR, USD or GBP, got 'euro'" in result.output


def test_a_pipeline_report_step_takes_the_currency(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        'as_of = "2025-01-01"\noutput_dir = "out"\n'
        f'[inputs.transactions]\npath = "{(DATA / "transactions.csv").as_posix()}"\n'
        '[[steps]]\ncommand = "report"\noutput = "report.html"\noptions = { currency = "GBP" }\n'
    )
    result = CliRunner().invoke(app, ["run", str(tmp_path / "pipeline.toml")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<div class="value">GBP 16,001.70</div>' in html


def test_inputs_a_folder_as_one_line_with_its_dates(tmp_path: Path) -> None:
    lines = (DATA / "transactions.csv").read_text().splitlines()
    folder = tmp_path / "exports"
    folder.mkdir()
    size = -(-(len(lines) - 1) // 5)
    for k in range(5):  # five consecutive stretches of the export
        (folder / f"part{k}.csv").write_text("\n".join([lines[0], *lines[1 + k * size : 1 + (k + 1) * size]]) + "\n")
    html = _report(tmp_path, str(folder), "--as-of", "2025-01-01")
    header = html.split('<header id="header">')[1].split("</header>")[0]
    assert f"<dd>{folder.as_posix()}/ (5 files); orders from 2023-01-01 to 2024-12-29</dd>" in header
    assert "part3.csv" not in header


def test_chart_labels_from_the_data_are_escaped_in_the_page(tmp_path: Path) -> None:
    (tmp_path / "map.toml").write_text(
        f'bins = 5\n[[segment]]\nname = "{XSS} & co"\nwhen = "r >= 3"\n[[segment]]\nname = "Old"\nwhen = "r <= 2"\n'
    )
    html = _report(tmp_path, str(DATA / "transactions.csv"), "--rules", str(tmp_path / "map.toml"))
    chart = html.split('data-chart="segments"')[1].split("</svg>")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</text>" in chart
    assert "<script" not in html
