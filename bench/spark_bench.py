"""Benchmark stage 1 on Spark (`--engine spark --spark-master local[2]`) against the Polars engine.

    python bench/spark_bench.py                    # 1M and 10M Parquet lines, 3 runs each
    python bench/spark_bench.py --rows 1e6 --runs 5

The data is segment_bench.py's (its generator, imported), written on the fly into a temporary folder (never
committed) by a child process. Both programs are whole processes, `python -m loyalty_cli segment FILE -o
OUT.parquet -q`, with and without `--engine spark --spark-master local[2]`, run alternately; the medians of the
runs' wall seconds are reported with their ratio Spark/Polars, and the two outputs are compared byte for byte
(`cmp`) after each pair of runs.

Memory. On Spark the process is a tree: the Python driver (`loyalty`) starts a JVM (py4j's gateway), which
runs the tasks and starts Python workers (pyspark's daemon and its forks) for `mapInArrow`. Three figures:

* ``driver_mb``: max RSS of the driver process from ``os.wait4`` (as segment_bench.py). Linux folds into it
  the peaks of the children the driver itself waited for; so the driver's own high-water mark (``VmHWM`` in
  /proc, polled every 0.1 s, monotone: only growth in the last 0.1 s before exit can be missed) is reported
  too, as ``driver_hwm_mb``. The two agree when the driver does not reap its JVM.
* ``jvm_mb``: the JVM's own peak (``VmHWM`` polled, or its ``ru_maxrss`` when it outlives the driver and this
  process reaps it: the benchmark makes itself a child subreaper, ``prctl(PR_SET_CHILD_SUBREAPER)``, so
  orphaned descendants come back to it, and ``wait4`` then gives each one's own peak).
* ``workers_mb``: the largest peak among the Spark Python workers (``VmHWM``, same polling).

``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` would not do: it is the *max* over all the waited-for
descendants, not their sum, and it accumulates over the whole benchmark. The sum of the per-process peaks
(``tree_mb``) is an upper bound of the tree's peak footprint (the peaks need not be simultaneous, and pages
shared between forked workers are counted in each).
"""

from __future__ import annotations

import argparse
import ctypes
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from segment_bench import generate, print_results  # noqa: E402  (the same data as segment_bench.py)

PR_SET_CHILD_SUBREAPER = 36


def write(rows: int, path: Path) -> None:
    """Generate `rows` lines and write them to `path` as Parquet (run in a child process)."""
    generate(rows).write_parquet(path)


def become_subreaper() -> bool:
    """Orphaned descendants (a JVM outliving its driver) are re-parented to this process, which reaps them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            out[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return out


def _hwm_and_name(pid: int) -> tuple[int, str] | None:
    """Peak RSS so far in KiB (VmHWM) and the program's name, or None once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not cmd or not cmd[0]:  # a zombie: no command line, no VmHWM; its peak is kept from earlier polls
        return None
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    exe = os.path.basename(cmd[0].decode(errors="replace")) if cmd and cmd[0] else ""
    if exe == "java":  # spark-class first runs a short-lived java launcher that builds the JVM's command line
        kind = "launcher" if b"org.apache.spark.launcher.Main" in cmd else "jvm"
    elif b"pyspark.daemon" in b" ".join(cmd) or b"pyspark.worker" in b" ".join(cmd):
        kind = "worker"
    else:
        kind = "other"
    return hwm, kind


