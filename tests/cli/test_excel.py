"""``-o FILE.xlsx`` on every command, and on the extra table options: the workbook holds the values the same
command writes to Parquet (full precision), in the types and formats of io/excel.py; lists for an email tool or
with a control group stay CSV.

Each workbook is read back with the standard library (tests/io/xlsx_read.py)."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from loyalty_cli.cli import app
from loyalty_cli.io.excel import MAX_EXACT, number_style


def _load_reader() -> ModuleType:
    # tests/ is not a package: load the reader by path (registered first: its dataclasses look themselves up).
    path = Path(__file__).parents[1] / "io" / "xlsx_read.py"
    spec = importlib.util.spec_from_file_location("loyalty_tests_xlsx_read", path)
    assert spec and spec.loader
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


read_xlsx = _load_reader().read_xlsx

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
SAMPLE = Path(__file__).parents[2] / "sample_data"
TX = str(SAMPLE / "transactions.csv")
AS_OF = ("--as-of", "2025-01-01")


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def expected_cells(frame: pl.DataFrame) -> list[list[object]]:
    """What the workbook should hold for ``frame`` (a command's Parquet output), worked out here: money rounded
    to cents, whole numbers as numbers (text from 16 digits), lists joined, NaN as text, decimals to 16
    significant digits."""
    columns = []
    for name, dtype in frame.schema.items():
        values = frame[name]
        if dtype.is_float() and number_style(name, dtype) == "money":
            values = values.round(2)
        cells = []
        for value in values.to_list():
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            elif isinstance(value, bool) or value is None or isinstance(value, str | date | datetime):
                pass
            elif isinstance(value, int):
                value = str(value) if abs(value) >= MAX_EXACT else float(value)
            elif value != value:
                value = "NaN"
            else:  # XlsxWriter writes 16 significant digits (a spreadsheet shows 15)
                value = pytest.approx(value, rel=1e-15, abs=1e-300)
            cells.append(value)
        columns.append(cells)
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def write_groups() -> None:
    ids = pl.read_csv(SAMPLE / "contacts.csv").select("customer_id")
    ids.head(300).write_csv("treatment.csv")
    ids.slice(300, 300).write_csv("control.csv")


SMALL = "{small}"  # the sample's lines of its first 400 customers (the fixture small_tx)
COMMANDS = {
    "segment": ("segment", SMALL, *AS_OF, "--cut-points", "{stem}.cuts.{ext}"),
    "churn": ("churn", SMALL, *AS_OF, "--rates", "{stem}.rates.{ext}"),
    "retention": ("retention", SMALL, *AS_OF, "--wide", "{stem}.wide.{ext}", "--cohorts", "{stem}.cohorts.{ext}"),
    "lifecycle": ("lifecycle", SMALL, *AS_OF, "--surveys", str(SAMPLE / "surveys.csv"), "--summary", "{stem}.s.{ext}"),
    "nps": ("nps", str(SAMPLE / "surveys.csv"), "--transactions", SMALL, *AS_OF),
    "nps-list": ("nps", str(SAMPLE / "surveys.csv"), *AS_OF, "--list", "customers"),
    "second-purchase": ("second-purchase", SMALL, *AS_OF, "--summary", "{stem}.s.{ext}", "--value", "{stem}.v.{ext}"),
    "program": ("program", SMALL, "--members", str(SAMPLE / "members.csv"), *AS_OF),
    "cltv": ("cltv", SMALL, *AS_OF),
    "uplift": ("uplift", TX, "--treatment", "treatment.csv", "--control", "control.csv", "--start", "2024-10-01"),
}


@pytest.fixture(scope="module")
def small_tx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = pl.read_csv(TX, infer_schema=False)
    first = lines.select("customer_id").unique(maintain_order=True).head(400)
    path = tmp_path_factory.mktemp("small") / "transactions.csv"
    lines.join(first, on="customer_id", how="semi").write_csv(path)
    return path


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_writes_xlsx_with_the_values_of_its_parquet(name: str, small_tx: Path) -> None:
    if name == "uplift":
        write_groups()
    outputs = {}
    for ext in ("parquet", "xlsx"):
        args = [a.format(stem=name, ext=ext, small=small_tx) for a in COMMANDS[name]]
        result = run(*args, "-o", f"{name}.{ext}", "-q")
        assert result.exit_code == 0, result.output
        outputs[ext] = sorted(Path().glob(f"{name}*.{ext}"), key=lambda p: p.stem)
    assert [p.stem for p in outputs["xlsx"]] == [p.stem for p in outputs["parquet"]]  # every table as .xlsx too
    for parquet, xlsx in zip(outputs["parquet"], outputs["xlsx"], strict=True):
        frame = pl.read_parquet(parquet)
        sheet = read_xlsx(xlsx)
        assert sheet.name == xlsx.stem[:31]
        assert sheet.header == frame.columns, xlsx
        assert sheet.values() == expected_cells(frame), xlsx
        assert sheet.formulas == 0
        assert sheet.frozen == (1, 0)


def test_format_xlsx_and_the_shares_as_percentages(small_tx: Path) -> None:
    result = run("segment", str(small_tx), *AS_OF, "-o", "cuts.out", "--format", "xlsx", "-q")
    assert result.exit_code == 0, result.output
    sheet = read_xlsx(Path("cuts.out"))
    assert sheet.name == "cuts"
    net_spend = sheet.column("net_spend")
    assert {c.number_format for c in net_spend} == {"#,##0.00"}
    assert {c.number_format for c in sheet.column("first_purchase")} == {"yyyy-mm-dd"}
    result = run("segment", str(small_tx), *AS_OF, "--cut-points", "cuts.xlsx", "-q")
    shares = read_xlsx(Path("cuts.xlsx")).column("share")
    assert {c.number_format for c in shares} == {"0.0%"}
    assert sum(c.value for c in shares) == pytest.approx(3.0)  # fractions: each of R, F and M sums to 1


def test_xlsx_to_stdout(small_tx: Path) -> None:
    result = run("churn", str(small_tx), *AS_OF, "-o", "-", "--format", "xlsx", "-q")
    assert result.exit_code == 0, result.stderr
    sheet = read_xlsx(result.stdout_bytes)
    assert sheet.header[:3] == ["customer_id", "email", "status"]
    assert len(sheet.values()) == 400


def test_a_plain_list_as_xlsx_replaces_an_earlier_set() -> None:
    """A list without --target or --holdout-share is written as it is, as .xlsx too, and the files of an
    earlier set of that name (its control group, manifest ...) go with the old list."""
    write = ("segment", TX, *AS_OF, "--segment", "At Risk")
    first = run(*write, "--holdout-share", "0.1", "--seed", "s", "-o", "winback.csv")
    assert first.exit_code == 0, first.output
    result = run(*write, "-o", "winback.xlsx")
    assert result.exit_code == 0, result.output
    sheet = read_xlsx(Path("winback.xlsx"))
    assert {row[sheet.header.index("segment")] for row in sheet.values()} == {"At Risk"}
    assert len(sheet.values()) == pl.read_csv("winback.csv").height + pl.read_csv("winback.control.csv").height


@pytest.mark.parametrize(
    "args",
    [
        ("--target", "generic"),
        ("--holdout-share", "0.1", "--seed", "spring"),
        ("--target", "generic", "--holdout-share", "0.1", "--seed", "spring"),
    ],
)
def test_lists_for_email_tools_or_with_a_control_group_stay_csv(args: tuple[str, ...]) -> None:
    result = run("segment", TX, *AS_OF, *args, "--contacts", str(SAMPLE / "contacts.csv"), "-o", "list.xlsx")
    if "--target" not in args:
        result = run("segment", TX, *AS_OF, *args, "-o", "list.xlsx")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: A list for an email tool or with a control group is written as CSV or Parquet, not as an Excel file"
    )
    assert "--target and --holdout-share, -o NAME.xlsx writes the list as it is" in result.stderr
    assert list(Path().iterdir()) == []


def test_importers_refuse_xlsx_as_before() -> None:
    result = run(
        "segment", TX, *AS_OF, "--target", "klaviyo", "--contacts", str(SAMPLE / "contacts.csv"), "-o", "l.xlsx"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Klaviyo imports CSV files, not xlsx")


def test_help_names_xlsx() -> None:
    result = run("segment", "--help")
    assert ".xlsx" in result.output
    assert "csv|parquet|json|xlsx" in result.output
