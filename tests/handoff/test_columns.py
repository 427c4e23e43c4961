"""The columns of a list for an email tool: id, email, tag, the fields a template uses, and those asked for."""

from __future__ import annotations

import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.handoff.columns import NEXT_ORDER_FIELDS, TEMPLATE_FIELDS, list_columns, parse_columns
from loyalty_cli.metrics.next_order import DATE_COLUMNS

SEGMENT = [
    "customer_id", "email", "segment", "segment_action", "r_score", "f_score", "m_score", "rfm_cell",
    "first_purchase", "second_purchase", "last_purchase", "orders", "purchase_days", "net_spend", "gross_spend",
    "returns_value", "return_orders", "repeat_spend", "mean_order_value", "first_category", "first_channel",
    "as_of", "recency_days", "tenure_days", "email_consent",
]  # fmt: skip
CLTV = [
    "customer_id", "value_tier", "predicted_clv_39w", "expected_purchases_39w", "p_alive", "p_no_purchase_39w",
    "expected_spend", "historical_value", "orders", "purchase_days", "first_purchase", "last_purchase",
    "frequency", "recency_weeks", "T_weeks", "monetary_value",
]  # fmt: skip
SECOND_PURCHASE = [
    "customer_id", "email", "first_purchase", "first_category", "first_channel", "days_since_first", "status",
    "nudge_date", "window_opens", "window_closes", "window_from_days", "window_to_days", "window_source", "orders",
    "net_spend", "returns_value",
]  # fmt: skip
PRODUCTS = [
    "customer_id", "email", "next_product", "next_product_name", "last_product", "last_product_name",
    "last_purchase", "next_rank", "next_customers", "next_share", "next_lift", "orders", "net_spend",
]  # fmt: skip
NEXT_ORDER = [
    "customer_id", "email", "purchase_days", "first_purchase", "last_purchase", "days_since_last", "own_gap_days",
    "shrunk_gap_days", "next_order_date", "contact_from", "contact_to", "p_alive", "expected_purchases_30d",
    "net_spend", "as_of",
]  # fmt: skip
NPS_WITHOUT_TRANSACTIONS = [
    "customer_id", "email", "latest_score", "nps_category", "responded_at", "survey_type", "touchpoint", "comment",
    "scored_responses",
]  # fmt: skip


def test_a_segment_list_carries_id_email_tag_action_and_three_fields():
    got = list_columns(SEGMENT, tag="segment", value="net_spend")
    assert got == ["customer_id", "email", "segment", "segment_action", "last_purchase", "orders", "net_spend"]


def test_a_cltv_list_carries_its_value_column_named_for_the_horizon_and_has_no_email():
    got = list_columns(CLTV, tag="value_tier", value="predicted_clv_39w")
    assert got == [
        "customer_id",
        "value_tier",
        "predicted_clv_39w",
        "p_alive",
        "last_purchase",
        "orders",
        "historical_value",
    ]


def test_a_fixed_tag_list_and_the_fields_it_has():
    got = list_columns(SECOND_PURCHASE, tag=None, tag_value="second-purchase nudge", value="net_spend")
    assert got == [
        "customer_id",
        "email",
        "first_purchase",
        "first_category",
        "nudge_date",
        "window_closes",
        "net_spend",
    ]  # the tag column (action) is added when the list is formatted
    got = list_columns(NPS_WITHOUT_TRANSACTIONS, tag="nps_category", value="net_spend")
    assert got == ["customer_id", "email", "nps_category", "latest_score", "responded_at"]  # no segment, no spend


def test_asked_columns_follow_in_their_order_once_and_all_is_every_column():
    asked = parse_columns(["first_category, rfm_cell", "net_spend,email_consent", "rfm_cell"])
    assert asked == ("first_category", "rfm_cell", "net_spend", "email_consent")
    got = list_columns(SEGMENT, tag="segment", value="net_spend", asked=asked)
    assert got[7:] == ["first_category", "rfm_cell", "email_consent"]  # net_spend is there already
    assert list_columns(SEGMENT, tag="segment", asked=("all",)) == SEGMENT
    assert list_columns(SEGMENT, tag="my_tag") == SEGMENT  # a tag of a library caller's own: every column
    assert list_columns(SEGMENT, tag=None) == SEGMENT


def test_a_column_the_list_does_not_have_names_those_it_has():
    with pytest.raises(UsageError) as info:
        list_columns(NPS_WITHOUT_TRANSACTIONS, tag="nps_category", asked=("comment", "segment", "net_spend"))
    assert render(info.value.message) == "--columns: the list has no column 'segment', 'net_spend'"
    assert render(info.value.hint or "") == (
        "Its columns: customer_id, email, latest_score, nps_category, responded_at, survey_type, touchpoint, "
        "comment, scored_responses; or --columns all."
    )


@pytest.mark.parametrize("given", [[","], [" "], ["a", ", ,"]])
def test_a_value_that_names_no_column_is_refused(given):
    with pytest.raises(UsageError, match="names no column"):
        parse_columns(given)


def test_every_kind_of_list_has_a_few_fields():
    assert set(TEMPLATE_FIELDS) == {
        "segment",
        "status",
        "value_tier",
        "stage",
        "nps_category",
        "action",
        "next_product",
        "next_category",
    }
    assert all(len(fields) <= 7 for fields in TEMPLATE_FIELDS.values())
    assert parse_columns(None) == ()


def test_a_next_best_product_list_carries_the_names_a_template_fills_in_not_the_workings():
    # loyalty products' list: the tag is the next product's code (Tags or loyalty_next_product), its name a field
    got = list_columns(PRODUCTS, tag="next_product", value="net_spend")
    assert got == [
        "customer_id",
        "email",
        "next_product",
        "next_product_name",
        "last_product",
        "last_product_name",
        "last_purchase",
        "orders",
        "net_spend",
    ]  # not next_rank, next_customers, next_share, next_lift (--columns adds them)
    categories = [c.replace("product", "category") for c in PRODUCTS if not c.endswith("_name")]
    got = list_columns(categories, tag="next_category", value="net_spend")
    assert got == ["customer_id", "email", "next_category", "last_category", "last_purchase", "orders", "net_spend"]


def test_the_next_order_dates_follow_the_template_fields_of_any_list_that_has_them():
    assert NEXT_ORDER_FIELDS == DATE_COLUMNS  # the columns next-order, churn and lifecycle write
    dates = ["next_order_date", "contact_from", "contact_to"]
    # loyalty next-order (a fixed tag): its dates after second-purchase's fields that it has
    got = list_columns(NEXT_ORDER, tag=None, tag_value="next order", value="net_spend")
    assert got == ["customer_id", "email", "first_purchase", "net_spend", *dates]
    # churn and lifecycle lists with the next-order setting: the dates last, before the columns asked for
    churn = ["customer_id", "email", "status", "value_tier", "reason", "orders", "net_spend", "last_purchase", *dates]
    got = list_columns(churn, tag="status", value="net_spend", asked=("reason",))
    fields = ["value_tier", "last_purchase", "orders", "net_spend"]
    assert got == ["customer_id", "email", "status", *fields, *dates, "reason"]
    todo = [*SEGMENT[:2], "stage", "action", "theme", "flags", "value_tier", "orders", "net_spend", "as_of", *dates]
    assert list_columns(todo, tag="stage", value="net_spend")[-4:] == ["as_of", *dates]
    # without them (the setting off), nothing changes
    assert list_columns(churn[:-3], tag="status", value="net_spend") == ["customer_id", "email", "status", *fields]
