"""``loyalty retention`` end to end: the shipped sample, a multi-year Online Retail folder checked against an
independent computation, outputs, terminal tables, and bad input."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(
    env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, ["retention", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


# ------------------------------------------------------------------------------ Online Retail, multi-year
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
PRICES = (("85123A", "2.55"), ("71053", "3.39"), ("22752", "7.65"), ("POST", "18.00"), ("21232", "0.85"))


def write_online_retail_years(folder: Path, *, seed: int = 11) -> list[tuple[str, date, Decimal]]:
    """Daily CSVs in the UCI Online Retail layout over 2010-12 .. 2012-04 (one to three trading days a month):
    month-first dates, float customer ids, invoices without a customer, C-prefixed cancellations.

    Returns the invoices with a customer as (customer, day, net value): what an independent computation
    needs (an invoice is an order; a cancellation is negative)."""
    rng = random.Random(seed)
    folder.mkdir()
    customers = [str(12000 + 37 * i) for i in range(40)]
    invoice = 536365
    kept: list[tuple[str, date, Decimal]] = []
    sold: list[tuple[str, str, int, str]] = []
    day = date(2010, 12, 1)
    while day < date(2012, 5, 1):
        rows: list[list[str]] = []
        moment = datetime(day.year, day.month, day.day, 8, rng.randint(0, 59))
        plan = (
            ["sale"] * rng.randint(4, 8)
            + (["anonymous"] if rng.random() < 0.3 else [])
            + (["cancel"] if sold and rng.random() < 0.5 else [])
        )
        pool = 4 + 2 * ((day.year - 2010) * 12 + day.month - 12)  # new customers keep coming
        for kind in plan:
            moment += timedelta(minutes=rng.randint(5, 90))
            when = f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"
            if kind == "cancel":
                customer, code, qty, price = sold[rng.randrange(len(sold))]
                number, items = f"C{invoice}", [(code, -rng.randint(1, qty), price)]
            else:
                customer = "" if kind == "anonymous" else rng.choice(customers[:pool])
                number = str(invoice)
                items = [(code, rng.choice((1, 2, 6, 12)), price) for code, price in rng.sample(PRICES, 2)]
            invoice += 1
            value = Decimal(0)
            for code, qty, price in items:
                rows.append(
                    [
                        number,
                        code,
                        "ITEM, DESCRIBED",
                        str(qty),
                        when,
                        price,
                        f"{customer}.0" if customer else "",
                        "United Kingdom",
                    ]
                )
                value += qty * Decimal(price)
                if customer and qty > 0:
                    sold.append((customer, code, qty, price))
            if customer:
                kept.append((customer, day, value))
        with (folder / f"{day.isoformat()}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
        day += timedelta(days=rng.randint(20, 40))
    return kept


def independent_matrix(invoices: list[tuple[str, date, Decimal]]) -> dict[tuple[str, int], tuple]:
    """(cohort, k) -> (cohort customers, active customers or None, revenue or None), by plain Python."""
    as_of = max(d for _, d, _ in invoices) + timedelta(days=1)
    month = lambda d: d.year * 12 + d.month - 1  # noqa: E731
    first: dict[str, date] = {}
    for c, d, v in invoices:
        if v > 0 and (c not in first or d < first[c]):
            first[c] = d
    size: dict[int, int] = {}
    for d in first.values():
        size[month(d)] = size.get(month(d), 0) + 1
    active: dict[tuple[int, int], set[str]] = {}
    revenue: dict[tuple[int, int], Decimal] = {}
    for c, d, v in invoices:
        if c not in first or month(d) < month(first[c]):
            continue
        key = (month(first[c]), month(d) - month(first[c]))
        revenue[key] = revenue.get(key, Decimal(0)) + v
        if v > 0:
            active.setdefault(key, set()).add(c)
    oldest, now = min(size), month(as_of)
    out = {}
    for cohort, n in size.items():
        label = f"{cohort // 12}-{cohort % 12 + 1:02d}"
        for k in range(now - oldest):
            mature = cohort + k < now
            out[(label, k)] = (
                n,
                len(active.get((cohort, k), ())) if mature else None,
                float(revenue.get((cohort, k), Decimal(0))) if mature else None,
            )
    return out


def test_online_retail_folder_matches_an_independent_computation():
    invoices = write_online_retail_years(Path("retail"))
    assert any(v < 0 for _, _, v in invoices)  # cancellations in the data
    result = run(
        "retail",
        "--on-bad-rows",
        "skip",
        "--rejects",
        "rejects.csv",
        "-o",
        "long.csv",
        "--cohorts",
        "cohorts.csv",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("rejects.csv")["reject_reason"].unique().to_list() == ["missing customer id"]
    long = pl.read_csv("long.csv", schema_overrides={"cohort": pl.String})
    got = {
        (r["cohort"], r["period"]): (r["cohort_customers"], r["active_customers"], r["revenue"])
        for r in long.filter(pl.col("cohort") != "average").iter_rows(named=True)
    }
    expected = independent_matrix(invoices)
    assert len(expected) > 100 and {k[0][:4] for k in expected} == {"2010", "2011", "2012"}
    assert len(list(Path("retail").iterdir())) < 20  # the reader takes ~0.1 s a file: keep the test fast
    assert got.keys() == expected.keys()
    for key, (n, active, revenue) in expected.items():
        assert got[key][:2] == (n, active), key
        assert (got[key][2] is None) == (revenue is None) and (revenue is None or got[key][2] == pytest.approx(revenue))
    # and the weighted average of each k pools the mature cells only
    for k in range(3):
        cells = [v for (c, kk), v in expected.items() if kk == k and v[1] is not None]
        avg = long.filter((pl.col("cohort") == "average") & (pl.col("period") == k)).row(0, named=True)
        share = sum(v[1] for v in cells) / sum(v[0] for v in cells)
        assert avg["retention"] == pytest.approx(share, abs=5e-5)  # 4 decimals in a CSV
    cohorts = pl.read_csv("cohorts.csv", schema_overrides={"cohort": pl.String})
    assert cohorts["cohort"][-1] == "all" and cohorts["customers"][-1] == len({c for c, _, v in invoices if v > 0})


# ------------------------------------------------------------------------------------------- sample data
def test_sample_data_outputs_and_figures():
    result = run(
        str(SAMPLE),
        "-o",
        "long.parquet",
        "--wide",
        "wide.csv",
        "--cohorts",
        "cohorts.csv",
        "--show",
        "on",
        "--show",
        "within",
    )
    assert result.exit_code == 0, result.stderr
    assert "As of 2025-01-01 (data before that day); 3,000 customers in 24 monthly cohorts" in result.stderr
    assert "Within: a purchase in any of the 3 months from k; a cell is blank until its last month (k+2) is over" in (
        result.stderr
    )
    assert "Repeat purchase rate within 90 days of the first purchase: 40.3% (988 of 2,450 customers" in result.stderr
    long = pl.read_parquet("long.parquet")
    cohorts = long.filter(pl.col("cohort") != "average")
    assert cohorts.height == 24 * 24
    assert cohorts.filter(pl.col("period") == 0)["retention"].to_list() == [1.0] * 24
    # the December 2024 cohort has lived through its first month only; January 2023 through all 24
    assert cohorts.filter(pl.col("cohort") == "2024-12")["retention"].null_count() == 23
    assert cohorts.filter(pl.col("cohort") == "2023-01")["retention"].null_count() == 0
    assert (
        cohorts.filter(~pl.col("mature"))["active_customers"].null_count() == cohorts.filter(~pl.col("mature")).height
    )
    wide = pl.read_csv("wide.csv")
    assert wide.columns[:5] == ["metric", "cohort", "cohort_customers", "m0", "m1"]
    assert wide.filter(pl.col("metric") == "retention").height == 25
    # the README's figures: month 1 and month 6 of the average cohort, "on" and "within 3 months"
    avg = long.filter(pl.col("cohort") == "average").sort("period")
    assert [round(avg[c][k], 3) for k in (1, 6) for c in ("retention", "retention_within")] == [
        0.226,
        0.378,
        0.135,
        0.242,
    ]
    assert long["horizon"].unique().to_list() == [3]
    # a "within" cell is filled once its 3 months are over: the October 2024 cohort's m0 (Oct-Dec) only
    assert cohorts.filter(pl.col("cohort") == "2024-10")["retention_within"].null_count() == 23
    assert cohorts.filter(pl.col("cohort") == "2024-11")["retention_within"].null_count() == 24
    # piped: two matrices as tab-separated tables on stdout, labelled "on" and "within"
    assert "# customer retention, active ON period k" in result.stdout
    assert "# customer retention, active WITHIN 3 months from period k (k to k+2)" in result.stdout
    assert "cohort\tcohort_customers\trepeat_90d\tm0\tm1" in result.stdout
    assert "\n2024-12\t181\t\t1.0000\t\t" in result.stdout  # blank cells, not 0


def test_terminal_table_is_drawn(monkeypatch: pytest.MonkeyPatch):
    from loyalty_cli.cli import console

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    Path("tx.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-02-05,10\nB,2024-01-20,5\nC,2024-02-10,7\n"
    )
    result = run("tx.csv", "--as-of", "2024-03-01", "--show", "counts", "--show", "cumulative", "-q")
    assert result.exit_code == 0, result.stderr
    assert "┃ cohort  ┃ customers ┃ repeat 90d ┃ m0 ┃ m1 ┃" in result.stdout  # drawn headers: words
    assert "│ 2024-01 │         2 │            │  2 │  1 │" in result.stdout
    assert "│ 2024-02 │         1 │            │  1 │    │" in result.stdout  # February not over: blank
    assert "│ average │         3 │            │  3 │  1 │" in result.stdout
    assert "│ 2024-01 │         2 │            │ 7.50 │ 12.50 │" in result.stdout
    assert "│ average │         3 │            │ 7.33 │ 12.50 │" in result.stdout


def test_output_to_stdout_and_weeks():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nA,2024-01-09,10\nB,2024-01-03,5\n")
    result = run("tx.csv", "--as-of", "2024-01-15", "--period", "week", "-o", "-", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    long = pl.read_json(result.stdout_bytes)
    assert long.filter(pl.col("cohort") == "2024-W01")["active_customers"].to_list() == [2, 1]
    assert long["cohort"].unique().sort().to_list() == ["2024-W01", "average"]


def test_horizon_option_and_final_cells():
    # A (January cohort) buys in January and May; B (January) in January and February
    Path("tx.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-05-05,10\nB,2024-01-20,5\nB,2024-02-10,7\n"
    )
    for as_of in ("2024-04-01", "2024-08-01"):
        result = run("tx.csv", "--as-of", as_of, "--horizon", "2", "-o", f"{as_of}.csv", "-q")
        assert result.exit_code == 0, result.stderr
    early, late = (pl.read_csv(f"{d}.csv").filter(pl.col("cohort") == "2024-01") for d in ("2024-04-01", "2024-08-01"))
    # months k, k+1: k0 both, k1 (Feb-Mar) B, k2 (Mar-Apr) nobody, k3 (Apr-May) A, k4 (May-Jun) A, k5
    # (Jun-Jul) nobody; filled once k+1 is over: as of April 1 up to k1 (March), as of August 1 up to k5 (July)
    assert early["active_within_customers"].to_list() == [2, 1, None]
    assert late["active_within_customers"].to_list() == [2, 1, 0, 1, 1, 0, None]
    assert late["horizon"].unique().to_list() == [2]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--period", "day"], 2, "Error: --period must be week, month or quarter, got 'day'"),
        (["--show", "heat"], 2, "Error: --show 'heat' is not a matrix"),
        (["--repeat-window", "0"], 2, "Error: --repeat-window must be at least 1 day, got 0"),
        (["--horizon", "0"], 2, "Error: --horizon must be at least 1 month, got 0"),
        (
            ["--show", "on-or-after"],
            2,
            "Error: --show 'on-or-after' is gone: an open-ended 'on or after' cell changes with every later "
            "purchase\nHint: Use --show within: a purchase in any of the --horizon periods from k, final once they "
            "are over.",
        ),
        (["--format", "csv"], 2, "Error: --format needs --output"),
        (["--wide", "wide.txt"], 2, "Error: Cannot tell the output format of wide.txt"),
        ([], 1, "Error: No customer made a purchase before the as-of date in tx.csv"),
    ],
)
def test_bad_options_and_no_customers(args, code, message):
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,-10\n")  # a return only
    result = run("tx.csv", *args, "--as-of", "2024-02-01")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and "Hint: " in result.stderr or code == 2
    assert not Path("wide.txt").exists()


def test_bad_data_and_missing_file():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\n,2024-01-02,5\nB,someday,5\n")
    result = run("tx.csv", "-o", "out.csv")
    assert result.exit_code == 1
    assert "Error: 2 bad rows in the transactions:" in result.stderr
    assert "Hint: " in result.stderr and not Path("out.csv").exists()
    result = run("missing.csv")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")


# ------------------------------------------------------------------------------ --by: retention by acquisition
# As of 2024-04-01: January to March are over (m0, m1, m2).
#   A  Jan: order 1 Tea 100 (web), Feb order 2 Coffee 50      first category Tea, member (enrolled 2023-12-01)
#   B  Jan: order 3 Coffee 200 (web)                          Coffee
#   C  Jan: order 4 Tea 80 (store), Mar order 5 Tea 40        Tea
#   D  Feb: order 6 Tea 70 (app)                              Tea, enrols 2024-05-01: after as-of, not a member
SPLIT_SHOP = (
    "customer_id,order_id,order_date,amount,category,channel\n"
    "A,1,2024-01-05,100,Tea,web\nA,2,2024-02-10,50,Coffee,store\nB,3,2024-01-20,200,Coffee,web\n"
    "C,4,2024-01-03,80,Tea,store\nC,5,2024-03-02,40,Tea,store\nD,6,2024-02-03,70,Tea,app\n"
)
SPLIT_MEMBERS = "customer_id,enrolled_at\nA,2023-12-01\nD,2024-05-01\n"


def split_shop() -> None:
    Path("tx.csv").write_text(SPLIT_SHOP)
    Path("members.csv").write_text(SPLIT_MEMBERS)


def test_by_category_folds_small_groups_by_hand():
    split_shop()
    result = run("tx.csv", "--as-of", "2024-04-01", "--by", "category", "--min-customers", "2", "-o", "by.csv")
    assert result.exit_code == 0, result.stderr
    assert (
        "Split by first_category (category means first_category): the category of the first purchase order (its "
        "largest line's; ties alphabetical); 1 group of 2 customers or more; 1 value with fewer folded into (other) "
        "(1 customer): Coffee" in result.stderr
    )
    # Tea: January, February and average x 3 periods; (other) (Coffee, January only): January and average x 3;
    # all customers: January, February and average x 3
    assert (
        "Wrote 24 rows (first_category x cohort x period, each group's average rows, then all customers') to by.csv"
        in result.stderr
    )
    # Tea {A, C, D}: January {A, C}: m1 A, m2 C; February {D}: m1 nobody, m2 not over.
    #   average: m0 3/3, m1 (1 + 0) / 3, m2 1/2 (January only). (other) = Coffee {B}: 1, 0, 0.
    #   all {A, B, C, D}: m0 4/4, m1 (1 + 0) / 4, m2 1/3
    # piped: the data values as they are, the made-up groups' split empty and their group named
    assert "split\tgroup\tcustomers\tm0\tm1\tm2\n" in result.stdout
    assert "\nTea\tvalue\t3\t1.0000\t0.3333\t0.5000\n" in result.stdout
    assert "\n\tother\t1\t1.0000\t0.0000\t0.0000\n" in result.stdout
    assert "\n\tall\t4\t1.0000\t0.2500\t0.3333\n" in result.stdout
    long = pl.read_csv("by.csv")
    assert long.columns[:4] == ["by", "split", "group", "cohort"]
    # the baseline: every customer's rows, as without --by
    whole = run("tx.csv", "--as-of", "2024-04-01", "-o", "whole.csv", "-q")
    assert whole.exit_code == 0
    everyone = long.filter(pl.col("group") == "all").drop("by", "split", "group")
    assert everyone.equals(pl.read_csv("whole.csv"))
    tea = long.filter((pl.col("split") == "Tea") & (pl.col("cohort") == "2024-01")).sort("period")
    # revenue: m0 100 + 80 = 180, m1 A's Coffee 50, m2 C's 40 -> retention 50/180, 40/180; cumulative / 2
    assert tea["revenue"].to_list() == [180.0, 50.0, 40.0]
    assert tea["revenue_retention"].to_list() == pytest.approx([1.0, 50 / 180, 40 / 180], abs=1e-4)  # CSV: 4 places
    assert tea["cumulative_revenue_per_customer"].to_list() == pytest.approx([90.0, 115.0, 135.0])


def test_by_member_with_the_members_file():
    split_shop()
    args = ("tx.csv", "--as-of", "2024-04-01", "--by", "member", "--min-customers", "1", "--show", "counts")
    result = run(*args, "--members", "members.csv", "--wide", "wide.csv")
    assert result.exit_code == 0, result.stderr
    assert (
        "Split by member: membership at the as-of date (members: enrolled before 2024-04-01; a correlation: "
        "customers who keep buying are likelier to join, and loyalty program compares like for like); 2 groups of "
        "1 customer or more" in result.stderr
    )
    # members {A}: January, m0 1, m1 1, m2 0; non-members {B, C} in January (m2: C) and {D} in February
    assert "\nnon-members\tvalue\t3\t3\t0\t1\n" in result.stdout
    assert "\nmembers\tvalue\t1\t1\t1\t0\n" in result.stdout
    assert "\n\tall\t4\t4\t1\t1\n" in result.stdout
    wide = pl.read_csv("wide.csv")
    assert wide.columns[:7] == ["metric", "by", "split", "group", "cohort", "cohort_customers", "m0"]
    retention = wide.filter(pl.col("metric") == "retention")
    assert retention.select("split", "group").unique(maintain_order=True).rows() == [
        ("non-members", "value"),
        ("members", "value"),
        (None, "all"),
    ]
    # the baseline rows: all customers' cohorts January {A, B, C}, February {D} and their average
    assert retention.filter(pl.col("group") == "all").select("cohort", "cohort_customers").rows() == [
        ("2024-01", 3),
        ("2024-02", 1),
        ("average", 4),
    ]
    # without the members file: a usage error before anything is read
    missing = run(*args)
    assert missing.exit_code == 2
    assert "Error: --by member needs --members FILE" in missing.stderr


def test_by_first_product_reads_the_first_order_and_draws(monkeypatch: pytest.MonkeyPatch):
    from loyalty_cli.cli import console

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    # product of the first order's largest line: A P2 (60 > 40), B P1; A comes back in February
    Path("tx.csv").write_text(
        "customer_id,order_id,order_date,sku,amount\nA,1,2024-01-05,P1,40\nA,1,2024-01-05,P2,60\n"
        "A,2,2024-02-05,P1,10\nB,3,2024-01-09,P1,25\n"
    )
    result = run("tx.csv", "--as-of", "2024-03-01", "--by", "first_product", "--min-customers", "1", "--show", "counts")
    assert result.exit_code == 0, result.stderr
    assert "┃ first_product ┃ customers ┃ m0 ┃ m1 ┃" in result.stdout
    assert "│ P1            │         1 │  1 │  0 │" in result.stdout
    assert "│ P2            │         1 │  1 │  1 │" in result.stdout
    assert "│ all           │         2 │  2 │  1 │" in result.stdout


def test_by_a_column_no_reader_maps(monkeypatch: pytest.MonkeyPatch):
    # promo of the first order's largest line: A SPRING (order 1: 60 > 40), B none (its only line has none),
    # C SPRING; the reader maps no promo column: --by promo has it carried along
    Path("tx.csv").write_text(
        "customer_id,order_id,order_date,amount,promo\nA,1,2024-01-05,40,WINTER\nA,1,2024-01-05,60,SPRING\n"
        "A,2,2024-02-05,10,\nB,3,2024-01-09,25,\nC,4,2024-01-20,30,SPRING\n"
    )
    result = run("tx.csv", "--as-of", "2024-03-01", "--by", "promo", "--min-customers", "1", "--show", "counts")
    assert result.exit_code == 0, result.stderr
    assert "Split by first_promo (promo means first_promo): the promo of the first purchase order" in result.stderr
    # SPRING {A, C}: m0 2, m1 A; (missing) {B}; all 3
    assert "\nSPRING\tvalue\t2\t2\t1\n" in result.stdout
    assert "\n\tmissing\t1\t1\t0\n" in result.stdout
    assert "\n\tall\t3\t3\t1\n" in result.stdout
    # a column the file lacks: the reader says so, with the file's columns
    missing = run("tx.csv", "--as-of", "2024-03-01", "--by", "coupon")
    assert missing.exit_code == 1
    assert "Error: No column 'coupon' in the transactions file tx.csv" in missing.stderr
    assert "Hint: Columns in the file: 'customer_id', 'order_id', 'order_date', 'amount', 'promo'." in missing.stderr


def test_by_the_header_of_a_mapped_column_on_the_sample():
    # sku is the sample's product column (mapped as product): --by sku reads it by its header
    by_sku = run(str(SAMPLE), "--by", "sku", "-o", "sku.parquet", "-q")
    by_product = run(str(SAMPLE), "--by", "first_product", "-o", "product.parquet", "-q")
    assert by_sku.exit_code == 0 and by_product.exit_code == 0, by_sku.stderr
    sku, product = pl.read_parquet("sku.parquet"), pl.read_parquet("product.parquet")
    assert sku["by"][0] == "first_sku" and product["by"][0] == "first_product"
    assert sku.drop("by").equals(product.drop("by"))


def test_values_spelt_like_the_made_up_groups_on_the_terminal(monkeypatch: pytest.MonkeyPatch):
    from loyalty_cli.cli import console

    # the reviewer's file: the sample with a channel spelt "all"; here a small one with all, (other) and
    # (missing) as channels, and one customer without a channel (A, B all; C (other); D (missing); E none)
    Path("tx.csv").write_text(
        "customer_id,order_date,amount,channel\nA,2024-01-05,10,all\nA,2024-02-05,10,all\nB,2024-01-06,10,all\n"
        "C,2024-01-07,10,(other)\nD,2024-01-08,10,(missing)\nE,2024-01-09,10,\n"
    )
    args = ("tx.csv", "--as-of", "2024-03-01", "--by", "channel", "--min-customers", "2", "--show", "counts")
    piped = run(*args)
    assert piped.exit_code == 0, piped.stderr
    # piped: the values as they are (C's, D's and E's groups are below 2: folded into the made-up (other))
    assert piped.stdout.count("\n\tall\t") == 1 and "\nall\tvalue\t2\t2\t1\n" in piped.stdout
    assert "\n\tother\t3\t3\t0\n" in piped.stdout
    assert (
        'folded into (other) (3 customers): "(missing)", "(other)", (missing); "all", "(missing)", "(other)" in '
        "double quotes: the data's own values, not the made-up groups (other), (missing), all" in piped.stderr
    )
    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    drawn = run(*args)
    assert drawn.exit_code == 0, drawn.stderr
    assert '│ "all"         │         2 │  2 │  1 │' in drawn.stdout
    assert "│ (other)       │         3 │  3 │  0 │" in drawn.stdout
    assert "│ all           │         5 │  5 │  1 │" in drawn.stdout


def test_by_splits_the_sample_and_adds_up():
    whole = run(str(SAMPLE), "-o", "whole.parquet", "-q")
    result = run(str(SAMPLE), "--by", "first_channel", "-o", "by.parquet", "--show", "on", "--show", "cumulative")
    assert whole.exit_code == 0 and result.exit_code == 0, result.stderr
    assert "Split by first_channel: the channel of the first purchase order" in result.stderr
    assert "3 groups of 30 customers or more" in result.stderr
    by, unsplit = pl.read_parquet("by.parquet"), pl.read_parquet("whole.parquet")
    assert by["split"].unique(maintain_order=True).to_list() == ["web", "app", "store", None]
    assert by.filter(pl.col("group") == "all").drop("by", "split", "group").equals(unsplit)
    by = by.filter(pl.col("group") == "value")
    cells = ["cohort", "period"]
    summed = (
        by.filter(pl.col("cohort") != "average")
        .group_by(cells)
        .agg(pl.col("cohort_customers", "active_customers", "active_within_customers").sum())
    )
    joined = unsplit.filter(pl.col("cohort") != "average").join(summed, on=cells, suffix="_by")
    assert joined.height == 24 * 24
    for name in ("cohort_customers", "active_customers", "active_within_customers"):
        assert joined[name].fill_null(0).to_list() == joined[f"{name}_by"].to_list()
    # the README's figures: month 1 of each channel's average cohort, and every customer's
    assert "\nweb\tvalue\t1505\t1.0000\t0.2397\t" in result.stdout
    assert "\napp\tvalue\t814\t1.0000\t0.2065\t" in result.stdout
    assert "\nstore\tvalue\t681\t1.0000\t0.2172\t" in result.stdout
    assert "\n\tall\t3000\t1.0000\t0.2256\t" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--by", "order_id"], 2, "Error: --by 'order_id' cannot split customers into groups"),
        (["--by", "first_customer_id"], 2, "Error: --by 'first_customer_id' cannot split customers into groups"),
        (["--min-customers", "0"], 2, "Error: --min-customers must be at least 1, got 0"),
        (["--by", "country"], 1, "Error: No column 'country' in the transactions file tx.csv"),
        (["--by", "first_channel"], 1, "Error: --by first_channel: the transactions have no channel column"),
    ],
)
def test_by_bad_options(args, code, message):
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\n")
    result = run("tx.csv", *args, "--as-of", "2024-02-01", "-o", "out.csv")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert not Path("out.csv").exists()


def test_pipeline_step_splits_by_member(tmp_path: Path):
    split_shop()
    Path("pipeline.toml").write_text(
        'as_of = "2024-04-01"\noutput_dir = "out"\n\n[inputs.transactions]\npath = "tx.csv"\n\n'
        '[inputs.members]\npath = "members.csv"\n\n'
        '[[steps]]\ncommand = "retention"\noutput = "by_member.csv"\noptions = { by = "member", min_customers = 1 }\n'
        '\n[[steps]]\ncommand = "retention"\nname = "plain"\noutput = "retention.csv"\n'
    )
    result = RUNNER.invoke(app, ["run", "pipeline.toml", "-q"])
    assert result.exit_code == 0, result.output
    split = pl.read_csv(tmp_path / "out" / "by_member.csv")
    assert split["split"].unique(maintain_order=True).to_list() == ["non-members", "members", None]
    assert "split" not in pl.read_csv(tmp_path / "out" / "retention.csv").columns


def test_by_member_on_the_sample_gives_the_readme_figures():
    members = ROOT / "sample_data" / "members.csv"
    result = run(str(SAMPLE), "--by", "member", "--members", str(members), "-o", "by_member.parquet", "-q")
    assert result.exit_code == 0, result.stderr
    average = pl.read_parquet("by_member.parquet").filter(pl.col("cohort") == "average")

    def at(split: str, period: int, name: str) -> float:
        return average.filter((pl.col("split") == split) & (pl.col("period") == period))[name][0]

    assert average.filter(pl.col("period") == 0)["split"].to_list() == ["non-members", "members", None]
    cohorts = pl.read_parquet("by_member.parquet").filter(
        (pl.col("cohort") != "average") & (pl.col("period") == 0) & (pl.col("group") == "value")
    )
    assert cohorts.group_by("split").agg(pl.col("cohort_customers").sum()).sort("split").rows() == [
        ("members", 1175),
        ("non-members", 1825),
    ]
    assert [round(at(s, 1, "retention"), 3) for s in ("members", "non-members")] == [0.325, 0.159]
    assert [round(at(s, 6, "cumulative_revenue_per_customer"), 2) for s in ("members", "non-members")] == [
        189.72,
        132.86,
    ]


def test_options_a_run_without_the_split_ignores():
    split_shop()
    result = run("tx.csv", "--as-of", "2024-04-01", "--min-customers", "5", "--members", "members.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert "Warning: --members is not used: it is read for --by member only" in result.stderr
    assert "Warning: --min-customers 5 is not used without --by: it sizes the groups of a split" in result.stderr
    by_channel = run("tx.csv", "--as-of", "2024-04-01", "--by", "channel", "--members", "members.csv", "-q")
    assert by_channel.exit_code == 0 and "Warning: --members is not used" in by_channel.stderr
    plain = run("tx.csv", "--as-of", "2024-04-01", "-q")
    assert plain.exit_code == 0 and "Warning" not in plain.stderr


def test_a_mostly_empty_split_column_is_warned_about():
    # B, C and D have no channel: 3 of 4 customers (75%) in (missing)
    Path("tx.csv").write_text(
        SPLIT_SHOP.replace(",web\nC", ",\nC").replace(",store\nC", ",\nC").replace(",app\n", ",\n")
    )
    result = run("tx.csv", "--as-of", "2024-04-01", "--by", "channel", "--min-customers", "1", "-q")
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: --by channel: 3 customers of 4 (75%) have no value on their first purchase order ((missing)): "
        "the split says little about them; check that the column is filled in" in result.stderr
    )
