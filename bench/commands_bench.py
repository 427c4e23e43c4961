"""Time every transaction command as a whole process and compare it with `loyalty segment` on the same file.

    python bench/commands_bench.py                          # 1M Parquet lines, 3 runs
    python bench/commands_bench.py --rows 1e7 --runs 5 --json commands.json
    python bench/commands_bench.py --commands segment,churn --runs 5

The data comes from `segment_bench.py`'s generator (~10 lines per customer, orders of 1-3 lines, two years,
2% returns), written on the fly into a temporary folder by a child process (never committed; this process
never imports Polars, so no child inherits its memory). Each run starts every command once, in turn, in a
rotated order (run i starts with the i-th command), so that a slow spell on a shared machine spreads over all
of them. Each run's wall time and peak memory (max RSS from wait4) are measured; the table gives the medians,
the spread (slowest / fastest run) and the ratios to `loyalty segment` measured in the same run, against the
targets of issue 20.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from segment_bench import run, write  # noqa: E402  (the generator and the wait4 timer)

# command -> (extra arguments, output suffix); every command writes its file with -o and runs --quiet
COMMANDS: dict[str, tuple[list[str], str]] = {
    "segment": ([], "parquet"),
    "retention": ([], "parquet"),
    "churn": (["--rates", "{dir}/churn_rates.parquet"], "parquet"),
    "second-purchase": ([], "parquet"),
    "lifecycle": ([], "parquet"),
    "cltv": ([], "parquet"),
    "report": ([], "html"),
    "products": (
        ["--next", "{dir}/next.parquet", "--pairs", "{dir}/pairs.parquet", "--cycle", "{dir}/cycle.parquet"],
        "parquet",
    ),
}
# issue 20, relative to `loyalty segment` on the same file: (time, peak memory)
TARGETS: dict[str, tuple[float, float]] = {
    "retention": (1.5, 1.3),
    "churn": (2.0, 1.3),
    "second-purchase": (1.5, 1.3),
    "lifecycle": (1.5, 1.3),
    "cltv": (3.0, 1.3),
    "report": (3.0, 1.3),
    "products": (2.0, 3.0),  # issue 22 sets the time only; its lines are line-sized, not customer-sized
}
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def command_line(loyalty: str, name: str, src: Path, fmt: str, folder: Path) -> list[str]:
    extra, suffix = COMMANDS[name]
    cmd = [loyalty, name, str(src), "-o", str(folder / f"{name}.{suffix}"), "--quiet"]
    cmd += [arg.format(dir=folder) for arg in extra]
    if fmt == "csv":
        cmd += ["--date-format", DATE_FORMAT]
    return cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1e6", help="comma-separated line counts")
    parser.add_argument("--formats", default="parquet", help="parquet, csv or both (comma-separated)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated; segment is always run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    names = ["segment", *[c for c in args.commands.split(",") if c and c != "segment"]]
    unknown = [c for c in names if c not in COMMANDS]
    if unknown:
        sys.exit(f"unknown command {unknown[0]!r}; commands: {', '.join(COMMANDS)}")
    loyalty = shutil.which("loyalty") or sys.exit("install the project first: pip install -e .")
    results = []
    with tempfile.TemporaryDirectory(prefix="loyalty-commands-bench-") as tmp:
        folder = Path(tmp)
        for rows in (int(float(r)) for r in args.rows.split(",")):
            for fmt in args.formats.split(","):
                src = folder / f"tx_{rows}.{fmt}"
                subprocess.run([sys.executable, __file__, "--write", str(rows), fmt, str(src)], check=True)
                cmds = {name: command_line(loyalty, name, src, fmt, folder) for name in names}
                run(cmds["segment"])  # warm the page cache and the bytecode
                load_before = os.getloadavg()[0]
                samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
                for i in range(args.runs):
                    order = names[i % len(names) :] + names[: i % len(names)]
                    for name in order:
                        samples[name].append(run(cmds[name]))
                load_after = os.getloadavg()[0]
                seg_s = statistics.median(t for t, _ in samples["segment"])
                seg_mb = statistics.median(m for _, m in samples["segment"])
                for name in names:
                    times = [t for t, _ in samples[name]]
                    peaks = [m for _, m in samples[name]]
                    row = {
                        "rows": rows,
                        "format": fmt,
                        "command": name,
                        "seconds": round(statistics.median(times), 2),
                        "spread": round(max(times) / min(times), 2),
                        "peak_mb": round(statistics.median(peaks)),
                        "time_x_segment": round(statistics.median(times) / seg_s, 2),
                        "peak_x_segment": round(statistics.median(peaks) / seg_mb, 2),
                        "runs": [round(t, 2) for t in times],
                        "load_avg": [round(load_before, 1), round(load_after, 1)],
                    }
                    if name in TARGETS:
                        time_target, peak_target = TARGETS[name]
                        row["time_target"] = time_target
                        row["peak_target"] = peak_target
                        row["time_met"] = row["time_x_segment"] <= time_target
                        row["peak_met"] = row["peak_x_segment"] <= peak_target
                    results.append(row)
                    print(json.dumps(row), flush=True)
                src.unlink()
                print_table(
                    [r for r in results if r["rows"] == rows and r["format"] == fmt], load_before, load_after, args.runs
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def print_table(rows: list[dict], load_before: float, load_after: float, runs: int) -> None:
    first = rows[0]
    print(
        f"\n{first['rows']:,} {first['format']} lines, median of {runs} runs "
        f"(load average {load_before:.1f} before, {load_after:.1f} after)\n"
    )
    print("| command | seconds | slowest / fastest | x segment | target | met | peak MB | x segment | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        name = f"`{r['command']}`"
        if "time_target" not in r:
            cells = [name, r["seconds"], r["spread"], "1.00", "", "", r["peak_mb"], "1.00", "", ""]
        else:
            cells = [
                name,
                r["seconds"],
                r["spread"],
                f"{r['time_x_segment']:.2f}",
                r["time_target"],
                "yes" if r["time_met"] else "**no**",
                r["peak_mb"],
                f"{r['peak_x_segment']:.2f}",
                r["peak_target"],
                "yes" if r["peak_met"] else "**no**",
            ]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--write":  # the data, written by a child process
        write(int(float(sys.argv[2])), sys.argv[3], Path(sys.argv[4]))
    else:
        main()
