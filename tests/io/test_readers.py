"""Reading exports end to end: file kinds, encodings, folders, bad rows, surveys and contacts."""

from __future__ import annotations

import gzip
import os
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, RulesError, UsageError
from loyalty_cli.io.readers import (
    ReadOptions,
    read_contacts,
    read_members,
    read_points,
    read_surveys,
    read_transactions,
)
from loyalty_cli.io.table_plans import REJECT_COLUMNS
from loyalty_cli.io.validate import collect_checked

HEADER = "customer_id,order_date,amount\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


SAVED = 1_750_000_000  # 2025-06-15 15:06:40 UTC: when the exports of the future-date tests were "saved"


def saved(path: Path) -> Path:
    """Give ``path`` the modification time :data:`SAVED`, as an export written then would have."""
    os.utime(path, (SAVED, SAVED))
    return path


def collect(scan, on_bad_rows="skip"):
    (rows,), (rejects,) = collect_checked([scan], [scan.rows], on_bad_rows=on_bad_rows)
    return rows, rejects


def read(inputs, options=None, *, as_of=None):
    inputs = inputs if isinstance(inputs, list) else [inputs]
    return collect(read_transactions(inputs, options, as_of=as_of))


def rejected(rejects: pl.DataFrame) -> list[tuple]:
    """(file name, row, reason, column, value) of each rejected row, in file and row order."""
    return [
        (Path(f).name, row, reason, column, value)
        for f, row, reason, column, value in rejects.sort("source_file", "source_row").select(REJECT_COLUMNS).rows()
    ]


# ================================================================ reader paths


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_delimiters_are_sniffed(tmp_path, sep):
    text = f"customer_id{sep}order_date{sep}amount\nA{sep}2024-01-05{sep}12.50\nB{sep}2024-01-06{sep}3\n"
    scan = read_transactions([write(tmp_path / "t.csv", text)])
    assert scan.sources[0].separator == sep
    rows, rejects = collect(scan)
    assert rows.rows() == [("A", datetime(2024, 1, 5), 1250), ("B", datetime(2024, 1, 6), 300)]
    assert rejects.height == 0


def test_headerless_whitespace_file_maps_by_position(tmp_path):
    """CDNOW_sample.txt's layout: no header, columns aligned with runs of spaces, CRLF, YYYYMMDD dates."""
    path = write(
        tmp_path / "cdnow.txt",
        " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n 00112 0002 19970101 10  x\r\n",
    )
    options = ReadOptions(columns={"customer_id": "column_1", "order_date": "column_3", "amount": "column_5"})
    scan = read_transactions([path], options)
    assert any("no header row" in note for note in scan.notes)
    rows, rejects = collect(scan)
    assert rows.rows() == [("00004", datetime(1997, 1, 1), 2933), ("00004", datetime(1997, 1, 18), 2973)]
    # row numbers count from the first line, since there is no header
    assert rejected(rejects) == [("cdnow.txt", 3, "unparseable amount", "column_5", "x")]


def test_whitespace_file_with_a_header_uses_its_names(tmp_path):
    """Aligned columns with a header line: the header names the columns and is not a data row."""
    path = write(
        tmp_path / "aligned.txt", "customer_id   order_date   amount\nA   2024-01-01   10.50\nB   2024-01-03   x\n"
    )
    scan = read_transactions([path])
    assert not any("no header row" in note for note in scan.notes)
    rows, rejects = collect(scan)
    assert rows.rows() == [("A", datetime(2024, 1, 1), 1050)]
    assert rejected(rejects) == [("aligned.txt", 3, "unparseable amount", "amount", "x")]  # the header is row 1


def test_separator_override(tmp_path):
    path = write(tmp_path / "t.txt", "customer_id;order_date;amount\nA;2024-01-05;2\n")
    rows, _ = read(path, ReadOptions(separator=";"))
    assert rows.rows() == [("A", datetime(2024, 1, 5), 200)]
    with pytest.raises(DataError, match="No customer_id column"):
        read_transactions([path], ReadOptions(separator=","))  # one column named 'customer_id;order_date;...'


def test_separator_from_the_mapping_file(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id|order_date|amount\nA|2024-01-05|2\n")
    mapping = write(tmp_path / "columns.toml", '[transactions]\nseparator = "|"\n')
    scan = read_transactions([path], ReadOptions(mapping_file=mapping))
    assert scan.sources[0].separator == "|"


def test_gzip_csv(tmp_path):
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(b"customer_id;order_date;amount\nA;2024-01-05;1.5\nB;2024-01-06;2\n"))
    rows, _ = read(path)
    assert rows.rows() == [("A", datetime(2024, 1, 5), 150), ("B", datetime(2024, 1, 6), 200)]


def test_utf8_with_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        "\ufeffcustomer_id,order_date,amount,category\nA,2024-01-05,1,Café\n,2024-01-06,2,x\n".encode("utf-8")
    )
    scan = read_transactions([path])
    assert scan.mapping.columns["customer_id"] == "customer_id"  # not '\ufeffcustomer_id'
    rows, rejects = collect(scan)
    assert rows.rows() == [("A", datetime(2024, 1, 5), 100, "Café")]
    assert "customer_id" in rejects.columns


def test_latin1_with_the_option(tmp_path):
    text = "customer_id;order_date;amount;category\nA;2024-01-05;1;Café\nB;2024-01-06;x;Crème brûlée\n"
    path = write(tmp_path / "t.csv", text, "latin-1")
    rows, rejects = read(path, ReadOptions(encoding="latin-1"))
    assert rows.rows() == [("A", datetime(2024, 1, 5), 100, "Café")]
    assert rejects["category"].to_list() == ["Crème brûlée"]
    assert rejects["source_file"].to_list() == [str(path)]  # the user's file, not the UTF-8 copy


def test_latin1_from_the_mapping_file(tmp_path):
    path = write(tmp_path / "t.csv", HEADER.replace("\n", ",category\n") + "A,2024-01-05,1,Café\n", "latin-1")
    mapping = write(tmp_path / "columns.toml", '[transactions]\nencoding = "latin-1"\n')
    rows, _ = read(path, ReadOptions(mapping_file=mapping))
    assert rows["category"].to_list() == ["Café"]


def test_invalid_utf8_without_the_option(tmp_path):
    path = write(tmp_path / "t.csv", HEADER.replace("\n", ",category\n") + "A,2024-01-05,1,Café\n", "latin-1")
    with pytest.raises(DataError) as err:
        read_transactions([path])
    assert str(path) in err.value.message
    assert err.value.message.startswith(f"{path} is not valid utf-8 text")
    assert "--encoding" in render(err.value.hint)


