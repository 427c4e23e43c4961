"""Finding input files and sniffing how to read each one (format, delimiter, encoding, emptiness)."""

from __future__ import annotations

import gzip
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, UsageError
from loyalty_cli.io.sniff import (
    SNIFF_BYTES,
    WHITESPACE,
    check_gzip,
    detect_format,
    sniff_header,
    sniff_separator,
    sniff_unicode,
)
from loyalty_cli.io.sources import expand_inputs, first_ragged_line, inspect_source

HEADER = "customer_id,order_date,amount\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- delimiter sniffing


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_sniff_separator(sep):
    sample = f"id{sep}date{sep}amount\nA{sep}2024-01-05{sep}1.5\nB{sep}2024-01-06{sep}2\n"
    assert sniff_separator(sample) == sep


def test_sniff_semicolon_with_decimal_commas():
    # Commas inside the values must not win: only ';' splits every line into the same number of fields.
    assert sniff_separator("id;date;amount\nA;05.01.2024;12,50\nB;06.01.2024;3\n") == ";"


def test_sniff_ignores_separators_inside_quotes():
    assert sniff_separator('id,comment\nA,"x; y; z"\nB,"a|b"\n') == ","


def test_sniff_ignores_a_cut_last_line():
    # The sample is the first bytes of the file: its last line may be cut in the middle.
    assert sniff_separator("a;b;c\n1;2;3\n4;5") == ";"


def test_sniff_runs_of_whitespace_and_headerless_files():
    aligned = " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n 00112 0002 19970101 10 1.0\r\n"
    assert sniff_separator(aligned) == WHITESPACE
    assert not sniff_header(aligned, WHITESPACE)
    assert sniff_header("customer_id order_date amount\nA 2024-01-01 3\n", WHITESPACE)
    assert not sniff_header("17850,2024-01-01,3.5\n", ",")
    assert sniff_header("CustomerID,InvoiceDate,2024\n", ",")
    # a single space inside a field of a comma file does not make it whitespace-separated
    assert sniff_separator("name,amount\nJo Smith,3\nAl Bo,4\n") == ","


def test_sniff_single_column_and_blank_default_to_comma():
    assert sniff_separator("") == ","
    assert sniff_separator("customer_id\nA\nB\n") == ","


# ---------------------------------------------------------------- inspect_source


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_inspect_csv_separator(tmp_path, sep):
    path = write(tmp_path / "t.csv", f"customer_id{sep}order_date{sep}amount\nA{sep}2024-01-05{sep}1\n")
    src = inspect_source(path)
    assert (src.format, src.separator, src.empty, src.read_path) == ("csv", sep, False, None)
    assert src.scan_path == path
    assert src.header_rows == 1


def test_inspect_separator_override(tmp_path):
    path = write(tmp_path / "t.csv", "a,b;c\n1,2;3\n")
    assert inspect_source(path).separator == ","
    assert inspect_source(path, separator=";").separator == ";"


def test_inspect_headerless_whitespace_file(tmp_path):
    path = write(tmp_path / "t.txt", " 1 19970101  2 29.33\n 12 19970102 10  5.00\n")
    src = inspect_source(path)
    assert (src.separator, src.header, src.header_rows, src.fields, src.empty) == (WHITESPACE, False, 0, 4, False)
    one_line = write(tmp_path / "one.txt", "1 19970101 2 29.33\n")
    assert not inspect_source(one_line).empty  # a headerless line is a row
    assert inspect_source(write(tmp_path / "h.txt", "a b\n1 2\n"), separator="whitespace").separator == WHITESPACE


def test_inspect_separator_must_be_one_character(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,2024-01-05,1\n")
    with pytest.raises(UsageError) as err:
        inspect_source(path, separator=";;")
    assert "--delimiter must be one character or 'whitespace', got ';;'" in render(str(err.value))


def test_inspect_gzip_csv(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"customer_id;order_date;amount\nA;2024-01-05;1\n"))
    src = inspect_source(path)
    assert (src.format, src.separator, src.empty, src.read_path) == ("csv", ";", False, None)


