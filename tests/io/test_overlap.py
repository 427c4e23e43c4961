"""Overlapping exports (issue 16): lines repeated across the files of one input are an error, or with
``on_overlap="keep-first"`` read once, from the first file in sorted path order."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, RulesError
from loyalty_cli.io import table_plans
from loyalty_cli.io.readers import ReadOptions, read_transactions
from loyalty_cli.io.validate import collect_checked
from loyalty_cli.stage1 import load_transactions
from loyalty_cli.stage1.customers import customer_summary

HEADER = "order_id,customer_id,order_date,amount,category\n"
DAY1 = (
    "A1,c1,2024-01-04 10:00,10.00,shoes\n"
    "A2,c2,2024-01-05 11:00,20.00,bags\n"
    "A2,c2,2024-01-05 11:00,20.00,bags\n"  # two equal items of one order: not an overlap
    "A3,c3,2024-01-06 09:30,30.00,hats\n"
)
DAY2 = (
    "A2,c2,2024-01-05 11:00,20.00,bags\n"  # repeated from day1
    "A3,c3,2024-01-06 09:30,30.00,hats\n"  # repeated from day1
    "A1,c1,2024-01-07 12:00,-10.00,shoes\n"  # a refund of A1: the order goes on, not a repeat
    "A3,c3,2024-01-06 09:30,5.00,socks\n"  # a late line of A3 (another product): not a repeat
    "A4,c1,2024-01-08 08:00,40.00,shoes\n"
)
# Hand-computed: every line once (day1's two A2 items both count), the repeats of day2 once.
TRUTH = {"c1": 10.0 - 10.0 + 40.0, "c2": 40.0, "c3": 35.0}
AS_OF = date(2024, 2, 1)


def _write(path: Path, body: str) -> Path:
    path.write_text(HEADER + body)
    return path


def _gz_copy(path: Path) -> Path:
    copy = path.with_name(path.name + ".gz")
    copy.write_bytes(gzip.compress(path.read_bytes()))
    return copy


def _spend(inputs: list[Path], on_overlap: str = "error") -> dict[str, float]:
    options = ReadOptions() if on_overlap == "error" else ReadOptions(on_overlap=on_overlap)  # the default
    loaded = load_transactions(inputs, options, as_of=AS_OF)
    return dict(loaded.customers.select("customer_id", "net_spend").iter_rows())


def _error(inputs: list[Path]) -> str:
    with pytest.raises(DataError) as info:
        _spend(inputs)
    return render(str(info.value))


HINT = (
    "Hint: Remove the duplicate export from the input, or pass --on-overlap keep-first (on_overlap = "
    '"keep-first" in a mapping file or a pipeline input) to read each repeated line from the first file (in '
    "sorted path order) that has it."
)


def test_a_file_and_its_gz_copy_are_the_same_export_twice(tmp_path: Path) -> None:
    plain = _write(tmp_path / "day1.csv", DAY1)
    _gz_copy(plain)
    assert _error([tmp_path]) == (
        "Overlapping files in the transactions: 4 lines in 1 file repeat lines of an earlier file:\n"
        f"  {tmp_path / 'day1.csv.gz'} repeats all 4 lines of {tmp_path / 'day1.csv'} (the same export twice)\n" + HINT
    )


def test_overlapping_days_name_the_files_the_lines_and_the_days(tmp_path: Path) -> None:
    _write(tmp_path / "day1.csv", DAY1)
    _write(tmp_path / "day2.csv", DAY2)
    assert _error([tmp_path]) == (
        "Overlapping files in the transactions: 2 lines in 1 file repeat lines of an earlier file:\n"
        f"  {tmp_path / 'day2.csv'} repeats 2 lines of {tmp_path / 'day1.csv'} (2024-01-05 to 2024-01-06)\n" + HINT
    )


def test_keep_first_totals_equal_the_deduplicated_truth(tmp_path: Path) -> None:
    day1 = _write(tmp_path / "day1.csv", DAY1)
    day2 = _write(tmp_path / "day2.csv", DAY2)
    _gz_copy(day1)
    assert _spend([tmp_path], "keep-first") == TRUTH
    # the first file in sorted path order keeps the lines, whatever the order of the arguments
    assert _spend([day2, day1], "keep-first") == TRUTH


def test_keep_first_says_what_it_left_out(tmp_path: Path) -> None:
    day1 = _write(tmp_path / "day1.csv", DAY1)
    _write(tmp_path / "day2.csv", DAY2)
    _gz_copy(day1)
    scan = read_transactions([tmp_path], ReadOptions(on_overlap="keep-first"))
    (rows,), _ = collect_checked([scan], [scan.rows])
    assert rows.height == 4 + 3  # day1, and day2 without its two repeats; nothing of the copy
    assert scan.overlap is not None
    assert [o.describe() for o in scan.overlap.found] == [
        f"{tmp_path / 'day1.csv.gz'} repeats all 4 lines of {tmp_path / 'day1.csv'} (the same export twice)",
        f"{tmp_path / 'day2.csv'} repeats 2 lines of {tmp_path / 'day1.csv'} (2024-01-05 to 2024-01-06)",
    ]


def test_orders_going_on_in_a_later_file_are_not_an_overlap(tmp_path: Path) -> None:
    _write(tmp_path / "day1.csv", DAY1)
    later = DAY2.replace("A2,c2,2024-01-05 11:00,20.00,bags\n", "").replace("A3,c3,2024-01-06 09:30,30.00,hats\n", "")
    _write(tmp_path / "day2.csv", later)
    assert _spend([tmp_path]) == TRUTH  # the refund and the late line count; nothing is flagged


def test_lines_repeated_within_one_file_are_left_alone(tmp_path: Path) -> None:
    _write(tmp_path / "day1.csv", DAY1 + DAY1)
    _write(tmp_path / "day2.csv", "A9,c9,2024-01-09 10:00,1.00,pens\n")
    assert _spend([tmp_path]) == {"c1": 20.0, "c2": 80.0, "c3": 60.0, "c9": 1.0}


def test_a_partial_copy_is_not_called_the_same_export(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", DAY1)
    _write(tmp_path / "b.csv", "".join(DAY1.splitlines(keepends=True)[:2]))
    assert f"  {tmp_path / 'b.csv'} repeats all 2 lines of {tmp_path / 'a.csv'} (2024-01-04 to 2024-01-05)\n" in (
        _error([tmp_path])
    )
    _write(tmp_path / "b.csv", DAY1.splitlines(keepends=True)[0])
    assert _error([tmp_path]).splitlines()[:2] == [
        "Overlapping files in the transactions: 1 line in 1 file repeats a line of an earlier file:",
        f"  {tmp_path / 'b.csv'} repeats 1 line of {tmp_path / 'a.csv'} (2024-01-04)",
    ]


def test_every_mapped_field_counts_an_unmapped_column_does_not(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("order_id,customer_id,order_date,amount,note\nA1,c1,2024-01-04,10,x\n")
    (tmp_path / "b.csv").write_text("order_id,customer_id,order_date,amount,note\nA1,c1,2024-01-04,10,y\n")
    assert "repeats all 1 line of" in _error([tmp_path])  # the note is not read: the lines are equal
    (tmp_path / "b.csv").write_text("order_id,customer_id,order_date,amount,note\nA1,c1,2024-01-04,11,x\n")
    assert _spend([tmp_path]) == {"c1": 21.0}


def test_a_single_file_pays_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    day1 = _write(tmp_path / "day1.csv", DAY1)
    day2 = _write(tmp_path / "day2.csv", DAY2)
    scan = read_transactions([day1])
    assert scan.overlap is None
    both = read_transactions([day1, day2])
    assert both.overlap is not None
    checked = scan.rows.explain(), both.rows.explain()
    monkeypatch.setattr(table_plans, "_OVERLAP_CHECKED", ())  # as before the check
    unchecked = read_transactions([day1]).rows.explain(), read_transactions([day1, day2]).rows.explain()
    assert checked[0] == unchecked[0]  # one file: the same plan
    assert checked[1] == unchecked[1]  # several files: the rows as before, the check beside them
    assert _spend([day1]) == {"c1": 10.0, "c2": 40.0, "c3": 30.0}


def test_the_check_is_collected_with_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "day1.csv", DAY1)
    _write(tmp_path / "day2.csv", DAY2)
    calls = []
    collect_all = pl.collect_all

    def counting(frames, **kwargs):  # noqa: ANN001, ANN202
        calls.append(len(frames))
        return collect_all(frames, **kwargs)

    monkeypatch.setattr(pl, "collect_all", counting)
    scan = read_transactions([tmp_path], ReadOptions(on_overlap="keep-first"))
    collect_checked([scan], [customer_summary(scan.rows, as_of=AS_OF)])
    assert calls == [3]  # the table, the rejects and the overlap summary: one collect_all


def test_on_overlap_from_the_mapping_file(tmp_path: Path) -> None:
    _write(tmp_path / "day1.csv", DAY1)
    _write(tmp_path / "day2.csv", DAY2)
    mapping = tmp_path / "columns.toml"
    mapping.write_text('[transactions]\non_overlap = "keep-first"\n')
    loaded = load_transactions(
        [tmp_path / "day1.csv", tmp_path / "day2.csv"], ReadOptions(mapping_file=mapping), as_of=AS_OF
    )
    assert dict(loaded.customers.select("customer_id", "net_spend").iter_rows()) == TRUTH
    mapping.write_text('[transactions]\non_overlap = "keep-last"\n')
    with pytest.raises(RulesError, match=r"on_overlap must be error or keep-first, got 'keep-last'"):
        read_transactions([tmp_path / "day1.csv"], ReadOptions(mapping_file=mapping))