def test_invalid_utf8_after_the_sniffed_bytes(tmp_path):
    # The first 256 KB are clean; the bad byte is only met when the file is read.
    text = HEADER + "A,2024-01-05,1\n" * 20_000 + "Café,2024-01-05,1\n"
    path = write(tmp_path / "big.csv", text, "latin-1")
    for options in (ReadOptions(), ReadOptions(date_format="%Y-%m-%d")):
        with pytest.raises(DataError) as err:
            read(path, options)
        assert err.value.message.startswith(f"Could not read {path}")
        assert "--encoding" in render(err.value.hint)


def test_parquet_native_types(tmp_path):
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {
            "CustomerID": [17850.0, 12.5, None, 13047.0],
            "InvoiceDate": [
                datetime(2024, 1, 5, 10, 30),
                datetime(2024, 1, 6),
                datetime(2024, 1, 7),
                datetime(2024, 1, 8, 23, 59),
            ],
            "Total": [15.3, 2.0, 3.0, -4.25],
        }
    ).write_parquet(path)
    scan = read_transactions([path])
    assert scan.date_formats == {}
    rows, rejects = collect(scan)
    assert rows.rows() == [
        ("17850", datetime(2024, 1, 5, 10, 30), 1530),
        ("12.5", datetime(2024, 1, 6), 200),
        ("13047", datetime(2024, 1, 8, 23, 59), -425),
    ]
    assert rejected(rejects) == [("orders.parquet", 3, "missing customer id", "CustomerID", None)]


def test_parquet_date_and_int_ids(tmp_path):
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": [17850, 4], "order_date": [date(2024, 1, 5), date(2024, 1, 6)], "amount": [3, 4]}
    ).write_parquet(path)
    rows, _ = read(path)
    assert rows.schema == pl.Schema(
        {"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64}
    )
    assert rows.rows() == [("17850", datetime(2024, 1, 5), 300), ("4", datetime(2024, 1, 6), 400)]


def test_parquet_time_zone_aware_keeps_local_wall_clock(tmp_path):
    path = tmp_path / "orders.parquet"
    utc = pl.Series([datetime(2024, 1, 6, 4, 30), datetime(2024, 1, 6, 15)]).dt.replace_time_zone("UTC")
    pl.DataFrame(
        {"customer_id": ["A", "B"], "order_date": utc.dt.convert_time_zone("America/New_York"), "amount": [1.0, 2.0]}
    ).write_parquet(path)
    rows, _ = read(path, as_of=date(2024, 1, 7))
    # 04:30 UTC is 23:30 the day before in New York: the shop's local date is 2024-01-05.
    assert rows["order_date"].to_list() == [datetime(2024, 1, 5, 23, 30), datetime(2024, 1, 6, 10)]


def test_csv_time_zone_suffix_keeps_local_date(tmp_path):
    text = HEADER + "A,2024-01-05 23:30:00-05:00,1\nB,2024-01-06 00:15:00+01:00,1\n"
    path = write(tmp_path / "t.csv", text)
    rows, _ = read(path)
    assert rows["order_date"].dt.date().to_list() == [date(2024, 1, 5), date(2024, 1, 6)]


def test_glob(tmp_path):
    write(tmp_path / "2024-01-01.csv", HEADER + "A,2024-01-01,1\n")
    write(tmp_path / "2024-01-02.csv", HEADER + "B,2024-01-02,2\n")
    write(tmp_path / "other.csv", HEADER + "X,2024-01-09,9\n")
    scan = read_transactions([str(tmp_path / "2024-*.csv")])
    assert [p.name for p in scan.paths] == ["2024-01-01.csv", "2024-01-02.csv"]
    rows, _ = collect(scan)
    assert sorted(rows["customer_id"].to_list()) == ["A", "B"]


def test_folder_of_daily_csvs_with_per_file_row_numbers(tmp_path):
    days = tmp_path / "days"
    days.mkdir()
    write(days / "2024-01-01.csv", HEADER + "A,2024-01-01,1\n,2024-01-01,2\nB,2024-01-01,3\n")
    write(days / "2024-01-02.csv", HEADER + "C,2024-01-02,x\nA,2024-01-02,4\n")
    write(days / "2024-01-03.csv", HEADER + "D,2024-01-03,5\nE,2024-01-03,6\nF,2024-01-03,\n")
    write(days / "README.md", "not data")
    scan = read_transactions([days])
    assert scan.notes == ()
    rows, rejects = collect(scan)
    assert sorted(rows.select("customer_id", "amount_cents").rows()) == [
        ("A", 100),
        ("A", 400),
        ("B", 300),
        ("D", 500),
        ("E", 600),
    ]
    # Row 2 is the first data row of each CSV (the header is row 1, as a spreadsheet shows it).
    assert rejected(rejects) == [
        ("2024-01-01.csv", 3, "missing customer id", "customer_id", None),
        ("2024-01-02.csv", 2, "unparseable amount", "amount", "x"),
        ("2024-01-03.csv", 4, "missing amount", "amount", None),
    ]
    assert rejects["source_file"].to_list()[0] == str(days / "2024-01-01.csv")


def test_folder_of_parquet_files_counts_rows_from_one(tmp_path):
    for day, ids in ((1, ["A", None]), (2, [None, "B", None])):
        pl.DataFrame(
            {"customer_id": ids, "order_date": [date(2024, 1, day)] * len(ids), "amount": [1.0] * len(ids)}
        ).write_parquet(tmp_path / f"d{day}.parquet")
    rows, rejects = read(tmp_path)
    assert rows["customer_id"].to_list() == ["A", "B"]
    assert [(f, r) for f, r, *_ in rejected(rejects)] == [("d1.parquet", 2), ("d2.parquet", 1), ("d2.parquet", 3)]


def test_folder_mixing_parquet_and_csv(tmp_path):
    pl.DataFrame({"customer_id": ["A"], "order_date": [date(2024, 1, 5)], "amount": [1.0]}).write_parquet(
        tmp_path / "a.parquet"
    )
    write(tmp_path / "b.csv", HEADER + "B,06/01/2024,2\nC,25/01/2024,3\n")
    scan = read_transactions([tmp_path])
    assert scan.date_formats == {"order_date": "%d/%m/%Y"}
    rows, _ = collect(scan)
    assert sorted(rows.rows()) == [
        ("A", datetime(2024, 1, 5), 100),
        ("B", datetime(2024, 1, 6), 200),
        ("C", datetime(2024, 1, 25), 300),
    ]


def test_folder_with_a_header_only_file(tmp_path):
    write(tmp_path / "a.csv", HEADER + "A,2024-01-01,1\n")
    write(tmp_path / "b.csv", HEADER)
    scan = read_transactions([tmp_path])
    assert scan.notes == (f"1 file with no rows skipped: {tmp_path / 'b.csv'}",)
    assert [p.name for p in scan.paths] == ["a.csv"]
    rows, _ = collect(scan)
    assert rows["customer_id"].to_list() == ["A"]


def test_folder_where_every_file_is_header_only(tmp_path):
    write(tmp_path / "a.csv", HEADER)
    write(tmp_path / "b.csv", HEADER)
    with pytest.raises(DataError) as err:
        read_transactions([tmp_path])
    assert err.value.message == "No rows in all 2 files: there is a header but no data"


def test_header_only_file(tmp_path):
    path = write(tmp_path / "a.csv", HEADER)
    with pytest.raises(DataError) as err:
        read_transactions([path])
    assert err.value.message == f"No rows in {path}: there is a header but no data"


def test_folder_files_must_share_columns(tmp_path):
    write(tmp_path / "a.csv", HEADER + "A,2024-01-01,1\n")
    write(tmp_path / "b.csv", "customer_id,order_date,total\nB,2024-01-02,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([tmp_path])
    assert err.value.message == f"{tmp_path / 'b.csv'} has no column 'amount', which {tmp_path / 'a.csv'} has"


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: write(d / "t.csv", ""), "{d}/t.csv is empty (0 bytes)"),
        (
            lambda d: _zip(d / "book.xlsx"),
            "{d}/book.xlsx looks like an Excel workbook or a zip archive, not a CSV or Parquet file",
        ),
        (
            lambda d: write(d / "t.parquet", HEADER + "A,2024-01-01,1\n"),
            "{d}/t.parquet has a Parquet name but is not a Parquet file",
        ),
        (
            lambda d: (d / "t.csv").write_bytes(b"\x00\x01\x02\xff" * 100) and d / "t.csv",
            "{d}/t.csv is not a text file (it contains binary data)",
        ),
        (lambda d: d / "missing.csv", "File not found: {d}/missing.csv"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "No CSV or Parquet files in folder {d}/empty"),
        (lambda d: str(d / "*.csv"), "No files match {d}/*.csv"),
    ],
    ids=["zero-bytes", "xlsx", "fake-parquet", "binary", "missing", "empty-folder", "glob-nothing"],
)
def test_unreadable_inputs(tmp_path, make, message):
    target = make(tmp_path)
    with pytest.raises(DataError) as err:
        read_transactions([target])
    assert err.value.message == message.format(d=tmp_path)
    assert err.value.hint


