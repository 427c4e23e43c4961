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
        "'next week', 'soon'",
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
    assert result.stdout.splitlines()[0].startswith("customer_id,segment,r_score,f_score,m_score,rfm_cell")
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
        (["-o", "out.xlsx"], "Error: Cannot tell the output format of out.xlsx"),
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
            "interrupted." in " ".join(result.stdout.split())
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
