"""``products`` as the application runs it: its config, Online-Retail-shaped exports checked against the same
figures computed in plain Python, agreement with stage 1 and ``second-purchase``, and the category level."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest
from tests.online_retail import write_online_retail

from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.app.products import ProductsConfig, ProductsResult, products
from loyalty_cli.errors import ConfigError, DataError
from loyalty_cli.io.readers import ReadOptions

ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"


def run(paths: list[str], config: ProductsConfig, **spec: object) -> ProductsResult:
    read = ReadOptions(require=(config.level,))
    inputs = load_inputs(
        InputSpec(transactions=paths, options=read, summary=False, need_customers=False, lines=config.lines(), **spec)
    )
    return products(inputs, config)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("level", "sku", "must be product or category, got 'sku'"),
        ("top", 0, "must be at least 1, got 0"),
        ("min_n", 0, "must be at least 1, got 0"),
        ("min_support", 0, "must be at least 1, got 0"),
        ("confidence", 1.0, "must be between 0.5 and 0.999, got 1.0"),
        ("tables", ("first", "baskets"), "must be among first, next, pairs, cycle, got 'baskets'"),
    ],
)
def test_config_is_checked_in_neutral_words(field: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProductsConfig(**{field: value})
    assert caught.value.name == field
    assert caught.value.message.endswith(words)


def test_the_plans_over_the_lines() -> None:
    assert list(ProductsConfig().lines()) == ["product_lines", "product_names"]
    assert list(ProductsConfig(next_best=True).lines(names=False)) == ["product_lines", "product_customers"]
    assert list(ProductsConfig(level="category").lines()) == ["product_lines"]


# ------------------------------------------------------------------------------------------ Online Retail
def _plain(folder: Path) -> dict:
    """The tables' key figures from the CSV files, in plain Python (rows with a customer id only)."""
    lines = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if not row["CustomerID"]:
                    continue
                cents = round(int(row["Quantity"]) * float(row["UnitPrice"]) * 100)
                when = datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M")
                lines.append((row["CustomerID"].removesuffix(".0"), row["InvoiceNo"], when, row["StockCode"], cents))
    orders: dict[tuple[str, str], list] = defaultdict(list)
    for customer, invoice, when, code, cents in lines:
        orders[(customer, invoice)].append((when, code, cents))

    def purchase(items: list) -> bool:
        total = sum(c for _, _, c in items)
        return total > 0 or (total == 0 and all(c >= 0 for _, _, c in items))

    bought: dict[tuple[str, str], set[str]] = {}
    when_of: dict[tuple[str, str], datetime] = {}
    for key, items in orders.items():
        if not purchase(items):
            continue
        when_of[key] = min(w for w, _, _ in items)
        per_code: dict[str, list[int]] = defaultdict(list)
        for _, code, cents in items:
            per_code[code].append(cents)
        bought[key] = {c for c, v in per_code.items() if sum(v) > 0 or (sum(v) == 0 and min(v) >= 0)}
    first: dict[str, str] = {}
    for customer in {k[0] for k in bought}:
        mine = [k for k in bought if k[0] == customer]
        start = min(when_of[k] for k in mine)
        tops = []
        for key in (k for k in mine if when_of[k] == start):
            largest = max(c for _, _, c in orders[key])
            tops.append(min(code for _, code, c in orders[key] if c == largest))
        first[customer] = min(tops)
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for items in bought.values():
        for a, b in combinations(sorted(items), 2):
            pairs[(a, b)] += 1
    days: dict[tuple[str, str], set[date]] = defaultdict(set)
    for (customer, _), items in bought.items():
        for code in items:
            days[(customer, code)].add(when_of[(customer, _)].date())
    buyers: dict[str, int] = defaultdict(int)
    repeats: dict[str, int] = defaultdict(int)
    for (_, code), seen in days.items():
        buyers[code] += 1
        repeats[code] += len(seen) - 1
    return {
        "first": first,
        "pairs": dict(pairs),
        "buyers": dict(buyers),
        "repeats": dict(repeats),
        "orders": len(bought),
    }


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProductsResult, dict, dict]:
    folder = tmp_path_factory.mktemp("online_retail")
    facts = write_online_retail(folder, days=60)
    result = run([str(folder)], ProductsConfig(min_support=1, min_n=1), on_bad_rows="skip", as_of=date(2011, 2, 1))
    return result, _plain(folder), facts


