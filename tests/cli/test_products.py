"""``loyalty products`` end to end: the tables written and shown, the next-best list for an email tool, the product
column options, the Online Retail layout and bad input.

The fixture is the tiny shop of tests/metrics/test_products.py as an export (as of 2025-01-01), where the tables
are computed by hand.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from tests.metrics.test_products import LINES
from tests.online_retail import write_online_retail
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
BASE = ("products", "tx.csv", "--as-of", "2025-01-01", "--min-n", "2", "--min-support", "1")
NOTES = [
    "Reading transactions from tx.csv",
    "Columns: customer_id <- 'customer_id' (detected); order_date <- 'order_date' (detected); amount <- 'amount' "
    "(detected); order_id <- 'order_id' (detected); product <- 'sku' (detected); email <- 'email' (detected)",
    "Dates in 'order_date' read as %Y-%m-%d %H:%M:%S%.f",
    "As of 2025-01-01 (data before that day); 5 customers with a purchase; 10 purchase orders with a product "
    "bought; 4 products",
    "1 line without a product: in order values, never as a product",
    "1 customer whose first order's largest line has no product: not in the first-product table",
    "Repurchase and value in 365 days: customers observed 365 days (first purchase on or before 2024-01-01), "
    "3 customers; intervals from 2 customers",
    "2 pairs of products bought together in at least 1 order",
]


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    with Path("tx.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "order_id", "order_date", "sku", "amount", "email"])
        for customer, order, when, product, cents in LINES:
            email = f"{customer.lower()}@example.com"
            writer.writerow([customer, order, f"{when:%Y-%m-%d %H:%M:%S}", product or "", f"{cents / 100:.2f}", email])
    return tmp_path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_the_four_tables_piped() -> None:
    result = run(*BASE)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == NOTES
    blocks = result.stdout.split("# ")[1:]
    assert [b.split(" (")[0].split(":")[0] for b in blocks] == [
        "Repurchase within 365 days and net value of the first purchase day and the 365 days after it, by first "
        "product",
        "Next products",
        "Products bought together in one order",
        "Replenishment cycle",
    ]
    first = blocks[0].splitlines()
    assert first[2:] == [
        "(all)\t4\t1.0000\t3\t1\t0.3333\t0.0615\t0.7923\t14.3333\t-17.6082\t46.2749\t9.0000",
        "X\t2\t0.5000\t2\t1\t0.5000\t0.0945\t0.9055\t17.0000\t-135.4745\t169.4745\t17.0000",
        "Y\t1\t0.2500\t1\t0\t0.0000\t\t\t9.0000\t\t\t9.0000",
        "Z\t1\t0.2500\t0\t0\t\t\t\t\t\t\t",
    ]
    assert blocks[2].splitlines()[2:] == [
        "X\tY\t3\t0.3000\t6\t5\t0.5000\t0.6000\t1.0000",
        "Y\tZ\t1\t0.1000\t5\t2\t0.2000\t0.5000\t1.0000",
    ]


def test_output_writes_the_table_asked_for(work: Path) -> None:
    result = run(*BASE, "--table", "next", "-o", "next.csv", "--pairs", "pairs.parquet", "--cycle", "cycle.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == result.stderr == ""
    assert Path("next.csv").read_text().splitlines() == [
        "first_product,rank,next_product,customers,repeaters,share,base_customers,base_share,lift",
        "X,1,Z,1,1,1.0,1,0.3333,3.0",
        "X,2,Y,1,1,1.0,2,0.6667,1.5",
        "Y,1,X,1,1,1.0,1,0.3333,3.0",
        "Y,2,Y,1,1,1.0,2,0.6667,1.5",
        "Z,1,W,1,1,1.0,1,0.3333,3.0",
    ]
    assert pl.read_parquet("pairs.parquet")["orders"].to_list() == [3, 1]
    cycle = pl.read_csv("cycle.csv")
    assert cycle.select("product", "repeats", "gap_median_days").rows() == [
        ("X", 2, 236.0),
        ("Y", 2, 221.0),
        ("W", 0, None),
        ("Z", 0, None),
    ]
    assert sorted(p.name for p in work.iterdir()) == ["cycle.csv", "next.csv", "pairs.parquet", "tx.csv"]


def test_output_says_what_it_wrote() -> None:
    result = run(*BASE, "-o", "first.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Wrote the repurchase and 365-day value by first product (4 rows) to first.csv"
    )
    assert pl.read_csv("first.csv")["first_product"].to_list() == ["(all)", "X", "Y", "Z"]


def test_the_next_best_list_for_an_email_tool() -> None:
    result = run(*BASE, "--table", "list", "-o", "next_best.csv")
    assert result.exit_code == 0, result.stderr
    assert Path("next_best.csv").read_text().splitlines() == [
        "customer_id,email,next_product,last_product,last_purchase,next_rank,next_customers,next_share,next_lift,"
        "orders,net_spend",
        "B,b@example.com,Z,X,2024-03-01,1,1,1.0,3.0,3,14.0",
        "C,c@example.com,Z,X,2023-06-01,1,1,1.0,3.0,1,5.0",
    ]
    assert "Next best product for 2 customers (of 5)" in result.stderr
    mailchimp = run(*BASE, "--table", "list", "-o", "mailchimp.csv", "--target", "mailchimp", "-q")
    assert mailchimp.exit_code == 0, mailchimp.stderr
    rows = list(csv.DictReader(Path("mailchimp.csv").read_text().splitlines()))
    assert [(r["Email Address"], r["Tags"], r["last_product"]) for r in rows] == [
        ("b@example.com", "Z", "X"),
        ("c@example.com", "Z", "X"),
    ]


def test_list_options_need_the_list() -> None:
    result = run(*BASE, "--target", "klaviyo", "-o", "x.csv")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --target is for the list of next best products\nHint: Add --table list to use --target.\n"
    )
    assert not Path("x.csv").exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--table", "baskets"), "Error: --table must be first, next, pairs, cycle or list, got 'baskets'\n"),
        (("--level", "sku"), "Error: --level must be product or category, got 'sku'\n"),
        (
            ("--confidence", "0.99", "--first", "-"),
            "Error: --first needs a file name\nHint: Only -o/--output can write to stdout.\n",
        ),
    ],
)
def test_bad_options(args: tuple[str, ...], error: str) -> None:
    result = run(*BASE, *args)
    assert result.exit_code == 2
    assert result.stderr == error


def test_no_product_column_names_the_columns_and_the_option() -> None:
    Path("plain.csv").write_text("customer_id,order_date,amount\na,2024-01-01,10\n")
    result = run("products", "plain.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No product column in plain.csv (the product of each line, a SKU or product code; loyalty products "
        "needs it)\n"
        "Hint: Name it with --product-col COLUMN or in rules/columns.toml. Columns in the file: 'customer_id', "
        "'order_date', 'amount'.\n"
    )
    category = run("products", "tx.csv", "--level", "category")
    assert category.exit_code == 1
    assert category.stderr.startswith("Error: No category column in tx.csv")
    assert "Hint: Name it with --category-col COLUMN" in category.stderr


def test_product_column_options(work: Path) -> None:
    frame = pl.read_csv("tx.csv").rename({"sku": "Item"}).with_columns(pl.col("Item").alias("Title"))
    frame.write_csv("items.csv")
    result = run(
        "products",
        "items.csv",
        "--product-col",
        "Item",
        "--product-name-col",
        "Title",
        "-o",
        "c.csv",
        "--table",
        "cycle",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("c.csv").columns[:3] == ["product", "product_name", "buyers"]
    level = run("products", "items.csv", "--product-col", "Item", "--level", "category")
    assert level.exit_code == 1 and "No category column in items.csv" in level.stderr


def test_the_category_level() -> None:
    frame = pl.read_csv("tx.csv").with_columns(pl.col("sku").replace({"Y": "X"}).alias("category"))
    frame.write_csv("cats.csv")
    result = run("products", "cats.csv", "--level", "category", "--as-of", "2025-01-01", "-o", "f.csv", "-q")
    assert result.exit_code == 0, result.stderr
    first = pl.read_csv("f.csv")
    assert first.columns[0] == "first_category"
    assert first.select("first_category", "customers").rows() == [("(all)", 4), ("X", 3), ("Z", 1)]


def test_online_retail_layout(work: Path) -> None:
    facts = write_online_retail(work / "retail", days=30)
    result = run("products", "retail", "--on-bad-rows", "skip", "--table", "pairs", "-o", "pairs.csv")
    assert result.exit_code == 0, result.stderr
    assert "product <- 'StockCode' (detected); product_name <- 'Description' (detected)" in result.stderr
    assert f"{facts['customers']} customers with a purchase" in result.stderr
    pairs = pl.read_csv("pairs.csv", schema_overrides={"product_a": pl.String, "product_b": pl.String})
    assert pairs.columns[:4] == ["product_a", "product_a_name", "product_b", "product_b_name"]
    assert (pairs["orders"] >= 10).all()
    assert Path("pairs.rejects.csv").is_file()  # the lines without a customer id
