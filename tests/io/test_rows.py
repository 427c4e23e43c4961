"""Tables written a slice at a time (io/rows.py): the same CSV bytes as written whole, the same Parquet rows."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.io import writers
from loyalty_cli.io.rows import Rows
from loyalty_cli.io.writers import write_table

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "transactions.csv"


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "CHUNK_ROWS", 3)
    monkeypatch.setattr(writers, "WHOLE_ROWS", 3)


def _rows() -> Rows:
    frame = pl.DataFrame(
        {
            "id": ["c5", "c4", "c3", "c2", "c1", "c0", "c9"],
            "note": ["x", "=1+1", None, "@a", "b", "-3.50", "+c"],  # formula-like cells, cleaned in CSV
            "spend": [1.234567, 2.0, 3.5, 4.255, 5.0, None, 7.125],
            "n": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    order = pl.Series([6, 0, 1, 2, 3, 4, 5], dtype=pl.UInt32)
    return Rows(frame, order, lambda rows: rows.with_columns((pl.col("n") * 10).alias("n10")))


def test_rows_in_order_shaped() -> None:
    whole = _rows().collect()
    assert whole["id"].to_list() == ["c9", "c5", "c4", "c3", "c2", "c1", "c0"]
    assert whole["n10"].to_list() == [70, 10, 20, 30, 40, 50, 60]
    assert [s.height for s in _rows().slices(3)] == [3, 3, 1]


def test_a_csv_in_slices_is_the_whole_table_byte_for_byte(small_slices: None, tmp_path: Path) -> None:
    write_table(_rows(), tmp_path / "slices.csv")
    write_table(_rows().collect(), tmp_path / "whole.csv")
    assert (tmp_path / "slices.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert "'=1+1" in (tmp_path / "slices.csv").read_text()  # cleaned as the whole table is


def test_a_parquet_in_slices_holds_the_same_rows(small_slices: None, tmp_path: Path) -> None:
    write_table(_rows(), tmp_path / "slices.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "slices.parquet"), _rows().collect(), check_exact=True)


@pytest.mark.parametrize("suffix", ["json", "xlsx"])
def test_other_formats_and_small_tables_are_written_whole(tmp_path: Path, suffix: str) -> None:
    write_table(_rows(), tmp_path / f"rows.{suffix}")
    write_table(_rows().collect(), tmp_path / f"whole.{suffix}")
    if suffix == "json":
        assert (tmp_path / "rows.json").read_bytes() == (tmp_path / "whole.json").read_bytes()
    else:
        assert (tmp_path / "rows.xlsx").stat().st_size > 0


def test_segment_writes_the_same_files_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run(name: str) -> Path:
        target = tmp_path / name
        result = CliRunner().invoke(app, ["segment", str(SAMPLE), "-o", str(target), "-q"])
        assert result.exit_code == 0, result.output
        return target

    whole_csv, whole_parquet = run("whole.csv"), run("whole.parquet")
    monkeypatch.setattr(writers, "CHUNK_ROWS", 500)  # 3,000 customers: 6 slices
    monkeypatch.setattr(writers, "WHOLE_ROWS", 500)
    monkeypatch.setattr("loyalty_cli.app.segment.WHOLE_ROWS", 500)  # an order, not a sorted copy
    sliced_csv, sliced_parquet = run("sliced.csv"), run("sliced.parquet")
    assert sliced_csv.read_bytes() == whole_csv.read_bytes()
    assert_frame_equal(pl.read_parquet(sliced_parquet), pl.read_parquet(whole_parquet), check_exact=True)
    assert pq_row_groups(sliced_parquet) == 6


def pq_row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_row_groups


@pytest.mark.parametrize("in_id_order", [True, False])
def test_the_three_ways_to_order_segment_rows_agree(monkeypatch: pytest.MonkeyPatch, in_id_order: bool) -> None:
    """Sorted whole (small tables), by an integer key with the row as id rank (customers in id order, as stage 1
    in passes gives them), or by the key and the id: the same rows in the same order."""
    from loyalty_cli.app.inputs import InputSpec, load_inputs
    from loyalty_cli.app.segment import SegmentConfig, segment

    inputs = load_inputs(InputSpec(transactions=[str(SAMPLE)]))
    if in_id_order:
        inputs.tables["customers"] = inputs.customers.sort("customer_id")
    assert inputs.customers["customer_id"].is_sorted() is in_id_order
    whole = segment(inputs, SegmentConfig()).customers
    monkeypatch.setattr("loyalty_cli.app.segment.WHOLE_ROWS", 10)
    ordered = segment(inputs, SegmentConfig())
    assert ordered.rows.order is not None
    assert_frame_equal(ordered.customers, whole, check_exact=True)
    picked = segment(inputs, SegmentConfig(segments=("Champions", "At Risk"))).customers
    assert_frame_equal(picked, whole.filter(pl.col("segment").is_in(["Champions", "At Risk"])), check_exact=True)


def assert_sliced_files_are_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], **slices: tuple[object, str, int]
) -> None:
    """``loyalty ARGS -o FILE`` writes the same CSV bytes and Parquet table with its list written 400 rows at a time
    (a row group per slice) as whole; ``slices``: more (module, attribute, value) to make small the second time."""

    def run(name: str) -> Path:
        target = tmp_path / name
        result = CliRunner().invoke(app, [*args, "-o", str(target), "-q"])
        assert result.exit_code == 0, result.output
        return target

    whole_csv, whole_parquet = run("whole.csv"), run("whole.parquet")
    monkeypatch.setattr(writers, "CHUNK_ROWS", 400)
    monkeypatch.setattr(writers, "WHOLE_ROWS", 400)
    for module, attribute, value in slices.values():
        monkeypatch.setattr(module, attribute, value)
    sliced_csv, sliced_parquet = run("sliced.csv"), run("sliced.parquet")
    assert sliced_csv.read_bytes() == whole_csv.read_bytes()
    assert_frame_equal(pl.read_parquet(sliced_parquet), pl.read_parquet(whole_parquet), check_exact=True)
    rows = pl.read_parquet(whole_parquet).height
    assert rows > 400 and pq_row_groups(sliced_parquet) == -(-rows // 400)


@pytest.mark.parametrize("statuses", [(), ("--status", "lapsing", "--status", "lapsed")])
def test_churn_writes_the_same_files_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, statuses: tuple[str, ...]
) -> None:
    # churn's ranked rows are an order over the unsorted table and their reasons are made per slice: the files
    # are those of one whole write
    assert_sliced_files_are_whole(monkeypatch, tmp_path, ["churn", str(SAMPLE), *statuses])


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--stage", "repeat", "--stage", "lapsed"),
        ("--surveys", str(SAMPLE.with_name("surveys.csv")), "--contacts", str(SAMPLE.with_name("contacts.csv"))),
    ],
)
def test_lifecycle_writes_the_same_files_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    # the to-do list is an order over the unsorted inputs, its stages decided and its texts made a slice at a time:
    # the files are those of one whole write
    from loyalty_cli.metrics import lifecycle

    decide = (lifecycle, "DECIDE_ROWS", 333)
    assert_sliced_files_are_whole(monkeypatch, tmp_path, ["lifecycle", str(SAMPLE), *extra], decide=decide)


def test_beside_cuts_new_columns_into_the_frames_chunks() -> None:
    from loyalty_cli.io.rows import beside

    # a table read in passes: one chunk per part (3 + 2 + 4 rows); a new column in one piece is cut alike
    parts = [pl.DataFrame({"id": list("abc")}), pl.DataFrame({"id": list("de")}), pl.DataFrame({"id": list("fghi")})]
    frame = pl.concat(parts, rechunk=False)
    assert frame["id"].chunk_lengths() == [3, 2, 4]
    other = pl.concat([pl.Series("t", list("ABCD")), pl.Series("t", list("EFGHI"))], rechunk=False)  # chunked 4 + 5
    added = beside(frame, [pl.Series("n", range(9)), other])
    assert added["n"].chunk_lengths() == added["t"].chunk_lengths() == [3, 2, 4]
    assert added.to_dict(as_series=False) == {"id": list("abcdefghi"), "n": list(range(9)), "t": list("ABCDEFGHI")}
    assert beside(frame.head(0), [pl.Series("n", [], dtype=pl.Int64)]).columns == ["id", "n"]


@pytest.mark.parametrize("ids", [list("abcdef"), list("fedcba")])  # sorted (one integer key) or not (by columns)
def test_order_by_group_then_value_largest_first_then_id_nulls_last(ids: list[str]) -> None:
    from loyalty_cli.io.rows import order_by

    frame = pl.DataFrame(
        {
            "customer_id": ids,
            "group": pl.Series(["y", "x", None, "x", "y", "x"], dtype=pl.Enum(["x", "y"])),
            "value": [5.0, 1.0, 9.0, None, 5.0, 3.0],
        }
    )
    # x (category 0) before y, null group last; within x: 3.0, 1.0, then the null value; within y: 5.0 twice, the
    # smaller id first
    ordered = frame[order_by(frame, "group", "value")]
    expected = {"abcdef": ["f", "b", "d", "a", "e", "c"], "fedcba": ["a", "e", "c", "b", "f", "d"]}
    assert ordered["customer_id"].to_list() == expected["".join(ids)]