def test_excel_mentioned_for_an_xlsx(tmp_path):
    with pytest.raises(DataError, match="Excel"):
        read_transactions([_zip(tmp_path / "export.xlsx")])


# ================================================================ bad rows


MESSY = (
    "customer_id,order_date,amount,note\n"
    "A,2024-01-05,12.50,ok\n"  # row 2
    ",2024-01-05,3,no id\n"  # row 3
    "B,notadate,4,bad date\n"  # row 4
    "C,2024-01-07,,no amount\n"  # row 5
    "D,2024-01-07,abc,bad amount\n"  # row 6
    "E,2024-02-01,5,on as-of\n"  # row 7
    "F,2024-01-31 ,1250,ok\n"  # row 8
    "G,,1,no date\n"  # row 9
    ",notadate,,all wrong\n"  # row 10: the first check that fails is reported
    "H,2024-03-01,1,after as-of\n"  # row 11
    'I,2024-01-10,"1,250",thousands\n'  # row 12
)


def test_each_bad_row_kind(tmp_path):
    path = write(tmp_path / "orders.csv", MESSY)
    scan = read_transactions([path], as_of=date(2024, 2, 1))
    assert scan.date_formats == {"order_date": "%Y-%m-%d"}
    rows, rejects = collect(scan)
    assert rows.rows() == [("A", datetime(2024, 1, 5), 1250), ("F", datetime(2024, 1, 31), 125000)]
    assert rejected(rejects) == [
        ("orders.csv", 3, "missing customer id", "customer_id", None),
        ("orders.csv", 4, "unparseable order date (expected %Y-%m-%d)", "order_date", "notadate"),
        ("orders.csv", 5, "missing amount", "amount", None),
        ("orders.csv", 6, "unparseable amount", "amount", "abc"),
        ("orders.csv", 9, "missing order date", "order_date", None),
        ("orders.csv", 10, "missing customer id", "customer_id", None),
        ("orders.csv", 12, "unparseable amount", "amount", "1,250"),  # thousands separator: refused
    ]
    # rows 7 and 11 are valid but dated on or after the as-of date: not in the data, not bad, counted
    assert scan.left_out == [2]
    assert scan.left_out_note() == "2 rows of transactions dated on or after the as-of date 2024-02-01 left out"
    # Rejected rows keep every raw column, as text, after the reject columns.
    assert rejects.columns == [*REJECT_COLUMNS, "customer_id", "order_date", "amount", "note"]
    assert rejects.filter(pl.col("source_row") == 10).row(0)[5:] == (None, "notadate", None, "all wrong")


def test_without_as_of_later_dates_are_kept(tmp_path):
    # Up to a day after the file was saved (2025-06-15 15:06 UTC): the shop's local time may be ahead of UTC.
    path = saved(write(tmp_path / "orders.csv", HEADER + "A,2024-01-05 10:00:00,1\nB,2025-06-16 15:06:40,1\n"))
    rows, rejects = read(path)
    assert rows["customer_id"].to_list() == ["A", "B"]
    assert rejects.height == 0


FUTURE = "order date in the future (more than a day after the file was saved, 2025-06-15 15:06 UTC)"


def test_dates_after_the_file_was_saved_are_bad_rows(tmp_path):
    text = (
        HEADER + "A,2025-06-15 23:00:00,1\nB,2025-06-16 15:06:41,1\nC,2999-12-31 00:00:00,1\nD,2024-01-05 00:00:00,1\n"
    )
    path = saved(write(tmp_path / "orders.csv", text))
    rows, rejects = read(path)
    assert rows["customer_id"].to_list() == ["A", "D"]
    assert rejected(rejects) == [
        ("orders.csv", 3, FUTURE, "order_date", "2025-06-16 15:06:41"),
        ("orders.csv", 4, FUTURE, "order_date", "2999-12-31 00:00:00"),
    ]
    with pytest.raises(DataError) as err:
        collect(read_transactions([path]), on_bad_rows="error")
    assert err.value.message == (
        f"2 bad rows in the transactions:\n  2 rows with {FUTURE} in {path}, column 'order_date' "
        "(rows 3, 4; values '2025-06-16 15:06:41', '2999-12-31 00:00:00')"
    )
    assert err.value.hint.startswith("A date after the export was written is a typo or a placeholder")