class TreeWatch(threading.Thread):
    """Polls the VmHWM of a process and all its descendants (those re-parented here included)."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak: dict[int, int] = {}  # pid -> KiB
        self.kind: dict[int, str] = {root: "driver"}
        self.done = threading.Event()

    def poll(self) -> None:
        ppids = _ppids()
        me = os.getpid()  # one command runs at a time: every child of ours (re-parented ones too) is its
        tree = {self.root} | {p for p, pp in ppids.items() if pp == me} | (set(self.peak) & set(ppids))
        size = 0
        while size != len(tree):
            size = len(tree)
            tree |= {p for p, pp in ppids.items() if pp in tree}
        for pid in tree:
            got = _hwm_and_name(pid)
            if got is None:
                continue
            hwm, kind = got
            self.peak[pid] = max(self.peak.get(pid, 0), hwm)
            if pid != self.root:
                self.kind[pid] = kind  # the latest: spark-class's bash exec()s into the JVM

    def run(self) -> None:
        while not self.done.is_set():
            self.poll()
            self.done.wait(self.interval)


def run(cmd: list[str]) -> dict[str, float]:
    """Wall seconds and memory (MiB, see the module's docstring) of one whole process and its descendants."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watch = TreeWatch(proc.pid)
    watch.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    # the driver is gone; whatever it left behind (a JVM, workers) is ours now: reap it, with its own peak
    reaped: dict[int, int] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
            continue
        reaped[pid] = ru.ru_maxrss
    watch.done.set()
    watch.join()
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    peak = {pid: max(kib, reaped.get(pid, 0)) for pid, kib in watch.peak.items()}
    peak.update({pid: kib for pid, kib in reaped.items() if pid not in peak})

    def of(kind: str) -> list[int]:
        return [kib for pid, kib in peak.items() if watch.kind.get(pid) == kind]

    return {
        "wall": wall,
        "driver": usage.ru_maxrss / 1024,
        "driver_hwm": watch.peak.get(proc.pid, 0) / 1024,
        "jvm": max(of("jvm"), default=0) / 1024,
        "workers": max(of("worker"), default=0) / 1024,
        "tree": (sum(peak.values()) - watch.peak.get(proc.pid, 0) + usage.ru_maxrss) / 1024 if peak else 0,
        "orphans": len(reaped),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1e6,1e7", help="comma-separated line counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--master", default="local[2]", help="--spark-master of the Spark runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(int(args.write[0]), Path(args.write[1]))
        return
    subreaper = become_subreaper()
    results = []
    with tempfile.TemporaryDirectory(prefix="loyalty-spark-bench-") as tmp:
        folder = Path(tmp)
        for rows in (int(float(r)) for r in args.rows.split(",")):
            src = folder / f"tx_{rows}.parquet"
            subprocess.run([sys.executable, __file__, "--write", str(rows), str(src)], check=True)
            base = [sys.executable, "-m", "loyalty_cli", "segment", str(src), "-q", "-o"]
            polars_out, spark_out = folder / "polars.parquet", folder / "spark.parquet"
            polars_cmd = [*base, str(polars_out)]
            spark_cmd = [*base, str(spark_out), "--engine", "spark", "--spark-master", args.master]
            run(polars_cmd)  # warm the page cache
            polars, spark, identical = [], [], []
            for _ in range(args.runs):
                polars.append(run(polars_cmd))
                spark.append(run(spark_cmd))
                identical.append(filecmp.cmp(polars_out, spark_out, shallow=False))

            def med(runs: list[dict[str, float]], key: str, digits: int = 0) -> float:
                return round(statistics.median(r[key] for r in runs), digits or None)

            row = {
                "rows": rows,
                "size_mb": round(src.stat().st_size / 2**20, 1),
                "runs": args.runs,
                "polars_s": med(polars, "wall", 3),
                "spark_s": med(spark, "wall", 3),
                "polars_mb": med(polars, "driver"),
                "spark_driver_mb": med(spark, "driver"),
                "spark_driver_hwm_mb": med(spark, "driver_hwm"),
                "spark_jvm_mb": med(spark, "jvm"),
                "spark_workers_mb": med(spark, "workers"),
                "spark_tree_mb": med(spark, "tree"),
                "jvm_orphaned": all(r["orphans"] > 0 for r in spark),
                "subreaper": subreaper,
                "identical": all(identical),
            }
            row["time_ratio"] = round(row["spark_s"] / row["polars_s"], 2)
            row["driver_memory_ratio"] = round(row["spark_driver_mb"] / row["polars_mb"], 2)
            results.append(row)
            print(json.dumps(row), flush=True)
            src.unlink()
    print_results(results, args.json)
    if not all(r["identical"] for r in results):
        raise SystemExit("the Spark and Polars outputs differ")


if __name__ == "__main__":
    main()
