"""Churn ranking in place (:func:`rank_in_place`): the table's rows stay where they are, the order gives
:func:`rank_by_value`'s table, value ranks by hand, with ids in order or not, ties and missing values."""

from __future__ import annotations

import polars as pl
import pytest

from loyalty_cli.metrics.churn import STATUS
from loyalty_cli.metrics.churn_ranking import rank_by_value, rank_in_place
from loyalty_cli.rules.churn import load_churn_rules

RULES = load_churn_rules(None)


def table(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ids,
            "status": pl.Series(
                ["lapsed", "active", "lapsing", "active", "lapsed", "lapsing", "active", None], dtype=STATUS
            ),
            "net_spend": [50.0, 10.0, 30.0, 10.0, None, 80.0, 40.0, 5.0],
        }
    )


@pytest.mark.parametrize("ids", [list("ABCDEFGH"), list("HGFEDCBA")], ids=["ids in order", "ids reversed"])
def test_the_order_gives_the_sorted_table_and_the_rows_stay(ids):
    status = table(ids)
    ranked, order = rank_in_place(status, rules=RULES)
    assert ranked.select(status.columns).equals(status)  # nothing moved
    assert ranked[order].equals(rank_by_value(status.lazy(), rules=RULES).collect())


def test_value_ranks_by_hand():
    ranked, order = rank_in_place(table(list("ABCDEFGH")), rules=RULES)
    # active: G 40 (1), then B and D tie at 10 -> by id: B (2), D (3); lapsing: F 80 (1), C 30 (2);
    # lapsed: A 50 (1), E no value (last: 2); H has no status: its own group, last
    assert ranked[order].select("customer_id", "value_rank").rows() == [
        ("G", 1),
        ("B", 2),
        ("D", 3),
        ("F", 1),
        ("C", 2),
        ("A", 1),
        ("E", 2),
        ("H", 1),
    ]
    assert order.to_list() == [6, 1, 3, 5, 2, 0, 4, 7]
    assert ranked["value_rank"].dtype == pl.UInt32
