"""What the executors run on the rows Spark read: each file's Polars plan, the same one the Polars engine runs.

Spark reads the raw files (a CSV as its text lines, a Parquet file as its columns) with where each row came
from (the file, and the start of the file's block the task read); :func:`parse_batches` runs in
``mapInArrow`` and turns each Arrow batch into rows of one fixed schema (:meth:`ParseJob.schema`), told apart
by ``_kind``: :data:`LINE`, a valid line in the canonical schema (rows dated on or after the as-of date are
only counted), or :data:`SIDE`, a few side rows packed in one value (``_side``: Arrow IPC; the lines' columns
stay narrow, and Spark moves one value instead of many wide rows). Side rows (:meth:`ParseJob.side_schema`) are:

- :data:`REJECT`: a rejected row, as :func:`loyalty_cli.io.table_plans.rejected_rows` words it, with its block and
  its index in the block (``_line``): the driver makes the file's row number from them;
- :data:`BLOCK`: one per block read, after the rows: its lines (``_line``), valid lines and rows left out;
- :data:`PROBLEM`: a file that cannot be read as the Polars engine reads it (a line with more fields than
  the header, a line break inside quotes: :data:`QUOTED_BREAK`), with the line's index in its block.

A CSV's lines are parsed by Polars' own CSV reader, a batch at a time, with the file's header width, so a
short line, a blank line, quotes and empty values read as they do on the Polars engine. A CSV with a value
broken over lines inside quotes is read whole instead (:func:`parse_files`, one task per file): the Polars
engine's own scan of its bytes, rows numbered as there (records, not lines). Pure Polars (no pyspark here):
the executors import it.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pyarrow as pa

from loyalty_cli.io.checks import C
from loyalty_cli.io.columns import ColumnChoice
from loyalty_cli.io.scanning import scan, whitespace_fields
from loyalty_cli.io.sources import Source, first_ragged_line
from loyalty_cli.io.table_plans import FilePlan, parse_frame, rejected_rows
from loyalty_cli.spark.frames import conform, pack_frame, to_arrow

LINE, SIDE, REJECT, BLOCK, PROBLEM = 0, 1, 2, 3, 4
#: the columns of the side rows (all but the valid lines), which travel packed (see :func:`pack_frame`)
SIDE_HEAD = {
    "_kind": pl.Int8,  # REJECT, BLOCK or PROBLEM
    "_src": pl.Int32,  # the file: its index in the plan
    "_block": pl.Int64,  # the start (bytes) of the file's block the row was read from
    "_line": pl.Int64,  # REJECT, PROBLEM: index of the line in its block; BLOCK: lines in the block
    "_valid": pl.Int64,  # BLOCK: valid lines before the as-of date
    "_later": pl.Int64,  # BLOCK: valid rows dated on or after the as-of date
}
RANK, PACKED = "_rank", "_side"
#: side rows kept before they are sent (a task's rejected rows travel in pieces of about this many)
SIDE_ROWS = 50_000
REASONS = {"reject_reason": pl.String, "reject_column": pl.String, "reject_value": pl.String}
#: the columns Spark's read hands over: the file (as Spark names it), the block, the text line (CSV), and a
#: whole file's bytes (a CSV read whole)
PATH, BLOCK_START, TEXT, CONTENT = "_path", "_block", "value", "content"
#: the text of a PROBLEM row for a line with more fields than the header: ``fields:N``
RAGGED = "fields:"
#: the text of a PROBLEM row for a line break inside quotes, in a CSV read line by line: the file is read again
#: whole (:func:`parse_files`)
QUOTED_BREAK = "a line break inside quotes (the Spark engine reads a CSV line by line)"
#: the start of the text of a PROBLEM row for a file read whole that Polars could not read: ``read:<error>``
UNREADABLE = "read:"


@dataclass(frozen=True)
class Problem:
    """A file that cannot be read as the Polars engine reads it: the line (its index in its block) and why."""

    line: int
    text: str


def file_key(path: str) -> str:
    """A file as Spark names it (``file:/data/a%20b.csv``) and as the driver does (``/data/a b.csv``), alike."""
    text = unquote(path)
    if text.startswith("file:"):
        text = "/" + text[5:].lstrip("/")
    return text


def raw_name(i: int) -> str:
    """The column a rejected row's raw value ``i`` travels in (raw headers may clash with canonical names)."""
    return f"_x{i}"


