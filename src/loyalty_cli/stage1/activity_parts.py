"""The activity table of stage 1 in passes, left on disk in its parts: one customer x day table per partition.

The partitioned stage 1 (:mod:`loyalty_cli.stage1.partitioned`) splits customers by a hash of their id
(:func:`part_of`), so each part of the activity table holds all the days of its customers and no other's. Merged,
the parts of 50M lines are ~24M rows (~0.8 GB): more than a budget of 1 GB leaves to stage 2. Kept apart, a
command reads one part at a time (:class:`ActivityParts`), and what it builds from the activity adds up over the
parts: per-customer tables are concatenated (each customer is in one part), counts and cents per cohort, period
or status are summed (whole numbers: exact, so the same as one table gives).

:data:`Activity` is what the metrics take: the activity table as a LazyFrame (a DataFrame is taken too), or its
parts. :func:`each_part` gives the parts (a table is one part), and :func:`with_customers` each part with its
customers (the rows of a customer table whose id falls in it), so that a part's joins hold only its own.

The folder of the parts (``loyalty-activity-<host>-<pid>-<random>`` in TMPDIR) is removed when the
:class:`ActivityParts` is dropped or the process exits; one left by a killed run is removed by a later one.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeAlias

import polars as pl

from loyalty_cli.errors import LoyaltyError
from loyalty_cli.io.tempfiles import owner_tag, remove_stale, workspace_pattern

#: the kind of the folders holding the parts (see :func:`parts_folder`)
PARTS_KIND = "activity"
#: the order of each part's rows
ACTIVITY_ORDER = ("customer_id", "day")


def part_of(parts: int) -> pl.Expr:
    """The partition of a row by its ``customer_id``: 0 to ``parts`` - 1 (the same in every table of a run)."""
    return pl.col("customer_id").hash(seed=0) % parts


def parts_folder() -> Path:
    """A new folder for the parts of an activity table, in the system's temporary folder; those left by runs
    killed before they cleaned up are removed first. The caller removes it (:class:`ActivityParts` does)."""
    root = Path(tempfile.gettempdir())
    try:
        remove_stale(root, workspace_pattern(PARTS_KIND))
        return Path(tempfile.mkdtemp(prefix=f"loyalty-{PARTS_KIND}-{owner_tag()}-", dir=root))
    except OSError as exc:
        raise LoyaltyError(
            f"Could not create a temporary folder for the activity table in parts: {exc.strerror or exc}",
            hint="Point TMPDIR at a writable folder with some free space.",
        ) from None


@dataclass(frozen=True, eq=False)
class ActivityParts:
    """The activity table in ``len(files)`` Parquet parts in ``folder``, part ``i`` holding the customers whose
    :func:`part_of` is ``i``, sorted by customer and day. The folder is removed once this is dropped (or at exit)."""

    folder: Path
    files: tuple[Path, ...]
    _cleanup: weakref.finalize = field(init=False, repr=False, compare=False)  # type: ignore[type-arg]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cleanup", weakref.finalize(self, shutil.rmtree, str(self.folder), True))

    def scans(self) -> list[pl.LazyFrame]:
        """Each part, to read."""
        return [pl.scan_parquet(path) for path in self.files]

    def lazy(self) -> ActivityParts:
        """Itself (as a table's ``lazy()``: a function that takes either may call it)."""
        return self

    def collect(self) -> pl.DataFrame:
        """The whole table, the parts merged in customer order (each part's own order kept): the table the
        partitioned stage 1 gives when its parts are not kept."""
        frames = self.scans()
        while len(frames) > 1:  # a balanced tree of two-way merges
            pairs = [a.merge_sorted(b, key="customer_id") for a, b in zip(frames[::2], frames[1::2], strict=False)]
            frames = pairs + ([frames[-1]] if len(frames) % 2 else [])
        return frames[0].collect(engine="streaming")

    def remove(self) -> None:
        """Remove the parts now (else when this is dropped)."""
        self._cleanup()


#: the activity table as the metrics take it: a table, or its parts
Activity: TypeAlias = pl.LazyFrame | pl.DataFrame | ActivityParts


def in_parts(activity: Activity) -> bool:
    """Whether ``activity`` is in several parts (an :class:`ActivityParts` of more than one)."""
    return isinstance(activity, ActivityParts) and len(activity.files) > 1


def each_part(activity: Activity) -> list[pl.LazyFrame]:
    """The parts of ``activity`` (a table is one)."""
    if isinstance(activity, ActivityParts):
        return activity.scans()
    return [activity.lazy()]


def with_customers(customers: pl.LazyFrame, activity: Activity) -> list[tuple[pl.LazyFrame, pl.LazyFrame]]:
    """Each part of ``activity`` with the rows of ``customers`` whose id falls in it (a table: with them all)."""
    found = each_part(activity)
    if len(found) == 1:
        return [(customers, found[0])]
    rule = part_of(len(found))
    return [(customers.filter(rule == i), part) for i, part in enumerate(found)]


def first_day(activity: Activity) -> date | None:
    """The first day of the activity table (None when it is empty)."""
    days = [part.select(pl.col("day").min()).collect().item() for part in each_part(activity)]
    found = [d for d in days if d is not None]
    return min(found) if found else None


def stacked(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Per-part tables (per customer: each customer in one part) as one, in the parts' order, a column at a time:
    each column of the parts is let go once stacked (the list is emptied of them as it goes), so that stacking
    holds one column twice, not the whole table (4.8M customers' calibration summary: ~0.4 GB less at the peak
    than concatenating the tables)."""
    if len(frames) == 1:
        return frames[0]
    columns = []
    for name in frames[0].columns:
        columns.append(pl.concat([frame.get_column(name) for frame in frames], rechunk=True))
        for i, frame in enumerate(frames):  # in place: the caller's list lets go of them too
            frames[i] = frame.drop(name)
    return pl.DataFrame(columns)
