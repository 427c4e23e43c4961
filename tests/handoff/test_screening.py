"""Screening a list: email checks, consent, contacts, duplicate emails."""

from __future__ import annotations

import polars as pl
import pytest

from loyalty_cli.handoff.formatting import format_for_target
from loyalty_cli.handoff.screening import (
    DUPLICATE_EMAIL,
    INVALID_EMAIL,
    MISSING_EMAIL,
    NO_AT,
    NO_CONSENT,
    NO_CONSENT_RECORD,
    NOT_IN_CONTACTS,
    UNREADABLE_CONSENT,
    attach_contacts,
    email_problem,
    screen_rows,
)
from loyalty_cli.handoff.targets import TARGETS

# --- email screening and dedupe ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("a@example.com", None),
        (" A.B+tag@Example.CO.uk ", None),
        ("x@bücher.de", None),
        ("o'neil@x.io", None),
        (None, MISSING_EMAIL),
        ("   ", MISSING_EMAIL),
        ("no-at-sign", NO_AT),
        ("+4917612345678@example.com", None),  # valid addresses that start like a formula
        ("-dash@example.com", None),
        ("=cmd@x.com", None),
        ("jürgen@müller.de", None),  # internationalised (RFC 6531): Unicode local part and domain
        ("用户@例子.广告", None),
        ("δοκιμή@παράδειγμα.δοκιμή", None),
        ("उपयोगकर्ता@उदाहरण.कॉम", None),  # combining vowel signs
        ("a\u200bb@x.com", INVALID_EMAIL),  # a zero-width space, a control character, a tab
        ("a\x07b@x.com", INVALID_EMAIL),
        ("a\tb@x.com", INVALID_EMAIL),
        ("jürgen@müller", INVALID_EMAIL),
        ("a@b@c.com", INVALID_EMAIL),
        ("@x.com", INVALID_EMAIL),
        ("a@b", INVALID_EMAIL),
        ("a@@b.com", INVALID_EMAIL),
        ("a b@c.com", INVALID_EMAIL),
        (".a@b.com", INVALID_EMAIL),
        ("a..b@c.com", INVALID_EMAIL),
        ("a@-b.com", INVALID_EMAIL),
        ("a@b.c", INVALID_EMAIL),
        ("a@b.com.", INVALID_EMAIL),
        ("é@b.com", None),
        ("a" * 250 + "@b.com", INVALID_EMAIL),
    ],
)
def test_email_problems(email, reason):
    got = pl.DataFrame({"email": [email]}, schema={"email": pl.String}).select(email_problem()).item()
    assert got == reason


def test_dedupe_is_case_insensitive_after_trimming_and_keeps_the_most_valuable():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "email": [" Ann@X.com", "ann@x.com", "ANN@x.com ", "bob@x.com", "bob@x.com", "cat@x.com"],
            "net_spend": [10.0, 99.0, 99.0, None, 5.0, 1.0],
        }
    )
    screened = screen_rows(table, target=TARGETS["klaviyo"], value="net_spend")
    # ann: c2 and c3 tie on value -> the smaller id, c2; bob: a null value loses to 5.0
    assert screened.rows["customer_id"].to_list() == ["c2", "c5", "c6"]  # the list's order is kept
    assert screened.rows["email"].to_list() == ["ann@x.com", "bob@x.com", "cat@x.com"]
    dropped = screened.dropped.select("drop_reason", "kept_customer_id", "customer_id", "email").rows()
    assert dropped == [
        (DUPLICATE_EMAIL, "c2", "c1", " Ann@X.com"),
        (DUPLICATE_EMAIL, "c2", "c3", "ANN@x.com "),
        (DUPLICATE_EMAIL, "c5", "c4", "bob@x.com"),
    ]
    assert screened.dropped_counts() == {DUPLICATE_EMAIL: 3}
    # without a value column: the smallest customer id wins
    assert screen_rows(table.drop("net_spend"), target=TARGETS["klaviyo"]).rows["customer_id"].to_list() == [
        "c1",
        "c4",
        "c6",
    ]


def test_rejects_carry_the_reason_and_are_counted():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "=HYPERLINK(1)", "-7"],
            "email": ["ok@x.com", None, "nope", "a@b", "h@x.com", "n@x.com"],
        }
    )
    screened = screen_rows(table, target=TARGETS["hubspot"])
    assert screened.rows["customer_id"].to_list() == ["c1", "-7"]  # a plain negative number is not a formula
    assert screened.dropped.select("customer_id", "drop_reason").rows() == [
        ("c2", MISSING_EMAIL),
        ("c3", NO_AT),
        ("c4", INVALID_EMAIL),
        ("=HYPERLINK(1)", "customer id starts like a formula"),
    ]
    # the generic CSV neutralises such an id instead of dropping it
    assert screen_rows(table, target=TARGETS["generic"]).rows.height == 3


