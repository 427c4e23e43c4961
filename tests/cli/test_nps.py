"""``loyalty nps`` end to end: the shipped sample, a messy export, lists (also for email tools, with a control
group), NPS by lifecycle stage, formats, and bad input (exit code and message, never a traceback)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
ROOT = Path(__file__).parents[2]
SURVEYS = str(ROOT / "sample_data" / "surveys.csv")
TRANSACTIONS = str(ROOT / "sample_data" / "transactions.csv")
CONTACTS = str(ROOT / "sample_data" / "contacts.csv")


def _surveys_fixture() -> ModuleType:
    path = Path(__file__).parents[1] / "io" / "test_surveys.py"
    spec = importlib.util.spec_from_file_location("survey_fixture", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MESSY = _surveys_fixture()


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def nps(*args: str) -> Result:
    result = RUNNER.invoke(app, ["nps", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


# ---------------------------------------------------------------------------- the shipped sample


def test_sample_headline_distribution_and_trend():
    result = nps(SURVEYS)
    assert result.exit_code == 0, result.stderr
    err, out = result.stderr, result.stdout
    assert "1,080 answers: 970 counted, 27 non-responses (blank or NA score: not in n), 0 duplicates" in err
    assert "Dedupe auto (relational: latest-per-period; transactional: all); periods: quarter" in err
    assert "relational: NPS 12.4 (95% adjusted-wald interval 6.3 to 18.4), n = 651" in err
    assert "transactional: NPS 15.4 (95% adjusted-wald interval 6.7 to 23.7), n = 319" in err
    # piped: tab-separated tables on stdout
    assert (
        "# NPS (95% adjusted-wald interval)\n"
        "survey_type\tresponses\tpromoters\tpassives\tdetractors\tnps\tci_low\tci_high\n"
        "relational\t651\t0.3825\t0.3594\t0.2581\t12.4424\t6.3284\t18.4422\n"
        "transactional\t319\t0.3918\t0.3699\t0.2382\t15.3605\t6.7166\t23.7182\n" in out
    )
    assert "10\tpromoter\t148\t0.2273\t78\t0.2445\n" in out  # the 0-10 distribution
    assert "relational\t2023-Q1\t25\t\t\t\t\t\tn < 30\n" in out  # suppressed: n shown, no score
    assert "relational\t2023-Q3\t46\t28.2609\t4.2416\t48.8196\t26.4090\t0.0960\tnot significant\n" in out


def test_sample_with_transactions_writes_tables_and_lists():
    result = nps(
        SURVEYS, "--transactions", TRANSACTIONS, "--by", "segment", "-o", "segments.csv", "--trend", "trend.csv"
    )
    assert result.exit_code == 0, result.stderr
    assert "828 of 828 respondents found among the customers of the transactions" in result.stderr
    assert (
        "relational: NPS 12.4 (95% adjusted-wald interval 6.3 to 18.4), n = 651; revenue-weighted 47.9" in result.stderr
    )
    segments = pl.read_csv("segments.csv")
    assert segments.columns[:3] == ["survey_type", "segment", "responses"]
    assert "nps_weighted_by_net_spend" in segments.columns
    relational = segments.filter(pl.col("survey_type") == "relational")
    assert relational["segment"].to_list()[:3] == ["Champions", "Loyal", "Potential Loyalist"]  # map order
    assert relational["responses"].sum() == 651
    trend = pl.read_csv("trend.csv")
    assert trend.columns[:4] == ["survey_type", "period", "period_start", "complete"]
    assert {"change", "z", "p_value", "significant"} <= set(trend.columns)

    result = nps(SURVEYS, "--transactions", TRANSACTIONS, "--list", "detractors", "-o", "call_back.csv", "-q")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    detractors = pl.read_csv("call_back.csv")
    assert detractors.columns[:4] == ["customer_id", "email", "latest_score", "nps_category"]
    assert detractors["latest_score"].max() <= 6 and detractors.height == 16
    assert detractors["net_spend"].to_list() == sorted(detractors["net_spend"].to_list(), reverse=True)
    assert detractors["net_spend"].min() >= 239.81  # the top 20% of customers by net spend
    result = nps(
        SURVEYS, "--transactions", TRANSACTIONS, "--list", "detractors", "--min-spend", "1000", "-o", "vip.csv", "-q"
    )
    assert pl.read_csv("vip.csv").select("customer_id", "net_spend").rows() == [
        ("C000125", 1440.8),
        ("C000126", 1338.18),
    ]

    result = nps(SURVEYS, "--list", "promoters", "-o", "promoters.parquet", "-q")
    promoters = pl.read_parquet("promoters.parquet")
    assert promoters["latest_score"].min() >= 9
    assert promoters["customer_id"].is_unique().all()
    assert promoters["responded_at"].to_list() == sorted(promoters["responded_at"].to_list(), reverse=True)


def test_survey_type_period_and_formats():
    result = nps(
        SURVEYS, "--survey-type", "Relational", "--period", "year", "--interval", "wald", "-o", "-", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    table = pl.read_json(result.stdout_bytes)
    assert table["survey_type"].to_list() == ["relational"]
    assert table["ci_method"].to_list() == ["95% wald"]
    assert "# Trend by year" in result.stderr  # with -o -, the tables go to stderr
    first = nps(SURVEYS, "--interval", "bootstrap", "--bootstrap-seed", "3", "-o", "-", "-q").stdout
    assert first == nps(SURVEYS, "--interval", "bootstrap", "--bootstrap-seed", "3", "-o", "-", "-q").stdout
    assert first != nps(SURVEYS, "--interval", "bootstrap", "--bootstrap-seed", "4", "-o", "-", "-q").stdout


# ---------------------------------------------------------------------------- email hand-off


def test_promoters_to_mailchimp_with_a_control_group():
    args = (
        SURVEYS,
        "--transactions",
        TRANSACTIONS,
        "--list",
        "promoters",
        "--target",
        "mailchimp",
        "--holdout-share",
        "0.1",
        "--seed",
        "reviews-2025",
        "-o",
        "promoters.csv",
    )
    result = nps(*args)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in Path().iterdir()) == [
        "promoters.control.csv",
        "promoters.csv",
        "promoters.manifest.json",
    ]
    treat, control = pl.read_csv("promoters.csv"), pl.read_csv("promoters.control.csv")
    # Emails from the transactions; the list's nps_category is Mailchimp's tag.
    assert treat.columns[:4] == ["Email Address", "customer_id", "Tags", "latest_score"]
    assert set(treat["Tags"]) == {"promoter"} and treat["latest_score"].min() >= 9
    assert treat.height == 278 and control.height == 35  # 313 promoters, every one with an email
    assert not set(treat["customer_id"]) & set(control["customer_id"])
    assert "Mailchimp list: wrote 278 promoters to promoters.csv" in result.stderr
    assert (
        "Control group: 35 promoters (11.2% of 313; --holdout-share 0.1, --seed reviews-2025) held out in "
        "promoters.control.csv" in result.stderr
    )
    manifest = json.loads(Path("promoters.manifest.json").read_text())
    assert manifest["holdout"]["control"] == 35 and manifest["holdout"]["seed"] == "reviews-2025"
    # The same seed, the same split, byte for byte; without --transactions the emails come from --contacts.
    before = {p.name: p.read_bytes() for p in Path().iterdir()}
    assert nps(*args, "-q").exit_code == 0
    assert {p.name: p.read_bytes() for p in Path().iterdir()} == before
    result = nps(
        SURVEYS,
        "--list",
        "promoters",
        "--contacts",
        CONTACTS,
        "--target",
        "mailchimp",
        "--holdout-share",
        "0.1",
        "--seed",
        "reviews-2025",
        "-o",
        "crm.csv",
    )
    assert result.exit_code == 0, result.stderr
    assert "Left out 58 of 313 rows (crm.dropped.csv): 58 no email consent" in result.stderr
    crm = pl.read_csv("crm.csv")
    assert crm.height + pl.read_csv("crm.control.csv").height == 313 - 58
    assert set(crm["customer_id"]) <= set(treat["customer_id"]) | set(control["customer_id"])
    # Mailchimp identifies contacts by email: a list without one stops with a hint.
    result = nps(SURVEYS, "--list", "promoters", "--target", "mailchimp", "-o", "none.csv", "-q")
    assert_error(result, 1, "Error: The list has no email column, which Mailchimp needs", "--contacts FILE")


def test_detractors_to_hubspot_keep_the_call_back_order():
    result = nps(
        SURVEYS, "--transactions", TRANSACTIONS, "--list", "detractors", "--target", "hubspot", "-o", "call_back.csv"
    )
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("call_back.csv")
    assert out.columns[:4] == ["Email", "customer_id", "loyalty_nps_category", "latest_score"]
    assert set(out["loyalty_nps_category"]) == {"detractor"} and out.height == 16  # the 16 high-value detractors
    assert out["net_spend"].to_list() == sorted(out["net_spend"].to_list(), reverse=True)  # most valuable first
    assert "HubSpot list: wrote 16 detractors to call_back.csv" in result.stderr
    assert "High-value detractors: net spend of at least 239.81 (top 20% of customers)" in result.stderr
    assert not Path("call_back.control.csv").exists() and Path("call_back.manifest.json").exists()
    # Without --target the list is written as before, each row a customer.
    result = nps(
        SURVEYS, "--transactions", TRANSACTIONS, "--list", "detractors", "--min-spend", "1000", "-o", "vip.csv"
    )
    assert "Wrote 2 detractors to vip.csv" in result.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["call_back.csv", "call_back.manifest.json", "vip.csv"]


# ---------------------------------------------------------------------------- a messy export


def test_messy_export_strict_then_skip(work):
    data, mapping = MESSY.write_messy(work)
    result = nps(str(data), "--mapping", str(mapping), "-q")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: 2 bad rows in the surveys:\n"
        f"  1 row with score outside 0-10 in {data}, column '{MESSY.QUESTION}' (row 7; values '11')\n"
        f"  1 row with unparseable score (expected 0-10) in {data}, column '{MESSY.QUESTION}' (row 8; values "
        "'4/5')\n"
        "Hint: NPS answers are 0-10; other scales are not converted."
    )
    assert result.stdout == ""

    result = nps(
        str(data),
        "--mapping",
        str(mapping),
        "--on-bad-rows",
        "skip",
        "--min-n",
        "1",
        "--by",
        "Region",
        "-o",
        "by_region.csv",
    )
    assert result.exit_code == 0, result.stderr
    assert "2 rejected rows written to by_region.rejects.csv" in result.stderr
    assert "10 answers" not in result.stderr and "8 answers: 5 counted, 2 non-responses" in result.stderr
    by_region = pl.read_csv("by_region.csv").select("survey_type", "Region", "responses", "nps", "repeats")
    # Relational: C1 answered 10 then 3 in Q1 (the later counts), C8 6, C9 0; transactional: C3 9, C4 8.
    assert by_region.rows() == [
        ("relational", "Nord", 1, -100.0, 1),
        ("relational", "Süd", 2, -100.0, 0),
        ("transactional", "Nord", 1, 100.0, 0),
        ("transactional", "Süd", 1, 0.0, 0),
    ]


def test_messy_comments_reach_files_intact_and_formula_safe(work):
    data, mapping = MESSY.write_messy(work)
    result = nps(
        str(data),
        "--mapping",
        str(mapping),
        "--on-bad-rows",
        "skip",
        "--rejects",
        "rej.csv",
        "--list",
        "customers",
        "-o",
        "-",
    )
    assert result.exit_code == 0, result.stderr
    customers = pl.read_csv(result.stdout_bytes)
    comments = dict(customers.select("customer_id", "comment").iter_rows())
    assert comments == {
        "C1": "Now: [bold]worse[/bold]",  # C1's latest answer
        "C3": "<script>alert('x')</script>",  # text stays text: CSV-quoted, never interpreted
        "C4": "Café crème, trop cher",
        "C8": '\'=HYPERLINK("http://x")',  # a spreadsheet would run it: neutralised
        "C9": None,
    }
    assert "[bold]" not in result.stderr.replace("Now: [bold]", "")  # rich markup in data is never applied
    result = nps(
        str(data),
        "--mapping",
        str(mapping),
        "--on-bad-rows",
        "skip",
        "--rejects",
        "rej.csv",
        "--list",
        "customers",
        "-o",
        "customers.json",
    )
    assert pl.read_json("customers.json").filter(pl.col("customer_id") == "C3")["comment"].to_list() == [
        "<script>alert('x')</script>"
    ]


# ---------------------------------------------------------------------------- bad input and usage


def assert_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert result.stdout == ""


def test_missing_score_column():
    write("s.csv", "customer_id,date,rating_text\nA,2024-01-01,9\n")
    result = nps("s.csv")
    assert_error(
        result,
        1,
        "Error: No score column in s.csv (0-10 answer to the recommend question)",
        "Hint: Name it with --score-col COLUMN",
    )
    assert nps("s.csv", "--score-col", "rating_text", "--min-n", "1", "-q").exit_code == 0


def test_no_scored_answers_and_as_of():
    write("s.csv", "customer_id,date,score\nA,2024-01-01,NA\nB,2024-01-02,\n")
    assert_error(nps("s.csv", "-q"), 1, "Error: No scored answers in s.csv", "Hint: Check the score column")
    write("t.csv", "customer_id,date,score\nA,2024-01-01,9\nB,2024-02-02,3\n")
    result = nps("t.csv", "--as-of", "2024-02-01", "--min-n", "1", "-o", "n.csv")
    assert result.exit_code == 0 and pl.read_csv("n.csv")["responses"].to_list() == [1]
    assert "1 row of surveys dated on or after the as-of date 2024-02-01 left out" in result.stderr
    assert not Path("n.rejects.csv").exists()  # answers after the as-of date are not bad rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "promoters"], "Error: --list needs --output"),
        (["--list", "fans", "-o", "x.csv"], "Error: --list must be one of promoters, detractors, customers"),
        (["--by", "segment"], "Error: --by segment needs --transactions"),
        (["--min-spend", "100"], "Error: --min-spend needs --transactions"),
        (["--interval", "exact"], "Error: --interval must be one of adjusted-wald, wald, bootstrap"),
        (["--confidence", "95"], "Error: --confidence must be at least 0.5 and below 1, got 95.0"),
        (["--dedupe", "first"], "Error: --dedupe must be one of auto, latest, latest-per-period, all"),
        (
            ["--survey-type", "onboarding"],
            "Error: --survey-type onboarding: no such survey type in the surveys\n"
            "Hint: Survey types: relational, transactional.",
        ),
        (["-o", "out.txt"], "Error: Cannot tell the output format of out.txt"),
        (
            ["--target", "mailchimp", "-o", "x.csv"],
            "Error: --target needs --list\nHint: The email hand-off options "
            "write a customer list: add --list promoters, detractors or "
            "customers and -o FILE.",
        ),
        (["--holdout-share", "0.1", "--seed", "a", "-o", "x.csv"], "Error: --holdout-share needs --list"),
        (
            ["--interval", "bootstrap", "--seed", "3"],
            "Error: --seed needs --list\nHint: The email hand-off options "
            "write a customer list: add --list promoters, detractors or "
            "customers and -o FILE. The bootstrap's seed is --bootstrap-seed.",
        ),
        (["--contacts", "c.csv"], "Error: --contacts needs --list"),
        (["--list", "promoters", "-o", "-", "--target", "klaviyo"], "Error: --target and --holdout-share need -o FILE"),
        (["--list", "promoters", "-o", "x.json", "--target", "klaviyo"], "Error: Klaviyo imports CSV files, not json"),
        (["--list", "promoters", "-o", "x.csv", "--holdout-share", "0.1"], "Error: --holdout-share needs --seed"),
        (["--list", "detractors", "-o", "x.csv", "--target", "sendgrid"], "Error: Unknown --target 'sendgrid'"),
        (["--by", "stage"], "Error: --by stage needs --transactions"),
    ],
)
def test_usage_errors(args, message):
    result = nps(SURVEYS, *args, "-q")
    assert_error(result, 2, message)
    assert not Path("x.csv").exists()


def test_unknown_by_column():
    result = nps(SURVEYS, "--by", "country")
    assert_error(
        result,
        1,
        f"Error: No column 'country' in the surveys file {SURVEYS}",
        "Hint: Columns in the file: 'customer_id', 'responded_at'",
    )


# ---------------------------------------------------------------------------- NPS by lifecycle stage

# Seven customers as of 2024-04-01 (built-in churn rules: own IPT = median gap when 3+ purchase days, else the
# population's median IPT, 10 days here; lapsing after 15 days, lapsed after 30). Net spend 300 (A), 120 (E),
# 60 (D), 50 (C), 30 (B, G), 15 (H): A is the only high-value customer. Under 30 repeaters: no second-purchase
# window, so a one-time buyer is new while active.
#   A  3/01 3/11 3/21   active, latest answer 10          -> advocate
#   B  3/02 3/12 3/22   active, low value, 7 then 10 (3/30) -> advocate as of 4/01 (repeat as of 3/26)
#   C  3/25 (once)      active one-time buyer             -> new (whatever the answer)
#   G  3/03 3/13 3/23   active, low value, 6              -> repeat
#   E  2/15 2/25 3/06   26 days since (20 as of 3/26)     -> lapsing
#   D, H  January       over 60 days since                -> lapsed
STAGE_TX = """customer_id,order_date,amount
A,2024-03-01,100
A,2024-03-11,100
A,2024-03-21,100
B,2024-03-02,10
B,2024-03-12,10
B,2024-03-22,10
C,2024-03-25,50
G,2024-03-03,10
G,2024-03-13,10
G,2024-03-23,10
E,2024-02-15,40
E,2024-02-25,40
E,2024-03-06,40
D,2024-01-01,20
D,2024-01-11,20
D,2024-01-21,20
H,2024-01-05,5
H,2024-01-15,5
H,2024-01-25,5
"""
STAGE_SURVEYS = """customer_id,responded_at,score,survey_type
A,2024-03-22 10:00,10,relational
B,2024-03-22 11:00,7,relational
B,2024-03-30 09:00,10,relational
C,2024-03-22 12:00,3,relational
C,2024-03-25 18:00,9,transactional
D,2024-03-20 10:00,9,relational
E,2024-03-20 11:00,0,relational
G,2024-03-24 10:00,6,relational
H,2024-03-21 10:00,5,relational
F,2024-03-23 10:00,8,relational
,2024-03-23 11:00,10,relational
"""


def stage_table(path: str) -> list[tuple]:
    table = pl.read_csv(path).filter(pl.col("survey_type") == "relational")
    return table.select("stage", "responses", "promoters", "detractors", "nps").rows()


def test_nps_by_lifecycle_stage_by_hand():
    write("tx.csv", STAGE_TX)
    write("s.csv", STAGE_SURVEYS)
    result = nps(
        "s.csv",
        "--transactions",
        "tx.csv",
        "--as-of",
        "2024-04-01",
        "--by",
        "stage",
        "--min-n",
        "1",
        "-o",
        "by_stage.csv",
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "Lifecycle stages as `loyalty lifecycle` gives them as of 2024-04-01 (built-in lifecycle and built-in "
        "churn rules); the latest answer before that day decides 'advocate'" in result.stderr
    )
    # Rule order, then respondents who bought nothing and anonymous answers; B's 7 is an earlier answer (repeat).
    assert stage_table("by_stage.csv") == [
        ("new", 1, 0, 1, -100.0),  # C 3
        ("advocate", 2, 2, 0, 100.0),  # A 10, B 10
        ("repeat", 1, 0, 1, -100.0),  # G 6
        ("lapsing", 1, 0, 1, -100.0),  # E 0
        ("lapsed", 2, 1, 1, 0.0),  # D 9, H 5
        ("(no purchase)", 1, 0, 0, 0.0),  # F 8
        ("(anonymous)", 1, 1, 0, 100.0),
    ]
    transactional = pl.read_csv("by_stage.csv").filter(pl.col("survey_type") == "transactional")
    assert transactional.select("stage", "responses", "nps").rows() == [("new", 1, 100.0)]  # never pooled
    assert "# NPS by lifecycle stage" in result.stdout

    # Without --as-of the orders end on 3/25, so the stages are as of 3/26, from the answers before that day
    # (as `loyalty lifecycle` would give them): B's 10 on 3/30 is counted in the NPS, but B's stage comes from
    # the 7 and is repeat. The lists carry the stage.
    result = nps("s.csv", "--transactions", "tx.csv", "--by", "stage", "--min-n", "1", "-o", "later.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert stage_table("later.csv") == [
        ("new", 1, 0, 1, -100.0),
        ("advocate", 1, 1, 0, 100.0),
        ("repeat", 2, 1, 1, 0.0),  # B 10, G 6
        ("lapsing", 1, 0, 1, -100.0),
        ("lapsed", 2, 1, 1, 0.0),
        ("(no purchase)", 1, 0, 0, 0.0),
        ("(anonymous)", 1, 1, 0, 100.0),
    ]
    result = nps("s.csv", "--transactions", "tx.csv", "--by", "stage", "--list", "customers", "-o", "c.csv", "-q")
    customers = dict(pl.read_csv("c.csv").select("customer_id", "stage").iter_rows())
    assert customers == {
        "A": "advocate",
        "B": "repeat",
        "C": "new",
        "D": "lapsed",
        "E": "lapsing",
        "F": "(no purchase)",
        "G": "repeat",
        "H": "lapsed",
    }

    # --by stage with --by segment: both columns; nobody with two purchase days: no churn status, no stage.
    result = nps(
        "s.csv", "--transactions", "tx.csv", "--by", "segment", "--by", "stage", "--min-n", "1", "-o", "-", "-q"
    )
    assert pl.read_csv(result.stdout_bytes).columns[:3] == ["survey_type", "segment", "stage"]
    write("once.csv", "customer_id,order_date,amount\nA,2024-03-01,10\nB,2024-03-02,10\n")
    assert_error(
        nps("s.csv", "--transactions", "once.csv", "--by", "stage", "-q"),
        1,
        "Error: No customer in once.csv bought on two different days",
    )


def test_sample_stages_are_those_of_loyalty_lifecycle():
    life = RUNNER.invoke(
        app, ["lifecycle", TRANSACTIONS, "--surveys", SURVEYS, "--as-of", "2024-10-01", "-o", "life.csv", "-q"]
    )
    assert life.exit_code == 0, life.stderr
    result = nps(
        SURVEYS,
        "--transactions",
        TRANSACTIONS,
        "--as-of",
        "2024-10-01",
        "--by",
        "stage",
        "--list",
        "customers",
        "-o",
        "respondents.csv",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    stages = pl.read_csv("respondents.csv").select("customer_id", "stage")
    expected = pl.read_csv("life.csv").select("customer_id", pl.col("stage").alias("lifecycle"))
    joined = stages.join(expected, on="customer_id", how="left")
    assert joined.height > 500 and joined.filter(pl.col("stage") != pl.col("lifecycle")).is_empty()
    result = nps(SURVEYS, "--transactions", TRANSACTIONS, "--by", "stage", "-o", "by_stage.csv", "-q")
    by_stage = pl.read_csv("by_stage.csv").filter(pl.col("survey_type") == "relational")
    assert by_stage.select("stage", "responses", "nps").rows()[:3] == [
        ("new", 44, pytest.approx(-9.0909, abs=1e-4)),
        ("one-time lapsing", 15, None),
        ("advocate", 46, pytest.approx(89.1304, abs=1e-4)),
    ]
    assert by_stage["responses"].sum() == 651


# ---------------------------------------------------------------------------- a survey without dates

# A single-wave export with no date column. A answered twice (9, then 4 with 'NA' for a comment), C wrote
# 'N/A', one anonymous answer. Counted (one answer per customer; without dates, the lower score): A 4, B 10,
# C 3, D 6, anonymous 8 -> 1 promoter, 1 passive, 3 detractors of 5: NPS -40.
DATELESS = """customer_id,score,comment,touchpoint
A,9,great,web
A,4,NA,web
B,10,,store
C,3,N/A,store
D,6,slow delivery,web
,8,NA,web
"""


def test_a_survey_without_dates_gives_nps_lists_and_no_trend():
    write("wave.csv", DATELESS)
    result = nps("wave.csv", "--min-n", "1", "--by", "touchpoint", "-o", "nps.csv")
    assert result.exit_code == 0, result.stderr
    assert "all: NPS -40.0 (95% adjusted-wald interval" in result.stderr
    assert (
        "wave.csv has no response date column: no trend (it needs dates); the answers of one customer cannot be "
        "told apart in time, so where --dedupe keeps one answer per customer it keeps the lowest score" in result.stderr
    )
    assert "# Trend" not in result.stdout + result.stderr
    assert "Scores 0-10" in result.stdout
    table = pl.read_csv("nps.csv").select("touchpoint", "responses", "detractors", "repeats")
    assert table.rows() == [("store", 2, 1, 0), ("web", 3, 2, 1)]

    result = nps("wave.csv", "--list", "detractors", "-o", "call_back.csv", "-q")
    assert result.exit_code == 0, result.stderr
    listed = pl.read_csv("call_back.csv", infer_schema=False)
    assert listed.select("customer_id", "latest_score", "responded_at", "comment").rows() == [
        ("A", "4", None, None),  # 'NA' and 'N/A' are no comment, never the text NA
        ("C", "3", None, None),
        ("D", "6", None, "slow delivery"),
    ]

    # --as-of cannot leave out answers without a date: said, not silent; all 5 still count.
    result = nps("wave.csv", "--as-of", "2020-01-01", "--min-n", "1", "-o", "n.csv")
    assert result.exit_code == 0, result.stderr
    assert "--as-of 2020-01-01 leaves no answer out: the surveys have no dates" in result.stderr
    assert pl.read_csv("n.csv")["responses"].to_list() == [5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trend", "trend.csv"], "Error: --trend needs response dates: wave.csv has no date column"),
        (["--by", "period"], "Error: --by period needs response dates: wave.csv has no date column"),
    ],
)
def test_a_survey_without_dates_refuses_what_needs_them(args, message):
    write("wave.csv", DATELESS)
    result = nps("wave.csv", *args, "-o", "x.csv", "-q")
    assert_error(result, 2, message, "Hint: Map the response date column with --date-col")
    assert not Path("x.csv").exists() and not Path("trend.csv").exists()


def test_the_report_nps_section_without_dates(work):
    """The report's NPS section works on a dateless survey: the headline, distribution and comments, and a
    sentence instead of the trend."""
    from loyalty_cli.app.inputs import InputSpec, load_inputs
    from loyalty_cli.app.report import ReportConfig, report
    from loyalty_cli.report import FileInfo, InputInfo, ReportMeta, build_context

    data = ROOT / "tests" / "report" / "data"
    pl.read_csv(data / "surveys.csv").drop("responded_at").write_csv("wave.csv")
    spec = InputSpec(transactions=[str(data / "transactions.csv")], surveys=["wave.csv"], activity=True)
    result = report(load_inputs(spec), ReportConfig(min_n=5))
    meta = ReportMeta(inputs=(InputInfo("transactions", ("t.csv",), ("fixture",)),), files=(FileInfo("r.html", "r"),))
    section = next(s for s in build_context(result.data, result.settings, meta)["sections"] if s["id"] == "nps")
    assert section["available"]
    no_dates = "The surveys have no response dates: no trend, and every answer counts whatever the as-of date."
    assert no_dates in section["intro"]
    assert not [c for c in section["charts"] if c["id"].startswith("nps-trend")]
    assert [c for c in section["charts"] if c["id"].startswith("nps-distribution")]
    titles = [t["title"] for t in section["tables"]]
    assert not [t for t in titles if t.startswith("Trend")]
    comments = next(t for t in section["tables"] if t["title"].startswith("Latest detractor comments"))
    assert comments["rows"] and all(row[1] == "" for row in comments["rows"])  # the date column: empty, not 'None'
