"""Reading lists back (``loyalty uplift``): the id and segment columns, errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError
from loyalty_cli.handoff.readback import read_lists

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
    assert "--list-id-col" in render(err.value.hint or "") and "'Email Address'" in (err.value.hint or "")
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
