"""The report's products section (:mod:`loyalty_cli.app.report_products`): ``loyalty products``'s tables on the
product lines read with stage 1, by hand on four customers, and the reasons when it cannot be shown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.report_products import ProductSettings, product_lines, products_data

AS_OF = date(2025, 1, 1)
# P1 and P2 are teas, P3 a mug. Every first purchase is in January 2023: every customer is observed 365 days.
# a: first order P1 10.00; 2023-03-01 P3 5.00 (gap 49 days: bought again); value in 365 days 15.00
# b: first order P2 20.00, nothing after; value 20.00
# c: first order P3 8.00 + P1 2.00 (the largest line: P3); 2023-02-01 P1 4.00 (gap 20); value 14.00
# d: first order P1 6.00; 2024-06-01 P1 6.00 (gap 505 days > 365: not again within 365 days); value 6.00
LINES = """order_id,customer_id,order_date,sku,category,amount
1,a,2023-01-10 10:00:00,P1,Tea,10.00
2,a,2023-03-01 10:00:00,P3,Mugs,5.00
3,b,2023-01-11 10:00:00,P2,Tea,20.00
4,c,2023-01-12 10:00:00,P3,Mugs,8.00
4,c,2023-01-12 10:00:00,P1,Tea,2.00
5,c,2023-02-01 10:00:00,P1,Tea,4.00
6,d,2023-01-13 10:00:00,P1,Tea,6.00
7,d,2024-06-01 10:00:00,P1,Tea,6.00
"""


def _inputs(path: Path, text: str = LINES, *, lines: bool = True) -> Inputs:
    path.write_text(text)
    spec = InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True, lines=product_lines() if lines else {})
    return load_inputs(spec)


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    return _inputs(tmp_path_factory.mktemp("products") / "tx.csv")


def test_by_first_category_when_more_products_come_first_than_shown(four: Inputs) -> None:
    # three first products (P1: a, d; P2: b; P3: c) and two rows shown: by first category, Tea (a, b, d), Mugs (c)
    found, why = products_data(four, ProductSettings(rows=2, min_n=2))
    assert why is None and found is not None
    assert found.level == "category" and found.first_products == 3 and found.first_items == 2
    first = {r["item"]: r for r in found.first.iter_rows(named=True)}
    assert list(first) == ["(all)", "Tea", "Mugs"]
    # bought again within 365 days: a, c of 4; Tea: a of a, b, d; Mugs: c of c
    assert [r["repurchase_rate_365d"] for r in first.values()] == pytest.approx([2 / 4, 1 / 3, 1.0])
    # mean value in 365 days: (15 + 20 + 14 + 6) / 4 = 13.75; Tea (15 + 20 + 6) / 3; Mugs 14
    assert [r["mean_value_365d"] for r in first.values()] == pytest.approx([13.75, 41 / 3, 14.0])
    assert first["(all)"]["customers"] == 4 and first["Tea"]["share"] == pytest.approx(0.75)
    # Wilson 95% for 2 of 4: centre 0.5, half 1.96 / (1 + 1.96^2 / 4) x sqrt(1/16 + 1.96^2 / 64) = 0.34997
    assert first["(all)"]["repurchase_rate_low"] == pytest.approx(0.5 - 0.34997, abs=1e-4)
    assert first["Mugs"]["repurchase_rate_low"] is None  # 1 observed customer, fewer than min_n = 2
    assert found.first.columns[:2] == ["item", "name"] and found.first["name"].null_count() == 3


def test_by_first_product_when_all_are_shown(four: Inputs) -> None:
    found, _ = products_data(four, ProductSettings(rows=3, min_n=2))
    assert found is not None and found.level == "product"
    # P1 first (2 customers), then P2 and P3 (1 each, by code)
    assert found.first["item"].to_list() == ["(all)", "P1", "P2", "P3"]
    assert found.first["repurchase_rate_365d"].to_list() == pytest.approx([0.5, 0.5, 0.0, 1.0])


def test_next_products_pairs_and_cycle_by_hand(four: Inputs) -> None:
    found, _ = products_data(four, ProductSettings(rows=2, leading=2, min_n=1))
    assert found is not None
    # second purchase day: a P3, c P1, d P1; repeaters 3 (a, c, d), P3 next for 1 (base 1/3), P1 for 2 (base 2/3).
    # First P1 (a, d: 2 repeaters): P3 (a) share 1/2, lift 1/2 / (1/3) = 1.5 ranks before P1 (d) lift 0.75.
    # First P2 (b): no repeater, so no next product; the leading two first products are P1 and P2.
    assert found.leading == 2
    assert found.next.select("first_item", "rank", "item", "customers", "repeaters").rows() == [
        ("P1", 1, "P3", 1, 2),
        ("P1", 2, "P1", 1, 2),
    ]
    assert found.next["lift"].to_list() == pytest.approx([1.5, 0.75])
    # pairs (min_n = 1 order): P1 with P3 in order 4 only; 7 purchase orders; P1 in 5 of them, P3 in 2:
    # confidence 1/5 and 1/2, lift 1 x 7 / (5 x 2) = 0.7
    assert found.pairs_found == 1 and found.min_support == 1
    pair = found.pairs.row(0, named=True)
    assert (pair["item_a"], pair["item_b"], pair["orders"]) == ("P1", "P3", 1)
    assert [pair["confidence_ab"], pair["confidence_ba"], pair["lift"]] == pytest.approx([0.2, 0.5, 0.7])
    # cycle: only P1 is bought on two days by a customer (c: 20 days, d: 505 days); of its buyers a, c, d
    cycle = found.cycle.row(0, named=True)
    assert found.cycle.height == 1 and cycle["item"] == "P1"
    assert (cycle["buyers"], cycle["repeat_customers"]) == (3, 2)
    assert [cycle["gap_p25_days"], cycle["gap_median_days"], cycle["gap_p75_days"]] == [141.25, 262.5, 383.75]
    assert found.counts == {"customers": 4, "orders": 7, "items": 3, "no_item_lines": 0, "observed_365d": 4}


def test_pairs_need_min_n_orders(four: Inputs) -> None:
    found, _ = products_data(four, ProductSettings(min_n=2))  # P1 with P3 in one order only
    assert found is not None and found.pairs_found == 0 and found.pairs.height == 0


def test_no_product_column_says_so(tmp_path: Path) -> None:
    text = "".join(",".join(line.split(",")[:3] + line.split(",")[5:]) + "\n" for line in LINES.splitlines())
    found, why = products_data(_inputs(tmp_path / "tx.csv", text), ProductSettings())
    assert found is None
    assert why is not None and why.startswith("the transactions have no product column")


def test_lines_not_read_say_so(tmp_path: Path) -> None:
    found, why = products_data(_inputs(tmp_path / "tx.csv", lines=False), ProductSettings())
    assert found is None and why == "the transactions were read without their product lines"


def test_no_line_with_a_product_says_so(tmp_path: Path) -> None:
    text = LINES.replace(",P1,", ",,").replace(",P2,", ",,").replace(",P3,", ",,")
    found, why = products_data(_inputs(tmp_path / "tx.csv", text), ProductSettings())
    assert found is None and why == "no line of the transactions has a product (column 'sku')"