def read_name(i: int) -> str:
    """The column a Parquet file's column ``i`` is read into."""
    return f"_r{i}"


@dataclass(frozen=True)
class ParseJob:
    """Everything :func:`parse_batches` needs, shipped to the executors: the files' plans, the key of each
    file as Spark names it, the canonical columns, the raw columns of rejected rows, and the as-of cutoff."""

    files: tuple[FilePlan, ...]
    keys: Mapping[str, int]  # file_key -> index in ``files``
    mapping: ColumnChoice
    lines: pl.Schema  # the canonical columns of the valid lines, and their types
    raw: tuple[str, ...]  # the raw headers of every file, in order (rejected rows: ``raw_name(i)``)
    cutoff: datetime | None
    date_field: str | None
    ranks: tuple[int, ...] | None = None  # per file, when lines repeated across files are looked for

    @property
    def schema(self) -> pl.Schema:
        """The schema of every row the parse returns: ``_kind``, the lines' columns, [``_rank``], ``_side``."""
        rank = {RANK: pl.Int32()} if self.ranks is not None else {}
        return pl.Schema({"_kind": pl.Int8(), **self.lines, **rank, PACKED: pl.Binary()})

    @property
    def side_schema(self) -> pl.Schema:
        """The schema of the side rows (rejected rows, blocks, problems)."""
        raw = {raw_name(i): pl.String() for i in range(len(self.raw))}
        return pl.Schema({**SIDE_HEAD, **REASONS, **raw, "_problem": pl.String()})


def parse_batches(batches: Iterable[pa.RecordBatch], job: ParseJob) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``: one task's batches (rows of its blocks, in order) -> rows of :meth:`ParseJob.schema`."""
    schema, side_schema = job.schema, job.side_schema
    raw_index = {name: i for i, name in enumerate(job.raw)}
    blocks: dict[tuple[int, int], list[int]] = {}  # (file, block) -> [lines, valid, later]
    side: list[pl.DataFrame] = []
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        for (path, block), part in frame.group_by(PATH, BLOCK_START, maintain_order=True):
            index = job.keys.get(file_key(str(path)))
            if index is None:
                side.append(_problem(-1, int(block), Problem(0, f"Spark read a file that was not planned: {path}")))
                continue
            count = blocks.setdefault((index, int(block)), [0, 0, 0])
            start = count[0]
            count[0] += part.height
            raw = _raw(job.files[index], int(block), start, part)
            yield from _emit(_rows(job, index, int(block), raw, raw_index, count), index, int(block), side, schema)
        if sum(f.height for f in side) >= SIDE_ROWS:
            yield _packed(side, side_schema, schema)
            side = []
    if blocks:
        side.append(_blocks(blocks))
    if side:
        yield _packed(side, side_schema, schema)


