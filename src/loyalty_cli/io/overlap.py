"""Overlapping exports: the same lines in two files of one input (a copy and its ``.gz``, or two daily exports
that cover the same days, a classic cron mistake) would be summed twice.

A line *repeats* when another file of the same input that comes earlier in sorted path order has a line equal
to it in every field read (order id, customer, timestamp, amount, category, ...). An order that goes on in a
later file (a refund, a late line) differs in some field and is not a repeat; two equal lines within one file
can be two items of one order and are left alone.

:func:`find_overlaps` adds the check to the lazy plan of a multi-file input (a single file pays nothing): it
returns the rows (without the repeats under ``keep-first``) and a small summary table, collected with the
rest (see :func:`loyalty_cli.io.validate.collect_checked`). :func:`describe_overlaps` turns the collected
summary into :class:`Overlap` facts; :func:`overlap_error` and :func:`overlap_note` word them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from loyalty_cli.errors import DataError, UsageError, setting

OnOverlap = Literal["error", "keep-first"]
ON_OVERLAP: tuple[str, ...] = ("error", "keep-first")

_FILE, _FIRST = "_file", "_first"


@dataclass(frozen=True)
class Overlap:
    """Lines of ``file`` that repeat lines of ``first`` (an earlier file in sorted path order)."""

    file: Path
    first: Path
    lines: int  # lines of ``file`` that are in ``first``
    file_lines: int  # all lines of ``file``
    first_lines: int  # all lines of ``first``
    start: date | None = None  # first and last day of the repeated lines
    end: date | None = None

    @property
    def identical(self) -> bool:
        """Every line of ``file`` is in ``first`` and they hold as many: the same export twice."""
        return self.lines == self.file_lines == self.first_lines

    def describe(self) -> str:
        if self.identical:
            return (
                f"{self.file} repeats all {self.lines:,} {_lines(self.lines)} of {self.first} (the same export twice)"
            )
        days = ""
        if self.start is not None:
            days = f" ({self.start})" if self.start == self.end else f" ({self.start} to {self.end})"
        share = f"all {self.lines:,}" if self.lines == self.file_lines > 1 else f"{self.lines:,}"
        return f"{self.file} repeats {share} {_lines(self.lines)} of {self.first}{days}"


def _lines(n: int) -> str:
    return "line" if n == 1 else "lines"


@dataclass(frozen=True)
class OverlapCheck:
    """The repeats check of a multi-file input: its lazy summary (see :func:`find_overlaps`), the files in
    sorted path order, the policy, and what was found once collected (``found``, filled by the collector)."""

    summary: pl.LazyFrame
    paths: tuple[Path, ...]
    policy: str = "error"
    found: list[Overlap] = field(default_factory=list)
    # the lines of every file with the rank of their file (``_file``), before the check: the check of one part of
    # them (e.g. the lines of some customers, a repeat having the customer of the line it repeats) is
    # :meth:`resolve` on that part, and the check of all is the :func:`merged_summary` of the parts' summaries
    tagged: pl.LazyFrame | None = None
    date_column: str | None = None

    def resolve(self, tagged: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
        """The rows (the policy applied) and the summary of some of :attr:`tagged`'s lines (all of them or a
        part holding every copy of each line it has)."""
        return resolve_overlaps(tagged, date_column=self.date_column, policy=self.policy)

    def settle(self, summary: pl.DataFrame) -> list[Overlap]:
        """Record the collected summary; the overlaps found."""
        self.found[:] = describe_overlaps(summary, self.paths)
        return self.found


def find_overlaps(
    parts: Sequence[pl.LazyFrame], paths: Sequence[Path], *, date_column: str | None, policy: str = "error"
) -> tuple[pl.LazyFrame, OverlapCheck]:
    """The rows of several files (``parts``, same columns, read from ``paths``) and the check of their
    repeats. Its summary holds one row per (``_first``, ``_file``) with ``lines``, ``start`` and ``end``:
    ``_first`` is the earliest file (in sorted path order) holding a line, ``_file`` the file it was read
    from (rows with both equal count a file's own lines). Under ``keep-first`` the rows keep each line only
    from the first file that has it (all its copies there); otherwise they are all the rows."""
    if policy not in ON_OVERLAP:
        raise UsageError(f"on_overlap must be error or keep-first, got {policy!r}")
    order = sorted(range(len(paths)), key=lambda i: str(paths[i]))
    rank = {i: r for r, i in enumerate(order)}
    tagged = pl.concat(
        [part.with_columns(pl.lit(rank[i], dtype=pl.UInt32).alias(_FILE)) for i, part in enumerate(parts)],
        how="vertical",
    )
    rows, summary = resolve_overlaps(tagged, date_column=date_column, policy=policy)
    if policy != "keep-first":
        rows = pl.concat(parts, how="vertical")
    check = OverlapCheck(
        summary=summary, paths=tuple(paths[i] for i in order), policy=policy, tagged=tagged, date_column=date_column
    )
    return rows, check


def resolve_overlaps(
    tagged: pl.LazyFrame, *, date_column: str | None, policy: str = "error"
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The rows and the summary of lines tagged with the rank of their file (``_file``, see
    :func:`find_overlaps`): under ``keep-first`` the rows keep each line only from the first file that has it,
    otherwise they are all the lines (without ``_file``)."""
    columns = [c for c in tagged.collect_schema().names() if c != _FILE]
    checked = tagged.with_columns(pl.col(_FILE).min().over(columns).alias(_FIRST))
    day = pl.col(date_column).cast(pl.Date) if date_column else pl.lit(None, dtype=pl.Date)
    summary = checked.group_by(_FIRST, _FILE).agg(
        pl.len().alias("lines"), day.min().alias("start"), day.max().alias("end")
    )
    if policy == "keep-first":
        return checked.filter(pl.col(_FILE) == pl.col(_FIRST)).select(columns), summary
    return tagged.select(columns), summary


def merged_summary(summaries: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The summary of all the lines from the summaries of parts of them that share no line (see
    :meth:`OverlapCheck.resolve`)."""
    return (
        pl.concat(summaries, how="vertical")
        .group_by(_FIRST, _FILE)
        .agg(pl.col("lines").sum(), pl.col("start").min(), pl.col("end").max())
        .sort(_FIRST, _FILE)
    )


def describe_overlaps(summary: pl.DataFrame, paths: Sequence[Path]) -> list[Overlap]:
    """The collected summary of :func:`find_overlaps` as facts, by file then first file (``paths`` in sorted
    path order, as ranked there)."""
    totals = dict(summary.group_by(_FILE).agg(pl.col("lines").sum()).iter_rows())
    repeats = summary.filter(pl.col(_FILE) != pl.col(_FIRST)).sort(_FILE, _FIRST)
    return [
        Overlap(
            file=paths[r[_FILE]],
            first=paths[r[_FIRST]],
            lines=r["lines"],
            file_lines=totals[r[_FILE]],
            first_lines=totals[r[_FIRST]],
            start=r["start"],
            end=r["end"],
        )
        for r in repeats.iter_rows(named=True)
    ]


def _total(overlaps: Sequence[Overlap]) -> tuple[str, str]:
    """'6 lines in 2 files', 'repeat lines' (or '1 line in 1 file', 'repeats a line')."""
    n = sum(o.lines for o in overlaps)
    files = len({o.file for o in overlaps})
    return f"{n:,} {_lines(n)} in {files} {'file' if files == 1 else 'files'}", (
        "repeats a line" if n == 1 else "repeat lines"
    )


def overlap_error(overlaps: Sequence[Overlap], table: str, *, limit: int = 10) -> DataError:
    """Overlapping files stop the command: which file repeats how many lines of which."""
    count, verb = _total(overlaps)
    lines = [f"Overlapping files in the {table}: {count} {verb} of an earlier file:"]
    lines += [f"  {o.describe()}" for o in overlaps[:limit]]
    if len(overlaps) > limit:
        lines.append(f"  ... and {len(overlaps) - limit} more")
    return DataError(
        "\n".join(lines),
        hint=f"Remove the duplicate export from the input, or pass {setting('on_overlap')} keep-first (on_overlap = "
        '"keep-first" in a mapping file or a pipeline input) to read each repeated line from the first file (in '
        "sorted path order) that has it.",
    )


def overlap_note(overlaps: Sequence[Overlap], table: str, *, limit: int = 10) -> str:
    """What ``keep-first`` left out."""
    count, verb = _total(overlaps)
    lines = [f"Left out {count} of the {table} that {verb} of an earlier file (keep-first):"]
    lines += [f"  {o.describe()}" for o in overlaps[:limit]]
    if len(overlaps) > limit:
        lines.append(f"  ... and {len(overlaps) - limit} more")
    return "\n".join(lines)
