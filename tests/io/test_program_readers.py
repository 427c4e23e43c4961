"""Readers of the loyalty programme exports: members and the points ledger (aliases, signs, rejects)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError
from loyalty_cli.io.readers import ReadOptions, read_members, read_points
from loyalty_cli.io.validate import collect_checked


def read(scan, policy="skip"):  # noqa: ANN001, ANN201
    (rows,), (rejects,) = collect_checked([scan], [scan.rows], on_bad_rows=policy)
    return rows, rejects


def test_members_by_alias_with_tier_history(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        "Member ID,Member Since,Loyalty Tier,Tier Since,Enrolment Channel\n"
        "17850.0,05/01/2024,Gold,20/03/2024,store\n17850,05/01/2024,Silver,,store\n"
        "A2, 2024-02-01 ,,,web\n"
    )
    scan = read_members([path], ReadOptions(date_format="%d/%m/%Y"))
    assert scan.mapping.columns == {
        "customer_id": "Member ID",
        "enrolled_at": "Member Since",
        "tier": "Loyalty Tier",
        "tier_since": "Tier Since",
        "channel": "Enrolment Channel",
    }
    rows, rejects = read(scan)
    assert rows.columns == ["customer_id", "enrolled_at", "tier", "tier_since", "channel"]
    assert rows["customer_id"].to_list() == ["17850", "17850"]
    assert rows["tier_since"].to_list() == [datetime(2024, 3, 20), None]
    assert rejects.select("source_row", "reject_reason", "reject_value").rows() == [
        (4, "unparseable enrolment date (expected %d/%m/%Y)", " 2024-02-01 ")
    ]


def test_members_rejects_and_strict_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("customer_id,joined\n,2024-01-01\nB,\nC,2024-13-45\nD,2024-01-02\n")
    rows, rejects = read(read_members([path]))
    assert rows["customer_id"].to_list() == ["D"]
    assert rejects.select("source_row", "reject_reason").rows() == [
        (2, "missing customer id"),
        (3, "missing enrolment date"),
        (4, "unparseable enrolment date (expected %Y-%m-%d)"),
    ]
    with pytest.raises(DataError, match=r"3 bad rows in the members:[\s\S]*m.csv, column 'joined'"):
        read(read_members([path]), "error")


def test_members_need_an_enrolment_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("customer_id,tier\nA,Gold\n")
    with pytest.raises(DataError, match="No enrolled_at column") as info:
        read_members([path])
    assert info.value.hint is not None and render(info.value.hint).startswith(
        "Name it in a [members] table of the mapping file (--mapping, default rules/columns.toml), e.g. "
        'enrolled_at = "Header". Columns in the file:'
    )


def test_members_after_as_of_are_left_out_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("customer_id,enrolled_at\nA,2024-01-01\nB,2024-07-01\n")
    scan = read_members([path], as_of=date(2024, 7, 1))
    rows, _ = read(scan)
    assert rows["customer_id"].to_list() == ["A"] and scan.left_out == [1]


def test_points_types_signs_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(
        "Customer,Date,Points,Transaction Type,Order No\n"
        "A,2024-01-01,100,Earned,o1\nA,2024-01-02,-40,Redemption,\nA,2024-01-03,40,REDEEM,\n"
        "A,2024-01-04,10,expiry,\nA,2024-01-05,-5,adjustment,o1\nA,2024-01-06,5,Bonus,\n"
        "A,2024-01-07,-3,earn,\nA,2024-01-08,3,gift,\nA,2024-01-09,x,earn,\nA,,3,earn,\n"
    )
    scan = read_points([path])
    assert scan.mapping.columns == {
        "customer_id": "Customer",
        "at": "Date",
        "points": "Points",
        "type": "Transaction Type",
        "order_id": "Order No",
    }
    rows, rejects = read(scan)
    assert rows.columns == ["customer_id", "at", "type", "points", "order_id"]
    assert rows.select("type", "points").rows() == [
        ("earn", 100),
        ("redeem", -40),
        ("redeem", -40),
        ("expire", -10),
        ("adjust", -5),
        ("adjust", 5),
    ]
    assert rejects.select("source_row", "reject_reason").rows() == [
        (8, "negative points on an earn row (record reversals as adjust)"),
        (9, "unknown points type (expected earn, redeem, expire or adjust)"),
        (10, "unparseable points"),
        (11, "missing points date"),
    ]


def test_points_columns_from_a_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("who;when;pts;what\nA;01.02.2024;12,5;earn\n")
    mapping = tmp_path / "columns.toml"
    mapping.write_text(
        '[points]\ncustomer_id = "who"\nat = "when"\npoints = "pts"\ntype = "what"\ndecimal_comma = true\n'
    )
    rows, _ = read(read_points([path], ReadOptions(mapping_file=mapping)))
    assert rows.row(0) == ("A", datetime(2024, 2, 1), "earn", 12.5)
    assert rows.schema["points"] == pl.Float64