def test_an_as_of_in_the_past_leaves_rows_out_but_future_dates_are_still_bad(tmp_path):
    text = HEADER + "A,2023-12-31,1\nB,2024-06-01,1\nC,2999-12-31,1\n"
    scan = read_transactions([saved(write(tmp_path / "orders.csv", text))], as_of=date(2024, 1, 1))
    rows, rejects = collect(scan)
    assert rows["customer_id"].to_list() == ["A"]
    assert scan.left_out == [1]  # B: after the as-of date, not bad
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(4, FUTURE)]


def test_future_dates_in_parquet_native_dates_and_datetimes(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "order_date": [date(2025, 6, 16), date(2025, 6, 17), date(2999, 12, 31), date(2024, 1, 1)],
            "amount": [1.0] * 4,
        }
    ).write_parquet(path)
    rows, rejects = read(saved(path))
    assert rows["customer_id"].to_list() == ["A", "D"]  # the 16th at 00:00 is within a day of the 15th 15:06
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(2, FUTURE), (3, FUTURE)]
    path = tmp_path / "tz.parquet"
    stamps = [datetime(2025, 6, 16, 16, 0), datetime(2025, 6, 16, 20, 0)]
    frame = pl.DataFrame({"customer_id": ["A", "B"], "order_date": stamps, "amount": [1.0, 1.0]})
    frame.with_columns(pl.col("order_date").dt.replace_time_zone("Pacific/Kiritimati")).write_parquet(path)
    rows, rejects = read(saved(path))  # local wall-clock time (UTC+14) is compared, with a day's allowance
    assert rows["customer_id"].to_list() == []
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(1, FUTURE), (2, FUTURE)]


def test_each_file_of_a_folder_is_held_to_its_own_time(tmp_path):
    saved(write(tmp_path / "a.csv", HEADER + "A,2025-06-20,1\n"))
    write(tmp_path / "b.csv", HEADER + "B,2025-06-20,1\n")  # written now: 2025-06-20 is in its past
    rows, rejects = read(tmp_path)
    assert rows["customer_id"].to_list() == ["B"]
    assert [(f, reason) for f, _, reason, _, _ in rejected(rejects)] == [("a.csv", FUTURE)]


def test_a_file_time_that_is_no_real_time_is_replaced_by_the_time_of_the_run(tmp_path):
    # A Nix store or a zip without times gives files the Unix epoch (or 1980): that is not when they were saved.
    path = write(tmp_path / "orders.csv", HEADER + "A,2024-01-05,1\nB,2999-12-31,1\n")
    os.utime(path, (1, 1))
    rows, rejects = read(path)
    assert rows["customer_id"].to_list() == ["A"]
    ((_, row, reason, _, _),) = rejected(rejects)
    assert row == 3 and reason.startswith("order date in the future (more than a day after this run, ")


def test_future_dates_in_the_other_inputs(tmp_path):
    later = "in the future (more than a day after the file was saved, 2025-06-15 15:06 UTC)"
    path = saved(write(tmp_path / "s.csv", "customer_id,responded_at,score\nA,2025-06-01,9\nB,2999-01-01,7\n"))
    _, rejects = collect(read_surveys([path]))
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(3, f"response date {later}")]
    text = "customer_id,enrolled_at,tier,tier_since\nA,2025-01-01,Gold,2025-02-01\nB,2999-01-01,,\n"
    text += "C,2025-01-01,Gold,2030-01-01\n"
    _, rejects = collect(read_members([saved(write(tmp_path / "m.csv", text))]))
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [
        (3, f"enrolment date {later}"),
        (4, f"tier date {later}"),
    ]
    text = "customer_id,at,points,type\nA,2025-01-01,10,earn\nB,2999-01-01,10,earn\n"
    _, rejects = collect(read_points([saved(write(tmp_path / "p.csv", text))]))
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(3, f"points date {later}")]
    # A sign-up after the export is bad; a birthday is not checked (some CRMs export the next one).
    text = "customer_id,signed_up_at,birthday\nA,2025-01-01,2025-09-01\nB,2999-01-01,\nC,,\n"
    rows, rejects = collect(read_contacts([saved(write(tmp_path / "c.csv", text))]))
    assert rows["customer_id"].to_list() == ["A", "C"]
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [(3, f"sign-up date {later}")]


def test_as_of_is_exclusive(tmp_path):
    path = write(tmp_path / "orders.csv", HEADER + "A,2024-01-31 23:59:59,1\nB,2024-02-01 00:00:00,1\n")
    scan = read_transactions([path], as_of=date(2024, 2, 1))
    rows, rejects = collect(scan)
    assert rows["customer_id"].to_list() == ["A"]
    assert rejects.height == 0 and scan.left_out == [1]  # B is after the as-of date: left out, not bad


def test_blank_values_are_missing_not_unparseable(tmp_path):
    text = HEADER + 'A,2024-01-05,""\nB,2024-01-05,  \n"  ",2024-01-05,1\nC, ,1\n'
    path = write(tmp_path / "orders.csv", text)
    _, rejects = read(path)
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [
        (2, "missing amount"),
        (3, "missing amount"),
        (4, "missing customer id"),
        (5, "missing order date"),
    ]


def test_strict_mode_names_file_column_count_and_row(tmp_path):
    path = write(tmp_path / "orders.csv", HEADER + "A,2024-01-05,1\n,2024-01-06,2\n")
    scan = read_transactions([path])
    with pytest.raises(DataError) as err:
        collect(scan, on_bad_rows="error")
    assert err.value.message == (
        f"1 bad row in the transactions:\n  1 row with missing customer id in {path}, column 'customer_id' (row 3)"
    )
    assert render(err.value.hint) == (
        "Rows without a customer id cannot be attributed to anyone. To go on without them, pass "
        "--on-bad-rows skip: every rejected row is written with its reason to a rejects file."
    )


def test_strict_mode_lists_the_first_rows_and_values(tmp_path):
    path = write(
        tmp_path / "orders.csv",
        HEADER
        + (
            'A,2024-01-05,1\nB,2024-01-05,"1,5"\nC,2024-01-05,x\nD,2024-01-05,1\nE,2024-01-05,"12,50"\n'
            "F,2024-01-05,?\nG,2024-01-05,n/a\nH,2024-01-05,--\nI,2024-01-05,1e\n"
        ),
    )
    with pytest.raises(DataError) as err:
        collect(read_transactions([path]), on_bad_rows="error")
    assert err.value.message == (
        "7 bad rows in the transactions:\n"
        f"  7 rows with unparseable amount in {path}, column 'amount' "
        "(rows 3, 4, 6, 7, 8 (first 5 of 7); values '1,5', 'x', '12,50')"
    )
    assert "--decimal-comma" in render(err.value.hint)