def test_inspect_utf8_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfcustomer_id;order_date;amount\nA;2024-01-05;1\n")
    src = inspect_source(path)
    assert (src.separator, src.read_path) == (";", None)


def test_inspect_latin1_is_transcoded_to_utf8(tmp_path):
    path = write(tmp_path / "t.csv", HEADER.replace("\n", ",category\n") + "A,2024-01-05,1,Café\n", "latin-1")
    src = inspect_source(path, encoding="latin-1")
    assert src.read_path is not None and src.read_path != path
    assert src.scan_path == src.read_path
    assert src.path == path  # messages still name the user's file
    assert src.read_path.read_text(encoding="utf-8").endswith("A,2024-01-05,1,Café\n")


def test_inspect_latin1_gzip_is_transcoded(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress("customer_id,category\nA,Crème\n".encode("latin-1")))
    src = inspect_source(path, encoding="latin-1")
    assert src.read_path.read_text(encoding="utf-8") == "customer_id,category\nA,Crème\n"


def test_inspect_utf16_with_the_option(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id\tcategory\nA\tCafé\n", "utf-16")
    src = inspect_source(path, encoding="utf-16")
    assert src.separator == "\t"
    assert src.encoding is None  # as given
    assert src.read_path.read_text(encoding="utf-8") == "customer_id\tcategory\nA\tCafé\n"


@pytest.mark.parametrize(
    ("encoding", "found"),
    [("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32")],
)
def test_inspect_utf16_and_utf32_without_the_option(tmp_path, encoding, found):
    """A byte-order mark, or every other byte NUL (UTF-16 without a mark), is read as such: once refused as
    'not a text file (it contains binary data)'."""
    path = write(tmp_path / "t.csv", "customer_id\tcategory\nA\tCafé\n", encoding)
    src = inspect_source(path)
    assert src.encoding == found
    assert src.separator == "\t"
    assert src.read_path.read_text(encoding="utf-8") == "customer_id\tcategory\nA\tCafé\n"


def test_inspect_invalid_utf8(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,2024-01-05,1\nCafé,2024-01-05,1\n", "latin-1")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == f"{path} is not valid utf-8 text (byte 0xe9 at position 48)"
    assert "--encoding latin-1" in render(err.value.hint)


def test_inspect_unknown_encoding(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,2024-01-05,1\n")
    with pytest.raises(UsageError, match="Unknown encoding 'klingon'"):
        inspect_source(path, encoding="klingon")


def test_inspect_header_only_is_empty(tmp_path):
    assert inspect_source(write(tmp_path / "a.csv", HEADER)).empty
    assert inspect_source(write(tmp_path / "b.csv", HEADER + "\n  \n")).empty
    assert not inspect_source(write(tmp_path / "c.csv", HEADER + "A,2024-01-05,1")).empty


def test_inspect_blank_text_file(tmp_path):
    path = write(tmp_path / "t.csv", "\n\n  \n")
    with pytest.raises(DataError, match=r"t\.csv has no header and no rows"):
        inspect_source(path)


def test_inspect_zero_bytes(tmp_path):
    path = write(tmp_path / "t.csv", "")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == f"{path} is empty (0 bytes)"


@pytest.mark.parametrize("name", ["book.xlsx", "book.csv"])
def test_inspect_excel_workbook(tmp_path, name):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == (f"{path} looks like an Excel workbook or a zip archive, not a CSV or Parquet file")
    assert "CSV" in err.value.hint


def test_inspect_parquet_name_that_is_not_parquet(tmp_path):
    path = write(tmp_path / "t.parquet", HEADER + "A,2024-01-05,1\n")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == f"{path} has a Parquet name but is not a Parquet file"


def test_inspect_binary_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == f"{path} is not a text file (it contains binary data)"


def test_inspect_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"customer_id": ["A"], "order_date": [date(2024, 1, 5)]}).write_parquet(path)
    src = inspect_source(path)
    assert (src.format, src.empty, src.header_rows) == ("parquet", False, 0)
    empty = tmp_path / "e.parquet"
    pl.DataFrame({"customer_id": []}, schema={"customer_id": pl.String}).write_parquet(empty)
    assert inspect_source(empty).empty


def test_parquet_is_recognised_by_content_whatever_the_name(tmp_path):
    path = tmp_path / "export.csv"
    pl.DataFrame({"a": [1]}).write_parquet(path)
    assert detect_format(path) == "parquet"


def test_truncated_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"a": list(range(100))}).write_parquet(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match=r"t\.parquet is not a readable Parquet file"):
        inspect_source(path)


