"""How many passes stage 1 takes for a memory budget: the working set estimated from the inputs, and the plan.

:func:`estimate` works out, before a line is read, what stage 1 would hold at its peak: the lines (exact from
Parquet footers; for CSV the file's size over the mean length of its first lines, a gzip file by the
uncompressed size in its trailer) times what a line costs, plus a fixed part (:class:`Footprint`).
:func:`plan_passes` turns that and a budget into a number of passes over customer partitions
(:mod:`loyalty_cli.stage1.partitioned`): 1 when one pass fits, else enough for each pass's share of the lines to
fit; a budget that no number of passes can meet is a :class:`~loyalty_cli.errors.ConfigError` naming the setting.

The footprint was measured (peak RSS sampled per phase, Polars 2.1, 2 cores; the generated shops of
``bench/segment_bench.py``: ~10 lines per customer, 4 columns; issue 20):

- one pass: 10M Parquet lines 1090 MiB (CSV 960 MiB; with the activity table 1061 MiB; with email, category
  and channel 2495 MiB), 50M Parquet lines 3224 MiB;
- in passes, the peak of a pass over 50M lines: 4 passes 1277 MiB, 7 passes 801 MiB, 8 passes 824 MiB, 16
  passes 633 MiB (about 390 MB and 76 bytes a line of the pass; over 10M lines 290-500 MiB);
- the read that writes the partitions: 330-510 MiB for Parquet, 300 MiB (1M lines) to 750 MiB (10M and 20M
  lines) for CSV, whatever the number of partitions;
- peaks vary by up to 15% from run to run, and grow with the threads (more batches in flight).

What is not in the estimate: the customer table stage 1 returns (one row per customer: 4.8M customers of 50M
lines merged at 700-830 MiB) is held whatever the passes, and stage 2 works on it. The activity table (one row per
customer and day: ~24M rows, ~0.8 GB for 50M lines) is not merged in passes: it stays in its parts on disk and
the commands read one part at a time (:mod:`loyalty_cli.stage1.activity_parts`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loyalty_cli.errors import ConfigError
from loyalty_cli.io.readers import Scan
from loyalty_cli.io.sniff import SNIFF_BYTES, open_bytes
from loyalty_cli.io.sources import Source
from loyalty_cli.memory import SETTING, format_size
from loyalty_cli.words import count

MB = 1000**2
#: the optional text columns of the transactions that make each order, and so each line, cost more
TEXT_COLUMNS = ("email", "category", "channel")


@dataclass(frozen=True)
class Footprint:
    """What stage 1 holds at its peak, in bytes (peak RSS, measured: see the top).

    In one pass: ``fixed`` (the process, Polars, the read's buffers) plus, per line, ``per_line`` (lines ->
    orders -> customers), ``activity_per_line`` more with the activity table and ``text_per_line`` more per
    optional text column (email, category, channel: carried per order). In passes: ``pass_fixed`` (what the
    process keeps from the read that wrote the partitions, and a pass's buffers) plus the same cost per line of
    the pass. ``partitioned_read``: the peak of that read, whatever the size (streamed; Parquet), and
    ``partitioned_read_csv`` for CSV files; ``max_passes``: beyond, a budget is out of reach."""

    fixed: int = 220 * MB
    per_line: int = 90
    activity_per_line: int = 20
    text_per_line: int = 50
    pass_fixed: int = 390 * MB
    partitioned_read: int = 450 * MB
    partitioned_read_csv: int = 800 * MB
    max_passes: int = 64


#: the measured footprint
FOOTPRINT = Footprint()


@dataclass(frozen=True)
class Estimate:
    """The lines of an input (``exact``: counted from the files' footers, not from their size), what each line
    costs, whether some files are CSV, and the ``footprint`` these come from."""

    lines: int
    exact: bool
    line_bytes: int
    csv: bool = False
    footprint: Footprint = FOOTPRINT

    @property
    def one_pass(self) -> int:
        """The estimated peak of stage 1 in one pass."""
        return self.footprint.fixed + self.line_bytes * self.lines

    def pass_bytes(self, passes: int) -> int:
        """The estimated peak of each of ``passes`` passes over customer partitions."""
        return self.footprint.pass_fixed + math.ceil(self.line_bytes * self.lines / passes)

    @property
    def floor(self) -> int:
        """The peak of the read that writes the partitions: what any number of passes needs."""
        fp = self.footprint
        return fp.partitioned_read_csv if self.csv else fp.partitioned_read

    def describe(self) -> str:
        """``about 10,000,000 lines, 1.1 GB in one pass`` (without "about" when the lines were counted)."""
        lines = count(self.lines, "line")
        return f"{'' if self.exact else 'about '}{lines}, {format_size(self.one_pass)} in one pass"


def estimate(
    scan: Scan, *, activity: bool = False, summary: bool = True, footprint: Footprint | None = None
) -> Estimate:
    """The working set of stage 1 over ``scan``'s files: the customer summary (``summary``) and the activity
    table (``activity``), by ``footprint`` (None: :data:`FOOTPRINT`)."""
    fp = footprint or FOOTPRINT
    lines, exact = count_lines(scan.sources)
    texts = sum(1 for c in TEXT_COLUMNS if c in scan.mapping.columns)
    per_line = (fp.per_line if summary else 0) + (fp.activity_per_line if activity else 0)
    per_line += texts * fp.text_per_line if per_line else 0
    csv = any(src.format == "csv" for src in scan.sources)
    return Estimate(lines=lines, exact=exact, line_bytes=per_line, csv=csv, footprint=fp)


def plan_passes(found: Estimate, budget: int | None) -> int:
    """The passes stage 1 takes within ``budget`` bytes (None: no budget, one pass): 1 when the one-pass estimate
    fits, else the fewest whose share of the lines fits. Raises a :class:`ConfigError` naming the setting when
    none does (the budget below the partitioned read's own peak, or more passes than
    :attr:`Footprint.max_passes`)."""
    if budget is None or found.one_pass <= budget:
        return 1
    fp = found.footprint
    room = budget - fp.pass_fixed
    passes = math.ceil(found.line_bytes * found.lines / room) if room > 0 else fp.max_passes + 1
    if budget < found.floor or passes > fp.max_passes:
        least = max(found.floor, found.pass_bytes(fp.max_passes))
        raise ConfigError(
            SETTING,
            f"of {format_size(budget)} is too small for these transactions ({found.describe()}): reading them in "
            f"passes needs at least {format_size(least)}",
            hint=f"Give at least {format_size(least)}, or none to read them in one pass.",
        )
    return max(passes, 2)


def count_lines(sources: Sequence[Source]) -> tuple[int, bool]:
    """The data lines of the files, and whether the count is exact (Parquet footers) or estimated (CSV: from the
    first bytes; a quoted value may hold a line break)."""
    total, exact = 0, True
    for src in sources:
        lines, known = _lines(src)
        total += lines
        exact = exact and known
    return total, exact


def _lines(src: Source) -> tuple[int, bool]:
    if src.empty:
        return 0, True
    if src.format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(src.scan_path).num_rows, True
    path = src.scan_path
    with open_bytes(path) as fh:
        sample = fh.read(SNIFF_BYTES)
        whole = len(fh.read(1)) == 0
    newlines = sample.count(b"\n") + (0 if sample.endswith(b"\n") else 1)
    if whole:  # the whole file is in the sample (a quoted value may hold a line break: not exact)
        return max(newlines - src.header_rows, 0), False
    size = _text_size(path)
    per_line = len(sample) / max(newlines - 1, 1)  # the last line of the sample may be cut
    return max(math.ceil(size / per_line) - src.header_rows, 0), False


def _text_size(path: Path) -> int:
    """The bytes of a text file once decompressed: its size, or for a gzip file the size in its trailer (modulo
    4 GiB: the smallest size consistent with it that is not below the compressed size)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b" or size < 18:
            return size
        fh.seek(-4, 2)
        (recorded,) = struct.unpack("<I", fh.read(4))
    while recorded < size:
        recorded += 2**32
    return recorded
