"""Bad input through the CLI: a clear ``Error:``/``Hint:`` on stderr, exit code 1, no traceback, nothing
written. Then ``--on-bad-rows skip`` and its rejects file, usage errors (exit 2), --help and --version.

Runs ``loyalty segment`` in-process with Typer's CliRunner, whose result keeps stdout (``result.stdout``)
and stderr (``result.stderr``) apart (``result.output`` is both, interleaved). Each test works in its own
tmp_path as the current folder, so file names in messages are short and no rules/columns.toml is found.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loyalty_cli import __version__
from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
HEADER = "customer_id,order_date,amount\n"
GOOD = "A,2024-01-01,10\nB,2024-01-02,20\nC,2024-01-03,30\n"
SKIP_HINT = (
    "To go on without them, pass --on-bad-rows skip: every rejected row is written with its reason to a rejects file."
)


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, content: str | bytes) -> Path:
    path = Path(name)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def segment(*args: str) -> Result:
    return RUNNER.invoke(app, ["segment", *args])


def assert_no_crash(result: Result) -> None:
    # CliRunner catches exceptions: a crash shows up here, not as a 'Traceback' in the output.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "\x1b[" not in result.output  # no colour codes when not on a terminal


def assert_bad_input(result: Result, *fragments: str) -> str:
    """Exit 1, stderr starts with 'Error: ' and has a 'Hint: ' line, nothing on stdout, no file written."""
    assert_no_crash(result)
    assert result.exit_code == 1, result.output
    err = result.stderr
    assert err.startswith("Error: "), err
    assert any(line.startswith("Hint: ") for line in err.splitlines()), err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert result.stdout == ""
    assert not Path("out.csv").exists()
    assert not Path("out.rejects.csv").exists()
    assert not [p for p in Path().iterdir() if p.name.endswith(".tmp")]
    return err


# --- bad input, strict (the default) -----------------------------------------------------------------------


def test_missing_column_exact_message() -> None:
    write("orders.csv", "customer_id,order_date,cost\nA,2024-01-01,10\n")
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv"))
    assert err == (
        "Error: No amount column in orders.csv (net value of the line or order (or quantity x unit price))\n"
        "Hint: Name it with --amount-col COLUMN or in rules/columns.toml. Columns in the file: "
        "'customer_id', 'order_date', 'cost'.\n"
    )
    # ... and naming it fixes it
    result = segment("orders.csv", "-o", "out.csv", "--amount-col", "cost", "-q")
    assert result.exit_code == 0, result.output
    assert Path("out.csv").is_file()


def test_missing_column_named_by_option() -> None:
    write("orders.csv", HEADER + GOOD)
    assert_bad_input(
        segment("orders.csv", "-o", "out.csv", "--customer-col", "Client"),
        "Column 'Client' (for customer_id, from the options) is not in orders.csv",
        "'customer_id', 'order_date', 'amount'",
    )


def test_ambiguous_columns() -> None:
    write("orders.csv", "Customer ID,customer_id,order_date,amount\nA,A,2024-01-01,10\n")
    assert_bad_input(
        segment("orders.csv", "-o", "out.csv"),
        "Ambiguous column for customer_id in orders.csv: 'Customer ID', 'customer_id'",
        "Hint: Choose one with --customer-col",
    )


def test_unparseable_dates_exact_message() -> None:
    write("orders.csv", HEADER + "A,2024-01-01,10\nB,2024-02-30,5\nC,yesterday,5\nD,2024-01-05,3\n")
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv", "-q", "--date-format", "%Y-%m-%d"))
    assert err == (
        "Error: 2 bad rows in the transactions:\n"
        "  2 rows with unparseable order date (expected %Y-%m-%d) in orders.csv, column 'order_date' "
        "(rows 3, 4; values '2024-02-30', 'yesterday')\n"
        "Hint: Check --date-format (the format detected from the first rows is in the message). " + SKIP_HINT + "\n"
    )


def test_dates_in_no_known_format() -> None:
    write("orders.csv", HEADER + "A,next week,10\nB,soon,5\n")
    assert_bad_input(
        segment("orders.csv", "-o", "out.csv"),
        "Could not recognise the dates in column 'order_date' of orders.csv",
        "(e.g. 'next week' in row 2, 'soon' in row 3)",
        "Hint: Give the format with --date-format",
    )


def test_one_bad_date_among_good_ones_names_its_row() -> None:
    write("orders.csv", HEADER + "A,2024-01-01,10\nB,2024-01-02,5\nC,yesterday,5\n")
    assert_bad_input(
        segment("orders.csv", "-o", "out.csv", "-q"),
        "1 row with unparseable order date (expected %Y-%m-%d) in orders.csv, "
        "column 'order_date' (row 4; values 'yesterday')",
    )


def test_unparseable_amounts() -> None:
    write(
        "orders.csv",
        HEADER + 'A,2024-01-01,10\nB,2024-01-02,"1,234"\nC,2024-01-02,abc\n'
        "D,2024-01-03,€5\nE,2024-01-03,12.50 EUR\nF,2024-01-03,\n",
    )
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv", "-q"))
    assert err.splitlines()[:3] == [
        "Error: 4 bad rows in the transactions:",
        "  3 rows with unparseable amount in orders.csv, column 'amount' "
        "(rows 3, 4, 6; values '1,234', 'abc', '12.50 EUR')",
        "  1 row with missing amount in orders.csv, column 'amount' (row 7)",
    ]
    assert "pass --decimal-comma" in err


@pytest.mark.parametrize("value", ["inf", "NaN", "1e400"])
def test_non_finite_amount_is_a_bad_row(value: str) -> None:
    write("orders.csv", HEADER + f"A,2024-01-01,10\nB,2024-01-02,{value}\n")
    assert_bad_input(
        segment("orders.csv", "-o", "out.csv", "-q"),
        f"1 row with unparseable amount in orders.csv, column 'amount' (row 3; values '{value}')",
    )
    result = segment("orders.csv", "-o", "out.csv", "-q", "--on-bad-rows", "skip")
    assert result.exit_code == 0, result.output
    assert [r["customer_id"] for r in read_rows(Path("out.csv"))] == ["A"]
    assert [r["reject_value"] for r in read_rows(Path("out.rejects.csv"))] == [value]


def test_empty_file_exact_message() -> None:
    write("orders.csv", b"")
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv"))
    assert err == "Error: orders.csv is empty (0 bytes)\nHint: Check that the export finished writing.\n"


def test_header_only_file() -> None:
    write("orders.csv", HEADER)
    assert_bad_input(segment("orders.csv", "-o", "out.csv"), "No rows in orders.csv: there is a header but no data")


def test_blank_file() -> None:
    write("orders.csv", "\n\n  \n")
    assert_bad_input(segment("orders.csv", "-o", "out.csv"), "orders.csv has no header and no rows")


ZIP_BYTES = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"


@pytest.mark.parametrize("name", ["orders.xlsx", "orders.zip", "orders.csv"])
def test_excel_or_zip_file(name: str) -> None:
    write(name, ZIP_BYTES)
    assert_bad_input(
        segment(name, "-o", "out.csv"),
        f"{name} looks like an Excel workbook or a zip archive, not a CSV or Parquet file",
        "Hint: Save the sheet as CSV",
    )


def test_binary_file() -> None:
    write("orders.csv", bytes(range(256)) * 4)
    assert_bad_input(segment("orders.csv", "-o", "out.csv"), "orders.csv is not a text file", "Hint: Pass a CSV")


def test_text_file_named_parquet() -> None:
    write("orders.parquet", HEADER + GOOD)
    assert_bad_input(
        segment("orders.parquet", "-o", "out.csv"), "orders.parquet has a Parquet name but is not a Parquet file"
    )


def test_rows_without_customer_id() -> None:
    write(
        "orders.csv",
        HEADER + "A,2024-01-01,10\n" + "".join(f",2024-01-0{d},5\n" for d in range(2, 8)) + "  ,2024-01-08,5\n",
    )
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv", "-q"))
    assert err.splitlines()[:2] == [
        "Error: 7 bad rows in the transactions:",
        "  7 rows with missing customer id in orders.csv, column 'customer_id' (rows 3, 4, 5, 6, 7 (first 5 of 7))",
    ]
    assert "Hint: Rows without a customer id cannot be attributed to anyone." in err


def test_rows_on_or_after_as_of_are_left_out_and_counted() -> None:
    write("orders.csv", HEADER + "A,2024-01-01,10\nB,2024-02-01,5\nC,2024-03-01,5\n")
    result = segment("orders.csv", "-o", "out.csv", "--as-of", "2024-02-01")
    assert result.exit_code == 0, result.output
    assert "2 rows of transactions dated on or after the as-of date 2024-02-01 left out" in result.stderr
    assert not Path("out.rejects.csv").exists()


def test_missing_file() -> None:
    err = assert_bad_input(segment("nope.csv", "-o", "out.csv"))
    assert err == "Error: File not found: nope.csv\nHint: Check the path, or pass a folder or a glob.\n"


def test_empty_folder_and_glob_without_matches() -> None:
    Path("exports").mkdir()
    assert_bad_input(segment("exports", "-o", "out.csv"), "No CSV or Parquet files in folder exports")
    assert_bad_input(segment("exports/*.csv", "-o", "out.csv"), "No files match exports/*.csv")


def test_non_utf8_file_exact_message() -> None:
    content = (HEADER + "José,2024-01-01,10\n").encode("latin-1")
    write("orders.csv", content)
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv"))
    assert err == (
        f"Error: orders.csv is not valid utf-8 text (byte 0xe9 at position {content.index(0xE9)})\n"
        "Hint: Exports from Excel or older systems are often latin-1: pass --encoding latin-1 (or cp1252).\n"
    )
    result = segment("orders.csv", "-o", "out.csv", "-q", "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert read_rows(Path("out.csv"))[0]["customer_id"] == "José"


def test_several_problems_are_listed_most_frequent_first() -> None:
    write("orders.csv", HEADER + ",2024-01-01,10\nB,2024-01-02,x\nC,2024-01-03,y\nD,2024-01-04,10\n")
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv", "-q"))
    assert err.splitlines()[:3] == [
        "Error: 3 bad rows in the transactions:",
        "  2 rows with unparseable amount in orders.csv, column 'amount' (rows 3, 4; values 'x', 'y')",
        "  1 row with missing customer id in orders.csv, column 'customer_id' (row 2)",
    ]


def test_notes_come_first_without_quiet_and_the_error_ends_stderr() -> None:
    write("orders.csv", HEADER + GOOD + ",2024-01-04,5\n")
    result = segment("orders.csv", "-o", "out.csv")
    assert_no_crash(result)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Reading transactions from orders.csv"
    assert "Dates in 'order_date' read as %Y-%m-%d" in lines
    error_at = lines.index("Error: 1 bad row in the transactions:")
    assert lines[error_at + 1] == "  1 row with missing customer id in orders.csv, column 'customer_id' (row 5)"
    assert lines[-1].startswith("Hint: ") and len(lines) == error_at + 3
    assert not Path("out.csv").exists()


def test_an_existing_output_is_left_alone_on_bad_input() -> None:
    write("orders.csv", HEADER + GOOD + ",2024-01-04,5\n")
    Path("out.csv").write_text("yesterday's list\n")
    result = segment("orders.csv", "-o", "out.csv", "-q")
    assert result.exit_code == 1
    assert Path("out.csv").read_text() == "yesterday's list\n"


def test_interrupt_while_writing_exits_130_and_leaves_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty_cli.io import writers

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    write("orders.csv", HEADER + GOOD)
    monkeypatch.setattr(writers.os, "fsync", interrupted)
    result = segment("orders.csv", "-o", "out.csv", "-q")
    assert_no_crash(result)
    assert result.exit_code == 130
    assert result.stderr == "Interrupted.\n"
    assert sorted(p.name for p in Path().iterdir()) == ["orders.csv"]


def test_unwritable_output_is_a_clear_error() -> None:
    write("orders.csv", HEADER + GOOD)
    Path("out.csv").mkdir()
    result = segment("orders.csv", "-o", "out.csv", "-q")
    assert_no_crash(result)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: Could not write out.csv: ")  # then the OS's words, which vary
    assert lines[1:] == ["Hint: Check the output path, that its folder is writable and that the disk has space."]
    assert sorted(p.name for p in Path().iterdir()) == ["orders.csv", "out.csv"]
    assert list(Path("out.csv").iterdir()) == []


# --- --on-bad-rows skip ------------------------------------------------------------------------------------

MIXED = (
    HEADER + "A,2024-01-01,10\nB,2024-01-02,x\n,2024-01-03,7\nC,2024-01-04,20\nA,2024-01-05,=1+2\nD,2024-01-06,-3.50\n"
)
EXPECTED_REJECTS = [
    ("orders.csv", "3", "unparseable amount", "amount", "x", "B"),
    ("orders.csv", "4", "missing customer id", "customer_id", "", ""),
    ("orders.csv", "6", "unparseable amount", "amount", "'=1+2", "A"),  # formula-safe in the CSV
]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def rejects_of(path: Path) -> list[tuple[str, ...]]:
    rows = read_rows(path)
    assert list(rows[0])[:5] == ["source_file", "source_row", "reject_reason", "reject_column", "reject_value"]
    assert list(rows[0])[5:] == ["customer_id", "order_date", "amount"]  # the raw row follows
    return [
        (r["source_file"], r["source_row"], r["reject_reason"], r["reject_column"], r["reject_value"], r["customer_id"])
        for r in rows
    ]


def test_skip_writes_good_rows_and_a_rejects_file_beside_the_output() -> None:
    write("orders.csv", MIXED)
    result = segment("orders.csv", "-o", "out.csv", "--on-bad-rows", "skip")
    assert_no_crash(result)
    assert result.exit_code == 0, result.output
    customers = {r["customer_id"]: r for r in read_rows(Path("out.csv"))}
    assert set(customers) == {"A", "C"}  # B's only row was bad; D only returned (no purchase)
    assert customers["A"]["net_spend"] == "10.0" and customers["C"]["net_spend"] == "20.0"
    assert rejects_of(Path("out.rejects.csv")) == EXPECTED_REJECTS
    assert "Warning: 3 rejected rows written to out.rejects.csv:" in result.stderr
    assert (
        "  2 rows with unparseable amount in orders.csv, column 'amount' (rows 3, 6; values 'x', '=1+2')"
        in result.stderr.splitlines()
    )
    assert "Wrote 2 customers to out.csv" in result.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["orders.csv", "out.csv", "out.rejects.csv"]


def test_skip_with_rejects_path() -> None:
    write("orders.csv", MIXED)
    result = segment(
        "orders.csv", "-o", "lists/out.parquet", "--on-bad-rows", "skip", "--rejects", "checks/bad.csv", "-q"
    )
    assert result.exit_code == 0, result.output
    assert rejects_of(Path("checks/bad.csv")) == EXPECTED_REJECTS
    assert Path("lists/out.parquet").read_bytes()[:4] == b"PAR1"
    assert not Path("lists/out.rejects.csv").exists()
    assert "checks/bad.csv" in result.stderr  # the warning is shown even with --quiet


def test_skip_with_stdout_output_writes_rejects_to_the_current_folder() -> None:
    write("orders.csv", MIXED)
    result = segment("orders.csv", "-o", "-", "--on-bad-rows", "skip", "-q")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    assert header.startswith("customer_id,segment,segment_action,r_score,f_score,m_score,rfm_cell")
    assert len(result.stdout.splitlines()) == 3
    assert rejects_of(Path("rejects.csv")) == EXPECTED_REJECTS


def test_skip_with_nothing_bad_writes_no_rejects_file() -> None:
    write("orders.csv", HEADER + GOOD)
    result = segment("orders.csv", "-o", "out.csv", "--on-bad-rows", "skip", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path().iterdir()) == ["orders.csv", "out.csv"]


def test_skip_over_several_files_names_each_file() -> None:
    Path("exports").mkdir()
    write("exports/2024-01-01.csv", HEADER + "A,2024-01-01,10\n,2024-01-01,4\n")
    write("exports/2024-01-02.csv", HEADER + "B,2024-01-02,oops\nC,2024-01-02,5\n")
    result = segment("exports", "-o", "out.csv", "--on-bad-rows", "skip", "-q")
    assert result.exit_code == 0, result.output
    rejects = [
        (Path(r["source_file"]).name, r["source_row"], r["reject_reason"]) for r in read_rows(Path("out.rejects.csv"))
    ]
    assert sorted(rejects) == [
        ("2024-01-01.csv", "3", "missing customer id"),
        ("2024-01-02.csv", "2", "unparseable amount"),
    ]
    assert {r["customer_id"] for r in read_rows(Path("out.csv"))} == {"A", "C"}


# --- usage errors (exit 2) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bins", "7"], "Error: --bins must be one of 3, 4, 5, 10, got 7"),
        (["--method", "median"], "Error: --method must be quantile, rank or fixed, got 'median'"),
        (["--on-bad-rows", "maybe"], "Error: --on-bad-rows must be error or skip, got 'maybe'"),
        (["--frequency", "weeks"], "Error: --frequency is orders or days; --monetary is total or mean"),
        (["--method", "fixed", "--breaks", "r30"], "Error: --breaks 'r30': expected DIM=N,N,..."),
        (["-o", "out.xls"], "Error: Cannot tell the output format of out.xls"),
        (["-o", "out.csv", "--format", "xml"], "Error: Unknown format 'xml'"),
        (["--segment", "Nobody"], "Error: Unknown segment 'Nobody'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    write("orders.csv", HEADER + GOOD)
    result = segment("orders.csv", *args)
    assert_no_crash(result)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in Path().iterdir()) == ["orders.csv"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--bins", "five"], "'--bins'"),
        (["--as-of", "2024-13-01"], "'--as-of'"),
        (["--no-such-option"], "--no-such-option"),
    ],
)
def test_option_parsing_errors_exit_2(args: list[str], option: str) -> None:
    write("orders.csv", HEADER + GOOD)
    result = segment("orders.csv", *args)
    assert_no_crash(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: ")
    assert option in result.stderr
    assert result.stdout == ""


def test_no_inputs_is_a_usage_error() -> None:
    result = segment()
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


# --- help and version ---------------------------------------------------------------------------------------


def test_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"loyalty {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["segment", "--help"], ["validate", "--help"]])
def test_help(args: list[str]) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout
    if args == ["segment", "--help"]:
        assert "--on-bad-rows" in result.stdout and "Examples:" in result.stdout
    if len(args) == 1:
        for command in ("segment", "validate", "rules"):
            assert command in result.stdout
        assert (
            "Exit codes: 0 ok, 1 bad data or rules, 2 usage, 3 model failure, 4 pipeline locked, 130 "
            "interrupted, 141 output pipe closed by its reader." in " ".join(result.stdout.split())
        )


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="120", NO_COLOR="1", PYTHONWARNINGS="error")
    return env


def test_python_m_help_does_not_import_polars(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "loyalty_cli", "--help"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: python -m loyalty_cli" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "typer" in imported
    assert not {m for m in imported if m.split(".")[0] in ("polars", "numpy", "scipy", "pyarrow")}


def test_loyalty_script_help_and_version() -> None:
    script = Path(sys.executable).with_name("loyalty")
    if not script.exists():
        pytest.skip("the loyalty script is not installed beside this Python")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: loyalty" in proc.stdout
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert proc.stdout == f"loyalty {__version__}\n"


def test_help_in_process_leaves_polars_unimported() -> None:
    code = (
        "import sys\n"
        "from loyalty_cli.cli import app\n"
        "from typer.main import get_command\n"
        "try:\n"
        "    get_command(app).main(['--help'], prog_name='loyalty')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('polars' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False False"


def test_ragged_csv_names_the_line() -> None:
    write("orders.csv", HEADER + 'A,2024-01-01,10\n"B, the second",2024-01-02,5\nC,2024-01-03,5,oops\n')
    err = assert_bad_input(segment("orders.csv", "-o", "out.csv", "-q"))
    assert "Error: orders.csv, line 4: 4 fields where the header has 3\nHint: " in err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("segment", "tx.csv", "--cut-points", "-"), "--cut-points"),
        (("churn", "tx.csv", "-o", "-", "--rates", "-"), "--rates"),
        (("retention", "tx.csv", "--wide", "-"), "--wide"),
        (("retention", "tx.csv", "--cohorts", "-"), "--cohorts"),
        (("second-purchase", "tx.csv", "--summary", "-"), "--summary"),
        (("lifecycle", "tx.csv", "--transitions", "-"), "--transitions"),
    ],
)
def test_extra_tables_need_a_file_not_stdout(args, option):
    """Only -o writes to stdout: a second table there could not be told apart from the first."""
    write("tx.csv", HEADER + GOOD)
    result = RUNNER.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    assert f"Error: {option} needs a file name" in result.stderr
    assert result.stdout == ""


# --- files that cannot be read as they are (issue 16): every command that reads them, and validate --------


def run(*args: str) -> Result:
    return RUNNER.invoke(app, list(args))


def error_and_hint(result: Result, code: int = 1) -> tuple[str, str]:
    """The 'Error:' line (the first: a message may go on) and the 'Hint:' line, after checking the exit code,
    that nothing crashed and nothing went to stdout."""
    assert_no_crash(result)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    hints = [line for line in lines if line.startswith("Hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.stderr
    return errors[0], hints[0]


ORDERS = "orders.csv"
SURVEY_HEADER = "customer_id,responded_at,score\n"
SURVEY_ROWS = "A,2024-01-01,9\nB,2024-01-02,3\n"


def commands(kind: str, name: str) -> list[list[str]]:
    """The commands that read a file of this kind: a transactions command, validate, and for surveys nps
    (and program, which reads surveys beside the transactions)."""
    write("tx.csv", HEADER + GOOD)
    write("members.csv", "customer_id,enrolled_at\nA,2024-01-01\n")
    if kind == "transactions":
        return [["segment", name, "-o", "out.csv"], ["churn", name], ["validate", name]]
    if kind == "surveys":
        program = ["program", "tx.csv", "--members", "members.csv", "--surveys", name]
        return [["nps", name], ["validate", name, "--kind", "surveys"], program]
    return [["program", "tx.csv", "--members", name]]


@pytest.mark.parametrize(
    ("kind", "content", "field", "header", "where"),
    [
        ("transactions", "customer_id,order_date,amount,amount\nA,2024-01-01,10,20\n", "amount", "amount", "3 and 4"),
        (
            "transactions",
            "customer_id,order_date,customer_id,amount\nA,2024-01-01,B,1\n",
            "customer_id",
            "customer_id",
            "1 and 3",
        ),
        ("surveys", "customer_id,score,responded_at,score\nA,9,2024-01-01,3\n", "score", "score", "2 and 4"),
        ("members", "customer_id,enrolled_at,tier,tier\nA,2024-01-01,Gold,Silver\n", "tier", "tier", "3 and 4"),
    ],
)
def test_a_repeated_header_is_ambiguous(kind: str, content: str, field: str, header: str, where: str) -> None:
    """Once the first copy was read silently (Polars renames the second 'amount_duplicated_0')."""
    write("tx.csv", HEADER + GOOD)
    write("export.csv", content)
    for args in commands(kind, "export.csv"):
        error, hint = error_and_hint(run(*args))
        assert (
            error == f"Error: Ambiguous column for {field} in export.csv: {header!r} appears 2 times (columns {where})"
        )
        assert hint == (
            f"Hint: Rename or remove the extra {header!r} columns in the export: which one holds the data cannot be "
            "told."
        )


def test_a_repeated_header_that_is_not_read_is_left_alone() -> None:
    write(ORDERS, "customer_id,order_date,amount,note,note\nA,2024-01-01,10,x,y\nB,2024-01-02,5,,\n")
    result = run("segment", ORDERS, "-o", "out.csv", "-q")
    assert result.exit_code == 0, result.output


def test_a_parquet_file_with_a_repeated_column() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(["A"]), pa.array(["2024-01-01"]), pa.array([1.0]), pa.array([2.0])]
    pq.write_table(
        pa.Table.from_arrays(arrays, names=["customer_id", "order_date", "amount", "amount"]), "orders.parquet"
    )
    for args in (["segment", "orders.parquet"], ["validate", "orders.parquet"]):
        error, hint = error_and_hint(run(*args))
        assert error == "Error: Ambiguous column in orders.parquet: 'amount' appears 2 times (columns 3 and 4)"
        assert hint.startswith("Hint: Rename or remove the extra 'amount' columns in the export")


def gzipped(text: str) -> bytes:
    import gzip

    return gzip.compress(text.encode(), mtime=0)


BIG = "".join(f"C{i},2024-01-{i % 28 + 1:02d},{i % 97 + 1}\n" for i in range(40_000))  # > the 256 KB sniffed


@pytest.mark.parametrize("rows", ["A,2024-01-01,10\n" * 200, BIG], ids=["in-the-sniffed-part", "further-on"])
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_truncated_or_corrupt_gzip_file(rows: str, damage: str) -> None:
    data = bytearray(gzipped(HEADER + rows))
    if damage == "truncated":
        data = data[: len(data) * 3 // 4]
    else:  # the data decompresses, but not to what was compressed: the checksum at the end tells
        data[-8:-4] = bytes(b ^ 0xFF for b in data[-8:-4])
    write("orders.csv.gz", bytes(data))
    write("surveys.csv.gz", gzipped(SURVEY_HEADER + SURVEY_ROWS))
    for args in commands("transactions", "orders.csv.gz"):
        error, hint = error_and_hint(run(*args))
        assert error.startswith("Error: orders.csv.gz is a truncated or corrupt gzip file ("), error
        assert hint == (
            "Hint: Copy or download the file again (gzip -t orders.csv.gz checks it), or pass the uncompressed export."
        )


def test_a_truncated_gzip_survey_export() -> None:
    data = gzipped(SURVEY_HEADER + "".join(f"C{i},2024-01-{i % 28 + 1:02d},{i % 11}\n" for i in range(40_000)))
    write("tx.csv", HEADER + GOOD)
    write("surveys.csv.gz", data[: len(data) // 2])
    for args in commands("surveys", "surveys.csv.gz"):
        error, _ = error_and_hint(run(*args))
        assert error.startswith("Error: surveys.csv.gz is a truncated or corrupt gzip file ("), error


def write_parquet(name: str, dates: list) -> None:
    import polars as pl

    pl.DataFrame(
        {"customer_id": ["A", "B"][: len(dates)], "order_date": dates, "amount": [10.0, 20.0][: len(dates)]}
    ).write_parquet(name)


def test_parquet_whole_number_dates_are_read_as_yyyymmdd_like_csv_text() -> None:
    write_parquet("orders.parquet", [20240105, 20240210])
    write(ORDERS, HEADER + "A,20240105,10\nB,20240210,20\n")
    outputs = []
    for name in ("orders.parquet", ORDERS):
        result = run("segment", name, "-o", f"{name}.out.csv")
        assert result.exit_code == 0, result.output
        assert "Dates in 'order_date' read as %Y%m%d" in result.stderr
        outputs.append(Path(f"{name}.out.csv").read_text())
    assert outputs[0] == outputs[1]
    assert "last date\t2024-02-10" in run("validate", "orders.parquet").stdout


def test_parquet_whole_numbers_that_are_not_dates_name_their_rows() -> None:
    write_parquet("orders.parquet", [45296, 45297])  # Excel serial days
    for args in (["segment", "orders.parquet"], ["validate", "orders.parquet"]):
        error, hint = error_and_hint(run(*args))
        assert error == (
            "Error: Could not recognise the dates in column 'order_date' of orders.parquet "
            "(e.g. '45296' in row 1, '45297' in row 2)"
        )
        assert hint.startswith("Hint: Give the format with --date-format in strftime codes")


@pytest.mark.parametrize(("values", "dtype"), [([20240105.0, 20240210.0], "Float64"), ([True, False], "Boolean")])
def test_parquet_dates_of_another_type_are_refused(values: list, dtype: str) -> None:
    write_parquet("orders.parquet", values)
    for args in (["segment", "orders.parquet"], ["validate", "orders.parquet"]):
        error, hint = error_and_hint(run(*args))
        what = f"numbers ({dtype})" if dtype == "Float64" else "true/false values (Boolean)"
        assert error == f"Error: Column 'order_date' of orders.parquet holds {what}, not dates"
        assert hint == (
            "Hint: Export it as dates or as text such as 2024-01-05 (whole numbers such as 20240105 in an integer "
            "column are read as yyyymmdd), or map the date column (e.g. --date-col)."
        )


def test_a_side_inputs_bad_date_type_points_to_the_mapping_file() -> None:
    import polars as pl

    # the points ledger's date as numbers: reminders and program have no --date-col, the mapping file maps it
    pl.DataFrame({"customer_id": ["A"], "at": [20240105.5], "points": [10], "type": ["earn"]}).write_parquet(
        "p.parquet"
    )
    error, hint = error_and_hint(run("reminders", "--points", "p.parquet", "--as-of", "2025-01-01"))
    assert error == "Error: Column 'at' of p.parquet holds numbers (Float64), not dates"
    assert hint.endswith("or map the date column (e.g. [points] in the mapping file, --mapping).")


def test_a_long_line_without_a_line_break() -> None:
    write(ORDERS, "customer_id," + "x" * (10 * 1024 * 1024))
    write("surveys.csv", "customer_id," + "x" * (300 * 1024))
    write("tx.csv", HEADER + GOOD)
    for name, args_list in (
        (ORDERS, commands("transactions", ORDERS)),
        ("surveys.csv", commands("surveys", "surveys.csv")),
    ):
        for args in args_list:
            error, hint = error_and_hint(run(*args))
            assert error == f"Error: No line break in the first 256 KB of {name}: is this a CSV?"
            assert hint == (
                "Hint: A CSV holds one row per line. Check that this is the export you meant (a JSON or XML "
                "export, or a file whose line breaks were lost, has none)."
            )


def test_a_line_longer_than_the_csv_field_limit_is_a_clear_error() -> None:
    write(ORDERS, HEADER + "A,2024-01-01," + "9" * 200_000 + "\nB,2024-01-02,5\n")
    error, hint = error_and_hint(run("segment", ORDERS))
    assert error.startswith(f"Error: Could not read the first lines of {ORDERS} as CSV (field larger than field limit")
    assert hint.startswith("Hint: Check that this is the export you meant")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_exports_are_read_and_said(encoding: str) -> None:
    """Once 'not a text file (it contains binary data)': Excel's 'Unicode text' and some Windows tools
    write UTF-16, with or without a byte-order mark."""
    write(ORDERS, (HEADER + GOOD).encode(encoding))
    write("good.csv", HEADER + GOOD)
    write("surveys.csv", (SURVEY_HEADER + SURVEY_ROWS).encode(encoding))
    result = run("segment", ORDERS, "-o", "out.csv")
    assert result.exit_code == 0, result.output
    assert f"{ORDERS} is {encoding.upper()} text: read as such" in result.stderr
    assert run("segment", "good.csv", "-o", "good.out.csv", "-q").exit_code == 0
    assert Path("out.csv").read_text() == Path("good.out.csv").read_text()
    assert run("validate", ORDERS).exit_code == 0
    result = run("nps", "surveys.csv")
    assert result.exit_code == 0, result.output
    assert f"surveys.csv is {encoding.upper()} text: read as such" in result.stderr


def test_rows_with_too_few_fields_are_named_like_rows_with_too_many() -> None:
    """Polars reads the missing fields as empty: once 'missing amount', which does not say the row is short."""
    write(ORDERS, HEADER + "A,2024-01-01,10\nB,2024-01-02\nC,2024-01-03,5\n")
    write("tx.csv", HEADER + GOOD)
    # A short row is found when it is rejected (here: '9' is no date); one short of its score only reads as
    # a blank score (a non-response), which Polars does not tell apart.
    write("surveys.csv", SURVEY_HEADER + "A,2024-01-01,9\nB,9\nC,2024-01-03,7\n")
    for name, args_list in (
        (ORDERS, commands("transactions", ORDERS)),
        ("surveys.csv", commands("surveys", "surveys.csv")),
    ):
        for args in [*args_list, [*args_list[0], "--on-bad-rows", "skip"]]:
            error, hint = error_and_hint(run(*args))
            assert error == f"Error: {name}, line 3: 2 fields where the header has 3"
            assert hint == (
                "Hint: A value with the delimiter in it needs quotes; check the delimiter (--delimiter) and that the "
                "export was not cut or joined."
            )
    assert not Path("out.csv").exists() and not Path("out.rejects.csv").exists()


def test_an_empty_last_value_is_not_a_short_row() -> None:
    write(ORDERS, "customer_id,order_date,amount,note\nA,2024-01-01,10,\nB,2024-01-02,,\n")
    error, _ = error_and_hint(run("segment", ORDERS, "-q"))
    assert error == "Error: 1 bad row in the transactions:"


def test_dates_in_two_formats_name_their_rows_and_suggest_the_format_they_are_in() -> None:
    iso = "".join(f"A{d},2024-01-{d:02d},1\n" for d in range(1, 8))
    write(ORDERS, HEADER + iso + "B,13/01/2024,2\nC,soon,3\n")
    for args in commands("transactions", ORDERS):
        error, hint = error_and_hint(run(*args))
        assert error == (
            "Error: Could not recognise the dates in column 'order_date' of orders.csv: of 9 sampled values, 7 read "
            "as %Y-%m-%d (e.g. '2024-01-01' in row 2), 1 read as %d/%m/%Y (e.g. '13/01/2024' in row 9), 1 in no "
            "known format (e.g. 'soon' in row 10)"
        )
        assert hint == (
            "Hint: Give the format with --date-format: --date-format '%Y-%m-%d' reads the 7 sampled values in that "
            "format and rejects the others as bad rows, naming their rows. Values in two formats need fixing in the "
            "export."
        )


def test_iso_dates_in_no_known_format_get_an_iso_hint() -> None:
    """Once the hint said --date-format '%d/%m/%Y %H:%M' whatever the values."""
    write(ORDERS, HEADER + "A,2024-01-05 14h30,1\nB,2024-01-06 09h00,2\n")
    write("surveys.csv", SURVEY_HEADER + "A,2024-01-05 14h30,9\nB,2024-01-06 09h00,3\n")
    write("tx.csv", HEADER + GOOD)
    for name, args_list in (
        (ORDERS, commands("transactions", ORDERS)),
        ("surveys.csv", commands("surveys", "surveys.csv")),
    ):
        column = "order_date" if name == ORDERS else "responded_at"
        for args in args_list:
            error, hint = error_and_hint(run(*args))
            assert error == (
                f"Error: Could not recognise the dates in column {column!r} of {name} "
                "(e.g. '2024-01-05 14h30' in row 2, '2024-01-06 09h00' in row 3)"
            )
            assert hint == (
                "Hint: Give the format with --date-format in strftime codes, e.g. --date-format '%Y-%m-%d' for "
                "'2024-01-05', then codes for the rest of '2024-01-05 14h30' (%H hours, %M minutes, %S seconds)."
            )


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("%Q", "'%Q' is not a date or time code"),
        ("%Y-%m-%d %Q", "'%Q' is not a date or time code"),
        ("%d/%m", "it has no year (%Y or %y)"),
        ("%Y-%m-%", "'%' is not a date or time code"),
    ],
)
def test_a_bad_date_format_option_is_a_usage_error(fmt: str, problem: str) -> None:
    """Once exit 1 with every row 'unparseable': the parser reads nothing with an unknown code, silently."""
    write(ORDERS, HEADER + GOOD)
    write("surveys.csv", SURVEY_HEADER + SURVEY_ROWS)
    for args in (["segment", ORDERS], ["validate", ORDERS], ["nps", "surveys.csv"]):
        error, hint = error_and_hint(run(*args, "--date-format", fmt), code=2)
        assert error == f"Error: Bad date format {fmt!r}: {problem}"
        assert hint == "Hint: Use strftime codes, e.g. '%Y-%m-%d', '%d/%m/%Y %H:%M' or '%m/%d/%Y'."


def test_good_date_format_options_pass() -> None:
    write(ORDERS, HEADER + "A,05.01.2024 14:30:00,10\nB,06.01.2024 9:05:00,20\n")
    for fmt in ("%d.%m.%Y %H:%M:%S", "%-d.%m.%Y %k:%M:%S", "%d.%m.%Y %T"):
        result = run("segment", ORDERS, "--date-format", fmt, "-o", "out.csv", "-q")
        assert result.exit_code == 0, (fmt, result.output)


def test_a_bad_date_format_in_the_mapping_file_is_a_rules_error() -> None:
    write(ORDERS, HEADER + GOOD)
    write("surveys.csv", SURVEY_HEADER + SURVEY_ROWS)
    write("map.toml", '[transactions]\ndate_format = "%Q"\n\n[surveys]\ndate_format = "%d/%m"\n')
    for args, table, problem in (
        (["segment", ORDERS], "transactions", "'%Q' is not a date or time code"),
        (["validate", ORDERS], "transactions", "'%Q' is not a date or time code"),
        (["nps", "surveys.csv"], "surveys", "it has no year (%Y or %y)"),
    ):
        error, hint = error_and_hint(run(*args, "--mapping", "map.toml"))
        value = "%Q" if table == "transactions" else "%d/%m"
        assert error == f"Error: map.toml: [{table}] date_format {value!r}: {problem}"
        assert hint == "Hint: Use strftime codes, e.g. '%Y-%m-%d', '%d/%m/%Y %H:%M' or '%m/%d/%Y'."