def test_strict_mode_names_each_file(tmp_path):
    write(tmp_path / "a.csv", HEADER + "A,2024-01-05,1\nB,2024-01-06,x\n")
    write(tmp_path / "b.csv", HEADER + "C,2024-01-05,1\nD,2024-01-06,y\nE,2024-01-07,z\n")
    with pytest.raises(DataError) as err:
        collect(read_transactions([tmp_path]), on_bad_rows="error")
    assert err.value.message == (
        "3 bad rows in the transactions:\n"
        f"  2 rows with unparseable amount in {tmp_path / 'b.csv'}, column 'amount' "
        "(rows 3, 4; values 'y', 'z')\n"
        f"  1 row with unparseable amount in {tmp_path / 'a.csv'}, column 'amount' (row 3; values 'x')"
    )


def test_strict_mode_without_bad_rows_returns_the_rows(tmp_path):
    path = write(tmp_path / "orders.csv", HEADER + "A,2024-01-05,1\n")
    rows, rejects = collect(read_transactions([path]), on_bad_rows="error")
    assert rows.height == 1
    assert rejects.height == 0


def test_cancelled_invoices_are_negative(tmp_path):
    path = write(
        tmp_path / "retail.csv",
        (
            "InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
            "536365,6,12/1/2010 8:26,2.55,17850.0\n"
            "C536379,-1,12/1/2010 9:41,27.50,14527.0\n"
            "C536380,2,12/1/2010 9:41,1.25,14527.0\n"  # positive quantity on a cancellation: still negative
            "536381,-2,12/13/2010 9:41,1.25, 17850.0 \n"  # a plain return line stays negative
            "Cash1,1,12/13/2010 9:41,1.00,17850\n"  # 'C' not followed by a digit: not a cancellation
            " C536390 ,1,12/13/2010 9:41,1.00,17850\n"  # padded: trimmed, then still a cancellation
        ),
    )
    scan = read_transactions([path])
    assert scan.date_formats == {"order_date": "%m/%d/%Y %H:%M"}
    rows, rejects = collect(scan)
    assert rejects.height == 0
    assert rows.select("order_id", "customer_id", "amount_cents").rows() == [
        ("536365", "17850", 1530),  # 2.55 x 6 = 15.30, exactly
        ("C536379", "14527", -2750),
        ("C536380", "14527", -250),
        ("536381", "17850", -250),
        ("Cash1", "17850", 100),
        ("C536390", "17850", -100),
    ]
    assert rows["order_date"].to_list()[0] == datetime(2010, 12, 1, 8, 26)


def test_cancelled_invoice_with_an_amount_column_and_other_prefixes(tmp_path):
    text = "order_id,customer_id,order_date,amount\nC1,A,2024-01-05,5\nR2,A,2024-01-05,5\n"
    path = write(tmp_path / "t.csv", text)
    rows, _ = read(path)
    assert rows["amount_cents"].to_list() == [-500, 500]
    rows, _ = read(path, ReadOptions(cancel_prefix="R"))
    assert rows["amount_cents"].to_list() == [500, -500]
    rows, _ = read(path, ReadOptions(cancel_prefix=""))
    assert rows["amount_cents"].to_list() == [500, 500]


def test_quantity_and_price_bad_rows(tmp_path):
    path = write(
        tmp_path / "t.csv",
        (
            "customer_id,order_date,qty,price\n"
            "A,2024-01-05,2,1.10\n"
            "B,2024-01-05,,1\n"
            "C,2024-01-05,two,1\n"
            "D,2024-01-05,1,\n"
            "E,2024-01-05,1,1,5\n"
        ).replace("1,5\n", '"1,5"\n'),
    )
    rows, rejects = read(path)
    assert rows.rows() == [("A", datetime(2024, 1, 5), 220)]
    assert rejected(rejects) == [
        ("t.csv", 3, "missing quantity", "qty", None),
        ("t.csv", 4, "unparseable quantity", "qty", "two"),
        ("t.csv", 5, "missing unit price", "price", None),
        ("t.csv", 6, "unparseable unit price", "price", "1,5"),
    ]


def test_decimal_comma_amounts(tmp_path):
    text = "Kunde;Datum;Betrag\nA;05.01.2024;12,50\nB;06.01.2024;1.250\nC;07.01.2024;-3\n"
    path = write(tmp_path / "t.csv", text)
    options = ReadOptions(
        decimal_comma=True, columns={"customer_id": "Kunde", "order_date": "Datum", "amount": "Betrag"}
    )
    rows, rejects = read(path, options)
    assert rows.select("customer_id", "amount_cents").rows() == [("A", 1250), ("C", -300)]
    assert rejected(rejects) == [("t.csv", 3, "unparseable amount", "Betrag", "1.250")]


BEYOND = "out of range (beyond ±1,000,000,000)"


def test_non_finite_and_huge_amounts_are_bad_rows(tmp_path):
    text = HEADER + "A,2024-01-05,10\nB,2024-01-05,inf\nC,2024-01-05,NaN\nD,2024-01-05,-inf\n"
    text += "E,2024-01-05,1e300\n"
    rows, rejects = read(write(tmp_path / "t.csv", text))
    assert rows.select("customer_id", "amount_cents").rows() == [("A", 1000)]
    assert rejected(rejects) == [
        ("t.csv", 3, "unparseable amount", "amount", "inf"),
        ("t.csv", 4, "unparseable amount", "amount", "NaN"),
        ("t.csv", 5, "unparseable amount", "amount", "-inf"),
        ("t.csv", 6, f"amount {BEYOND}", "amount", "1e300"),
    ]


def test_amounts_beyond_a_billion_are_bad_rows(tmp_path):
    # Two lines of 5e16 summed to a negative spend in Int64 cents; a barcode pasted as an amount too.
    text = HEADER + "A,2024-01-05,1000000000\nB,2024-01-05,-1000000000\nC,2024-01-05,1000000000.01\n"
    text += "D,2024-01-05,50000000000000000\nE,2024-01-05,50000000000000000\nF,2024-01-05,-4006381333931\n"
    path = write(tmp_path / "t.csv", text)
    rows, rejects = read(path)
    assert rows.select("customer_id", "amount_cents").rows() == [("A", 100_000_000_000), ("B", -100_000_000_000)]
    assert [(r, reason, value) for _, r, reason, _, value in rejected(rejects)] == [
        (4, f"amount {BEYOND}", "1000000000.01"),
        (5, f"amount {BEYOND}", "50000000000000000"),
        (6, f"amount {BEYOND}", "50000000000000000"),
        (7, f"amount {BEYOND}", "-4006381333931"),
    ]
    with pytest.raises(DataError) as err:
        collect(read_transactions([path]), on_bad_rows="error")
    assert err.value.message == (
        f"4 bad rows in the transactions:\n  4 rows with amount {BEYOND} in {path}, column 'amount' "
        "(rows 4, 5, 6, 7; values '1000000000.01', '50000000000000000', '50000000000000000')"
    )
    assert err.value.hint.startswith("No line of a real export comes near a billion")


