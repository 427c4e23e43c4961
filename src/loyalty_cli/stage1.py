"""Stage 1, collected: read the transactions once and keep the customer table and the activity table.

Every transaction-based command starts here: :func:`load_transactions` reads the files (one pass, with the
rejected rows) and returns the customer summary and, when asked, the customer x day activity table. Stage 2
(scores, models, cohorts, lists) works on those DataFrames, whose size grows with customers, not rows.

Inside :func:`shared_reads` (``loyalty run``), loads are remembered: every step of a pipeline that reads the
same files with the same settings and as-of date gets the same tables without reading the files again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from loyalty_cli.io.readers import ReadOptions, Scan, read_transactions
from loyalty_cli.io.sources import expand_inputs
from loyalty_cli.io.validate import BadRows, collect_checked
from loyalty_cli.metrics.customers import customer_activity, customer_summary


@dataclass(frozen=True)
class Loaded:
    """The transactions of one command: how they were read, the stage-1 tables and the rejected rows."""

    scan: Scan
    customers: pl.DataFrame  # customer_summary: one row per customer with a purchase before as_of
    activity: pl.DataFrame | None  # customer_activity: one row per customer and day with orders
    rejects: list[pl.DataFrame]

    @property
    def as_of(self) -> date | None:
        """The as-of date used (given, or the day after the last transaction); None without customers."""
        return self.customers["as_of"][0] if self.customers.height else None


_cache: ContextVar[dict[tuple[object, ...], Loaded] | None] = ContextVar("loyalty_stage1_cache", default=None)


@contextmanager
def shared_reads() -> Iterator[dict[tuple[object, ...], Loaded]]:
    """Within this block, identical loads are read once (``loyalty run``)."""
    token = _cache.set({})
    try:
        yield _cache.get()  # type: ignore[misc]
    finally:
        _cache.reset(token)


def _key(
    inputs: Sequence[str | Path], options: ReadOptions, as_of: date | None, on_bad_rows: str
) -> tuple[object, ...]:
    files = []
    for path in expand_inputs(inputs):
        stat = path.stat()
        files.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    mapping = options.mapping_file
    mapping_state = (str(mapping), mapping.stat().st_mtime_ns) if mapping and mapping.is_file() else None
    return (tuple(files), repr(options), mapping_state, as_of, on_bad_rows)


def load_transactions(
    inputs: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    as_of: date | None,
    on_bad_rows: BadRows = "error",
    activity: bool = False,
    on_scan: Callable[[Scan], None] | None = None,
) -> Loaded:
    """Read transactions once: the customer summary (and the activity table when ``activity``).
    ``on_scan`` is called with the scan before the files are read (e.g. to print the column mapping)."""
    options = options or ReadOptions()
    cache = _cache.get()
    key = _key(inputs, options, as_of, on_bad_rows) if cache is not None else None
    if cache is not None and key in cache:  # a pipeline's loads always keep the activity table
        return cache[key]
    scan = read_transactions(inputs, options, as_of=as_of)
    if on_scan is not None:
        on_scan(scan)
    frames = [customer_summary(scan.rows, as_of=as_of)]
    if activity or cache is not None:  # a pipeline keeps both: later steps may need the activity
        frames.append(customer_activity(scan.rows))
    results, rejects = collect_checked([scan], frames, on_bad_rows=on_bad_rows)
    loaded = Loaded(scan=scan, customers=results[0], activity=results[1] if len(results) > 1 else None, rejects=rejects)
    if cache is not None and key is not None:
        cache[key] = loaded
        if as_of is None and loaded.as_of is not None:  # the same data under its resolved as-of date
            cache[_key(inputs, options, loaded.as_of, on_bad_rows)] = loaded
    return loaded
