"""``loyalty nps`` end to end: the shipped sample, a messy export, lists, formats, and bad input (exit code and
message, never a traceback)."""

from __future__ import annotations

import importlib.util
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
    assert "# NPS (95% adjusted-wald interval)\n" \
           "survey_type\tresponses\tpromoters\tpassives\tdetractors\tnps\tci_low\tci_high\n" \
           "relational\t651\t0.3825\t0.3594\t0.2581\t12.4424\t6.3284\t18.4422\n" \
           "transactional\t319\t0.3918\t0.3699\t0.2382\t15.3605\t6.7166\t23.7182\n" in out
    assert "10\tpromoter\t148\t0.2273\t78\t0.2445\n" in out  # the 0-10 distribution
    assert "relational\t2023-Q1\t25\t\t\t\t\t\tn < 30\n" in out  # suppressed: n shown, no score
    assert "relational\t2023-Q3\t46\t28.2609\t4.2416\t48.8196\t26.4090\t0.0960\tnot significant\n" in out


def test_sample_with_transactions_writes_tables_and_lists():
    result = nps(SURVEYS, "--transactions", TRANSACTIONS, "--by", "segment", "-o", "segments.csv",
                 "--trend", "trend.csv")
    assert result.exit_code == 0, result.stderr
    assert "828 of 828 respondents found among the customers of the transactions" in result.stderr
    assert "relational: NPS 12.4 (95% adjusted-wald interval 6.3 to 18.4), n = 651; revenue-weighted 47.9" \
        in result.stderr
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
    result = nps(SURVEYS, "--transactions", TRANSACTIONS, "--list", "detractors", "--min-spend", "1000",
                 "-o", "vip.csv", "-q")
    assert pl.read_csv("vip.csv").select("customer_id", "net_spend").rows() == [
        ("C000125", 1440.8), ("C000126", 1338.18)]

    result = nps(SURVEYS, "--list", "promoters", "-o", "promoters.parquet", "-q")
    promoters = pl.read_parquet("promoters.parquet")
    assert promoters["latest_score"].min() >= 9
    assert promoters["customer_id"].is_unique().all()
    assert promoters["responded_at"].to_list() == sorted(promoters["responded_at"].to_list(), reverse=True)


def test_survey_type_period_and_formats():
    result = nps(SURVEYS, "--survey-type", "Relational", "--period", "year", "--interval", "wald", "-o", "-",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    table = pl.read_json(result.stdout_bytes)
    assert table["survey_type"].to_list() == ["relational"]
    assert table["ci_method"].to_list() == ["95% wald"]
    assert "# Trend by year" in result.stderr  # with -o -, the tables go to stderr
    first = nps(SURVEYS, "--interval", "bootstrap", "--seed", "3", "-o", "-", "-q").stdout
    assert first == nps(SURVEYS, "--interval", "bootstrap", "--seed", "3", "-o", "-", "-q").stdout


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
        "Hint: NPS answers are 0-10; other scales are not converted.")
    assert result.stdout == ""

    result = nps(str(data), "--mapping", str(mapping), "--on-bad-rows", "skip", "--min-n", "1",
                 "--by", "Region", "-o", "by_region.csv")
    assert result.exit_code == 0, result.stderr
    assert "2 rejected rows written to by_region.rejects.csv" in result.stderr
    assert "10 answers" not in result.stderr and "8 answers: 5 counted, 2 non-responses" in result.stderr
    by_region = pl.read_csv("by_region.csv").select("survey_type", "Region", "responses", "nps", "repeats")
    # Relational: C1 answered 10 then 3 in Q1 (the later counts), C8 6, C9 0; transactional: C3 9, C4 8.
    assert by_region.rows() == [
        ("relational", "Nord", 1, -100.0, 1), ("relational", "Süd", 2, -100.0, 0),
        ("transactional", "Nord", 1, 100.0, 0), ("transactional", "Süd", 1, 0.0, 0),
    ]


def test_messy_comments_reach_files_intact_and_formula_safe(work):
    data, mapping = MESSY.write_messy(work)
    result = nps(str(data), "--mapping", str(mapping), "--on-bad-rows", "skip", "--rejects", "rej.csv",
                 "--list", "customers", "-o", "-")
    assert result.exit_code == 0, result.stderr
    customers = pl.read_csv(result.stdout_bytes)
    comments = dict(customers.select("customer_id", "comment").iter_rows())
    assert comments == {
        "C1": "Now: [bold]worse[/bold]",  # C1's latest answer
        "C3": "<script>alert('x')</script>",  # text stays text: CSV-quoted, never interpreted
        "C4": "Café crème, trop cher",
        "C8": "'=HYPERLINK(\"http://x\")",  # a spreadsheet would run it: neutralised
        "C9": None,
    }
    assert "[bold]" not in result.stderr.replace("Now: [bold]", "")  # rich markup in data is never applied
    result = nps(str(data), "--mapping", str(mapping), "--on-bad-rows", "skip", "--rejects", "rej.csv",
                 "--list", "customers", "-o", "customers.json")
    assert pl.read_json("customers.json").filter(pl.col("customer_id") == "C3")["comment"].to_list() == [
        "<script>alert('x')</script>"]


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
    assert_error(result, 1, "Error: No score column in s.csv (0-10 answer to the recommend question)",
                 "Hint: Name it with --score-col COLUMN")
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
        (["--survey-type", "onboarding"], "Error: --survey-type onboarding: no such survey type in the surveys\n"
                                          "Hint: Survey types: relational, transactional."),
        (["-o", "out.txt"], "Error: Cannot tell the output format of out.txt"),
    ],
)
def test_usage_errors(args, message):
    result = nps(SURVEYS, *args, "-q")
    assert_error(result, 2, message)
    assert not Path("x.csv").exists()


def test_unknown_by_column():
    result = nps(SURVEYS, "--by", "country")
    assert_error(result, 1, f"Error: No column 'country' in the surveys file {SURVEYS}",
                 "Hint: Columns in the file: 'customer_id', 'responded_at'")