def test_quantity_price_and_their_product_beyond_the_bound(tmp_path):
    text = "customer_id,order_date,qty,price\nA,2024-01-05,2,1.10\nB,2024-01-05,4006381333931,1\n"
    text += "C,2024-01-05,1,5e12\nD,2024-01-05,100000,20000\nE,2024-01-05,-100000,20000\n"
    rows, rejects = read(write(tmp_path / "t.csv", text))
    assert rows.rows() == [("A", datetime(2024, 1, 5), 220)]
    assert rejected(rejects) == [
        ("t.csv", 3, f"quantity {BEYOND}", "qty", "4006381333931"),
        ("t.csv", 4, f"unit price {BEYOND}", "price", "5e12"),
        ("t.csv", 5, f"amount {BEYOND}", "amount", None),  # 2e9: the product, no one column to show
        ("t.csv", 6, f"amount {BEYOND}", "amount", None),
    ]


def test_points_beyond_the_bound_are_bad_rows(tmp_path):
    text = "customer_id,at,points,type\nA,2024-01-01,1000000000,earn\nB,2024-01-01,4006381333931,earn\n"
    text += "C,2024-01-01,-1e300,adjust\n"
    rows, rejects = collect(read_points([write(tmp_path / "p.csv", text)]))
    assert rows["points"].to_list() == [1e9]
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [
        (3, f"points {BEYOND}"),
        (4, f"points {BEYOND}"),
    ]


def test_non_finite_amounts_in_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "order_date": [date(2024, 1, 5)] * 3,
            "amount": [1.0, float("inf"), float("nan")],
        }
    ).write_parquet(path)
    rows, rejects = read(path)
    assert rows["amount_cents"].to_list() == [100]
    assert [(r, reason) for _, r, reason, _, _ in rejected(rejects)] == [
        (2, "unparseable amount"),
        (3, "unparseable amount"),
    ]


def test_ids_are_normalised(tmp_path):
    text = HEADER + " 17850.0 ,2024-01-05,1\n00004,2024-01-05,1\n17850,2024-01-06,1\n"
    path = write(tmp_path / "t.csv", text)
    rows, _ = read(path)
    assert rows["customer_id"].to_list() == ["17850", "00004", "17850"]


PLACEHOLDERS = ["NULL", "nan", "NaN", "N/A", "None", "-", "null", "#N/A", ""]


def test_id_placeholders_are_missing_ids_in_every_input(tmp_path):
    # Anonymous rows must not become one big customer called "NULL".
    text = HEADER + "A,2024-01-05,1\n" + "".join(f"{v},2024-01-05,1\n" for v in PLACEHOLDERS)
    rows, rejects = read(write(tmp_path / "t.csv", text))
    assert rows["customer_id"].to_list() == ["A"]
    assert {reason for _, _, reason, _, _ in rejected(rejects)} == {"missing customer id"}
    assert rejects.height == len(PLACEHOLDERS)
    # Surveys: an answer without an id is anonymous, kept.
    text = "customer_id,responded_at,score\nA,2024-01-05,9\n" + "".join(f"{v},2024-01-05,7\n" for v in PLACEHOLDERS)
    rows, rejects = collect(read_surveys([write(tmp_path / "s.csv", text)]))
    assert rows["customer_id"].to_list() == ["A"] + [None] * len(PLACEHOLDERS)
    assert rejects.height == 0
    inputs = {
        "contacts": (read_contacts, "customer_id,email\n", ",a@b.c"),
        "members": (read_members, "customer_id,enrolled_at\n", ",2024-01-05"),
        "points": (read_points, "customer_id,at,points,type\n", ",2024-01-05,5,earn"),
    }
    for name, (reader, header, rest) in inputs.items():
        path = write(tmp_path / f"{name}.csv", header + "".join(f"{v}{rest}\n" for v in ["A", *PLACEHOLDERS]))
        rows, rejects = collect(reader([path]))
        assert rows["customer_id"].to_list() == ["A"], name
        assert set(rejects["reject_reason"]) == {"missing customer id"}, name


def test_a_boolean_id_column_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    frame = pl.DataFrame({"customer_id": [True, False], "order_date": [date(2024, 1, 1)] * 2, "amount": [1.0, 2.0]})
    frame.write_parquet(path)
    with pytest.raises(DataError) as err:
        read_transactions([path])
    assert err.value.message == f"Column 'customer_id' of {path} holds true/false values (Boolean), not ids"
    assert "--customer-col" in render(err.value.hint)
    path = tmp_path / "s.parquet"
    pl.DataFrame({"customer_id": [date(2024, 1, 1)], "responded_at": [date(2024, 1, 1)], "score": [9]}).write_parquet(
        path
    )
    with pytest.raises(DataError, match=r"Column 'customer_id' of .*s.parquet holds dates or times \(Date\)"):
        read_surveys([path])


