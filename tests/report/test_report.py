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

from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.app.report import ReportConfig, report
from loyalty_cli.app.report_products import product_lines
from loyalty_cli.cli import app
from loyalty_cli.cli.flags import render
from loyalty_cli.errors import SETTING_OPEN, setting
from loyalty_cli.io.readers import ReadOptions
from loyalty_cli.report import FileInfo, InputInfo, ReportMeta, build_context, worded
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.due_data import DueData
from loyalty_cli.report.next_order import due_section
from loyalty_cli.report.product_data import ProductsData
from loyalty_cli.report.products import products_section
from loyalty_cli.rules.churn import load_churn_rules
from loyalty_cli.rules.lifecycle import builtin_lifecycle_text
from loyalty_cli.rules.segments import load_segment_rules
from loyalty_cli.stage1 import load_transactions

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden" / "context.json"
AS_OF = date(2025, 1, 1)
XSS = "<script>alert(1)</script>"


def small_config() -> ReportConfig:
    """Thresholds lowered so that the 80-customer fixture fills every section."""
    return ReportConfig(min_n=5, products=True)  # every section, the products too


def context_for(
    transactions: Path,
    surveys: Path | None = None,
    *,
    as_of: date = AS_OF,
    contacts: Path | None = None,
    members: Path | None = None,
    points: Path | None = None,
    words: bool = True,
) -> dict:
    """The context of the fixture's report, its references to settings worded as the page shows them (the
    command's options), unless not ``words``."""
    config = small_config()
    spec = InputSpec(
        transactions=[str(transactions)],
        as_of=as_of,
        activity=True,
        survey_config=config.nps,
        lines=product_lines(),  # as the command reads them: the products section
        **{
            kind: [str(path)] if path is not None else []
            for kind, path in (("surveys", surveys), ("contacts", contacts), ("members", members), ("points", points))
        },
    )
    result = report(load_inputs(spec), config)
    meta = ReportMeta(
        inputs=(InputInfo("transactions", (transactions.name,), ("fixture",)),),
        files=(FileInfo("report.html", "this report"),),
    )
    context = build_context(result.data, result.settings, meta)
    return worded(context, render) if words else context


