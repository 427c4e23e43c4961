"""Email-tool targets: headers, dates, tags, the consent column left out, formula cleaning."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, UsageError
from loyalty_cli.handoff.formatting import format_for_target
from loyalty_cli.handoff.screening import screen_rows
from loyalty_cli.handoff.targets import TARGETS, get_target
from loyalty_cli.handoff.write import ListSpec, write_list

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
    with pytest.raises(UsageError) as err:
        get_target("sendgrid")
    assert "Unknown --target 'sendgrid'" in render(str(err.value))
    assert get_target(" Klaviyo ").name == "klaviyo"


# --- the consent column, lists without emails ----------------------------------------------------------


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


def test_lists_without_emails():
    table = LIST.drop("email")
    with pytest.raises(DataError, match="no email column, which Klaviyo needs") as err:
        screen_rows(table, target=TARGETS["klaviyo"])
    assert "--contacts" in render(err.value.hint or "")
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