def test_ambiguous_dates_in_a_file(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,01/02/2024,1\nB,03/04/2024,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([path])
    assert err.value.message == (
        f"Dates in column 'order_date' of {path} can be read day-first or month-first (e.g. '01/02/2024')"
    )
    assert "--date-format" in render(err.value.hint)
    rows, _ = read(path, ReadOptions(date_format="%d/%m/%Y"))
    assert rows["order_date"].to_list() == [datetime(2024, 2, 1), datetime(2024, 4, 3)]


def test_day_first_decided_by_a_later_file(tmp_path):
    write(tmp_path / "a.csv", HEADER + "A,01/02/2024,1\n")
    write(tmp_path / "b.csv", HEADER + "B,25/02/2024,1\n")
    scan = read_transactions([tmp_path])
    assert scan.date_formats == {"order_date": "%d/%m/%Y"}


# ================================================================ surveys and contacts


SURVEY = (
    '"",Customer ID,Submitted At,NPS Score,Comment,Survey Type\n'
    '0,C1,2024-03-01,9,"Great, ""really"" great",Relational\n'  # row 2
    '1,C2,2024-03-02,NA,"line one\nline two",transactional\n'  # row 3 (a record spanning two lines)
    "2,,2024-03-03,10 - Extremely likely,<script>alert(1)</script>,\n"  # row 4, anonymous
    "3,C4,2024-03-04,9/10,Café crème,\n"  # row 5
    "4,C5,2024-03-05,,,\n"  # row 6
    "5,C6,2024-03-06,11,too high,\n"  # row 7
    "6,C7,2024-03-07,7/5,other scale,\n"  # row 8
    "7,C8,2024-03-07,9.5,half,\n"  # row 9
    "8,C9,2024-03-07,N/A,  =cmd|x  ,\n"  # row 10
    '9,C10,2024-03-08,9.0,"",\n'  # row 11
    "10,C11,2024-04-01,3,after as-of,\n"  # row 12
    "11,C12,,3,no date,\n"  # row 13
)


def test_read_surveys_messy_latin1(tmp_path):
    path = write(tmp_path / "nps.csv", SURVEY, "latin-1")
    scan = read_surveys([path], ReadOptions(encoding="latin-1"), as_of=date(2024, 4, 1))
    assert scan.mapping.columns == {
        "customer_id": "Customer ID",
        "responded_at": "Submitted At",
        "score": "NPS Score",
        "comment": "Comment",
        "survey_type": "Survey Type",
    }
    rows, rejects = collect(scan)
    assert rows.columns == ["customer_id", "responded_at", "score", "comment", "survey_type"]
    assert rows.schema["score"] == pl.Int16
    assert rows.select("customer_id", "score", "comment", "survey_type").rows() == [
        ("C1", 9, 'Great, "really" great', "relational"),
        ("C2", None, "line one\nline two", "transactional"),  # non-response, kept
        (None, 10, "<script>alert(1)</script>", None),
        ("C4", 9, "Café crème", None),
        ("C5", None, None, None),
        ("C9", None, "=cmd|x", None),
        ("C10", 9, None, None),
    ]
    assert rows["responded_at"].to_list()[0] == datetime(2024, 3, 1)
    assert rejected(rejects) == [
        ("nps.csv", 7, "score outside 0-10", "NPS Score", "11"),
        ("nps.csv", 8, "unparseable score (expected 0-10)", "NPS Score", "7/5"),
        ("nps.csv", 9, "unparseable score (expected 0-10)", "NPS Score", "9.5"),
        ("nps.csv", 13, "missing response date", "Submitted At", None),
    ]
    assert scan.left_out == [1]  # row 12 answered on the as-of date
    # The unnamed index column comes back with the raw row.
    assert rejects.columns == [
        *REJECT_COLUMNS,
        "",
        "Customer ID",
        "Submitted At",
        "NPS Score",
        "Comment",
        "Survey Type",
    ]


def test_read_surveys_strict(tmp_path):
    path = write(tmp_path / "nps.csv", "date,score\n2024-03-01,9\n2024-03-02,11\n2024-03-03,12\n2024-03-04,-1\n")
    with pytest.raises(DataError) as err:
        collect(read_surveys([path]), on_bad_rows="error")
    assert err.value.message == (
        "3 bad rows in the surveys:\n"
        f"  3 rows with score outside 0-10 in {path}, column 'score' (rows 3, 4, 5; values '11', '12', '-1')"
    )
    assert err.value.hint.startswith("NPS answers are 0-10; other scales are not converted.")


def test_read_surveys_parquet_integer_scores(tmp_path):
    path = tmp_path / "nps.parquet"
    pl.DataFrame({"responded_at": [date(2024, 3, 1)] * 3, "score": [9, None, 11]}).write_parquet(path)
    rows, rejects = collect(read_surveys([path]))
    assert rows["score"].to_list() == [9, None]
    assert rejected(rejects) == [("nps.parquet", 3, "score outside 0-10", "score", "11")]


CONTACTS = (
    "Customer ID,Email,Accepts Marketing,Signup Date,Birthday\n"
    "1,Ann@X.com,yes,2024-01-01,1990-05-17\n"  # row 2
    "2,b@x.com,no,2024-01-02,1985-12-01\n"  # row 3
    "3,c@x.com,1,,\n"  # row 4
    "4,d@x.com,0,2024-01-04,\n"  # row 5
    "5,e@x.com,TRUE,2024-01-05,\n"  # row 6
    "6,f@x.com,false,2024-01-06,\n"  # row 7
    "7,g@x.com,maybe,2024-01-07,\n"  # row 8
    "8,h@x.com,,2024-01-08,\n"  # row 9: unknown consent
    "9,i@x.com, Yes ,2024-01-09,\n"  # row 10
    ",j@x.com,yes,2024-01-10,\n"  # row 11
    "11,k@x.com,yes,2024-01-11,17 May\n"  # row 12
)


def test_read_contacts_consent(tmp_path):
    path = write(tmp_path / "contacts.csv", CONTACTS)
    scan = read_contacts([path])
    rows, rejects = collect(scan)
    assert rows.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "email": pl.String,
            "signed_up_at": pl.Date,
            "birthday": pl.Date,
            "email_consent": pl.Boolean,
            "email_consent_status": pl.String,
        }
    )
    assert rows.select("customer_id", "email_consent").rows() == [
        ("1", True),
        ("2", False),
        ("3", True),
        ("4", False),
        ("5", True),
        ("6", False),
        ("7", None),  # an unknown word is no consent, not a bad row (the hand-off says which value)
        ("8", None),
        ("9", True),
    ]
    assert rows.row(0) == ("1", "ann@x.com", date(2024, 1, 1), date(1990, 5, 17), True, "yes")
    assert rows["signed_up_at"].to_list()[2] is None
    assert rejected(rejects) == [
        ("contacts.csv", 11, "missing customer id", "Customer ID", None),
        ("contacts.csv", 12, "unparseable birthday", "Birthday", "17 May"),
    ]


def test_read_contacts_email_as_id(tmp_path):
    path = write(tmp_path / "contacts.csv", "Email,Subscribed\n Ann@X.com ,Yes\nb@x.com,No\n")
    scan = read_contacts([path])
    assert scan.mapping.how["customer_id"] == "email as id"
    rows, _ = collect(scan)
    assert rows.rows() == [("ann@x.com", "ann@x.com", True, "Yes"), ("b@x.com", "b@x.com", False, "No")]


def test_read_contacts_email_tool_statuses_are_no_consent_not_bad_rows(tmp_path):
    """Mailchimp/Klaviyo/Braze statuses: only a clear yes is consent; the others, and words we do not know, keep
    the contact (its email, its sign-up date) without consent, the value as written in email_consent_status."""
    statuses = ["subscribed", "opted_in", "pending", "cleaned", "unsubscribed", "bounced", "non-subscribed", "maybe"]
    text = "customer_id,email,email_consent\n" + "".join(f"{i},c{i}@x.com,{s}\n" for i, s in enumerate(statuses))
    rows, rejects = collect(read_contacts([write(tmp_path / "contacts.csv", text)]))
    assert rejected(rejects) == []
    assert rows["email_consent"].to_list() == [True, True, False, False, False, False, False, None]
    assert rows["email_consent_status"].to_list() == statuses


