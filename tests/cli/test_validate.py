"""``loyalty validate`` on a folder of UCI Online Retail style daily files, checked against facts computed
independently in plain Python (tests/online_retail.py), and on small survey and contact exports."""

from __future__ import annotations

import csv
import importlib.util
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app


def _load_online_retail() -> ModuleType:
    # tests/ is not a package: load the fixture builder by path.
    path = Path(__file__).parents[1] / "online_retail.py"
    spec = importlib.util.spec_from_file_location("online_retail", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


online_retail = _load_online_retail()

RUNNER = CliRunner(
    env={"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
UCI_FORMAT = "%m/%d/%Y %H:%M"


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("retail") / "exports"
    return folder, online_retail.write_online_retail(folder)


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no rules/columns.toml here
    return tmp_path


def validate(*args: str) -> Result:
    result = RUNNER.invoke(app, ["validate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def facts(result: Result) -> dict[str, str]:
    """The facts table, tab-separated on stdout when piped: a '# title' line, a header, then rows."""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# ")
    assert lines[1] == "fact\tvalue"
    pairs = [line.split("\t") for line in lines[2:]]
    assert all(len(p) == 2 for p in pairs), lines
    return dict(pairs)  # type: ignore[arg-type]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- the fixture itself ------------------------------------------------------------------------------------


def test_fixture_has_the_uci_quirks(retail: tuple[Path, dict]) -> None:
    folder, expected = retail
    names = sorted(p.name for p in folder.iterdir())
    assert names == expected["file_names"] and len(names) == expected["files"] == 40
    assert names[0] == "2010-12-01.csv" and names[-1] == "2011-01-09.csv"
    text = "".join((folder / n).read_text(encoding="utf-8") for n in names)
    assert text.startswith(",".join(online_retail.HEADER))
    assert '"POPPY\'S PLAYHOUSE, BEDROOM"' in text  # a quoted comma
    assert ",=LOVE BUILDING BLOCK WORD," in text  # formula-like text
    assert ",12/1/2010 " in text and ",12/25/2010 " in text and ",1/9/2011 " in text  # unpadded, day > 12
    assert ",17850.0," in text or ",13047.0," in text  # ids as floats
    assert ",,United Kingdom" in text  # rows without a customer id
    rows = list(csv.reader(text.splitlines()))
    data = [r for r in rows if r[0] != "InvoiceNo"]
    assert len(data) == expected["rows"] and 200 <= expected["rows"] <= 600
    assert sum(1 for r in data if r[6] == "") == expected["rows_without_customer"] > 0
    cancels = [r for r in data if r[0].startswith("C")]
    assert cancels and all(int(r[3]) < 0 for r in cancels)
    assert len({r[0] for r in cancels}) == expected["cancellation_invoices"] > 0
    per_invoice: dict[str, int] = {}
    for r in data:
        per_invoice[r[0]] = per_invoice.get(r[0], 0) + 1
    assert max(per_invoice.values()) > 1 and len(per_invoice) == expected["invoices"]
    assert expected["net_revenue"] > 0 and expected["cancelled_value"] > 0


def test_fixture_is_deterministic(tmp_path: Path) -> None:
    a = online_retail.write_online_retail(tmp_path / "a", days=15)
    b = online_retail.write_online_retail(tmp_path / "b", days=15)
    c = online_retail.write_online_retail(tmp_path / "c", days=15, seed=4)
    assert a == b
    for name in a["file_names"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a != c


# --- validate on the folder ------------------------------------------------------------------------------


@pytest.mark.parametrize("date_args", [[], ["--date-format", UCI_FORMAT]], ids=["detected", "given"])
def test_validate_folder_facts(retail: tuple[Path, dict], date_args: list[str]) -> None:
    folder, expected = retail
    result = validate(str(folder), *date_args)
    assert result.exit_code == 1  # rows lack a customer id
    got = facts(result)
    assert got["rows read"] == str(expected["rows"])
    assert got["rows rejected"] == str(expected["rows_without_customer"])
    assert got["lines kept"] == str(expected["lines_with_customer"])
    assert got["orders"] == str(expected["invoices_with_customer"])
    assert got["return orders"] == str(expected["cancellations_with_customer"])
    purchases = expected["invoices_with_customer"] - expected["cancellations_with_customer"]
    assert got["purchase orders"] == str(purchases)
    assert got["customers"] == str(expected["customers"])
    assert got["first date"] == expected["first_date"].isoformat()
    assert got["last date"] == expected["last_date"].isoformat()
    assert Decimal(got["net revenue"]) == expected["net_revenue"]
    assert Decimal(got["returns value"]) == expected["cancelled_value"]

    err = result.stderr
    rows, bad = expected["rows"], expected["rows_without_customer"]
    assert f"Warning: {bad:,} of {rows:,} rows would be rejected:" in err
    problems = [line for line in err.splitlines() if line.startswith("  ")]
    assert problems
    assert all(" with missing customer id in " in p and "column 'CustomerID'" in p for p in problems)
    assert sum(int(p.split()[0]) for p in problems) == bad
    assert f"Reading transactions from {expected['files']} files" in err
    assert f"Dates in 'InvoiceDate' read as {UCI_FORMAT}" in err
    assert "amount = 'Quantity' x 'UnitPrice'" in err


def test_validate_rejects_file_holds_exactly_the_rows_without_id(retail: tuple[Path, dict]) -> None:
    folder, expected = retail
    result = validate(str(folder), "--rejects", "r.csv", "-q")
    assert result.exit_code == 1
    rows = read_rows(Path("r.csv"))
    got = {(Path(r["source_file"]).name, int(r["source_row"]), r["InvoiceNo"], r["StockCode"]) for r in rows}
    assert len(rows) == len(got) == expected["rows_without_customer"]
    assert got == set(expected["rejected_rows"])
    assert {r["reject_reason"] for r in rows} == {"missing customer id"}
    assert {r["reject_column"] for r in rows} == {"CustomerID"}
    assert {r["CustomerID"] for r in rows} == {""}
    # the raw row is kept, and text that a spreadsheet would run is neutralised
    formula = [r["Description"] for r in rows if r["StockCode"] == "21755"]
    assert all(d == "'=LOVE BUILDING BLOCK WORD" for d in formula)
    assert "Warning: " in result.stderr and "r.csv" in result.stderr


def test_validate_without_rejects_writes_nothing(retail: tuple[Path, dict], work: Path) -> None:
    folder, _ = retail
    validate(str(folder), "-q")
    assert list(work.iterdir()) == []


def test_segment_on_the_folder_skips_the_rows_without_id(retail: tuple[Path, dict]) -> None:
    folder, expected = retail
    result = RUNNER.invoke(app, ["segment", str(folder), "-o", "seg.csv", "--on-bad-rows", "skip", "-q"])
    assert result.exit_code == 0, result.output
    customers = read_rows(Path("seg.csv"))
    assert len(customers) == expected["customers"]
    assert all(c["customer_id"].isdigit() for c in customers)  # 17850.0 -> 17850
    assert sum(Decimal(c["net_spend"]) for c in customers) == expected["net_revenue"]
    assert len(read_rows(Path("seg.rejects.csv"))) == expected["rows_without_customer"]


def test_validate_clean_file() -> None:
    Path("orders.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-01,10\nA,2024-01-05,-4\nB,2024-01-02,20.5\n"
    )
    result = validate("orders.csv")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "No bad rows."
    got = facts(result)
    assert got["rows read"] == "3" and got["rows rejected"] == "0"
    assert got["orders"] == "3" and got["return orders"] == "1" and got["customers"] == "2"
    assert Decimal(got["net revenue"]) == Decimal("26.5")
    assert got["first date"] == "2024-01-01" and got["last date"] == "2024-01-05"


def test_validate_with_as_of_counts_later_rows() -> None:
    Path("orders.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-02-01,5\n")
    result = validate("orders.csv", "--as-of", "2024-02-01")
    assert result.exit_code == 0  # data after the as-of date is not bad: it is left out and counted
    assert facts(result)["rows rejected"] == "0"
    assert "1 row of transactions dated on or after the as-of date 2024-02-01 left out" in result.stderr
    # every row read is counted once: kept, rejected or on/after the as-of date
    assert facts(result)["rows read"] == "2" and facts(result)["rows on or after the as-of date"] == "1"
    assert facts(result)["lines kept"] == "1"


def test_validate_bad_file_is_an_error_not_a_report() -> None:
    Path("orders.csv").write_bytes(b"")
    result = validate("orders.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: orders.csv is empty (0 bytes)\nHint: ")
    assert result.stdout == ""


def test_validate_unknown_kind_is_a_usage_error() -> None:
    Path("orders.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\n")
    result = validate("orders.csv", "--kind", "orders")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --kind must be transactions, surveys or contacts, got 'orders'")


# --- surveys and contacts -----------------------------------------------------------------------------------

SURVEY = (
    "Customer ID,Submitted At,How likely are you to recommend us?,Comment\n"
    "1,2024-03-01,9,great\n"
    "2,2024-03-02,10 - Extremely likely,\n"
    "3,2024-03-03,,\n"
    ',2024-03-04,3,"=HYPERLINK(""x"")"\n'
)


def test_validate_surveys() -> None:
    Path("survey.csv").write_text(SURVEY)
    result = validate("survey.csv", "--kind", "surveys", "--score-col", "How likely are you to recommend us?")
    assert result.exit_code == 0, result.output
    assert facts(result) == {
        "rows read": "4",
        "rows rejected": "0",
        "responses": "4",
        "scored": "3",
        "non-responses": "1",
        "respondents": "4",
        "first date": "2024-03-01",
        "last date": "2024-03-04",
    }
    assert result.stdout.splitlines()[0] == "# Surveys: survey.csv"
    assert result.stderr.splitlines()[-1] == "No bad rows."


def test_validate_surveys_with_bad_scores() -> None:
    Path("survey.csv").write_text(SURVEY + "5,2024-03-05,11,\n6,2024-03-06,very likely,\n")
    result = validate(
        "survey.csv", "--kind", "surveys", "--score-col", "How likely are you to recommend us?", "--rejects", "bad.csv"
    )
    assert result.exit_code == 1
    got = facts(result)
    assert got["rows read"] == "6" and got["rows rejected"] == "2" and got["responses"] == "4"
    assert "Warning: 2 of 6 rows would be rejected:" in result.stderr
    assert (
        "  1 row with score outside 0-10 in survey.csv, column 'How likely are you to recommend us?' "
        "(row 6; values '11')"
    ) in result.stderr.splitlines()
    assert [(r["source_row"], r["reject_reason"]) for r in read_rows(Path("bad.csv"))] == [
        ("6", "score outside 0-10"),
        ("7", "unparseable score (expected 0-10)"),
    ]


def test_validate_contacts() -> None:
    Path("contacts.csv").write_text(
        "customer_id,email,signed_up_at,email_consent\n"
        "1,a@x.com,2024-01-01,yes\n2,B@X.com,2024-01-02,no\n3,,2024-01-03,\n4,d@x.com,2024-01-04,TRUE\n"
    )
    result = validate("contacts.csv", "--kind", "contacts")
    assert result.exit_code == 0, result.output
    assert facts(result) == {
        "rows read": "4",
        "rows rejected": "0",
        "contacts": "4",
        "unique ids": "4",
        "with an email": "3",
        "email consent": "2",
    }
    assert result.stderr.splitlines()[-1] == "No bad rows."


def test_validate_contacts_with_bad_rows() -> None:
    Path("contacts.csv").write_text(
        "customer_id,email,signed_up_at,email_consent\n"
        "1,a@x.com,2024-01-01,yes\n,b@x.com,2024-01-02,no\n3,c@x.com,2024-01-03,maybe\n"
    )
    result = validate("contacts.csv", "--kind", "contacts", "--rejects", "bad.csv")
    assert result.exit_code == 1
    assert facts(result)["rows rejected"] == "1"  # 'maybe' is no consent, not a bad row
    assert [(r["source_row"], r["reject_reason"]) for r in read_rows(Path("bad.csv"))] == [
        ("3", "missing customer id"),
    ]


# --- overlapping exports (issue 16) ------------------------------------------------------------------------

OVERLAP_HEADER = "order_id,customer_id,order_date,amount,category\n"
OVERLAP_DAY1 = (
    "A1,c1,2024-01-04 10:00,10.00,shoes\n"
    "A2,c2,2024-01-05 11:00,20.00,bags\n"
    "A2,c2,2024-01-05 11:00,20.00,bags\n"  # two equal items of one order: not an overlap
    "A3,c3,2024-01-06 09:30,30.00,hats\n"
)
OVERLAP_DAY2 = (
    "A2,c2,2024-01-05 11:00,20.00,bags\n"  # repeated from day1
    "A3,c3,2024-01-06 09:30,30.00,hats\n"  # repeated from day1
    "A1,c1,2024-01-07 12:00,-10.00,shoes\n"  # a refund continuing A1: not a repeat
    "A4,c1,2024-01-08 08:00,40.00,shoes\n"
)
OVERLAP_LINES = [
    "  exports/day1.csv.gz repeats all 4 lines of exports/day1.csv (the same export twice)",
    "  exports/day2.csv repeats 2 lines of exports/day1.csv (2024-01-05 to 2024-01-06)",
]


def _overlapping_exports() -> None:
    import gzip

    folder = Path("exports")
    folder.mkdir()
    (folder / "day1.csv").write_text(OVERLAP_HEADER + OVERLAP_DAY1)
    (folder / "day1.csv.gz").write_bytes(gzip.compress((OVERLAP_HEADER + OVERLAP_DAY1).encode()))
    (folder / "day2.csv").write_text(OVERLAP_HEADER + OVERLAP_DAY2)


def test_validate_reports_overlapping_exports() -> None:
    _overlapping_exports()
    result = validate("exports")
    assert result.exit_code == 1, result.output
    got = facts(result)
    assert (got["rows read"], got["rows rejected"], got["rows repeated from an earlier file"]) == ("12", "0", "6")
    assert got["net revenue"] == "240.0"  # 80 three times: what every command refuses to compute
    err = result.stderr.splitlines()
    start = err.index("Warning: 6 of 12 rows repeat lines of an earlier file:")
    assert err[start + 1 :] == [
        *OVERLAP_LINES,
        "  Remove the duplicate export, or pass --on-overlap keep-first to read each repeated line from the first "
        "file that has it.",
    ]


def test_validate_with_keep_first_counts_each_line_once() -> None:
    _overlapping_exports()
    result = validate("exports", "--on-overlap", "keep-first")
    assert result.exit_code == 0, result.output
    got = facts(result)
    assert (got["rows read"], got["rows repeated from an earlier file"], got["lines kept"]) == ("12", "6", "6")
    assert got["net revenue"] == "110.0"  # 10 + 20 + 20 + 30 - 10 + 40
    err = result.stderr.splitlines()
    start = err.index(
        "Left out 6 lines in 2 files of the transactions that repeat lines of an earlier file (keep-first):"
    )
    assert err[start + 1 : start + 3] == OVERLAP_LINES
    assert err[-1] == "No bad rows."


def test_validate_a_refund_in_a_later_file_is_not_an_overlap() -> None:
    Path("exports").mkdir()
    Path("exports/day1.csv").write_text(OVERLAP_HEADER + OVERLAP_DAY1)
    Path("exports/day2.csv").write_text(OVERLAP_HEADER + OVERLAP_DAY2.split("\n", 2)[2])
    result = validate("exports")
    assert result.exit_code == 0, result.output
    assert "rows repeated from an earlier file" not in facts(result)
    assert facts(result)["net revenue"] == "110.0"


def test_segment_stops_on_overlapping_exports() -> None:
    _overlapping_exports()
    result = RUNNER.invoke(app, ["segment", "exports", "-o", "segments.csv"])
    assert result.exit_code == 1, result.output
    err = result.stderr.splitlines()
    start = err.index(
        "Error: Overlapping files in the transactions: 6 lines in 2 files repeat lines of an earlier file:"
    )
    assert err[start + 1 :] == [
        *OVERLAP_LINES,
        "Hint: Remove the duplicate export from the input, or pass --on-overlap keep-first (on_overlap = "
        '"keep-first" in a mapping file or a pipeline input) to read each repeated line from the first file (in '
        "sorted path order) that has it.",
    ]
    assert not Path("segments.csv").exists()


def test_segment_with_keep_first_sums_each_line_once() -> None:
    _overlapping_exports()
    result = RUNNER.invoke(app, ["segment", "exports", "--on-overlap", "keep-first", "-o", "segments.csv"])
    assert result.exit_code == 0, result.output
    spend = {r["customer_id"]: r["net_spend"] for r in read_rows(Path("segments.csv"))}
    assert spend == {"c1": "40.0", "c2": "40.0", "c3": "30.0"}  # hand-computed, each line once
    assert "Left out 6 lines in 2 files of the transactions that repeat lines of an earlier file (keep-first):" in (
        result.stderr.splitlines()
    )


def test_on_overlap_takes_error_or_keep_first() -> None:
    _overlapping_exports()
    result = RUNNER.invoke(app, ["segment", "exports", "--on-overlap", "keep-last"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --on-overlap must be error or keep-first, got 'keep-last'")


def test_pipeline_input_takes_on_overlap() -> None:
    _overlapping_exports()
    Path("p.toml").write_text(
        'as_of = "latest"\noutput_dir = "out"\n[inputs.transactions]\npath = "exports/"\non_overlap = "keep-first"\n'
        '[[steps]]\ncommand = "segment"\noutput = "segments.csv"\n'
    )
    result = RUNNER.invoke(app, ["run", "p.toml"])
    assert result.exit_code == 0, result.output
    spend = {r["customer_id"]: r["net_spend"] for r in read_rows(Path("out/segments.csv"))}
    assert spend == {"c1": "40.0", "c2": "40.0", "c3": "30.0"}
    Path("p.toml").write_text(Path("p.toml").read_text().replace('on_overlap = "keep-first"\n', ""))
    result = RUNNER.invoke(app, ["run", "p.toml"])
    assert result.exit_code == 1
    assert "Error: Overlapping files in the transactions: 6 lines in 2 files repeat lines of an earlier file:" in (
        result.stderr.splitlines()
    )


# --- customers with only returns ----------------------------------------------------------------------------

# UCI Online Retail layout. 12346 only cancelled (-1 x 7.65, -3 x 4.25: -20.40), never bought in the data; 17850
# bought 15.30 and cancelled 5.10 (net 10.20); 13047 bought 6.78 and 22.20 (28.98). Whole data: net 18.78, three
# return orders; the customers with a purchase: 39.18 and one return order.
RETURNS_ONLY = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/13/2010 8:26,2.55,17850.0,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,2,12/14/2010 9:00,3.39,13047.0,United Kingdom\n"
    "C536367,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,12/15/2010 10:00,2.55,17850.0,United Kingdom\n"
    "C536368,22752,SET 7 BABUSHKA NESTING BOXES,-1,12/16/2010 11:00,7.65,12346.0,United Kingdom\n"
    "C536369,21730,GLASS STAR FROSTED T-LIGHT HOLDER,-3,12/17/2010 12:00,4.25,12346.0,United Kingdom\n"
    "536370,22633,HAND WARMER UNION JACK,12,12/18/2010 13:00,1.85,13047.0,United Kingdom\n"
)
RETURNS_ONLY_NOTE = "1 customer with no purchase, only returns, left out: -20.40"


def test_validate_counts_customers_with_only_returns() -> None:
    Path("retail.csv").write_text(RETURNS_ONLY)
    result = validate("retail.csv")
    assert result.exit_code == 0, result.output
    got = facts(result)
    assert (got["customers"], got["customers with a purchase"], got["return orders"]) == ("3", "2", "3")
    assert Decimal(got["net revenue"]) == Decimal("18.78")
    assert got["customers with no purchase (only returns)"] == "1"
    assert Decimal(got["net value of customers with no purchase"]) == Decimal("-20.40")
    assert result.stderr.count("1 customer with no purchase, only returns (net -20.40): the other commands") == 1


@pytest.mark.parametrize(
    "command",
    [
        ["segment", "-o", "out.csv"],
        ["churn"],
        ["retention"],
        ["second-purchase"],
        ["lifecycle"],
        ["cltv"],
        ["report", "-o", "report.html"],
    ],
    ids=lambda c: c[0],
)
def test_every_command_says_once_who_has_only_returns(command: list[str]) -> None:
    """Stage 1 leaves them out of every customer table: each command says so once, with their net value."""
    Path("retail.csv").write_text(RETURNS_ONLY)
    result = RUNNER.invoke(app, [command[0], "retail.csv", *command[1:]])
    assert "Traceback" not in result.output
    assert result.stderr.splitlines().count(RETURNS_ONLY_NOTE) == 1, result.stderr


def test_nps_with_transactions_says_who_has_only_returns() -> None:
    Path("retail.csv").write_text(RETURNS_ONLY)
    Path("survey.csv").write_text("customer_id,responded_at,score\n17850,2010-12-17,9\n13047,2010-12-18,3\n")
    result = RUNNER.invoke(app, ["nps", "survey.csv", "--transactions", "retail.csv", "--min-n", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines().count(RETURNS_ONLY_NOTE) == 1, result.stderr


def test_segment_totals_add_up_with_the_customers_left_out() -> None:
    Path("retail.csv").write_text(RETURNS_ONLY)
    result = RUNNER.invoke(app, ["segment", "retail.csv", "-o", "out.csv"])
    assert result.exit_code == 0, result.output
    spend = {r["customer_id"]: Decimal(r["net_spend"]) for r in read_rows(Path("out.csv"))}
    assert spend == {"17850": Decimal("10.2"), "13047": Decimal("28.98")}
    # the table (39.18) and the customers left out (-20.40) make validate's net revenue (18.78)
    assert sum(spend.values()) + Decimal("-20.40") == Decimal("18.78")