def test_consent_column_no_consent_no_row():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "email": [f"{i}@x.com" for i in range(6)],
            "Accepts Marketing": ["yes", "No", "", "maybe", "TRUE", None],
        }
    )
    screened = screen_rows(table, target=TARGETS["mailchimp"])
    assert screened.consent_column == "Accepts Marketing"
    assert screened.rows["customer_id"].to_list() == ["c1", "c5"]
    assert dict(screened.dropped.select("customer_id", "drop_reason").rows()) == {
        "c2": NO_CONSENT,
        "c3": NO_CONSENT_RECORD,
        "c4": f"{UNREADABLE_CONSENT} 'maybe'",
        "c6": NO_CONSENT_RECORD,
    }
    out, _ = format_for_target(screened.rows, TARGETS["mailchimp"])
    assert "Accepts Marketing" not in out.columns  # every row left said yes
    booleans = table.with_columns(pl.Series("Accepts Marketing", [True, False, None, True, True, None]))
    assert screen_rows(booleans, target=TARGETS["mailchimp"]).rows["customer_id"].to_list() == ["c1", "c4", "c5"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("subscribed", None),
        ("SUBSCRIBED", None),
        ("opted_in", None),
        ("Opt-In", None),
        ("yes", None),
        ("1", None),
        ("no", NO_CONSENT),
        ("opt-out", NO_CONSENT),
        ("pending", f"{NO_CONSENT} (pending)"),
        ("cleaned", f"{NO_CONSENT} (cleaned)"),
        ("Unsubscribed", f"{NO_CONSENT} (unsubscribed)"),
        ("bounced", f"{NO_CONSENT} (bounced)"),
        ("non-subscribed", f"{NO_CONSENT} (non subscribed)"),
        ("NEVER_SUBSCRIBED", f"{NO_CONSENT} (never subscribed)"),
        ("not_subscribed", f"{NO_CONSENT} (not subscribed)"),
        (" ", NO_CONSENT_RECORD),
        ("-", NO_CONSENT_RECORD),
        ("Vielleicht", f"{UNREADABLE_CONSENT} 'vielleicht'"),
    ],
)
def test_email_tool_consent_statuses(value: str, reason: str | None):
    """Statuses as Mailchimp, Klaviyo, Braze and Shopify export them: only a clear yes is consent; a status that
    is not one is named in the reason, an unknown value shown."""
    table = pl.DataFrame({"customer_id": ["c1"], "email": ["a@x.com"], "email_consent": [value]})
    screened = screen_rows(table, target=TARGETS["mailchimp"])
    assert screened.dropped["drop_reason"].to_list() == ([reason] if reason else [])
    # the same through a contacts table as the contacts reader makes it (the value as written beside it)
    contacts = pl.DataFrame(
        {"customer_id": ["c1"], "email_consent": [None], "email_consent_status": [value]},
        schema={"customer_id": pl.String, "email_consent": pl.Boolean, "email_consent_status": pl.String},
    )
    screened = screen_rows(attach_contacts(table.drop("email_consent"), contacts), target=TARGETS["mailchimp"])
    assert screened.dropped["drop_reason"].to_list() == ([reason] if reason else [])


def test_contacts_consent_needs_every_stated_row_to_say_yes():
    """An id with several contact rows: blank rows state nothing; any other word than a yes wins (the smallest)."""
    table = pl.DataFrame({"customer_id": ["c1", "c2", "c3"], "email": ["a@x.com", "b@x.com", "c@x.com"]})
    contacts = pl.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2", "c2", "c2", "c3"],
            "email_consent_status": ["yes", None, "yes", "pending", "maybe", None],
        }
    ).with_columns(pl.lit(None, pl.Boolean).alias("email_consent"))
    screened = screen_rows(attach_contacts(table, contacts), target=TARGETS["klaviyo"])
    assert screened.rows["customer_id"].to_list() == ["c1"]
    assert screened.dropped.select("customer_id", "drop_reason").rows() == [
        ("c2", f"{UNREADABLE_CONSENT} 'maybe'"),
        ("c3", NO_CONSENT_RECORD),
    ]


def test_consent_is_checked_before_the_email_and_before_dedupe():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "email": ["same@x.com", "same@x.com"],
            "opt_in": ["no", "yes"],
            "net_spend": [100.0, 1.0],
        }
    )
    screened = screen_rows(table, target=TARGETS["klaviyo"], value="net_spend")
    assert screened.rows["customer_id"].to_list() == ["c2"]
    assert screened.dropped_counts() == {NO_CONSENT: 1}


def test_contacts_bring_emails_and_consent():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "email": ["old@x.com", None, "c3@x.com", None],
            "email_consent": ["yes", "yes", "yes", "yes"],
        }
    )
    contacts = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c2", "c3"],
            "email": ["new@x.com", "two@x.com", "b-two@x.com", None],
            "email_consent": [True, True, None, False],
        }
    )
    joined = attach_contacts(table, contacts)
    assert joined["email"].to_list() == ["new@x.com", "b-two@x.com", "c3@x.com", None]
    screened = screen_rows(joined, target=TARGETS["klaviyo"])
    assert screened.rows["customer_id"].to_list() == ["c1", "c2"]
    assert dict(screened.dropped.select("customer_id", "drop_reason").rows()) == {
        "c3": NO_CONSENT,
        "c4": NOT_IN_CONTACTS,
    }