# ---------------------------------------------------------------- expand_inputs


def test_expand_single_file(tmp_path):
    path = write(tmp_path / "t.csv", HEADER)
    assert expand_inputs([path]) == [path]
    assert expand_inputs([str(path)]) == [path]


def test_expand_folder_sorted_data_files_only(tmp_path):
    for name in ["2024-01-02.csv", "2024-01-01.csv", "2024-01-03.csv.gz", "x.parquet", "y.tsv", "z.txt"]:
        write(tmp_path / name, HEADER)
    for name in ["README.md", ".hidden.csv", "book.xlsx"]:
        write(tmp_path / name, "x")
    (tmp_path / "sub.csv").mkdir()
    assert [p.name for p in expand_inputs([tmp_path])] == [
        "2024-01-01.csv",
        "2024-01-02.csv",
        "2024-01-03.csv.gz",
        "x.parquet",
        "y.tsv",
        "z.txt",
    ]


def test_expand_glob_sorted(tmp_path):
    for name in ["b.csv", "a.csv", "c.parquet"]:
        write(tmp_path / name, HEADER)
    assert [p.name for p in expand_inputs([str(tmp_path / "*.csv")])] == ["a.csv", "b.csv"]


def test_expand_glob_keeps_data_files_only(tmp_path):
    for name in ["a.csv", "b.parquet"]:
        write(tmp_path / name, HEADER)
    for name in ["README.md", ".DS_Store", "c.dat"]:
        write(tmp_path / name, "x")
    assert [p.name for p in expand_inputs([str(tmp_path / "*")])] == ["a.csv", "b.parquet"]
    with pytest.raises(DataError) as err:
        expand_inputs([str(tmp_path / "*.dat")])
    assert (
        err.value.message == f"No CSV or Parquet files match {tmp_path / '*.dat'} (it matches 1 other file, "
        f"e.g. {tmp_path / 'c.dat'})"
    )
    assert expand_inputs([tmp_path / "c.dat"]) == [tmp_path / "c.dat"]  # named on its own: read as given


def test_expand_removes_duplicates_keeping_order(tmp_path):
    a = write(tmp_path / "a.csv", HEADER)
    b = write(tmp_path / "b.csv", HEADER)
    assert expand_inputs([b, str(tmp_path / "*.csv"), a]) == [b, a]


def test_expand_file_name_with_glob_characters(tmp_path):
    path = write(tmp_path / "export[1].csv", HEADER)
    write(tmp_path / "export1.csv", HEADER)
    assert expand_inputs([str(path)]) == [path]


def test_expand_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        expand_inputs([tmp_path / "nope.csv"])
    assert err.value.message == f"File not found: {tmp_path / 'nope.csv'}"


def test_expand_empty_folder(tmp_path):
    write(tmp_path / "notes.md", "x")
    with pytest.raises(DataError) as err:
        expand_inputs([tmp_path])
    assert err.value.message == f"No CSV or Parquet files in folder {tmp_path}"


def test_expand_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "*.csv")
    with pytest.raises(DataError) as err:
        expand_inputs([pattern])
    assert err.value.message == f"No files match {pattern}"


