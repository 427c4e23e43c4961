"""Lines repeated across the files of a points ledger (the same export twice, exports that cover the same days)
stop the run as repeated transactions do: a balance would sum them twice. ``on_overlap="keep-first"`` reads each
line once; one file is never checked (a row repeated within it is the file's own)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.errors import DataError
from loyalty_cli.io.readers import ReadOptions, read_points
from loyalty_cli.io.validate import collect_checked

LEDGER = "customer_id,at,points,type\nA,2024-01-10,480,earn\nB,2024-06-01,100,earn\n"


@pytest.fixture
def twice(tmp_path: Path) -> list[str]:
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for path in paths:
        path.write_text(LEDGER)
    return [str(p) for p in paths]


def test_a_ledger_in_several_files_is_checked(twice: list[str]) -> None:
    scan = read_points(twice, ReadOptions())
    assert scan.overlap is not None
    with pytest.raises(DataError, match="Overlapping files in the points: 2 lines in 1 file repeat lines"):
        collect_checked([scan], [scan.rows])
    kept = read_points(twice, ReadOptions(on_overlap="keep-first"))
    rows, _ = collect_checked([kept], [kept.rows])
    assert rows[0].height == 2
    assert [(o.file.name, o.first.name, o.lines) for o in kept.overlap.found] == [("b.csv", "a.csv", 2)]  # type: ignore[union-attr]


def test_one_file_is_never_checked(twice: list[str]) -> None:
    assert read_points(twice[:1], ReadOptions()).overlap is None


def test_program_does_not_sum_a_ledger_twice(tmp_path: Path, twice: list[str]) -> None:
    (tmp_path / "tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-10,480\nB,2024-06-01,100\n")
    (tmp_path / "members.csv").write_text("customer_id,enrolled_at\nA,2024-01-01\nB,2024-01-01\n")
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})

    def program(*extra: str) -> object:
        args = [
            "program",
            str(tmp_path / "tx.csv"),
            "--members",
            str(tmp_path / "members.csv"),
            "--as-of",
            "2025-01-01",
        ]
        return runner.invoke(app, [*args, *extra])

    stopped = program("--points", twice[0], "--points", twice[1], "-o", str(tmp_path / "twice.csv"))
    assert stopped.exit_code == 1, stopped.output
    assert "Overlapping files in the points" in stopped.output and "--on-overlap keep-first" in stopped.output
    once = program("--points", twice[0], "-o", str(tmp_path / "once.csv"))
    kept = program(
        "--points", *twice[:1], "--points", twice[1], "--on-overlap", "keep-first", "-o", str(tmp_path / "kept.csv")
    )
    assert once.exit_code == kept.exit_code == 0, (once.output, kept.output)
    earned = pl.read_csv(tmp_path / "kept.csv").filter(pl.col("metric") == "points_earned")
    assert earned.height and earned.equals(
        pl.read_csv(tmp_path / "once.csv").filter(pl.col("metric") == "points_earned")
    )
    assert earned["value"].to_list()[0] == 580  # 480 + 100, not 1,160
