"""A written list's summary as data: its lines in order, their levels, settings named for the front end to word."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.durations import parse_days, parse_duration
from loyalty_cli.errors import UsageError
from loyalty_cli.handoff.control import Split
from loyalty_cli.handoff.summary import MAX_REASONS, Line, list_summary, plain_summary
from loyalty_cli.handoff.targets import TARGETS
from loyalty_cli.handoff.write import ListReport, WrittenFile


def test_a_plain_list_says_where_it_went_and_what_it_removed():
    lines = plain_summary(Path("list.csv"), 3, [Path("list.control.csv")], ["a note"])
    assert lines == [
        Line("note", "Wrote 3 customers to list.csv"),
        Line("note", "Removed files of an earlier run that do not belong to this list: list.control.csv"),
        Line("note", "a note"),
    ]
    assert plain_summary(None, 3, [], [], describe=lambda n: f"{n} rows") == []  # stdout: nothing to say


def test_a_hand_off_list_in_parts_with_a_control_group_dropped_rows_and_cleaned_cells():
    target = next(iter(TARGETS.values()))
    dropped = {f"reason {i}": 20 - i for i in range(MAX_REASONS + 2)}
    report = ListReport(
        target=target,
        rows_in=500,
        treatment=[WrittenFile(Path("l.part1.csv"), 2, 100), WrittenFile(Path("l.part2.csv"), 1, 100)],
        control=[WrittenFile(Path("l.control.csv"), 1, 100)],
        dropped=dropped,
        dropped_path=Path("l.dropped.csv"),
        changes=1,
        changes_path=Path("l.changes.csv"),
        split=Split(share=0.25, seed="s", treatment=3, control=1),
        manifest=Path("l.manifest.json"),
        notes=["first"],
        columns=["Email Address", "customer_id", "Tags"],
    )
    lines = list_summary(report, max_bytes=2_000_000)
    assert [line.level for line in lines] == ["note"] * 5 + ["warning", "note"]
    assert lines[0].text == "first"
    assert (
        lines[1].text
        == f"{target.label} list: wrote 3 customers to 2 parts of at most 2 MB: l.part1.csv ... l.part2.csv"
    )
    assert render(lines[2].text) == "Columns: Email Address, customer_id, Tags (more with --columns)"
    assert render(lines[3].text) == (
        "Control group: 1 customer (25.0% of 4; --holdout-share 0.25, --seed s) held out in l.control.csv: "
        "do not send them the campaign"
    )
    assert lines[4].text.startswith(f"Left out {sum(dropped.values())} of 500 rows (l.dropped.csv): 20 reason 0, ")
    assert lines[4].text.endswith(", 19 for 2 other reasons")
    assert lines[5].text.startswith("Cleaned 1 cell that started like a formula")
    assert lines[6] == Line("note", "Manifest: l.manifest.json")


def test_an_empty_list_warns():
    report = ListReport(target=None, rows_in=2, treatment=[WrittenFile(Path("l.csv"), 0, 100)], manifest=Path("m.json"))
    assert list_summary(report, max_bytes=None, describe=lambda n: f"{n} rows") == [
        Line("note", "List: wrote 0 rows to l.csv"),
        Line("warning", "No customer left to write: every row was left out (see the dropped file)"),
        Line("note", "Manifest: m.json"),
    ]


def test_durations_name_the_option_they_are_given():
    assert parse_days("2w", "the window") == 14
    assert parse_duration("12m", "the horizon") == (12, "month")
    with pytest.raises(UsageError, match="^the window '0d': expected a number of days of at least 1"):
        parse_days("0d", "the window", minimum=1)
