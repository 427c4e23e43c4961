"""Benchmark `loyalty segment` against the floor: a plain Polars group-by over the same file.

    python bench/segment_bench.py                 # 1M and 10M lines, Parquet and CSV, 3 runs each
    python bench/segment_bench.py --rows 1e6 --runs 5 --formats parquet

Data is generated on the fly into a temporary folder (never committed): ~10 lines per customer, 1-3 lines
per order, two years of order timestamps, string customer and order ids, amounts with cents. Both programs
run as whole processes, alternately, and each run's wall time and peak memory (max RSS from wait4) are
measured. The data is generated in a child process and this process never imports Polars before the
runs: a child's max RSS includes what it inherited at fork, so a parent holding the data would inflate
both peaks by the same amount and shrink their ratio. The floor scans the file, groups by customer
(min/max date, distinct days, summed amount) and writes Parquet; the *orders floor* does the same after
first grouping the lines by customer and order, the least an exact summary needs (orders and their net
values); `loyalty segment` does the full job (validation, orders, summary, scores, segments, output).

`--against REV` also times `loyalty segment` of an earlier revision in the same run (checked out with
`git worktree add --detach /tmp/compare-REV REV`, as bench/compare_outputs.py does, and run from its source
with this environment's packages), in turn with the others, and reports the ratio: e.g. the Polars path
before and after a change (issue 19: within 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCAN = """
import sys, polars as pl
src, fmt, out = sys.argv[1:4]
if fmt == "parquet":
    lf = pl.scan_parquet(src)