def test_online_retail_first_products(retail) -> None:
    result, plain, facts = retail
    assert result.counts["customers"] == facts["customers"] == len(plain["first"])
    counts = defaultdict(int)
    for code in plain["first"].values():
        counts[code] += 1
    first = result.first.filter(pl.col("first_product") != "(all)")
    assert dict(first.select("first_product", "customers").iter_rows()) == counts
    assert result.first["customers"][0] == facts["customers"]


def test_online_retail_pairs_and_orders(retail) -> None:
    result, plain, _ = retail
    assert result.counts["orders"] == plain["orders"]
    got = {(a, b): n for a, b, n in result.pairs.select("product_a", "product_b", "orders").iter_rows()}
    assert got == plain["pairs"]


def test_online_retail_cycle(retail) -> None:
    result, plain, _ = retail
    got = result.cycle.select("product", "buyers", "repeats")
    assert {p: b for p, b, _ in got.iter_rows()} == plain["buyers"]
    assert {p: r for p, _, r in got.iter_rows()} == plain["repeats"]


def test_online_retail_names_beside_the_codes(retail) -> None:
    result, _, _ = retail
    names = dict(result.cycle.select("product", "product_name").iter_rows())
    assert names["22745"] == "POPPY'S PLAYHOUSE, BEDROOM"  # quoted in the CSV
    assert names["21755"] == "=LOVE BUILDING BLOCK WORD"  # as written: the writers neutralise it, not the data
    assert result.pairs.columns[:4] == ["product_a", "product_a_name", "product_b", "product_b_name"]


# ------------------------------------------------------------------------------------------ the sample shop
@pytest.fixture(scope="module")
def sample() -> ProductsResult:
    return run([str(SAMPLE)], ProductsConfig(next_best=True))


def test_first_category_is_stage_ones(tmp_path: Path) -> None:
    from loyalty_cli.stage1 import load_transactions

    result = run([str(SAMPLE)], ProductsConfig(level="category", tables=("first",)))
    summary = load_transactions([str(SAMPLE)], as_of=None).customers
    expected = summary.group_by("first_category").len().sort("len", "first_category", descending=[True, False])
    first = result.first.filter(pl.col("first_category") != "(all)")
    assert first.select("first_category", "customers").rows() == expected.rows()
    assert result.next is None and result.pairs is None and result.cycle is None


def test_value_365d_is_second_purchases(sample: ProductsResult) -> None:
    from loyalty_cli.metrics.second_purchase_value import first_year_value, value_by_bucket
    from loyalty_cli.stage1 import load_transactions

    loaded = load_transactions([str(SAMPLE)], as_of=None, activity=True)
    value = first_year_value(loaded.activity.lazy())
    buckets = value_by_bucket(loaded.customers.lazy(), value).collect()
    everyone = sample.first.row(0, named=True)
    assert everyone["first_product"] == "(all)"
    assert everyone["observed_365d"] == buckets["customers"].sum()
    assert everyone["mean_value_365d"] == pytest.approx(buckets["total_spend_365d"].sum() / buckets["customers"].sum())


def test_sample_list_and_notes(sample: ProductsResult) -> None:
    listed = sample.customers
    assert listed is not None
    assert listed.columns == [
        "customer_id",
        "email",
        "next_product",
        "next_product_name",
        "last_product",
        "last_product_name",
        "last_purchase",
        "next_rank",
        "next_customers",
        "next_share",
        "next_lift",
        "orders",
        "net_spend",
    ]
    assert listed["customer_id"].is_unique().all()
    assert listed["email"].null_count() == 0
    # never a product the customer bought: checked against the raw lines
    lines = pl.read_csv(SAMPLE, schema_overrides={"order_id": pl.String})
    owned = lines.filter(pl.col("amount") > 0).select("customer_id", pl.col("sku").alias("next_product")).unique()
    assert listed.join(owned, on=["customer_id", "next_product"], how="semi").height == 0
    texts = [m.text for m in sample.messages]
    assert texts[0] == (
        "As of 2025-01-01 (data before that day); 3,000 customers with a purchase; 9,527 purchase orders with a "
        "product bought; 49 products"
    )
    assert texts[-1].startswith(f"Next best product for {listed.height:,} customers (of 3,000)")


def test_no_purchase_before_the_as_of_date(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No customer made a purchase before the as-of date in"):
        run([str(SAMPLE)], ProductsConfig(), as_of=date(2023, 1, 1))