def test_expand_nothing_given():
    with pytest.raises(UsageError, match="No input files given"):
        expand_inputs([])


# ---------------------------------------------------------------- files that cannot be read as they are (issue 16)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ("id,x\nA,1\n".encode("utf-16"), "utf-16"),
        ("id,x\nA,1\n".encode("utf-16-le"), "utf-16-le"),
        ("id,x\nA,1\n".encode("utf-16-be"), "utf-16-be"),
        ("id,x\nA,1\n".encode("utf-32"), "utf-32"),
        ("id,x\nA,1\n".encode("utf-8-sig"), None),
        ("id,x\nCafé,1\n".encode("latin-1"), None),
        (b"\x00\x01\x02\x03binary\x00\x00\x00", None),
        (b"", None),
    ],
)
def test_sniff_unicode(data, found):
    assert sniff_unicode(data) == found


def test_check_gzip(tmp_path):
    data = gzip.compress(HEADER.encode() + b"A,2024-01-05,1\n" * 50_000)
    (tmp_path / "ok.csv.gz").write_bytes(data)
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    check_gzip(tmp_path / "ok.csv.gz")
    check_gzip(write(tmp_path / "plain.csv", HEADER))  # not gzip: nothing to check
    with pytest.raises(DataError) as err:
        check_gzip(tmp_path / "cut.csv.gz")
    assert err.value.message.startswith(f"{tmp_path / 'cut.csv.gz'} is a truncated or corrupt gzip file (")


def test_a_gzip_file_cut_in_the_sniffed_part(tmp_path):
    data = gzip.compress(HEADER.encode() + b"A,2024-01-05,1\n" * 100)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match="is a truncated or corrupt gzip file"):
        inspect_source(path)


def test_first_ragged_line_finds_short_lines_too(tmp_path):
    path = write(tmp_path / "t.csv", HEADER + "A,2024-01-05,1\nB,2024-01-06\nC,2024-01-07,1,x\n")
    src = inspect_source(path)
    assert first_ragged_line(src) == (3, 2, 3)
    assert first_ragged_line(src, records=1) is None  # the header and the first row only


def test_no_line_break_in_the_sniffed_part(tmp_path):
    path = write(tmp_path / "t.json", '{"rows": [' + '{"id": 1}, ' * SNIFF_BYTES + "]}")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert err.value.message == f"No line break in the first 256 KB of {path}: is this a CSV?"
    write(tmp_path / "header.csv", "a," * 1000)  # a short file without one is a header (and no rows)
    assert inspect_source(tmp_path / "header.csv").empty


def test_headers_are_kept_as_written(tmp_path):
    src = inspect_source(write(tmp_path / "t.csv", "id;amount;amount\nA;1;2\n"))
    assert src.headers == ("id", "amount", "amount")
    assert inspect_source(write(tmp_path / "n.csv", "1,2,3\n4,5,6\n")).headers == ()  # no header row
    pl.DataFrame({"a": [1], "b": ["x"]}).write_parquet(tmp_path / "t.parquet")
    assert inspect_source(tmp_path / "t.parquet").headers == ("a", "b")


def test_utf16_without_a_mark_in_another_script_needs_the_option(tmp_path):
    text = "顧客番号,注文日,金額\n顧客一,2024-01-05,1\n"
    path = write(tmp_path / "t.csv", text, "utf-16-le")
    with pytest.raises(DataError) as err:
        inspect_source(path)
    assert "pass --encoding utf-16-le (or utf-16-be)" in render(err.value.hint)
    assert inspect_source(path, encoding="utf-16-le").read_path.read_text(encoding="utf-8") == text


def test_a_truncated_gzip_file_in_another_encoding(tmp_path):
    """Transcoding streams the whole file: a cut further on than the sniffed part is found there."""
    data = gzip.compress(("customer_id,category\n" + "A,Crème\n" * 100_000).encode("latin-1"))
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(DataError, match="is a truncated or corrupt gzip file"):
        inspect_source(path, encoding="latin-1")
