"""A corpus of hostile or accidental transaction exports, each generated into its own file, run through every
command that reads transactions. Each must end the same careful way: exit 1, no traceback, no new file, an
output that existed before left byte for byte, and one ``Error:`` line followed by a ``Hint:`` on stderr (after
the notes on what was read), nothing on stdout; ``validate``, whose job is to report, may instead list the
problem as a ``Warning:`` beside the facts it could read.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
RUNNER = CliRunner(env=ENV)
GOOD = "customer_id,order_date,amount\n" + "".join(
    f"C{i % 7},2024-0{1 + i % 6}-{10 + i % 9},{10 + i}.50\n" for i in range(40)
)
OLD = b"an earlier run's output\n"


def _csv(text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "orders.csv"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _parquet(columns: dict[str, pl.Series]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "orders.parquet"
        pl.DataFrame(columns).write_parquet(path)
        return path

    return make


def _overlap(folder: Path) -> Path:
    """A folder of daily exports where one day was exported twice (plain and gzipped): a cron mistake."""
    exports = folder / "exports"
    exports.mkdir()
    (exports / "day1.csv").write_text(GOOD, encoding="utf-8")
    (exports / "day1.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    return exports


def _truncated_gzip(folder: Path) -> Path:
    data = gzip.compress(GOOD.encode() * 50)
    path = folder / "orders.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "missing amount column": _csv("customer_id,order_date,cost\nA,2024-01-01,10\n"),
    "duplicate column names": _csv("customer_id,order_date,amount,amount\nA,2024-01-01,10,11\nB,2024-01-02,5,6\n"),
    "a row with too many fields": _csv(GOOD + "Z,2024-02-01,10,extra\n"),
    "a row with too few fields": _csv(GOOD + "Z,2024-02-01\n"),
    "header only": _csv("customer_id,order_date,amount\n"),
    "an empty file": _csv(""),
    "binary garbage": _bytes("orders.csv", bytes(range(256)) * 40),
    "truncated gzip": _truncated_gzip,
    "corrupt gzip": _bytes("orders.csv.gz", b"\x1f\x8b\x08\x00" + b"not really gzip" * 20),
    "an amount beyond any till": _csv(GOOD + "Z,2024-02-01,50000000000000000\nZ,2024-02-02,50000000000000000\n"),
    "a barcode pasted as amount": _csv(GOOD + "Z,2024-02-01,5012345678900123456789\n"),
    "a date far in the future": _csv(GOOD + "Z,2999-12-31,10\n"),
    "unparseable dates": _csv(GOOD + "Z,next tuesday,10\n"),
    "a boolean id column": _parquet(
        {
            "customer_id": pl.Series([True, False, True]),
            "order_date": pl.Series([date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]),
            "amount": pl.Series([10.0, 20.0, 30.0]),
        }
    ),
    "the same day exported twice": _overlap,
    "a line of 10 MB without a newline": _bytes("orders.csv", b"x" * (10 * 1024 * 1024)),
}

# Every command that reads transactions, with what it needs besides them. ``{out}`` is an output that exists
# before the run and must be left as it was.
COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "segment": (["segment", "{input}", "-o", "{out}"], "out.csv"),
    "churn": (["churn", "{input}", "-o", "{out}"], "out.csv"),
    "retention": (["retention", "{input}", "-o", "{out}"], "out.csv"),
    "cltv": (["cltv", "{input}", "-o", "{out}"], "out.csv"),
    "second-purchase": (["second-purchase", "{input}", "-o", "{out}"], "out.csv"),
    "lifecycle": (["lifecycle", "{input}", "-o", "{out}"], "out.csv"),
    "report": (["report", "{input}", "-o", "{out}"], "out.html"),
    "validate": (["validate", "{input}"], None),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_export_is_refused_cleanly(
    case: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = CASES[case](tmp_path)
    # The export is older than the run, as a real one is (a date after the export time is a bad row).
    os.utime(source, (1_750_000_000, 1_750_000_000))
    argv_template, out_name = COMMANDS[command]
    if out_name:
        (tmp_path / out_name).write_bytes(OLD)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = [a.format(input=source.name, out=out_name) for a in argv_template]

    result = RUNNER.invoke(app, argv)

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, f"exit {result.exit_code}\n{result.output}"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a file was written or removed"
    if out_name:
        assert (tmp_path / out_name).read_bytes() == OLD
    lines = result.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    if command == "validate" and not errors:
        # validate's job is to report: bad rows and overlaps are listed as a warning with their files, rows
        # and reasons next to the facts it could read, and the exit code says the export is not clean.
        assert any(line.startswith("Warning: ") for line in lines), result.stderr
        return
    assert len(errors) == 1, result.stderr
    assert any(line.startswith("Hint: ") for line in lines[errors[0] + 1 :]), result.stderr
    assert result.stdout == ""
