"""Reading back a table this tool wrote: every output format, the CSV writer's formula guard taken off."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import UsageError
from loyalty_cli.io.snapshots import read_snapshot
from loyalty_cli.io.writers import write_table

TABLE = pl.DataFrame({"customer_id": ["=1", "'abc", "7"], "stage": ["new", "+x", "lapsed"], "orders": [1, 2, 3]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_what_was_written_reads_back(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    write_table(TABLE, path)
    back = read_snapshot(path, text=("customer_id", "stage"))
    assert back["customer_id"].to_list() == ["=1", "'abc", "7"]
    assert back["stage"].to_list() == ["new", "+x", "lapsed"]
    if suffix == ".csv":
        assert "'=1" in path.read_text()  # guarded in the file
        assert back["orders"].to_list() == ["1", "2", "3"]  # CSV cells are text


def test_an_unknown_suffix_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("x")
    with pytest.raises(UsageError, match="Cannot tell the output format"):
        read_snapshot(tmp_path / "out.txt")
