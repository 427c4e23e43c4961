"""What a written list says about itself: the lines a front end shows after :func:`~loyalty_cli.handoff.write.
write_list` or :func:`~loyalty_cli.handoff.write.write_plain_list` (how many were written where, the control
group, the rows left out and why, the cells cleaned, the files of an earlier run removed, the manifest), as data.

Settings are named with :func:`loyalty_cli.errors.setting`; the front end words them (the CLI as its options)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loyalty_cli import words
from loyalty_cli.errors import setting
from loyalty_cli.handoff.write import ListReport, WrittenFile

#: at most this many reasons for rows left out are named one by one; the rest are counted together
MAX_REASONS = 10


@dataclass(frozen=True)
class Line:
    """One line of a list's summary: a note, or a warning (shown even when notes are not)."""

    level: Literal["note", "warning"]
    text: str


def _customers(n: int) -> str:
    return words.count(n, "customer")


def removed_line(removed: Sequence[Path]) -> list[Line]:
    """The files of an earlier run a new list removed (none: no line)."""
    if not removed:
        return []
    return [
        Line("note", "Removed files of an earlier run that do not belong to this list: " + ", ".join(map(str, removed)))
    ]


def plain_summary(
    written: Path | None,
    rows: int,
    removed: Sequence[Path],
    notes: Sequence[str],
    *,
    describe: Callable[[int], str] = _customers,
) -> list[Line]:
    """The lines of a plain list (:func:`~loyalty_cli.handoff.write.write_plain_list`; ``written`` None: it went
    to stdout, nothing to say about it). ``describe`` words n rows (default ``"n customers"``)."""
    lines = [Line("note", f"Wrote {describe(rows)} to {written}")] if written else []
    return [*lines, *removed_line(removed), *(Line("note", note) for note in notes)]


def _where(report: ListReport, max_bytes: int | None) -> str:
    files = report.treatment
    if len(files) == 1:
        return str(files[0].path)
    return _parts(files, max_bytes)


def _parts(files: Sequence[WrittenFile], max_bytes: int | None) -> str:
    limit = (max_bytes or 0) / 1e6
    return f"{words.count(len(files), 'part')} of at most {limit:g} MB: {files[0].path} ... {files[-1].path}"


def _control(report: ListReport, describe: Callable[[int], str]) -> list[Line]:
    split, control = report.split, report.control
    if split is None:
        return []
    shown = str(control[0].path) if len(control) == 1 else f"{words.count(len(control), 'part')}: {control[0].path} ..."
    total = split.treatment + split.control
    return [
        Line(
            "note",
            f"Control group: {describe(split.control)} ({split.control_share:.1%} of {total:,}; "
            f"{setting('holdout_share')} {split.share:g}, {setting('seed')} {split.seed}) held out in {shown}: "
            "do not send them the campaign",
        )
    ]


def _arms(report: ListReport, max_bytes: int | None, describe: Callable[[int], str]) -> list[Line]:
    """One line per arm (its customers, realised share and files), the control arm said to be held out."""
    split = report.arms
    if split is None:
        return []
    lines = [
        Line(
            "note",
            f"Arms ({setting('arms')} {','.join(split.arms.names)}, {setting('arm_shares')} "
            f"{','.join(f'{s:g}' for s in split.arms.shares)}, {setting('seed')} {split.seed}; {split.total:,} in all; "
            f"each arm's customers in the column arm):",
        )
    ]
    for name, share in zip(split.arms.names, split.arms.shares, strict=True):
        files = report.arm_files.get(name, [])
        n = split.count(name)
        where = str(files[0].path) if len(files) == 1 else _parts(files, max_bytes)
        held = ": the control group, do not send them the campaign" if name == split.arms.control else ""
        realised = n / split.total if split.total else 0.0
        lines.append(Line("note", f"  {name}: {describe(n)} ({realised:.1%}, share {share:g}) in {where}{held}"))
    return lines


def _dropped(report: ListReport) -> list[Line]:
    if not report.dropped:
        return []
    total = sum(report.dropped.values())
    # the most frequent reasons; many unknown consent values would each be one (the file has them all)
    reasons = [f"{n:,} {reason}" for reason, n in list(report.dropped.items())[:MAX_REASONS]]
    if len(report.dropped) > MAX_REASONS:
        rest = list(report.dropped.values())[MAX_REASONS:]
        reasons.append(f"{sum(rest):,} for {words.count(len(rest), 'other reason')}")
    return [
        Line(
            "note",
            f"Left out {total:,} of {words.count(report.rows_in, 'row')} ({report.dropped_path}): "
            + ", ".join(reasons),
        )
    ]


def list_summary(
    report: ListReport, *, max_bytes: int | None, describe: Callable[[int], str] = _customers
) -> list[Line]:
    """The lines of a hand-off list (:func:`~loyalty_cli.handoff.write.write_list`), in the order they are shown:
    the writer's notes, where the list went (``max_bytes``: the size limit its parts were split at), its columns
    (a target's list), its arms or control group, the rows left out, the cells cleaned, the files removed, an empty
    list, the manifest."""
    label = f"{report.target.label} list" if report.target else "List"
    treated = sum(f.rows for f in report.treatment)
    lines = [Line("note", note) for note in report.notes]
    if report.arms is None:
        lines.append(Line("note", f"{label}: wrote {describe(treated)} to {_where(report, max_bytes)}"))
    else:
        lines.append(Line("note", f"{label}: wrote {describe(report.written)} in {len(report.arms.arms.names)} arms"))
    if report.target is not None:
        lines.append(Line("note", f"Columns: {', '.join(report.columns)} (more with {setting('columns')})"))
    lines += _arms(report, max_bytes, describe) + _control(report, describe) + _dropped(report)
    if report.changes:
        lines.append(
            Line(
                "warning",
                f"Cleaned {words.count(report.changes, 'cell')} that started like a formula "
                f"(= + - @, tab or CR stripped), logged in {report.changes_path}",
            )
        )
    lines += removed_line(report.removed)
    if report.written == 0:
        lines.append(Line("warning", "No customer left to write: every row was left out (see the dropped file)"))
    lines.append(Line("note", f"Manifest: {report.manifest}"))
    return lines
