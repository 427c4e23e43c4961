"""Reading back a table this tool wrote (an earlier run's ``-o`` output, e.g. a lifecycle snapshot).

The format comes from the suffix (CSV, Parquet or JSON, as :func:`~loyalty_cli.io.writers.output_format`
names it); CSV cells are read as text. The CSV writer puts an apostrophe before text that starts like a
spreadsheet formula (:func:`~loyalty_cli.io.formulas.neutralise_formulas`): :func:`restore_text` takes it off
again, so an id reads back as it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from loyalty_cli.io.formulas import restore_neutralised
from loyalty_cli.io.writers import output_format


def read_snapshot(path: Path, *, text: Sequence[str] = ()) -> pl.DataFrame:
    """The table in ``path``, its ``text`` columns as :func:`restore_text` gives them. Raises
    :class:`~loyalty_cli.errors.UsageError` for a suffix of no known format, and the reader's error
    (``PolarsError``, ``OSError``, ``ValueError``) for a file that cannot be read."""
    kind = output_format(path)
    if kind == "csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif kind == "parquet":
        frame = pl.read_parquet(path)
    else:
        frame = pl.read_json(path, infer_schema_length=None)
    return restore_text(frame, text)


def restore_text(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The ``columns`` of ``frame`` (those it has) as text, trimmed, without the apostrophe the CSV writer put
    before formula-like text (an id such as ``'abc`` keeps its apostrophe)."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        restore_neutralised(pl.col(c).cast(pl.String).str.strip_chars()).alias(c) for c in present
    )