def run_report(tmp_path: Path, *args: str, name: str = "report.html") -> tuple[Path, str]:
    out = tmp_path / name
    result = CliRunner().invoke(app, ["report", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, out.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------- golden context
@pytest.fixture(scope="module")
def fixture_context() -> dict:
    return context_for(
        DATA / "transactions.csv", DATA / "surveys.csv", members=DATA / "members.csv", points=DATA / "points.csv"
    )


def test_context_matches_golden_file(fixture_context: dict) -> None:
    context = fixture_context
    text = json.dumps(context, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("LOYALTY_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), "no golden file: run with LOYALTY_UPDATE_GOLDEN=1 to create it"
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "the report context changed; if intended, regenerate with LOYALTY_UPDATE_GOLDEN=1"
    )


def test_context_has_every_section_and_chart(fixture_context: dict) -> None:
    context = fixture_context
    ids = [s["id"] for s in context["sections"]]
    assert ids == [
        "segments",
        "nps",
        "retention",
        "churn",
        "clv",
        "second-purchase",
        "next-order",
        "products",
        "lifecycle",
        "program",
    ]
    assert all(s["available"] for s in context["sections"])
    assert {"lifecycle-stages", "program-members", "next-order-weeks", "products-first"} <= set(context["charts"])
    assert len(context["charts"]) == len(set(context["charts"])) >= 11
    assert [k["label"] for k in context["key_numbers"]][-1] == "Members"


def _section(context: dict, sid: str) -> dict:
    return next(s for s in context["sections"] if s["id"] == sid)


def test_lifecycle_section_is_the_lifecycle_command(tmp_path: Path) -> None:
    """Same stages, actions, counts and flags as `loyalty lifecycle` on the same inputs (prospects from contacts)."""
    context = context_for(DATA / "transactions.csv", DATA / "surveys.csv", contacts=DATA / "contacts.csv")
    result = CliRunner().invoke(
        app,
        [
            "lifecycle",
            str(DATA / "transactions.csv"),
            "--surveys",
            str(DATA / "surveys.csv"),
            "--contacts",
            str(DATA / "contacts.csv"),
            "--as-of",
            "2025-01-01",
            "--min-n",
            "5",
            "--summary",
            str(tmp_path / "stages.csv"),
            "--quiet",
            "-o",
            str(tmp_path / "todo.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = pl.read_csv(tmp_path / "stages.csv")
    section = _section(context, "lifecycle")
    stages, flags = section["tables"]
    assert [r[:3] for r in stages["rows"]] == [
        [s, a, f"{n:,}"] for s, a, n in summary.select("stage", "action", "customers").iter_rows()
    ]
    assert sum(summary["customers"]) > 79  # prospects counted
    prospects = summary.filter(pl.col("stage") == "prospect")["customers"][0]
    assert f"79 customers and {prospects} prospects" in section["intro"][0]
    assert [r[0] for r in flags["rows"]] == ["detractor VIP", "promoter"]
    assert section["intro"][1].startswith("Flags: ")


def test_program_section_is_the_program_command(tmp_path: Path, fixture_context: dict) -> None:
    result = CliRunner().invoke(
        app,
        [
            "program",
            str(DATA / "transactions.csv"),
            "--members",
            str(DATA / "members.csv"),
            "--points",
            str(DATA / "points.csv"),
            "--as-of",
            "2025-01-01",
            "--quiet",
            "-o",
            str(tmp_path / "program.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = pl.read_csv(tmp_path / "program.csv", infer_schema_length=None)
    value = {
        m: v
        for s, m, g, v in figures.select("section", "metric", "group", "value").iter_rows()
        if s in ("programme", "points")
    }
    section = _section(fixture_context, "program")
    head = {r[0]: r[1] for r in section["tables"][0]["rows"]}
    assert head["members (enrolled before the as-of date)"] == f"{value['members']:,.0f}"
    assert head["points earned"] == f"{value['points_earned']:,.0f}"
    assert head["breakage rate (points expired / earned)"] == f"{value['breakage_rate']:.1%}"
    versus = figures.filter((pl.col("section") == "members_vs_non_members") & (pl.col("group") == "members"))
    rate = versus.filter(pl.col("metric") == "repeat_purchase_rate_365d").row(0, named=True)
    row = next(r for r in section["tables"][-1]["rows"] if r[0] == "repeat purchase rate 365d")
    assert row[1:3] == [f"{rate['value']:.1%}", f"{rate['ci_low']:.1%} to {rate['ci_high']:.1%}"]
    assert any(n.startswith("Members chose to join") for n in section["notes"])
    assert "liability not valued (pass --point-value" in section["intro"][1]


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


FULL = (
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
    "--products",
)


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("report")
    return run_report(folder, str(DATA / "transactions.csv"), *FULL, "--point-value", "0.01")


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
    for section in (
        "header",
        "key-numbers",
        "segments",
        "nps",
        "retention",
        "churn",
        "clv",
        "second-purchase",
        "next-order",
        "products",
        "lifecycle",
        "program",
        "files",
    ):
        assert f'<section id="{section}">' in html or f'<header id="{section}">' in html
    assert "not available" not in html and "not given" not in html
    assert "As of 2025-01-01" in html
    assert 'data-chart="lifecycle-stages"' in html and 'data-chart="program-members"' in html
    assert "prospects (contacts with no purchase before 2025-01-01)" in html
    assert "detractor VIP" in html and "Members chose to join" in html
    assert re.search(r"liability [0-9.,]+ at 0.01 a point", html)
    assert '<div class="label">Members</div>' in html


def test_reproducible_byte_for_byte(tmp_path: Path) -> None:
    args = [str(DATA / "transactions.csv"), *FULL]
    path, _ = run_report(tmp_path, *args)
    first = path.read_bytes()
    path.unlink()
    path, _ = run_report(tmp_path, *args)  # the same output path: the page names the files it wrote
    assert path.read_bytes() == first


def test_values_from_the_data_are_escaped(tmp_path: Path) -> None:
    tx = pl.read_csv(DATA / "transactions.csv", infer_schema=False)
    tx = tx.with_columns(
        pl.when(pl.col("customer_id") == "C000001")
        .then(pl.lit(XSS))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id")
    )
    tx.write_csv(tmp_path / "tx.csv")
    surveys = pl.DataFrame(
        {
            "customer_id": [XSS] + [f"C{i:06d}" for i in range(2, 8)],
            "responded_at": [f"2024-12-0{i} 10:00:00" for i in range(1, 8)],
            "score": ["0", "1", "2", "3", "10", "9", "8"],
            "comment": [XSS, '<b>bold</b> & "quoted"', None, None, None, None, None],
            "survey_type": ["relational"] * 7,
        }
    )
    surveys.write_csv(tmp_path / "surveys.csv")
    members = pl.read_csv(DATA / "members.csv", infer_schema=False).with_columns(
        pl.when(pl.col("customer_id") == "C000001")
        .then(pl.lit(XSS))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id"),
        pl.lit(XSS).alias("tier"),
    )
    members.write_csv(tmp_path / "members.csv")
    contacts = pl.DataFrame({"customer_id": ["C000002", f"{XSS}-prospect"]})
    contacts.write_csv(tmp_path / "contacts.csv")
    rules = builtin_lifecycle_text().replace('action = "cross-sell"', f'action = "{XSS}"')
    (tmp_path / "lifecycle.toml").write_text(rules)
    _, html = run_report(
        tmp_path,
        str(tmp_path / "tx.csv"),
        "--surveys",
        str(tmp_path / "surveys.csv"),
        "--contacts",
        str(tmp_path / "contacts.csv"),
        "--members",
        str(tmp_path / "members.csv"),
        "--lifecycle-rules",
        str(tmp_path / "lifecycle.toml"),
        "--as-of",
        "2025-01-01",
    )
    assert '<section id="program">' in html and '<section id="lifecycle">' in html
    assert "Members by tier" in html
    assert "<script" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;" in html


def test_missing_inputs_say_what_is_missing(tmp_path: Path) -> None:
    _, html = run_report(tmp_path, str(DATA / "transactions.csv"), "--as-of", "2025-01-01")
    assert "NPS: not available: no surveys given (--surveys FILE)" in html
    assert "not given: pass --surveys FILE for the NPS section" in html
    assert "not given: pass --contacts FILE" in html
    assert "Loyalty programme: not available: no members given (--members FILE)" in html
    assert "not given: pass --members FILE for the loyalty programme section" in html
    assert "not given: pass --points FILE" in html
    assert '<div class="label">Members</div>' not in html
    assert "(no prospects: pass --contacts FILE)" in html  # the lifecycle section still shows its stages
    assert "No surveys: nobody has a latest NPS" in html
    assert '<section id="segments">' in html and 'data-chart="segments"' in html
    assert SETTING_OPEN not in html


def test_the_context_refers_to_settings_and_the_page_words_them() -> None:
    """The report package writes no flag: what to pass for a missing input is a reference to the setting, worded
    by the caller of the rendering (the CLI: as its option)."""
    context = context_for(DATA / "transactions.csv", words=False)
    program = _section(context, "program")
    assert program["missing"] == f"Loyalty programme: not available: no members given ({setting('members')} FILE)"
    assert "--" not in program["missing"]
    assert worded(context, render) == context_for(DATA / "transactions.csv")
    pipeline = worded(program, lambda text: text.replace(setting("members"), "the members input"))
    assert pipeline["missing"].endswith("no members given (the members input FILE)")


def test_points_without_members_are_not_read(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(DATA / "transactions.csv"),
            "--points",
            str(DATA / "points.csv"),
            "--as-of",
            "2025-01-01",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "--points without --members" in result.output
    html = out.read_text(encoding="utf-8")
    assert "given without --members, so not read" in html
    assert "Loyalty programme: not available: no members given" in html


def test_no_member_before_the_as_of_date(tmp_path: Path) -> None:
    _, html = run_report(
        tmp_path, str(DATA / "transactions.csv"), "--members", str(DATA / "members.csv"), "--as-of", "2023-01-02"
    )
    assert "Loyalty programme: not available: no member enrolled before the as-of date 2023-01-02" in html


def test_failed_model_says_why_instead_of_failing(tmp_path: Path) -> None:
    # Three one-time buyers: no repeat purchase, so neither churn nor CLV can be computed.
    pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_date": ["2024-01-05", "2024-02-05", "2024-03-05"],
            "amount": ["10", "20", "30"],
        }
    ).write_csv(tmp_path / "tx.csv")
    _, html = run_report(tmp_path, str(tmp_path / "tx.csv"))
    assert "CLV: not available: the CLV model could not be fitted" in html
    assert "Churn: not available: no customer bought on two different days" in html
    assert "Lifecycle: not available: the stages start from the churn status" in html
    assert '<section id="second-purchase">' in html


def test_output_must_be_html(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(DATA / "transactions.csv"), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 2
    assert "the report is an HTML file" in result.output


def test_each_segment_shows_its_action_escaped(tmp_path: Path) -> None:
    (tmp_path / "map.toml").write_text(
        'bins = 5\n[[segment]]\nname = "Recent"\nwhen = "r >= 3"\naction = "Thank them & ask for a <b>review</b>"\n'
        f'[[segment]]\nname = "Old <i>"\nwhen = "r <= 2"\naction = "{XSS}"\n'
    )
    _, html = run_report(tmp_path, str(DATA / "transactions.csv"), "--rules", str(tmp_path / "map.toml"))
    section = html.split('<section id="segments">')[1].split("</section>")[0]
    rows = re.findall(r'<tr><td>(.*?)</td>.*?<td class="long">([^<]*)</td></tr>', section)  # the action wraps
    assert rows == [
        ("Recent", "Thank them &amp; ask for a &lt;b&gt;review&lt;/b&gt;"),
        ("Old &lt;i&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ]
    assert "<script" not in html and "<b>review" not in html


# UCI Online Retail layout: 12346 only cancelled (-7.65 and -12.75), never bought; 17850 bought 15.30 and cancelled
# 5.10; 13047 bought 6.78 and 22.20. `loyalty validate` finds net revenue 18.78 and 3 return orders; the customers
# with a purchase hold 39.18 (the tables) and 1 return order; 12346 holds -20.40 and 2.
RETURNS_ONLY = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/13/2010 8:26,2.55,17850.0,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,2,12/14/2010 9:00,3.39,13047.0,United Kingdom\n"
    "C536367,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,12/15/2010 10:00,2.55,17850.0,United Kingdom\n"
    "C536368,22752,SET 7 BABUSHKA NESTING BOXES,-1,12/16/2010 11:00,7.65,12346.0,United Kingdom\n"
    "C536369,21730,GLASS STAR FROSTED T-LIGHT HOLDER,-3,12/17/2010 12:00,4.25,12346.0,United Kingdom\n"
    "536370,22633,HAND WARMER UNION JACK,12,12/18/2010 13:00,1.85,13047.0,United Kingdom\n"
)


def test_headline_totals_match_validate_and_name_the_customers_left_out(tmp_path: Path) -> None:
    (tmp_path / "retail.csv").write_text(RETURNS_ONLY)
    _, html = run_report(tmp_path, str(tmp_path / "retail.csv"))
    header = html.split('<header id="header">')[1].split("</header>")[0]
    # the counts of `loyalty validate` (3 return orders), and who is in no table, with their net value
    assert "<dd>2 customers; 3 purchase orders; 3 return or cancellation orders</dd>" in header
    assert (
        '<dd class="note">1 customer with no purchase, only returns, left out: -20.40 '
        "(2 return or cancellation orders)</dd>" in header
    )
    keys = dict(re.findall(r'"label">(.*?)</div><div class="value">.*?</div><div class="note">(.*?)</div>', html))
    values = dict(re.findall(r'<div class="label">(.*?)</div><div class="value">(.*?)</div>', html))
    assert values["Net revenue"] == "18.78"  # validate's net revenue
    assert keys["Net revenue"] == (
        "returns included: 39.18 from the 2 customers in the tables, -20.40 from 1 customer with no purchase, "
        "only returns, in none"
    )
    assert keys["Customers"] == "bought before 2010-12-19; 1 customer with no purchase, only returns, left out"
    segments = html.split('<section id="segments">')[1].split("</section>")[0]
    revenue = re.findall(r"<tr><td>[^<]*</td><td[^>]*>[^<]*</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>", segments)
    assert sum(float(v.replace(",", "")) for v in revenue) == pytest.approx(39.18)
    assert (
        "Net revenue of the 2 customers with a purchase: 39.18 (1 customer with no purchase, only returns, "
        "left out: -20.40)" in segments
    )


def test_report_counts_the_customers_left_out_as_stage_1_does(tmp_path: Path) -> None:
    (tmp_path / "retail.csv").write_text(RETURNS_ONLY)
    loaded = load_transactions([tmp_path / "retail.csv"], ReadOptions(), as_of=None, activity=True)
    assert loaded.activity is not None
    assert loaded.no_purchase.rows(named=True) == [
        {"customers": 1, "return_orders": 2, "net_cents": -2040, "net_value": -20.4}
    ]
    spec = InputSpec(transactions=[str(tmp_path / "retail.csv")], activity=True)
    data = report(load_inputs(spec), small_config()).data
    assert (data.no_purchase_customers, data.no_purchase_cents, data.no_purchase_return_orders) == (1, -2040, 2)
    assert (data.revenue_cents, data.tables_cents, data.return_orders) == (1878, 3918, 3)
    assert data.tables_cents == round(loaded.customers["net_spend"].sum() * 100)


def test_customers_left_out_are_listed_beside_rejected_rows(tmp_path: Path) -> None:
    (tmp_path / "retail.csv").write_text(
        RETURNS_ONLY + "536371,22633,HAND WARMER UNION JACK,1,12/18/2010 14:00,1.85,,United Kingdom\n"
    )
    _, html = run_report(tmp_path, str(tmp_path / "retail.csv"), "--on-bad-rows", "skip")
    header = html.split('<header id="header">')[1].split("</header>")[0]
    dropped = re.findall(r'<dd class="note">(.*?)</dd>', header)
    assert dropped[:2] == [
        "1 row rejected: missing customer id (column CustomerID)",
        "1 customer with no purchase, only returns, left out: -20.40 (2 return or cancellation orders)",
    ]


# ------------------------------------------------------------------------------------------- products, due dates
def test_product_codes_names_and_categories_are_escaped(tmp_path: Path) -> None:
    # every line's product name a script, one product code and one category markup: in tables and chart labels
    tx = pl.read_csv(DATA / "transactions.csv", infer_schema=False).with_columns(
        pl.lit(XSS).alias("product_name"),
        pl.col("sku").replace("COF-003", "<i>COF-003</i>"),
        pl.col("category").replace("Coffee", "<script>alert(2)</script>"),
    )
    tx.write_csv(tmp_path / "tx.csv")
    _, html = run_report(tmp_path, str(tmp_path / "tx.csv"), "--as-of", "2025-01-01", "--products")
    section = html[html.index('<section id="products">') : html.index('<section id="lifecycle">')]
    assert "<script" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (&lt;i&gt;COF-003&lt;/i&gt;)" in section  # the cycle table
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in section  # the first category, in the table and the chart
    assert 'data-chart="products-first"' in section


def test_no_product_column_is_one_note(tmp_path: Path) -> None:
    tx = pl.read_csv(DATA / "transactions.csv", infer_schema=False).drop("sku")
    tx.write_csv(tmp_path / "tx.csv")
    out = tmp_path / "report.html"
    args = ["report", str(tmp_path / "tx.csv"), "--as-of", "2025-01-01", "--products", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    note = "Products: not available: the transactions have no product column"
    assert [line for line in result.output.splitlines() if line.startswith("Products")] == [
        f"{note} (a SKU or product code such as sku or StockCode; name it in the [transactions] table of the "
        "mapping file, --mapping)"
    ]
    html = out.read_text(encoding="utf-8")
    assert f'<p class="missing">{note}' in html
    assert '<section id="next-order">' in html and 'data-chart="next-order-weeks"' in html


def test_products_are_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", str(DATA / "transactions.csv"), "--as-of", "2025-01-01", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    note = "Products: not available: left out unless asked for (--products: it reads every line's product)"
    assert note in result.output.splitlines()
    assert f'<p class="missing">{note}'.replace("'", "&#39;") in out.read_text(encoding="utf-8")


def test_due_section_by_hand() -> None:
    weeks = pl.DataFrame(
        {"week": [0, 1, 2], "week_start": [AS_OF, date(2025, 1, 8), date(2025, 1, 15)], "customers": [3, 0, 5]}
    )
    due = DueData(
        overview={"repeat_customers": 200, "likely_active": 150, "due_7d": 10, "due_30d": 60, "overdue": 25},
        weeks=weeks,
        one_time=300,
        model="BG/NBD",
        fitted_on=500,
        typical_gap_days=45.25,
        min_p_alive=0.5,
        shared=True,
    )
    settings = ReportSettings(segments=load_segment_rules(None), churn=load_churn_rules(None))
    empty = pl.DataFrame()
    section = due_section(ReportData(AS_OF, 500, 0, 0, 0, empty, empty, empty, {}, due=due), settings)
    assert section["intro"][0] == (
        "Of the 200 repeat customers, 150 are likely still buying (P(alive) >= 0.5). Due within 7 days: 10; within 30 "
        "days: 60; overdue (longer since their last purchase than their usual gap): 25."
    )
    rows = section["tables"][0]["rows"]
    # shares of the 200 repeat customers: 10 -> 5.0%, 60 -> 30.0%, 25 -> 12.5%, 150 -> 75.0%, 200 - 150 -> 25.0%
    assert [row[1:] for row in rows] == [
        ["10", "5.0%"],
        ["60", "30.0%"],
        ["25", "12.5%"],
        ["150", "75.0%"],
        ["50", "25.0%"],
        ["200", "100.0%"],
    ]
    chart = section["charts"][0]
    assert chart["labels"] == ["01 Jan", "08 Jan", "later"] and chart["values"] == [3.0, 0.0, 5.0]
    assert "the CLV section's BG/NBD fit on 500 customers (one purchase every 45.2 days" in section["notes"][0]
    missing = due_section(ReportData(AS_OF, 0, 0, 0, 0, empty, empty, empty, {}, due_missing="why not"), settings)
    assert missing["missing"] == "When customers are due: not available: why not" and not missing["available"]


def test_products_section_by_hand() -> None:
    first = pl.DataFrame(
        {
            "item": ["(all)", "P1"],
            "name": [None, "Green tea"],
            "customers": [40, 25],
            "share": [1.0, 0.625],
            "observed_365d": [0, 0],
            "repurchased_365d": [0, 0],
            "repurchase_rate_365d": [None, None],
            "repurchase_rate_low": [None, None],
            "repurchase_rate_high": [None, None],
            "mean_value_365d": [None, None],
            "mean_value_low": [None, None],
            "mean_value_high": [None, None],
        },
        schema_overrides={c: pl.Float64 for c in ("repurchase_rate_365d", "mean_value_365d")},
    )
    nexts = pl.DataFrame(
        {
            "first_item": ["P1", "P1"],
            "first_name": ["Green tea", "Green tea"],
            "rank": [1, 2],
            "item": ["P2", "P3"],
            "name": [None, "Mug <b>"],
            "customers": [4, 2],
            "repeaters": [8, 8],
            "share": [0.5, 0.25],
            "lift": [1.25, 0.8],
        }
    )
    cycle = pl.DataFrame(
        {
            "item": ["P3"],
            "name": ["Mug <b>"],
            "buyers": [10],
            "repeat_customers": [4],
            "repeat_share": [0.4],
            "gap_p25_days": [20.0],
            "gap_median_days": [30.5],
            "gap_p75_days": [41.25],
        }
    )
    pairs = pl.DataFrame(
        schema={
            **{c: pl.String for c in ("item_a", "name_a", "item_b", "name_b")},
            "orders": pl.Int64,
            **{c: pl.Float64 for c in ("share_of_orders", "confidence_ab", "confidence_ba", "lift")},
        }
    )
    found = ProductsData(
        level="product",
        first=first,
        first_items=3,
        first_products=3,
        next=nexts,
        pairs=pairs,
        pairs_found=0,
        cycle=cycle,
        counts={"customers": 40, "orders": 55, "items": 3, "no_item_lines": 2, "observed_365d": 0},
        min_n=30,
        min_support=30,
        confidence=0.95,
        leading=1,
    )
    empty = pl.DataFrame()
    data = ReportData(AS_OF, 40, 0, 0, 0, empty, empty, empty, {}, products=found)
    section = products_section(data, ReportSettings(segments=load_segment_rules(None), churn=load_churn_rules(None)))
    assert section["intro"] == [
        "40 customers with a purchase bought 3 products in 55 purchase orders. 2 lines without a product count in "
        "order values only.",
        "No customer's first 365 days are over by the as-of date yet: the repurchase rate and the 365-day value are "
        "empty.",
        "No two products were bought together in 30 orders or more.",
    ]
    assert section["charts"] == []  # no rate to draw
    first_table, next_table, cycle_table = section["tables"]
    assert first_table["title"] == "Repurchase and 365-day value by first product (the top 1 of 3 first products)"
    assert first_table["rows"] == [
        ["all customers", "40", "100.0%", "0", "", "", "", ""],
        ["Green tea (P1)", "25", "62.5%", "0", "", "", "", ""],
    ]
    # the first product named once, on its first row
    assert next_table["rows"] == [
        ["Green tea (P1)", "8", "P2", "4", "50.0%", "1.25"],
        ["", "", "Mug <b> (P3)", "2", "25.0%", "0.80"],
    ]
    assert cycle_table["rows"] == [["Mug <b> (P3)", "10", "4", "40.0%", "30", "20 to 41"]]