def parse_files(batches: Iterable[pa.RecordBatch], job: ParseJob) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over CSV files read whole (``binaryFile``: :data:`PATH` and :data:`CONTENT`, a file a row):
    each read as the Polars engine reads it (:func:`_whole`), as one block; rows of :meth:`ParseJob.schema`."""
    schema, side_schema = job.schema, job.side_schema
    raw_index = {name: i for i, name in enumerate(job.raw)}
    side: list[pl.DataFrame] = []
    for batch in batches:
        paths, contents = batch.column(PATH), batch.column(CONTENT)
        for i in range(batch.num_rows):
            path = str(paths[i].as_py())
            index = job.keys.get(file_key(path))
            if index is None:
                side.append(_problem(-1, 0, Problem(0, f"Spark read a file that was not planned: {path}")))
                continue
            count = [0, 0, 0]
            raw = _whole(job.files[index].source, contents[i].as_py())
            if not isinstance(raw, Problem):
                count[0] = raw.height + job.files[index].source.header_rows
            yield from _emit(_rows(job, index, 0, raw, raw_index, count), index, 0, side, schema)
            side.append(_blocks({(index, 0): count}))
            if sum(f.height for f in side) >= SIDE_ROWS:
                yield _packed(side, side_schema, schema)
                side = []
    if side:
        yield _packed(side, side_schema, schema)


def _emit(
    found: tuple[pl.DataFrame, pl.DataFrame] | Problem,
    index: int,
    block: int,
    side: list[pl.DataFrame],
    schema: pl.Schema,
) -> Iterator[pa.RecordBatch]:
    """The valid lines of a piece as batches; its rejected rows, or its problem, kept in ``side``."""
    if isinstance(found, Problem):
        side.append(_problem(index, block, found))
        return
    lines, rejected = found
    if lines.height:
        yield from to_arrow(conform(lines, schema)).to_batches()
    if rejected.height:
        side.append(rejected)


def _blocks(blocks: Mapping[tuple[int, int], list[int]]) -> pl.DataFrame:
    """The BLOCK rows: per (file, block), its lines, valid lines and rows left out."""
    return pl.DataFrame(
        [(BLOCK, i, b, n, valid, later) for (i, b), (n, valid, later) in blocks.items()],
        schema=["_kind", "_src", "_block", "_line", "_valid", "_later"],
        orient="row",
    )


def _packed(side: list[pl.DataFrame], side_schema: pl.Schema, schema: pl.Schema) -> pa.RecordBatch:
    """The side rows as one SIDE row."""
    rows = pl.concat([conform(f, side_schema) for f in side], how="vertical")
    row = pl.DataFrame({"_kind": [SIDE], PACKED: [pack_frame(rows)]}, schema={"_kind": pl.Int8, PACKED: pl.Binary})
    return to_arrow(conform(row, schema)).to_batches()[0]


def _problem(index: int, block: int, problem: Problem) -> pl.DataFrame:
    return pl.DataFrame(
        {"_kind": [PROBLEM], "_src": [index], "_block": [block], "_line": [problem.line], "_problem": [problem.text]}
    )


def _rows(
    job: ParseJob,
    index: int,
    block: int,
    raw: pl.DataFrame | Problem,
    raw_index: Mapping[str, int],
    count: list[int],
) -> tuple[pl.DataFrame, pl.DataFrame] | Problem:
    """The valid lines and the rejected rows of one piece of a block (``raw``: its rows as read, :func:`_raw`),
    counting valid lines and rows left out into ``count``; or the problem that stops the read."""
    file = job.files[index]
    if isinstance(raw, Problem):
        return raw
    lf = parse_frame(raw.lazy(), file.plan)
    valid = lf.filter(~pl.col("_bad"))
    frames = []
    if job.cutoff is not None and job.date_field is not None:
        frames.append(valid.filter(C(job.date_field) >= job.cutoff).select(pl.len().alias("rows")))
        valid = valid.filter(C(job.date_field) < job.cutoff)
    rank = job.ranks[index] if job.ranks is not None else None
    lines = valid.select(
        pl.lit(LINE, dtype=pl.Int8).alias("_kind"),
        *(C(name).alias(name) for name in file.plan.outputs),
        pl.lit(rank, dtype=pl.Int32).alias(RANK),
    )
    rejects = rejected_rows(lf, file.source, file.schema, file.plan, job.mapping)
    found = pl.collect_all([lines, rejects, *frames])
    lines_found, rejected = found[0], found[1]
    count[1] += lines_found.height
    if frames:
        count[2] += int(found[2].item())
    if rejected.height:
        rejected = rejected.drop("source_file").rename(
            {"source_row": "_line", **{n: raw_name(raw_index[n]) for n in rejected.columns if n in raw_index}}
        )
        rejected = rejected.with_columns(
            pl.lit(REJECT, dtype=pl.Int8).alias("_kind"),
            pl.lit(index, dtype=pl.Int32).alias("_src"),
            pl.lit(block, dtype=pl.Int64).alias("_block"),
        )
    return lines_found, rejected


def _raw(file: FilePlan, block: int, start: int, part: pl.DataFrame) -> pl.DataFrame | Problem:
    """The file's columns as the Polars engine reads them (``file.schema``) and ``_row``: each row's index in
    its block; or the problem that stops the read."""
    src = file.source
    if src.format == "parquet":
        names = list(file.schema.names())
        raw = part.select(pl.col(read_name(i)).alias(name) for i, name in enumerate(names))
        try:
            raw = raw.cast(dict(file.schema))
        except pl.exceptions.PolarsError as exc:
            return Problem(start, str(exc).splitlines()[0])
        return raw.with_columns(pl.int_range(start, start + raw.height, dtype=pl.Int64).alias("_row"))
    lines = part[TEXT].to_list()
    skip = 0
    if block == 0 and start == 0 and lines:  # the start of the file: a byte-order mark, the header
        lines[0] = lines[0].lstrip("\ufeff")
        skip = src.header_rows
    data = lines[skip:]
    first = start + skip
    parsed = parse_lines(src, list(file.schema.names()), data)
    if isinstance(parsed, Problem) or parsed.height != len(data):
        # a line with an odd number of quotes opens a value that goes on over the next line: the file is read
        # again whole (a line break inside quotes is also why the rows and lines would not match)
        odd = None if src.whitespace else next((i for i, line in enumerate(data) if line.count('"') % 2), None)
        if odd is not None or not isinstance(parsed, Problem):
            return Problem(first + (odd or 0), QUOTED_BREAK)
        return Problem(first + parsed.line, parsed.text)
    return parsed.with_columns(pl.int_range(first, first + parsed.height, dtype=pl.Int64).alias("_row"))


def _whole(src: Source, content: bytes) -> pl.DataFrame | Problem:
    """A CSV file's bytes (gzip or not) read as the Polars engine reads the file (:func:`~loyalty_cli.io.scanning.
    scan`), ``_row`` as in :func:`_raw` (its index among the file's records, the header's included): a value may
    hold line breaks inside quotes, and rows are numbered by record, as there; or the problem that stops the read
    (a line with more fields than the header, found as :func:`~loyalty_cli.io.sources.first_ragged_line` finds
    it, or Polars' error)."""
    data = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
    with tempfile.TemporaryDirectory(prefix="loyalty-spark-") as folder:
        path = Path(folder) / "whole.csv"
        path.write_bytes(data)
        local = replace(src, path=path, read_path=None)
        try:
            raw = scan(local).collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            ragged = first_ragged_line(local)
            if ragged is not None:
                return Problem(ragged[0] - 1, f"{RAGGED}{ragged[1]}")
            return Problem(0, UNREADABLE + (str(exc).strip().splitlines() or [type(exc).__name__])[0])
    return raw.with_columns((pl.col("_row").cast(pl.Int64) - 1).alias("_row"))


def parse_lines(src: Source, names: list[str], lines: list[str]) -> pl.DataFrame | Problem:
    """A CSV's text lines (no header) read as :func:`loyalty_cli.io.scanning.scan` reads the file, with the
    header's width: columns ``names`` as text; or the problem (``line``: its index among ``lines``)."""
    if src.whitespace:
        width, separator, quote = 1, "\x1f", None
    else:
        width, separator, quote = len(names), src.separator, '"'
    prefix = next(p for p in ("_", "c", "x") if p != separator)
    header = separator.join(f"{prefix}{i}" for i in range(width))
    body = "\n".join([header, *lines]) + "\n"
    try:
        frame = pl.read_csv(
            body.encode(),
            separator=separator,
            has_header=True,
            infer_schema=False,
            quote_char=quote,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        return _ragged(lines, separator, width, quote) or Problem(0, str(exc).splitlines()[0])
    if src.whitespace:
        return frame.select(pl.col(f"{prefix}0").alias("_line")).select(*whitespace_fields(src))
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _ragged(lines: list[str], separator: str, width: int, quote: str | None) -> Problem | None:
    """The first line with more fields than ``width`` (``RAGGED`` and its fields), or None."""
    reader = csv.reader(lines, delimiter=separator, quotechar=quote or '"', quoting=csv.QUOTE_MINIMAL)
    try:
        for i, row in enumerate(reader):
            if len(row) > width:
                return Problem(i, f"{RAGGED}{len(row)}")
    except csv.Error:
        return None
    return None
