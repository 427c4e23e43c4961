"""A table written a slice at a time: the rows of a frame in a given order, shaped as they are written.

A command's customer table at tens of millions of lines has millions of rows; sorted and shaped whole, it is a
second copy of the customer summary it comes from (measured: 0.9 GB beside 0.46 GB for 4.8M customers). A
:class:`Rows` keeps the summary and the order (4 bytes a row), and the writers (:mod:`loyalty_cli.io.writers`)
take :data:`CHUNK_ROWS` rows at a time: gathered, shaped, written. CSV files come out byte for byte as a whole
table would write them (every value is formatted on its own); a Parquet file gets a row group per slice. Tables
of at most :data:`WHOLE_ROWS` rows, and every other format, are written whole, as before."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

#: the rows a writer gathers and shapes at a time
CHUNK_ROWS = 125_000  # 50M lines, 1GB budget: the lifecycle's list 960 -> 944 MiB against 250k (its texts per slice)
#: the largest table written whole: slicing costs time (1M customers to Parquet: 0.5-0.7 s whole, 1.1-2.2 s in
#: slices), and a table this size fits beside its summary; beyond it, the second copy is what breaks a budget
WHOLE_ROWS = 2_000_000


@dataclass(frozen=True)
class Rows:
    """``frame``'s rows at the positions of ``order``, in that order (None: as they are), passed through
    ``shape`` (a plan over the rows: the columns as written) when given."""

    frame: pl.DataFrame
    order: pl.Series | None = None
    shape: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None

    @property
    def height(self) -> int:
        return self.frame.height if self.order is None else self.order.len()

    def collect(self) -> pl.DataFrame:
        """The whole table, in memory."""
        return self._rows(0, self.height)

    def head(self, rows: int) -> pl.DataFrame:
        """The first ``rows`` rows (all when fewer), in memory."""
        return self._rows(0, min(rows, self.height))

    def slices(self, rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
        """The table ``rows`` rows at a time, in order (nothing for an empty table)."""
        for start in range(0, self.height, rows):
            yield self._rows(start, rows)

    def _rows(self, start: int, rows: int) -> pl.DataFrame:
        if self.order is None:
            part = self.frame.lazy().slice(start, rows)
        else:
            # the columns gathered in parallel, eagerly: the same gather in a lazy plan (``pl.lit`` of the positions)
            # took ~0.5 GB more and twice the time (4.8M rows of 13 columns, 250k at a time)
            part = self.frame.select(pl.all().gather(self.order.slice(start, rows))).lazy()
        # in one chunk, as a sort leaves them: the threads' pieces would make a Parquet file's bytes depend on the
        # number of cores (0.05 s for 1M rows)
        return (self.shape(part) if self.shape is not None else part).collect().rechunk()


def beside(frame: pl.DataFrame, columns: Sequence[pl.Series]) -> pl.DataFrame:
    """``frame`` with ``columns`` (as long as it) added, :func:`aligned`."""
    return aligned(frame.hstack(list(columns)))


def aligned(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every column cut into the chunks of its first column (slices: nothing is copied, but a piece
    across two of a column's own chunks). A table read in passes has its columns in one chunk per part; a column
    cut otherwise beside them (one piece, e.g. a new column or the as-of date) made every eager operation on the
    frame (``with_columns``, ``filter``, ``select``) align the chunks first, that is copy every column (4.8M
    customers: ~0.4 GB each time)."""
    if frame.width < 2 or frame.height == 0:
        return frame
    lengths = frame.to_series(0).chunk_lengths()
    starts = list(itertools.accumulate([0, *lengths[:-1]]))

    def cut(column: pl.Series) -> pl.Series:
        if column.chunk_lengths() == lengths:
            return column
        pieces = (column.slice(start, n) for start, n in zip(starts, lengths, strict=True))
        # a piece across two of the column's own chunks is copied into one (that piece only)
        return pl.concat([p if p.n_chunks() == 1 else p.rechunk() for p in pieces], rechunk=False)

    return pl.DataFrame([cut(c) for c in frame.get_columns()])


def order_by(frame: pl.DataFrame, group: str, value: str) -> pl.Series:
    """The positions of ``frame``'s rows sorted by ``group`` (an Enum: its categories' order), ``value`` (largest
    first), then ``customer_id``; nulls last. When the ids come sorted (stage 1 in passes gives customers in id
    order), a row's position is its id's rank, so one integer holds the group, the value's dense rank and the
    tie-break, and no strings are sorted (4.8M customers: ~370 MB and seconds less than sorting by the columns)."""
    n, dtype, ids = frame.height, frame.schema[group], frame["customer_id"]
    assert isinstance(dtype, pl.Enum)
    groups = len(dtype.categories)
    if ids.is_sorted() and not ids.has_nulls() and (groups + 1) * (n + 2) * (n + 1) < 2**63:
        group_key = pl.col(group).to_physical().cast(pl.UInt64).fill_null(groups)
        value_key = pl.col(value).rank("dense", descending=True).cast(pl.UInt64).fill_null(n + 1)
        key = (group_key * (n + 2) + value_key) * (n + 1) + pl.int_range(n, dtype=pl.UInt64)
        return frame.select(key.arg_sort()).to_series()
    return frame.select(
        pl.arg_sort_by(group, value, "customer_id", descending=[False, True, False], nulls_last=True)
    ).to_series()