else:
    lf = pl.scan_csv(src, schema_overrides={"customer_id": pl.String, "order_id": pl.String,
                                            "order_date": pl.String, "amount": pl.Float64})
    lf = lf.with_columns(pl.col("order_date").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S"))
"""
FLOOR = (
    SCAN
    + """
lf.group_by("customer_id").agg(
    pl.col("order_date").min().alias("first"),
    pl.col("order_date").max().alias("last"),
    pl.col("order_date").dt.date().n_unique().alias("days"),
    pl.col("amount").sum().alias("spend"),
).sink_parquet(out)
"""
)
# The least any exact per-customer summary does: order counts and order values (a purchase is an order with a
# positive net value) need the lines grouped by customer *and order* first. Same aggregations as the floor.
ORDERS_FLOOR = (
    SCAN
    + """
orders = lf.group_by("customer_id", "order_id").agg(pl.col("order_date").min(), pl.col("amount").sum())
orders.group_by("customer_id").agg(
    pl.col("order_date").min().alias("first"),
    pl.col("order_date").max().alias("last"),
    pl.col("order_date").dt.date().n_unique().alias("days"),
    pl.col("amount").sum().alias("spend"),
    pl.len().alias("orders"),
).sink_parquet(out)
"""
)


def generate(rows: int, seed: int = 1):  # -> pl.DataFrame
    """`rows` transaction lines: customers ~ rows/10, orders of 1-3 lines, a few returns, a SKU per line."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    n_orders = rows  # more than enough (orders have 1-3 lines): the list is cut at exactly `rows` lines below
    customers = max(rows // 10, 1)
    cust = (customers * rng.random(n_orders) ** 2).astype(np.int64)  # skewed: a few heavy buyers, a long tail
    start = np.datetime64("2023-01-01T00:00:00", "s")
    order_time = start + rng.integers(0, 730 * 86400, n_orders).astype("timedelta64[s]")
    lines_per_order = rng.integers(1, 4, n_orders)
    # trim so that the total is exactly `rows`
    cum = np.cumsum(lines_per_order)
    keep = np.searchsorted(cum, rows, side="left") + 1
    lines_per_order = lines_per_order[:keep]
    lines_per_order[-1] -= cum[keep - 1] - rows
    idx = np.repeat(np.arange(keep), lines_per_order)
    amount = np.round(rng.gamma(2.0, 15.0, rows), 2)
    returns = rng.random(rows) < 0.02
    amount[returns] = -amount[returns]
    return pl.DataFrame(
        {
            "customer_id": pl.Series(cust[idx]).cast(pl.String).str.zfill(8).str.replace(r"^", "C"),
            "order_id": pl.Series(idx + 100_000).cast(pl.String),
            "order_date": pl.Series(order_time[idx].astype("datetime64[us]")),
            "amount": amount,
            # for `loyalty products`: 3,000 SKUs, a few popular; from a stream of its own (the columns above are
            # the same with or without it)
            "sku": pl.Series((3000 * np.random.default_rng([seed, 2]).random(rows) ** 2.5).astype(np.int64))
            .cast(pl.String)
            .str.zfill(5)
            .str.replace(r"^", "SKU"),
        }
    )


def write(rows: int, fmt: str, path: Path) -> None:
    """Generate `rows` lines and write them to `path` as Parquet or CSV (run in a child process)."""
    import polars as pl

    data = generate(rows)
    if fmt == "parquet":
        data.write_parquet(path)
    else:
        data.with_columns(pl.col("order_date").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv(path)


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1e6,1e7", help="comma-separated line counts")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--against", metavar="REV", help="also time `loyalty segment` at this git revision")
    parser.add_argument("--write", nargs=3, metavar=("ROWS", "FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(int(args.write[0]), args.write[1], Path(args.write[2]))
        return
    loyalty = shutil.which("loyalty") or sys.exit("install the project first: pip install -e .")
    earlier = checkout_revision(args.against) if args.against else None
    results = []
    with tempfile.TemporaryDirectory(prefix="loyalty-bench-") as tmp:
        folder = Path(tmp)
        for rows in (int(float(r)) for r in args.rows.split(",")):
            for fmt in args.formats.split(","):
                src = folder / f"tx_{rows}.{fmt}"
                subprocess.run([sys.executable, __file__, "--write", str(rows), fmt, str(src)], check=True)
                floor_cmd = [sys.executable, "-c", FLOOR, str(src), fmt, str(folder / "floor.parquet")]
                orders_cmd = [sys.executable, "-c", ORDERS_FLOOR, str(src), fmt, str(folder / "orders.parquet")]
                ours_cmd = (
                    [
                        loyalty,
                        "segment",
                        str(src),
                        "-o",
                        str(folder / "segments.parquet"),
                        "--quiet",
                        "--date-format",
                        "%Y-%m-%d %H:%M:%S",
                    ]
                    if fmt == "csv"
                    else [loyalty, "segment", str(src), "-o", str(folder / "segments.parquet"), "--quiet"]
                )
                before_cmd = [sys.executable, "-m", "loyalty_cli", *ours_cmd[1:]]
                run(floor_cmd)  # warm the page cache
                floor, orders, ours, before = [], [], [], []
                for _ in range(args.runs):
                    floor.append(run(floor_cmd))
                    orders.append(run(orders_cmd))
                    ours.append(run(ours_cmd))
                    if earlier is not None:
                        before.append(run(before_cmd, env={**os.environ, "PYTHONPATH": str(earlier / "src")}))
                row = {
                    "rows": rows,
                    "format": fmt,
                    "size_mb": round(src.stat().st_size / 2**20, 1),
                    "floor_s": round(statistics.median(t for t, _ in floor), 3),
                    "orders_s": round(statistics.median(t for t, _ in orders), 3),
                    "loyalty_s": round(statistics.median(t for t, _ in ours), 3),
                    "floor_mb": round(statistics.median(m for _, m in floor)),
                    "orders_mb": round(statistics.median(m for _, m in orders)),
                    "loyalty_mb": round(statistics.median(m for _, m in ours)),
                }
                row["time_ratio"] = round(row["loyalty_s"] / row["floor_s"], 2)
                row["memory_ratio"] = round(row["loyalty_mb"] / row["floor_mb"], 2)
                row["orders_time_ratio"] = round(row["orders_s"] / row["floor_s"], 2)
                row["orders_memory_ratio"] = round(row["orders_mb"] / row["floor_mb"], 2)
                row["loyalty_x_orders_time"] = round(row["loyalty_s"] / row["orders_s"], 2)
                row["loyalty_x_orders_memory"] = round(row["loyalty_mb"] / row["orders_mb"], 2)
                if before:
                    row["against"] = args.against
                    row["against_s"] = round(statistics.median(t for t, _ in before), 3)
                    row["against_mb"] = round(statistics.median(m for _, m in before))
                    row["x_against_time"] = round(row["loyalty_s"] / row["against_s"], 3)
                    # each round's ratio, then their median: steadier than a ratio of medians when the load varies
                    paired = [a[0] / b[0] for a, b in zip(ours, before, strict=True)]
                    row["x_against_paired"] = round(statistics.median(paired), 3)
                results.append(row)
                print(json.dumps(row), flush=True)
                src.unlink()
    print_results(results, args.json)


def checkout_revision(rev: str) -> Path:
    """`git worktree add --detach /tmp/compare-REV REV`, or the one already there at REV."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()

    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = Path("/tmp") / ("compare-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in rev))
    if path.exists():
        if git("-C", str(path), "rev-parse", "HEAD") != sha:
            sys.exit(f"{path} is not at {rev}: remove it (git worktree remove {path})")
        return path
    git("worktree", "add", "--detach", str(path), sha)
    return path


def print_results(results: list[dict], path: Path | None) -> None:
    """The results as one table on stdout, and as JSON in ``path`` when given (also for spark_bench.py)."""
    import polars as pl

    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250):
        print(pl.DataFrame(results))
    if path:
        path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
