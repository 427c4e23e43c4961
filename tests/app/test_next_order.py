"""``app.next_order``: the settings checked in neutral words, and :func:`with_next_order`, the dates the lifecycle
and churn lists carry, by hand for a given model (the customers of tests/metrics/test_next_order.py)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from loyalty_cli.app.messages import Messages
from loyalty_cli.app.next_order import NextOrderSettings, next_order_columns, with_next_order
from loyalty_cli.errors import ConfigError, UsageError, setting
from loyalty_cli.models import BGNBDModel

AS_OF = date(2024, 4, 1)
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["A", "B", "C"],
        "first_purchase": [date(2024, 1, 1), date(2024, 3, 20), date(2024, 3, 2)],
        "last_purchase": [date(2024, 2, 10), date(2024, 3, 20), date(2024, 3, 31)],
        "purchase_days": pl.Series([3, 1, 2], dtype=pl.UInt32),
        "recency_days": pl.Series([51, 12, 1], dtype=pl.Int32),
        "net_spend": [30.0, 10.0, 20.0],
        "as_of": [AS_OF] * 3,
    }
)
# rate while active ~ Gamma(r = 2, alpha = 30 days): the dates of tests/metrics/test_next_order.py
MODEL = BGNBDModel.from_params(r=2.0, alpha=30 / 7, a=1.0, b=3.0)


def test_settings_refuse_bad_values_naming_the_setting():
    for kwargs, name in (
        ({"model": "arima"}, "model"),
        ({"min_p_alive": 1.5}, "min_p_alive"),
        ({"min_p_alive": float("nan")}, "min_p_alive"),
        ({"penalizer": -1.0}, "penalizer"),
        ({"due_within": 0}, "due_within"),
    ):
        with pytest.raises(ConfigError) as caught:
            NextOrderSettings(**kwargs)  # type: ignore[arg-type]
        assert caught.value.name == name and str(caught.value).startswith(setting(name))
    assert NextOrderSettings(due_within="2w").due_within == 14
    assert NextOrderSettings(due_within="10").due_within == 10
    with pytest.raises(UsageError, match="expected a number of days") as caught_text:
        NextOrderSettings(due_within="soon")
    assert caught_text.value.message.startswith(setting("due_within"))


def test_next_order_columns_by_hand():
    dates = next_order_columns(CUSTOMERS, fitted=MODEL)
    assert dates.rows() == [
        ("C", date(2024, 4, 16), date(2024, 4, 6), date(2024, 5, 5)),
        ("A", date(2024, 4, 23), date(2024, 4, 9), date(2024, 5, 20)),
    ]


def test_with_next_order_keeps_the_list_and_leaves_others_empty():
    # a lifecycle-like list: a prospect (P, no purchase), a one-time buyer (B), in the list's own order
    todo = pl.DataFrame({"customer_id": ["P", "A", "B", "C"], "stage": ["prospect", "repeat", "new", "repeat"]})
    said = Messages()
    carried = with_next_order(todo, CUSTOMERS, fitted=MODEL, messages=said)
    assert carried.columns == ["customer_id", "stage", "next_order_date", "contact_from", "contact_to"]
    assert carried.rows() == [
        ("P", "prospect", None, None, None),
        ("A", "repeat", date(2024, 4, 23), date(2024, 4, 9), date(2024, 5, 20)),
        ("B", "new", None, None, None),
        ("C", "repeat", date(2024, 4, 16), date(2024, 4, 6), date(2024, 5, 5)),
    ]
    assert said.items == []


def test_with_next_order_warns_and_writes_the_list_when_no_model_fits():
    todo = pl.DataFrame({"customer_id": ["A", "B", "C"], "status": ["active", "lapsed", "active"]})
    said = Messages()
    carried = with_next_order(todo, CUSTOMERS, messages=said)  # 2 repeat customers: too few to fit
    assert carried.columns == ["customer_id", "status", "next_order_date", "contact_from", "contact_to"]
    assert carried.select("next_order_date", "contact_from", "contact_to").null_count().row(0) == (3, 3, 3)
    assert carried.schema["next_order_date"] == pl.Date
    assert [m.level for m in said.items] == ["warning"]
    assert said.items[0].text.startswith("No next-order dates: Only 2 customers bought on two different days")
