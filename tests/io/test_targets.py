"""Email-tool targets: headers, dates, email screening, consent, cleaning, size splitting, files written."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import DataError, LoyaltyError, UsageError
from loyalty_cli.io import writers
from loyalty_cli.io.targets import (
    DUPLICATE_EMAIL,
    INVALID_EMAIL,
    MISSING_EMAIL,
    NO_AT,
    NO_CONSENT,
    NO_CONSENT_RECORD,
    NOT_IN_CONTACTS,
    TARGETS,
    UNREADABLE_CONSENT,
    ListSpec,
    attach_contacts,
    check_manifest,
    email_problem,
    format_for_target,
    get_target,
    read_lists,
    screen_rows,
    split_csv,
    write_list,
    write_plain_list,
)

LIST = pl.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3"],
        "email": ["a@example.com", "b@example.org", "c@example.net"],
        "segment": ["At Risk", "Champions", "New"],
        "net_spend": [10.0, 250.5, -3.5],
        "first_purchase": [date(2024, 1, 5), date(2023, 12, 31), date(2024, 2, 29)],
        "last_seen": [datetime(2024, 3, 1, 23, 30, 5), None, datetime(2024, 3, 2, 0, 0, 0)],
    }
)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- headers and dates per target ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first", "tag", "date_text", "datetime_text"),
    [
        ("mailchimp", ["Email Address", "customer_id"], "Tags", "2024-01-05", "2024-03-01 23:30:05"),
        ("klaviyo", ["Email Address", "customer_id"], "loyalty_segment", "2024-01-05 12:00:00", "2024-03-01 23:30:05"),
        ("braze", ["external_id", "email"], "loyalty_segment", "2024-01-05T12:00:00", "2024-03-01T23:30:05"),
        ("hubspot", ["Email", "customer_id"], "loyalty_segment", "2024-01-05", "2024-03-01 23:30:05"),
    ],
)
def test_importer_headers_and_date_formats(name, first, tag, date_text, datetime_text):
    target = get_target(name)
    out, log = format_for_target(LIST, target, tag="segment")
    assert out.columns[:3] == [*first, tag]
    assert out["first_purchase"].to_list()[0] == date_text
    assert out["last_seen"].to_list() == [datetime_text, None, datetime_text.replace("01", "02", 1)[:11] + "00:00:00"]
    assert out["net_spend"].dtype == pl.Float64  # numbers stay numbers
    assert log.is_empty()


def test_generic_keeps_our_names_and_types():
    out, log = format_for_target(LIST, TARGETS["generic"], tag="segment")
    assert out.columns == LIST.columns and out.schema == LIST.schema
    out, _ = format_for_target(LIST, TARGETS["generic"], tag_value="winback")
    assert out["action"].to_list() == ["winback"] * 3


def test_a_fixed_tag_for_lists_without_a_tag_column():
    out, _ = format_for_target(LIST.drop("segment"), TARGETS["mailchimp"], tag_value="second-purchase nudge")
    assert out.columns[:3] == ["Email Address", "customer_id", "Tags"]
    assert set(out["Tags"]) == {"second-purchase nudge"}


def test_unknown_target():
    with pytest.raises(UsageError, match="Unknown --target 'sendgrid'"):
        get_target("sendgrid")
    assert get_target(" Klaviyo ").name == "klaviyo"


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


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_target_writes_the_consent_column(name: str, tmp_path: Path):
    """Every row left said yes, so the column says nothing (the README says it is not written)."""
    table = LIST.with_columns(pl.Series("email_consent", ["yes", "no", "subscribed"]))
    write_list(table, tmp_path / "list.csv", ListSpec(target=name, tag="segment"))
    rows = csv_rows(tmp_path / "list.csv")
    assert len(rows) == 2 and not any("consent" in column.lower() for column in rows[0])
    contacts = pl.DataFrame({"customer_id": ["c1", "c2", "c3"], "email_consent": [True, True, False]})
    write_list(LIST, tmp_path / "list.csv", ListSpec(target=name, tag="segment", contacts=contacts))
    rows = csv_rows(tmp_path / "list.csv")
    assert len(rows) == 2 and not any("consent" in column.lower() for column in rows[0])


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


def test_lists_without_emails():
    table = LIST.drop("email")
    with pytest.raises(DataError, match="no email column, which Klaviyo needs") as err:
        screen_rows(table, target=TARGETS["klaviyo"])
    assert "--contacts" in (err.value.hint or "")
    screened = screen_rows(table, target=TARGETS["braze"])  # Braze identifies users by external_id
    out, _ = format_for_target(screened.rows, TARGETS["braze"], tag="segment")
    assert out.columns[:2] == ["external_id", "loyalty_segment"] and out.height == 3


# --- formula cleaning --------------------------------------------------------------------------------------


def test_importer_targets_clean_formula_text_and_log_it():
    table = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "email": ["a@x.com", "b@x.com", "c@x.com"],
            "segment": ['=HYPERLINK("http://evil")', "@SUM(A1)", "-3.50"],
            "note": ["+ - =cmd", "\tTAB", "fine=ok"],
        }
    )
    out, log = format_for_target(table, TARGETS["klaviyo"], tag="segment")
    assert out["loyalty_segment"].to_list() == ['HYPERLINK("http://evil")', "SUM(A1)", "-3.50"]
    assert out["note"].to_list() == ["cmd", "TAB", "fine=ok"]
    assert log.rows() == [
        ("c1", "loyalty_segment", '=HYPERLINK("http://evil")', 'HYPERLINK("http://evil")'),
        ("c2", "loyalty_segment", "@SUM(A1)", "SUM(A1)"),
        ("c1", "note", "+ - =cmd", "cmd"),
        ("c2", "note", "\tTAB", "TAB"),
    ]
    assert not any(v.startswith("'") for v in out["note"].to_list())  # no quote prefix an importer would keep


def test_generic_target_keeps_the_spreadsheet_apostrophe(tmp_path: Path):
    table = pl.DataFrame({"customer_id": ["c1"], "email": ["a@x.com"], "segment": ["=1+1"]})
    report = write_list(table, tmp_path / "list.csv", ListSpec(target="generic", tag="segment"))
    assert csv_rows(tmp_path / "list.csv")[0]["segment"] == "'=1+1"
    assert report.changes == 0 and not (tmp_path / "list.changes.csv").exists()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_addresses_that_start_like_a_formula_are_kept(name: str, tmp_path: Path):
    """Only the importer reads an importer's file, which takes cells as data: the address goes as it is. The
    generic CSV may be opened in a spreadsheet: the apostrophe every other cell gets."""
    emails = ["+4917612345678@example.com", "-dash@example.com", "jürgen@müller.de", "用户@例子.广告"]
    table = pl.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "email": emails, "segment": ["New"] * 4})
    report = write_list(table, tmp_path / "list.csv", ListSpec(target=name, tag="segment"))
    assert report.dropped == {} and report.changes == 0
    target = TARGETS[name]
    written = [row[target.email_header] for row in csv_rows(tmp_path / "list.csv")]
    assert written == (emails if target.importer else ["'" + e if e[0] in "+-" else e for e in emails])


# --- size splitting ------------------------------------------------------------------------------------


def test_split_csv_at_row_boundaries_with_the_header_in_each_part():
    df = pl.DataFrame({"id": [f"c{i:03d}" for i in range(100)], "text": ["line one\nline two", 'x, "quoted"'] * 50})
    data = df.write_csv().encode()
    parts = split_csv(data, 400)
    assert len(parts) > 3 and all(len(p) <= 400 for p, _ in parts)
    assert sum(rows for _, rows in parts) == 100
    header = data.split(b"\n")[0] + b"\n"
    assert all(p.startswith(header) for p, _ in parts)
    back = pl.concat([pl.read_csv(io.BytesIO(p)) for p, _ in parts])
    assert back.equals(df)  # quoted newlines and quotes survive; no row lost or split
    assert [rows for _, rows in parts] == [pl.read_csv(io.BytesIO(p)).height for p, _ in parts]
    assert split_csv(data, None) == [(data, 100)] and split_csv(data, len(data)) == [(data, 100)]
    with pytest.raises(UsageError, match="too small"):
        split_csv(data, 30)


def test_write_list_splits_over_the_limit_and_lists_the_parts(tmp_path: Path):
    n = 300
    table = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"customer{i}@example.com" for i in range(n)],
            "segment": ["At Risk"] * n,
        }
    )
    out = tmp_path / "big.csv"
    out.write_text("stale")  # an unsplit file of an earlier run (the -o file) must not stay beside the parts
    (tmp_path / "big.part09.csv").write_text("user data")  # no manifest of ours lists it: left, and said
    report = write_list(table, out, ListSpec(target="klaviyo", tag="segment", max_file_mb=0.004))
    names = sorted(p.name for p in tmp_path.iterdir())
    parts = [f"big.part{i:02d}.csv" for i in range(1, len(report.treatment) + 1)]
    assert len(parts) >= 3 and names == sorted([*parts, "big.manifest.json", "big.part09.csv"])
    assert [p.name for p in report.removed] == ["big.csv"]
    assert (tmp_path / "big.part09.csv").read_text() == "user data"
    assert report.notes[-1].startswith(f"Left {tmp_path / 'big.part09.csv'} as it is: named like a file")
    (tmp_path / "big.part09.csv").unlink()
    sizes = [(tmp_path / p).stat().st_size for p in parts]
    assert max(sizes) <= 4000
    back = pl.concat([pl.read_csv(tmp_path / p) for p in parts])
    assert back["customer_id"].to_list() == table["customer_id"].to_list()
    manifest = json.loads((tmp_path / "big.manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]["treatment"]] == parts
    assert [f["bytes"] for f in manifest["files"]["treatment"]] == sizes
    assert sum(f["rows"] for f in manifest["files"]["treatment"]) == n
    assert manifest["max_file_bytes"] == 4000 and manifest["target"] == "klaviyo"
    # a second run that fits one file removes the parts
    report = write_list(table.head(5), out, ListSpec(target="klaviyo", tag="segment"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "big.manifest.json"]
    assert len(report.removed) == len(parts)


def test_klaviyo_limit_is_50_mb_and_overridable():
    assert ListSpec(target="klaviyo").max_bytes(TARGETS["klaviyo"]) == 50_000_000
    assert ListSpec(target="klaviyo", max_file_mb=1.5).max_bytes(TARGETS["klaviyo"]) == 1_500_000
    assert ListSpec(target="mailchimp").max_bytes(TARGETS["mailchimp"]) is None


# --- write_list: everything together ---------------------------------------------------------------------


def test_write_list_with_control_group_dropped_rows_changes_and_manifest(tmp_path: Path):
    n = 400
    table = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"p{i}@shop.com" if i % 50 else None for i in range(n)],
            "segment": ["=bad" if i == 7 else "Loyal" for i in range(n)],
            "net_spend": [float(i) for i in range(n)],
            "first_purchase": [date(2024, 1, 1)] * n,
        }
    )
    spec = ListSpec(target="klaviyo", holdout_share=0.25, seed="spring", tag="segment", value="net_spend")
    report = write_list(table, tmp_path / "loyal.csv", spec)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["loyal.changes.csv", "loyal.control.csv", "loyal.csv", "loyal.dropped.csv", "loyal.manifest.json"]
    treat, control = pl.read_csv(tmp_path / "loyal.csv"), pl.read_csv(tmp_path / "loyal.control.csv")
    assert treat.columns[:3] == control.columns[:3] == ["Email Address", "customer_id", "loyalty_segment"]
    assert treat.height + control.height == n - 8 and not set(treat["customer_id"]) & set(control["customer_id"])
    assert 0.15 < control.height / (n - 8) < 0.35
    assert report.dropped == {MISSING_EMAIL: 8} and report.changes == 1
    assert pl.read_csv(tmp_path / "loyal.dropped.csv")["drop_reason"].to_list() == [MISSING_EMAIL] * 8
    assert pl.read_csv(tmp_path / "loyal.changes.csv").row(0) == ("c0007", "loyalty_segment", "'=bad", "bad")
    manifest = json.loads((tmp_path / "loyal.manifest.json").read_text())
    assert manifest["holdout"]["seed"] == "spring" and manifest["holdout"]["share"] == 0.25
    assert manifest["holdout"]["control"] == control.height and manifest["holdout"]["treatment"] == treat.height
    assert manifest["rows_in"] == n and manifest["rows_written"] == n - 8
    assert manifest["dropped"] == {MISSING_EMAIL: 8} and manifest["files"]["dropped"] == "loyal.dropped.csv"
    assert manifest["format"]["date_format"] == "%Y-%m-%d 12:00:00"
    # deterministic: a second run writes the same bytes
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write_list(table, tmp_path / "loyal.csv", spec)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_holdout_without_target_keeps_the_format(tmp_path: Path):
    table = pl.DataFrame({"customer_id": [f"c{i}" for i in range(50)], "x": list(range(50))})
    report = write_list(table, tmp_path / "l.parquet", ListSpec(holdout_share=0.2, seed="1"))
    t, c = pl.read_parquet(tmp_path / "l.parquet"), pl.read_parquet(tmp_path / "l.control.parquet")
    assert t.columns == c.columns == ["customer_id", "x"] and t.height + c.height == 50
    assert report.split is not None and report.split.control == c.height
    # a later run without a holdout removes that control group: it does not belong to the new list
    report = write_list(table, tmp_path / "l.parquet", ListSpec())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.manifest.json", "l.parquet"]
    assert [p.name for p in report.removed] == ["l.control.parquet"]


@pytest.mark.parametrize(
    ("spec", "output", "message"),
    [
        (ListSpec(holdout_share=0.1), "l.csv", "--holdout-share needs --seed"),
        (ListSpec(seed="x"), "l.csv", "--seed needs --target or --holdout-share"),
        (ListSpec(target="klaviyo", seed="x"), "l.csv", "--seed needs --holdout-share"),
        (ListSpec(target="klaviyo"), "-", "need -o FILE"),
        (ListSpec(target="klaviyo"), "l.parquet", "Klaviyo imports CSV files, not parquet"),
        (ListSpec(holdout_share=1.5, seed="x"), "l.csv", "between 0 and 1"),
        (ListSpec(target="generic", max_file_mb=0), "l.csv", "must be > 0"),
        (ListSpec(target="generic", max_file_mb=1), "l.json", "splits CSV files only"),
        (ListSpec(max_file_mb=1), "l.csv", "--max-file-mb needs --target"),
    ],
)
def test_spec_checks(spec, output, message):
    with pytest.raises(UsageError, match=message):
        spec.check(output)


# --- reading lists back ------------------------------------------------------------------------------------


def test_read_lists_finds_the_id_column_and_the_segment(tmp_path: Path):
    (tmp_path / "k.csv").write_text(
        "Email Address,customer_id,loyalty_segment\na@x.com,17850.0,At Risk\nb@x.com,C2,New\n"
    )
    (tmp_path / "b.csv").write_text("external_id,email\nC3,c@x.com\n")
    read = read_lists([tmp_path / "k.csv"])
    assert read.rows.rows() == [("17850", "At Risk"), ("C2", "New")] and read.by == "segment"
    assert read_lists([tmp_path / "b.csv"]).rows["customer_id"].to_list() == ["C3"]
    assert read_lists([tmp_path / "k.csv"], auto_by=False).rows.columns == ["customer_id"]


def test_read_lists_errors_name_the_file_and_rows(tmp_path: Path):
    (tmp_path / "noid.csv").write_text("Email Address,Tags\na@x.com,New\n")
    with pytest.raises(DataError, match="No customer id column in the list") as err:
        read_lists([tmp_path / "noid.csv"])
    assert "--list-id-col" in (err.value.hint or "") and "'Email Address'" in (err.value.hint or "")
    (tmp_path / "blank.csv").write_text("customer_id\nc1\nc2\n \nc4\n")
    with pytest.raises(DataError, match=r"1 row without a customer id in the list .*blank.csv \(first: row 4\)"):
        read_lists([tmp_path / "blank.csv"])
    with pytest.raises(DataError, match="No column 'region'"):
        read_lists([tmp_path / "noid.csv"], by="region", id_col="Email Address")


def test_read_lists_names_a_gzip_list_cut_late(tmp_path: Path):
    """The header and the first rows read, the end is missing: the error names the file, no traceback."""
    import gzip

    text = "customer_id,segment\n" + "".join(f"c{i:06d},Loyal\n" for i in range(200_000))
    data = gzip.compress(text.encode())
    path = tmp_path / "list.csv.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(DataError, match=r"list\.csv\.gz") as err:
        read_lists([path])
    assert "gzip" in str(err.value) or "gzip" in (err.value.hint or "")


# --- a list's files as one set: all or nothing, and nothing of an earlier set left behind -----------------


def loyal_table(n: int = 400, spend: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"p{i}@shop.com" if i % 50 else None for i in range(n)],
            "segment": ["=bad" if i == 7 else "Loyal" for i in range(n)],
            "net_spend": [float(i) + spend for i in range(n)],
        }
    )


SPEC = ListSpec(target="klaviyo", holdout_share=0.25, seed="spring", tag="segment", value="net_spend")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def earlier_set(tmp_path: Path) -> dict[str, bytes]:
    write_list(loyal_table(), tmp_path / "loyal.csv", SPEC)
    before = snapshot(tmp_path)
    assert sorted(before) == [
        "loyal.changes.csv",
        "loyal.control.csv",
        "loyal.csv",
        "loyal.dropped.csv",
        "loyal.manifest.json",
    ]
    return before


def test_a_full_disk_part_way_leaves_the_earlier_set_complete(
    tmp_path: Path, earlier_set: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = []
    fdopen = os.fdopen

    def third_file_fills_the_disk(fd: int, mode: str = "rb", *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        opened.append(fd)
        if len(opened) == 3:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(writers.os, "fdopen", third_file_fills_the_disk)
    with pytest.raises(LoyaltyError) as info:
        write_list(loyal_table(spend=1.0), tmp_path / "loyal.csv", SPEC)
    assert info.value.message == f"Could not write {tmp_path / 'loyal.control.csv'}: No space left on device"
    assert snapshot(tmp_path) == earlier_set  # every old file as it was, no temporary file left


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()])
def test_a_failure_while_renaming_rolls_the_set_back(
    tmp_path: Path, earlier_set: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    replace = os.replace
    calls = []

    def third_rename_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise failure
        replace(src, dst)

    monkeypatch.setattr(writers.os, "replace", third_rename_fails)
    with pytest.raises((LoyaltyError, KeyboardInterrupt)):
        write_list(loyal_table(spend=1.0), tmp_path / "loyal.csv", SPEC)
    assert len(calls) > 3  # two files were renamed, then put back
    assert snapshot(tmp_path) == earlier_set


def test_the_manifest_records_each_files_sha256(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    manifest = json.loads(earlier_set["loyal.manifest.json"])
    for group in ("treatment", "control"):
        (entry,) = manifest["files"][group]
        data = earlier_set[entry["path"]]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert check_manifest(tmp_path / "loyal.manifest.json") == (
        f"Checked the 2 list files against {tmp_path / 'loyal.manifest.json'}: rows and SHA-256 match"
    )


def test_a_plain_list_over_a_handoff_set_removes_the_set(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    (tmp_path / "loyal.rejects.csv").write_text("kept")  # not part of the set
    (tmp_path / "loyal.v2.csv").write_text("kept")
    (tmp_path / "loyalty.csv").write_text("kept")
    written, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert written == tmp_path / "loyal.csv" and pl.read_csv(written).height == 10 and notes == []
    assert [p.name for p in removed] == [
        "loyal.changes.csv",
        "loyal.control.csv",
        "loyal.dropped.csv",
        "loyal.manifest.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loyal.csv",
        "loyal.rejects.csv",
        "loyal.v2.csv",
        "loyalty.csv",
    ]


def test_a_plain_list_to_stdout_touches_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert write_plain_list(loyal_table(3), "-") == (None, [], [])
    assert capsys.readouterr().out.startswith("customer_id,email,segment,net_spend\n")


def left_note(names: list[Path], reason: str) -> str:
    them = "it" if len(names) == 1 else "them"
    return (
        f"Left {', '.join(str(p) for p in names)} as {'it is' if len(names) == 1 else 'they are'}: named like "
        f"{'a file' if len(names) == 1 else 'files'} of this list's set, but {reason}. Delete {them} if an earlier "
        f"run left {them}: {'it' if len(names) == 1 else 'they'} would not belong to this list."
    )


def test_files_only_named_like_a_set_are_left_without_its_manifest(tmp_path: Path) -> None:
    mine = {"loyal.part7.csv": "user data", "loyal.changes.csv": "my changes", "loyal.control.part02.csv": "mine"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    report = write_list(loyal_table(), tmp_path / "loyal.csv", ListSpec(holdout_share=0.25, seed="spring"))
    assert report.removed == []
    assert {name: (tmp_path / name).read_text() for name in mine} == mine
    names = [tmp_path / name for name in sorted(mine)]
    reason = f"no manifest of an earlier run ({tmp_path / 'loyal.manifest.json'}) lists them"
    assert report.notes == [left_note(names, reason)]


@pytest.mark.parametrize(
    "manifest",
    [
        '{"files": {"treatment": [{"path": "loyal.csv"}], "control": [{"path": "loyal.control.csv"}]}}\n',
        "my notes, not JSON\n",
        "other.csv",  # a manifest of ours, but of another list
    ],
)
def test_a_plain_list_leaves_a_manifest_not_written_for_it(
    tmp_path: Path, earlier_set: dict[str, bytes], manifest: str
) -> None:
    if manifest == "other.csv":
        data = json.loads(earlier_set["loyal.manifest.json"])
        manifest = json.dumps({**data, "output": "other.csv"})
    (tmp_path / "loyal.manifest.json").write_text(manifest)
    written, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert removed == []
    assert (tmp_path / "loyal.manifest.json").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(earlier_set)
    names = [tmp_path / n for n in sorted(earlier_set) if n != "loyal.csv"]
    where = tmp_path / "loyal.manifest.json"
    assert notes == [left_note(names, f"{where} was not written by loyalty for loyal.csv")]


def test_only_the_files_the_earlier_manifest_lists_are_removed(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    (tmp_path / "loyal.part7.csv").write_text("user data")
    data = json.loads(earlier_set["loyal.manifest.json"])
    data["files"]["control"].append({"path": "loyal.v2.csv"})  # not named like the set: never removed
    data["files"]["dropped"] = "../loyal.dropped.csv"
    (tmp_path / "loyal.manifest.json").write_text(json.dumps(data))
    (tmp_path / "loyal.v2.csv").write_text("kept")
    _, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert [p.name for p in removed] == ["loyal.changes.csv", "loyal.control.csv", "loyal.manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loyal.csv",
        "loyal.dropped.csv",
        "loyal.part7.csv",
        "loyal.v2.csv",
    ]
    assert (tmp_path / "loyal.part7.csv").read_text() == "user data"
    reason = f"the earlier run's manifest ({tmp_path / 'loyal.manifest.json'}) does not list them"
    assert notes == [left_note([tmp_path / "loyal.dropped.csv", tmp_path / "loyal.part7.csv"], reason)]


def test_a_set_without_a_control_group_removes_the_earlier_one(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    report = write_list(loyal_table(), tmp_path / "loyal.csv", ListSpec(target="klaviyo", tag="segment"))
    assert [p.name for p in report.removed] == ["loyal.control.csv"]
    manifest = json.loads((tmp_path / "loyal.manifest.json").read_text())
    assert manifest["files"]["control"] == [] and manifest["holdout"] is None


# --- the manifest checked against the files uplift reads ---------------------------------------------------


def test_a_control_group_changed_after_the_manifest_is_refused(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    control = tmp_path / "loyal.control.csv"
    control.write_bytes(earlier_set["loyal.control.csv"].replace(b"c00", b"x00", 1))  # same size, other content
    with pytest.raises(DataError) as info:
        check_manifest(tmp_path / "loyal.manifest.json")
    assert info.value.message == (
        f"{control} has changed since the manifest {tmp_path / 'loyal.manifest.json'} was written (its content "
        "does not match the size and SHA-256 recorded there)"
    )
    assert info.value.hint and "--treatment and --control" in info.value.hint
    control.unlink()
    with pytest.raises(DataError, match="loyal.control.csv, listed in the manifest .* is missing"):
        check_manifest(tmp_path / "loyal.manifest.json")


def test_an_older_manifest_without_hashes_is_checked_by_rows(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    path = tmp_path / "loyal.manifest.json"
    manifest = json.loads(earlier_set["loyal.manifest.json"])
    for entry in manifest["files"]["treatment"] + manifest["files"]["control"]:
        del entry["sha256"]
    path.write_text(json.dumps(manifest))
    assert check_manifest(path) == (
        f"The manifest {path} records no content hashes (an older version wrote it): the hash check was skipped; "
        "row counts match"
    )
    for entry in manifest["files"]["treatment"] + manifest["files"]["control"]:
        del entry["bytes"]
    path.write_text(json.dumps(manifest))
    control = tmp_path / "loyal.control.csv"
    control.write_text("\n".join(control.read_text().splitlines()[:-2]) + "\n")  # two customers fewer
    rows = manifest["files"]["control"][0]["rows"]
    with pytest.raises(DataError) as info:
        check_manifest(path)
    assert info.value.message == (
        f"{control} has {rows - 2:,} rows, but the manifest {path} records {rows:,}: the file has changed since "
        "the list was written"
    )