# ================================================================ properties


ROW = st.tuples(
    st.sampled_from(["A", "B", "17850.0", "", " C "]),
    st.sampled_from(["2024-01-05", "2024-02-29", "2024-03-01", "notadate", ""]),
    st.sampled_from(["1.50", "2", "-3", "abc", "", "0"]),
)


def _read_rows(folder: Path, name: str, rows: list[tuple[str, str, str]]):
    path = folder / name
    path.write_text(HEADER + "".join(f"{c},{d},{a}\n" for c, d, a in rows), encoding="utf-8")
    try:
        good, rejects = read(path, as_of=date(2024, 3, 1))
    except DataError:
        return None
    return good, rejects


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=25), data=st.data())
def test_row_order_does_not_change_the_parsed_rows(rows, data):
    shuffled = data.draw(st.permutations(rows))
    with tempfile.TemporaryDirectory() as tmp:
        first = _read_rows(Path(tmp), "a.csv", rows)
        second = _read_rows(Path(tmp), "b.csv", shuffled)
    event("refused" if first is None else "read")
    if first is None:  # e.g. no readable date at all: refused whatever the order
        assert second is None
        return
    assert second is not None
    (good_a, rej_a), (good_b, rej_b) = first, second
    assert sorted(good_a.rows()) == sorted(good_b.rows())
    drop = ["source_file", "source_row"]
    assert sorted(rej_a.drop(drop).rows(), key=repr) == sorted(rej_b.drop(drop).rows(), key=repr)
    # Row numbers point at the rejected row in its own file (row 2 = first data row).
    for row, cid, day, amount in rej_b.select("source_row", "customer_id", "order_date", "amount").rows():
        expected = tuple(v or None for v in shuffled[row - 2])
        assert (cid, day, amount) == expected


def test_rejected_rows_need_a_writable_temporary_folder(tmp_path, monkeypatch):
    from loyalty_cli.errors import LoyaltyError

    scan = read_transactions([write(tmp_path / "tx.csv", "customer_id,order_date,amount\nA,2024-01-05,10\n")])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing" / "folder"))
    with pytest.raises(LoyaltyError, match="temporary folder for the rejected rows") as info:
        collect(scan)
    assert "TMPDIR" in (info.value.hint or "")


def test_rejected_rows_survive_the_round_trip_through_a_file(tmp_path):
    text = "customer_id,order_date,amount,note\nA,2024-01-05,10,ok\n,2024-01-06,5, kept as given \n"
    rows, rejects = collect(read_transactions([write(tmp_path / "tx.csv", text)]))
    assert rows["customer_id"].to_list() == ["A"]
    assert rejects.select("source_row", "reject_reason", "note").rows() == [
        (3, "missing customer id", " kept as given ")
    ]


# ---------------------------------------------------------------- files that cannot be read as they are (issue 16)


def test_a_repeated_header_that_is_read_is_refused(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id,order_date,amount,amount\nA,2024-01-05,1,2\n")
    with pytest.raises(DataError) as err:
        read_transactions([path])
    assert err.value.message == f"Ambiguous column for amount in {path}: 'amount' appears 2 times (columns 3 and 4)"
    path = write(tmp_path / "k.csv", "customer_id,order_date,amount,region,region\nA,2024-01-05,1,N,S\n")
    with pytest.raises(DataError, match="Ambiguous column for region in .*: 'region' appears 2 times"):
        read_transactions([path], ReadOptions(keep=("region",)))
    assert read_transactions([path]).rows.collect().height == 1  # not read: left alone


def test_whole_number_dates_in_parquet_are_read_as_yyyymmdd(tmp_path):
    pl.DataFrame({"customer_id": ["A", "B"], "order_date": [20240105, 20241231], "amount": [1.0, 2.0]}).write_parquet(
        tmp_path / "t.parquet"
    )
    scan = read_transactions([tmp_path / "t.parquet"])
    assert scan.date_formats == {"order_date": "%Y%m%d"}
    rows, rejects = collect(scan)
    assert rows["order_date"].to_list() == [datetime(2024, 1, 5), datetime(2024, 12, 31)]
    assert rejects.is_empty()


def test_bad_date_formats(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,2024-01-05,1\n")
    with pytest.raises(UsageError, match=r"Bad date format '%Q': '%Q' is not a date or time code"):
        read_transactions([path], ReadOptions(date_format="%Q"))
    mapping = write(tmp_path / "m.toml", '[transactions]\ndate_format = "%H:%M"\n')
    with pytest.raises(RulesError) as err:
        read_transactions([path], ReadOptions(mapping_file=mapping))
    assert err.value.message == f"{mapping}: [transactions] date_format '%H:%M': it has no year (%Y or %y)"


def test_dates_in_two_files_name_file_and_row(tmp_path):
    write(tmp_path / "a.csv", HEADER + "A,2024-01-05,1\nB,2024-01-06,1\n")
    write(tmp_path / "b.csv", HEADER + "A,05/01/2024,1\nB,06/01/2024,1\nC,later,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert f"(e.g. '2024-01-05' in {tmp_path / 'a.csv'} row 2)" in err.value.message
    assert f"(e.g. 'later' in {tmp_path / 'b.csv'} row 4)" in err.value.message


def test_valid_and_rejected_rows_read_each_file_once(tmp_path):
    """The valid rows, the rejected rows and the count of rows on or after the as-of date come from one parse of
    each file: collected together, their plans scan it once (the rejected rows' plan used to read and check the
    whole file again)."""
    first = write(tmp_path / "a.csv", HEADER + "c1,2024-01-02,10.00\nc2,not a date,5.00\nc3,2024-03-01,7.50\n")
    second = write(tmp_path / "b.csv", HEADER + "c4,2024-01-05,1.00\n")
    scan = read_transactions([first, second], as_of=date(2024, 2, 1))
    assert scan.later is not None
    plan = pl.explain_all([scan.rows, scan.rejects, scan.later])
    assert plan.count("SCAN [") == 2 and plan.count("a.csv]") == plan.count("b.csv]") == 1, plan
    (rows, later), (rejects,) = collect_checked([scan], [scan.rows, scan.later], on_bad_rows="skip")
    assert sorted(rows["customer_id"].to_list()) == ["c1", "c4"] and later.item() == 1
    assert [(name, row) for name, row, *_ in rejected(rejects)] == [("a.csv", 3)]  # line 3, after the header
