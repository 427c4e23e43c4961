"""Prove that two revisions of loyalty-cli give byte-identical outputs for every command.

    python bench/compare_outputs.py --against aaa9d48 --sample-only   # fast: the shipped sample shop only
    python bench/compare_outputs.py --against aaa9d48 --rows 1e6      # also a generated shop of 1M lines
    python bench/compare_outputs.py --record before.json [--rev REV] [--sample-only | --rows N]
    python bench/compare_outputs.py --compare before.json after.json

`--against REV` checks REV out with `git worktree add --detach /tmp/compare-REV REV` (reused when it is already
there at REV; remove it with `git worktree remove /tmp/compare-REV`), runs every case on REV and on the working
tree, prints one line per case (`same` or `DIFFERENT (stdout|stderr|file X|exit)`, with `#N` naming the step of
a case of several commands) and exits 1 when any output differs or a case did not exit as expected. `--record
FILE` runs the working tree only (`--rev REV`: that revision, checked out as above) and writes its manifest;
`--compare A.json B.json` compares two manifests. It takes about 3-4 minutes with --sample-only and 7 with
--rows 1e6 on 2 cores. `--jobs N` runs N cases at a time (default 2); `--only REGEX` runs the cases whose name
matches; `--list` prints the cases and their command lines.

Each revision runs as `python -m loyalty_cli ...` with `PYTHONPATH=<checkout>/src`, so two checkouts share this
venv (the working tree's src/ is first copied to /tmp/compare-outputs/<label>/checkout/, so that a whole run
sees one state of code that others may be editing), in a fresh temporary folder (`/tmp/compare-run-XXXXXXXX`,
one subfolder per case, each holding hard links to the same fixed inputs), with stdin from /dev/null, stdout and
stderr piped (never a terminal) and the environment fixed: TZ=UTC, COLUMNS=120, NO_COLOR=1, TERM=dumb,
LANG=LC_ALL=C.UTF-8, PYTHONHASHSEED=0, plus PATH, HOME and PYTHONPATH; nothing else is passed on. The uplift
cases also get POLARS_MAX_THREADS=1: `loyalty uplift` sums float revenue in the order Polars' threads deliver
the rows, so with several threads the last digits of its numbers change from run to run (found by this script at
aaa9d48; one thread makes them reproducible).

Inputs (the same files for both revisions, hashed into the manifest): the working tree's sample_data/, rules/
and examples/pipeline.toml; pipelines derived from it (paths adjusted to the case folder); small hostile files
written by this script (bad dates, a negative id, text and out-of-range amounts, a date in the future, bad NPS
scores) and two broken segment maps; and, without --sample-only, a shop of --rows lines (default 1e6) made
by `loyalty_cli.sample.generate_sample` (transactions cut to exactly N lines, with its surveys, contacts,
members and points; Parquet, plus the transactions as CSV), generated into a temporary folder, never into
the repository. Every input's modification time is pinned to 2025-06-01 00:00 UTC: commands reject dates
"more than a day after the file was saved" and print that time, so it must not be the time of the run.

Each case records, per command: the exit code (and the expected one), the SHA-256 of stdout and of stderr (and
of stderr's lines sorted, to tell a reordering from a change); and the SHA-256 of every file the case wrote or
replaced in its folder (by relative path). Before hashing, stdout, stderr and every written file are
normalised; exactly these are masked, nothing else:

- the temporary run folder (`/tmp/compare-run-XXXXXXXX`, also its resolved path) -> `<TMP>`;
- the checkout of the revision under test (`/tmp/compare-REV`, or the copy of the working tree) -> `<CHECKOUT>`;
- the time that starts each line of `loyalty run --log-format json` (`{"time": "..."`) -> `{"time": "<TIME>"`;
- the last `"seconds": 0.123` of such a line (a step's elapsed time) -> `"seconds": <SECONDS>`;
- `"started_at"` and `"ended_at"` followed by an ISO date-time (run_summary.json, also in its `last_ok_run`)
  -> `"started_at": "<TIME>"`, `"ended_at": "<TIME>"`;
- `(0.19 s)` at the end of a line (a step's elapsed time in `loyalty run`'s text log) -> `(<SECONDS> s)`;
- the random name of a pipeline's staging folder (`.loyalty-staging-HOSTHASH-XXXXXXXX`, which the report of a
  `loyalty run` names under "Files written") -> `.loyalty-staging-<ID>`;
- a Parquet file (any file that starts and ends with `PAR1`) is hashed by content, not bytes: its Arrow schema
  with all field and schema metadata (read with pyarrow), then every value as CSV (Polars' `write_csv`, null as
  `\\N`, so a null and an empty text differ), masked as above. Polars cuts row groups at its in-memory chunks,
  which depend on thread timing, and leaves whatever bytes under a null: on 1M lines the churn and lifecycle
  Parquet files of one revision differ in bytes from run to run, never in content. Compression, encodings and
  row group sizes are therefore not compared. The kept copy is the file as written.

Verdicts: exit codes, stdout and files must be identical. A stderr with the same lines in another order (the
same multiset of lines) is reported as `same (stderr line order only)` and does not fail the run; any other
stderr difference does. The normalised outputs of each run are kept for inspection under
/tmp/compare-outputs/<label>/<case>/ (label: the revision, `worktree`, or the stem of the --record file):
stdout.N.txt, stderr.N.txt and files/, with manifest.json; a differing case prints the first 40 lines of a
unified diff of each differing stdout, stderr or text file.

Running it twice on the same code (`--record a.json --rev REV`, `--record b.json --rev REV`, `--compare a.json
b.json`) reports "identical": the check that the masking above is sufficient (use a revision, not the working
tree, while others edit it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import difflib
import hashlib
import io
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT_ROOT = Path("/tmp/compare-outputs")
AS_OF = "2025-01-01"  # the sample shop ends on 2024-12-31
INPUT_MTIME = 1_748_736_000  # 2025-06-01 00:00:00 UTC: every input file's modification time
BIG_SEED = 11
LINES_PER_CUSTOMER = 5.4  # about what generate_sample makes; the shop is regenerated bigger when short
STEP_TIMEOUT = 3600
DIFF_LINES = 40
FIXED_ENV = {
    "TZ": "UTC",
    "COLUMNS": "120",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
}
Manifest = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# The cases. Command lines are written as in a shell (split with shlex) after filling in the inputs: {tx}, {sv},
# {ct}, {mb}, {pt} are the sample shop's transactions, surveys, contacts, members and points; {bad_tx} and
# {bad_sv} the hostile files; {big_*} the generated shop's files; {asof} is `--as-of 2025-01-01`.
# ---------------------------------------------------------------------------------------------------------------

PLACES = {
    "tx": "sample_data/transactions.csv",
    "sv": "sample_data/surveys.csv",
    "ct": "sample_data/contacts.csv",
    "mb": "sample_data/members.csv",
    "pt": "sample_data/points.csv",
    "bad_tx": "hostile/transactions.csv",
    "bad_sv": "hostile/surveys.csv",
    "big_tx": "big/transactions.parquet",
    "big_csv": "big/transactions.csv",
    "big_sv": "big/surveys.parquet",
    "big_ct": "big/contacts.parquet",
    "big_mb": "big/members.parquet",
    "big_pt": "big/points.parquet",
    "asof": f"--as-of {AS_OF}",
}
COMMANDS = (
    "segment", "cltv", "nps", "second-purchase", "retention", "churn", "lifecycle",
    "uplift", "program", "validate", "sample", "run", "report", "rules",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Step:
    """One `loyalty` command line (without the program) and the exit code it must give on the current code."""

    args: tuple[str, ...]
    expect: int = 0


@dataclasses.dataclass(frozen=True)
class Case:
    """Commands run in turn in one fresh folder (later steps may read what earlier ones wrote)."""

    name: str
    steps: tuple[Step, ...]
    big: bool = False
    one_thread: bool = False  # POLARS_MAX_THREADS=1: for outputs that depend on the order of threads


def step(line: str, expect: int = 0) -> Step:
    return Step(tuple(shlex.split(line.format(**PLACES))), expect)


def case(name: str, *steps: Step | str, big: bool = False, one_thread: bool = False) -> Case:
    return Case(name, tuple(s if isinstance(s, Step) else step(s) for s in steps), big, one_thread)


def sample_cases() -> list[Case]:
    """Every command and its main output paths on the shipped sample shop (3,000 customers)."""
    groups = (
        cli_cases, segment_cases, cltv_cases, second_purchase_cases, nps_cases, churn_cases, retention_cases,
        lifecycle_cases, program_cases, uplift_cases, report_cases, data_cases, rules_cases, pipeline_cases,
        hostile_cases,
    )  # fmt: skip
    return [c for group in groups for c in group()]


def cli_cases() -> list[Case]:
    return [
        # the help of every command (the refactor must not change the CLI's surface), and the version
        case("help", "--help", *(f"{c} --help" for c in COMMANDS), "rules show --help", "rules check --help"),
        case("version", "--version"),
        # usage errors: exit 2 with the message on stderr
        case(
            "usage-errors",
            step("segment {tx} --bins 7", expect=2),
            step("retention {tx} --show on-or-after", expect=2),
            step("churn {tx} --no-such-option", expect=2),
            step("nps {sv} --target mailchimp", expect=2),
            step("lifecycle {tx} --stage advocate", expect=2),
            step("segment", expect=2),
        ),
    ]


def segment_cases() -> list[Case]:
    return [
        case("segment-plain", "segment {tx}"),  # the one sample case without --as-of: the default as-of date
        case("segment-csv", "segment {tx} {asof} -o segments.csv"),
        case("segment-parquet", "segment {tx} {asof} -o segments.parquet"),
        case("segment-json-stdout", "segment {tx} {asof} -o - --format json"),
        case("segment-cut-points", "segment {tx} {asof} --cut-points cuts.csv -o segments.csv"),
        case("segment-filter", "segment {tx} {asof} --segment 'At Risk' --segment \"Can't Lose Them\" -o winback.csv"),
        case(
            "segment-methods",
            "segment {tx} {asof} --method rank --bins 3 --rules rfm_tertiles --frequency days --monetary mean",
            "segment {tx} {asof} --method fixed --breaks r=30,60,90,180 --breaks f=1,2,3,5 --breaks m=50,100,250,500"
            " --rules rfm_r_fm -o fixed.json --quiet",
            "segment {tx} {asof} --rules rules/rfm_grid.toml --frequency days -o grid.out --format parquet",
            step("segment {tx} {asof} --rules rules/rfm_grid.toml --bins 10", expect=1),  # a map for 5 scores
        ),
        # the email hand-off of a list with a control group (list, control, dropped rows, manifest)
        case(
            "segment-handoff",
            "segment {tx} {asof} --segment 'At Risk' --segment \"Can't Lose Them\" --target klaviyo"
            " --holdout-share 0.1 --seed winback-2025-01 --contacts {ct} -o winback.csv",
        ),
        # the other targets; Braze split into parts by --max-file-mb (kept in parts.*), and written again unsplit
        # over such a set (braze.*), which removes its parts and control group
        case(
            "segment-handoff-targets",
            "segment {tx} {asof} --target mailchimp --contacts {ct} -o mailchimp.csv",
            "segment {tx} {asof} --target braze --max-file-mb 0.2 --holdout-share 0.2 --seed 7 -o braze.csv",
            "segment {tx} {asof} --target braze --max-file-mb 0.3 --holdout-share 0.1 --seed 8 -o parts.csv",
            "segment {tx} {asof} --target hubspot --contacts {ct} -o hubspot.csv",
            "segment {tx} {asof} --target generic -o generic.csv",
            "segment {tx} {asof} --target braze -o braze.csv",
        ),
    ]


def cltv_cases() -> list[Case]:
    return [
        case("cltv-plain", "cltv {tx} {asof} -o clv.csv"),
        case("cltv-holdout-tables", "cltv {tx} {asof} --holdout 26w --tables checks -o clv.parquet"),
        case(
            "cltv-models",
            "cltv {tx} {asof} --model mbgnbd --unit day --horizon 39w --top 5 -o mbgnbd.csv",
            "cltv {tx} {asof} --model pnbd --calibration-end 2024-06-30 --tables pnbd --horizon-months 6"
            " --discount 0.02 -o - --format json",
            "cltv {tx} {asof} --penalizer 0.001 --target braze -o clv_braze.csv --quiet",
        ),
    ]


def second_purchase_cases() -> list[Case]:
    return [
        case("second-purchase-plain", "second-purchase {tx} {asof}"),
        case(
            "second-purchase-tables",
            "second-purchase {tx} {asof} --by first_category -o nudge.csv --summary timing.csv --shares shares.csv"
            " --curve km.csv --value value.parquet",
        ),
        case(
            "second-purchase-window",
            "second-purchase {tx} {asof} --window 20-45 --closing 7d --min-n 50 -o - --format json",
        ),
    ]


def nps_cases() -> list[Case]:
    return [
        case("nps-plain", "nps {sv}"),  # no --as-of: all answers
        case("nps-transactions-trend", "nps {sv} --transactions {tx} {asof} -o nps.csv --trend trend.csv"),
        case("nps-by-segment-stage", "nps {sv} --transactions {tx} {asof} --by segment --by stage -o by.csv"),
        case(
            "nps-options",
            "nps {sv} {asof} --by touchpoint --by period --interval bootstrap --bootstrap-samples 500"
            " --confidence 0.9 --period month --dedupe latest",
            "nps {sv} {asof} --survey-type relational --interval wald --min-n 100 --period year -o - --format json",
        ),
        case(
            "nps-lists",
            "nps {sv} --transactions {tx} {asof} --list detractors -o call_back.csv",
            "nps {sv} {asof} --list customers -o customers.parquet",
            "nps {sv} --transactions {tx} {asof} --list promoters --target mailchimp --holdout-share 0.1"
            " --seed reviews-2025 --contacts {ct} -o review_asks.csv",
        ),
    ]


def churn_cases() -> list[Case]:
    return [
        case("churn-plain", "churn {tx} {asof}"),
        case("churn-status", "churn {tx} {asof} --status lapsing --status lapsed -o winback.csv --rates rates.csv"),
        case(
            "churn-model",
            "churn {tx} {asof} --model mbgnbd --rank-by predicted --period quarter -o churn.parquet"
            " --rates rates.json --top 5",
            "churn {tx} {asof} --model bgnbd --period week --rules rules/churn.toml -o - --format json --quiet",
        ),
        case(
            "churn-handoff",
            "churn {tx} {asof} --status lapsed --target klaviyo --contacts {ct} --holdout-share 0.15 --seed lapsed"
            " -o lapsed.csv",
        ),
    ]


def retention_cases() -> list[Case]:
    return [
        case("retention-plain", "retention {tx} {asof}"),
        case(
            "retention-show",
            "retention {tx} {asof} --show on --show within --show counts --show revenue --show cumulative --horizon 6",
        ),
        case(
            "retention-files",
            "retention {tx} {asof} --period quarter -o retention.csv --wide wide.csv --cohorts cohorts.csv",
            "retention {tx} {asof} --period week --repeat-window 60 -o weekly.parquet",
        ),
    ]


def lifecycle_cases() -> list[Case]:
    return [
        case(
            "lifecycle-full",
            "lifecycle {tx} --surveys {sv} --contacts {ct} {asof} -o todo.csv --summary stages.csv",
        ),
        # a snapshot as of 2024-07-01, then a run that reads it: reactivated customers and the transitions
        case(
            "lifecycle-previous",
            "lifecycle {tx} --as-of 2024-07-01 -o last.parquet",
            "lifecycle {tx} {asof} --surveys {sv} --previous last.parquet -o this.csv --transitions moves.csv"
            " --summary stages.json",
        ),
        case(
            "lifecycle-stage-handoff",
            "lifecycle {tx} {asof} --contacts {ct} --stage lapsing --stage lapsed --target hubspot"
            " --holdout-share 0.2 --seed winback -o winback.csv",
            "lifecycle {tx} {asof} --window 20-45 --min-n 50 --rules rules/lifecycle.toml"
            " --churn-rules rules/churn.toml -o - --format json --quiet",
        ),
        case("lifecycle-plain", "lifecycle {tx}"),  # no --as-of
    ]


def program_cases() -> list[Case]:
    return [
        case(
            "program-full",
            "program {tx} --members {mb} --points {pt} --surveys {sv} --point-value 0.01 {asof} -o program.csv",
        ),
        case(
            "program-options",
            "program {tx} --members {mb} --points {pt} {asof} --period quarter --tiers-from 2024-01-01"
            " --tiers-to 2024-07-01 --window 180 --active-days 90 -o - --format json",
        ),
        case("program-members-only", "program {tx} --members {mb}"),  # no --as-of
    ]


def uplift_cases() -> list[Case]:
    # The lists are made as of the campaign start with a control group (segment's hand-off), then measured.
    # One Polars thread: uplift sums revenue as floats in the order the threads deliver the rows, so the last
    # digits of its means, variances and totals change from run to run (aaa9d48) with several threads.
    cases = [
        case(
            "uplift-lists",
            "segment {tx} --as-of 2024-10-01 --holdout-share 0.2 --seed campaign-2024-10 -o list.csv",
            "uplift {tx} {asof} --treatment list.csv --control list.control.csv --start 2024-10-01 -o uplift.csv"
            " --outcomes outcomes.csv",
            "uplift {tx} {asof} --manifest list.manifest.json --start 2024-10-01 --window 8w --by none"
            " --confidence 0.9 --power 0.9 -o - --format json",
        ),
        case(
            "uplift-klaviyo",
            "segment {tx} --as-of 2024-10-01 --segment 'At Risk' --segment \"Can't Lose Them\" --target klaviyo"
            " --holdout-share 0.1 --seed at-risk-2024-10 --contacts {ct} -o at_risk.csv",
            "uplift {tx} --manifest at_risk.manifest.json --start 2024-10-01 --window 60d --min-n 10 -o uplift.csv",
        ),
    ]
    return [dataclasses.replace(c, one_thread=True) for c in cases]


def report_cases() -> list[Case]:
    return [
        case(
            "report-full",
            "report {tx} --surveys {sv} --contacts {ct} --members {mb} --points {pt} --point-value 0.01 {asof}"
            " -o report.html",
        ),
        case("report-plain", "report {tx} -o report.html"),  # no --as-of
    ]


def data_cases() -> list[Case]:
    return [
        case(
            "validate",
            "validate {tx} {asof}",
            "validate {sv} --kind surveys",
            "validate {ct} --kind contacts --quiet",
        ),
        case(
            "sample",
            "sample -o shop --customers 300 --seed 3",
            step("sample -o shop --customers 300 --seed 3", expect=2),  # the files are there and no --force
            "sample -o shop --customers 200 --force --format parquet --quiet",
        ),
    ]


def rules_cases() -> list[Case]:
    names = ("churn", "columns", "lifecycle", "rfm_grid", "rfm_r_fm", "rfm_tertiles")
    return [
        case(
            "rules-show",
            "rules show",
            "rules show rfm_grid",
            "rules show rfm_r_fm",
            "rules show rules/rfm_tertiles.toml",
        ),
        case(
            "rules-check",
            "rules check " + " ".join(f"rules/{name}.toml" for name in names) + " examples/pipeline.toml",
            step("rules check bad_rules/overlap.toml", expect=1),
            step("rules check bad_rules/unknown_column.toml", expect=1),
            step("segment {tx} {asof} --rules bad_rules/overlap.toml", expect=1),
        ),
    ]


def pipeline_cases() -> list[Case]:
    # pipeline*.toml: examples/pipeline.toml copied to the case folder, paths adjusted (see pipelines())
    return [
        case("run-pipeline", "run pipeline.toml", "run pipeline.toml --quiet"),  # the second over the first's outputs
        case("run-pipeline-dry", "run pipeline.toml --dry-run"),
        case("run-pipeline-json", "run pipeline_fixed.toml --log-format json"),
        case("run-pipeline-bad-rows", step("run pipeline_hostile.toml --log-format json --keep-going", expect=1)),
    ]


def hostile_cases() -> list[Case]:
    return [
        case(
            "hostile-skip",
            "segment {bad_tx} --as-of 2024-06-01 --on-bad-rows skip --rejects rejects.csv -o segments.csv",
            "churn {bad_tx} --as-of 2024-06-01 --on-bad-rows skip -o churn.csv",  # rejects beside the output
            "retention {bad_tx} --on-bad-rows skip --rejects retention_rejects.parquet",
            "nps {bad_sv} --on-bad-rows skip --rejects nps_rejects.csv -o nps.csv",
            "lifecycle {bad_tx} --as-of 2024-06-01 --on-bad-rows skip --surveys {bad_sv}"
            " --rejects lifecycle_rejects.csv -o todo.csv",
        ),
        case(
            "hostile-error",
            step("segment {bad_tx} --as-of 2024-06-01 -o segments.csv", expect=1),
            step("segment {bad_tx} --as-of 2024-06-01 --on-bad-rows error", expect=1),
            step("nps {bad_sv}", expect=1),
            step("report {bad_tx} -o report.html", expect=1),
        ),
        case(
            "hostile-validate",
            step("validate {bad_tx} --rejects rejects.csv", expect=1),
            step("validate {bad_sv} --kind surveys --rejects survey_rejects.csv", expect=1),
        ),
    ]


def big_cases() -> list[Case]:
    """Each transaction command once on the generated shop, with its main outputs."""
    cases = [
        case("big-segment", "segment {big_tx} {asof} -o segments.parquet --cut-points cuts.csv"),
        case("big-segment-csv", "segment {big_csv} -o segments.csv"),  # the one big case without --as-of
        case("big-cltv", "cltv {big_tx} {asof} -o clv.parquet --tables tables"),
        case(
            "big-second-purchase", "second-purchase {big_tx} {asof} -o nudge.csv --summary timing.csv --value value.csv"
        ),
        case("big-churn", "churn {big_tx} {asof} -o churn.parquet --rates rates.csv"),
        case("big-retention", "retention {big_tx} {asof} -o retention.csv --cohorts cohorts.csv"),
        case(
            "big-lifecycle",
            "lifecycle {big_tx} --surveys {big_sv} --contacts {big_ct} {asof} -o todo.parquet --summary stages.csv",
        ),
        case("big-nps", "nps {big_sv} --transactions {big_tx} {asof} --by segment"),
        case("big-program", "program {big_tx} --members {big_mb} --points {big_pt} {asof} -o program.csv"),
        case(
            "big-report",
            "report {big_tx} --surveys {big_sv} --contacts {big_ct} --members {big_mb} --points {big_pt} {asof}"
            " -o report.html",
        ),
        case("big-validate", "validate {big_tx} {asof}"),
    ]
    return [dataclasses.replace(c, big=True) for c in cases]


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------

# A CSV export with bad rows of every kind (one good customer with a return, one with two orders).
HOSTILE_TRANSACTIONS = """\
order_id,customer_id,order_date,amount
1,C1,2024-01-05 10:00:00,10.50
2,C1,2024-02-05 10:00:00,20.00
3,C2,2024-01-07 09:00:00,5.25
4,C2,not a date,7.00
5,C3,2024-13-45 10:00:00,8.00
6,-17,2024-03-01 10:00:00,12.00
-7,C4,2024-03-02 10:00:00,twelve
8,C5,2024-03-03 10:00:00,"1,234.50"
9,NULL,2024-03-04 10:00:00,3.00
10,C6,2999-12-31 10:00:00,3.00
11,C7,2024-03-05 10:00:00,99999999999
12,"=HYPERLINK(""http://x"")",2024-03-06 10:00:00,4.00
13,C8,2024-03-07 10:00:00,
C14,C1,2024-03-08 10:00:00,-10.50
15,C9,,6.00
16,-3,2024-03-09 10:00:00,-4.00
17,C10,2024-03-10 11:00:00,1e3
"""
# NPS answers: readable scores in several spellings, non-responses, and bad rows (out of range, other scales).
HOSTILE_SURVEYS = """\
customer_id,responded_at,score,comment,survey_type
C1,2024-01-10 10:00:00,9,Great,relational
C2,2024-01-11 10:00:00,10 - Extremely likely,,relational
C3,2024-01-12 10:00:00,NA,,relational
C4,2024-01-13 10:00:00,11,too high,relational
C5,2024-01-14 10:00:00,4/5,other scale,relational
C6,2024-01-15 10:00:00,9.5,,relational
C7,not a date,7,,relational
,2024-01-16 10:00:00,3,anonymous,transactional
C8,2024-01-17 10:00:00,Score: 6,"=cmd|' /C calc'!A0",transactional
C1,2999-01-01 10:00:00,8,future,relational
"""
BAD_RULES = {
    # two segments match the same cells of an exclusive map
    "overlap.toml": 'name = "overlap"\nversion = "1"\nbins = 5\nmatch = "exclusive"\n\n'
    '[[segment]]\nname = "Everyone"\nwhen = "r >= 1"\n\n[[segment]]\nname = "Recent"\nwhen = "r = 5"\n',
    # a condition over a column that does not exist
    "unknown_column.toml": 'name = "unknown_column"\nversion = "1"\nbins = 5\nmatch = "first"\n\n'
    '[[segment]]\nname = "Odd"\nwhen = "bogus > 1"\n\n[[segment]]\nname = "Rest"\nwhen = "true"\n',
}


def pipelines(example: str) -> dict[str, str]:
    """The example pipeline moved to the case folder's top level (paths adjusted), and two variants."""
    moved = replace_all(example, {'"../sample_data/': '"sample_data/', '"../out/{as_of}"': '"out/{as_of}"'})
    fixed = replace_all(moved, {'as_of = "latest"': 'as_of = "2024-07-01"', '"out/{as_of}"': '"out_fixed/{as_of}"'})
    hostile = replace_all(
        moved,
        {'on_bad_rows = "skip"': 'on_bad_rows = "error"', '"sample_data/transactions.csv"': f'"{PLACES["bad_tx"]}"'},
    )
    return {"pipeline.toml": moved, "pipeline_fixed.toml": fixed, "pipeline_hostile.toml": hostile}


def replace_all(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"examples/pipeline.toml has no {old!r} any more: update compare_outputs.pipelines()")
        text = text.replace(old, new)
    return text


def prepare_inputs(folder: Path, rows: int | None) -> None:
    """Write the fixed inputs into `folder` (the layout every case folder links) and pin their times."""
    shutil.copytree(REPO / "sample_data", folder / "sample_data")
    shutil.copytree(REPO / "rules", folder / "rules")
    (folder / "examples").mkdir()
    example = (REPO / "examples" / "pipeline.toml").read_text()
    (folder / "examples" / "pipeline.toml").write_text(example)
    written = {**pipelines(example), PLACES["bad_tx"]: HOSTILE_TRANSACTIONS, PLACES["bad_sv"]: HOSTILE_SURVEYS}
    written.update({f"bad_rules/{name}": text for name, text in BAD_RULES.items()})
    for rel, text in written.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    if rows is not None:
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(folder / "big")], check=True)
        print(f"generated {rows:,} lines into {folder / 'big'} ({time.perf_counter() - started:.1f} s)", flush=True)
    for path in input_files(folder):
        os.utime(path, (INPUT_MTIME, INPUT_MTIME))


def generate_big(rows: int, folder: Path) -> None:
    """A shop of exactly `rows` transaction lines with its surveys, contacts, members and points (child process)."""
    import polars as pl

    from loyalty_cli.sample import generate_sample, write_sample

    customers = math.ceil(rows / LINES_PER_CUSTOMER)
    data = generate_sample(customers=customers, seed=BIG_SEED)
    while data.transactions.height < rows:
        customers = math.ceil(customers * 1.1)
        data = generate_sample(customers=customers, seed=BIG_SEED)
    data = dataclasses.replace(data, transactions=data.transactions.head(rows))  # sorted by date: the last days go
    write_sample(data, folder, fmt="parquet")
    text_dates = data.transactions.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S"))
    text_dates.write_csv(folder / "transactions.csv")


def input_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def link_inputs(inputs: Path, folder: Path, big: bool) -> dict[str, int]:
    """Hard-link the inputs into a case folder (big/ only for big cases); returns relative path -> inode."""
    linked = {}
    for path in input_files(inputs):
        rel = path.relative_to(inputs).as_posix()
        if rel.startswith("big/") and not big:
            continue
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        linked[rel] = target.stat().st_ino
    return linked


# ---------------------------------------------------------------------------------------------------------------
# Running a revision
# ---------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    """Where one revision's cases run and where their normalised outputs are kept."""

    checkout: Path
    run_dir: Path
    keep: Path
    env: dict[str, str]
    masks: list[tuple[re.Pattern[bytes], bytes]]


def masks(run_dir: Path, checkout: Path) -> list[tuple[re.Pattern[bytes], bytes]]:
    """The normalisations listed in the module doc, in the order they apply."""
    paths = [(run_dir, b"<TMP>"), (checkout, b"<CHECKOUT>")]
    out = []
    for path, token in paths:
        for variant in sorted({str(path), os.path.realpath(path)}, key=len, reverse=True):
            out.append((re.compile(re.escape(variant.encode())), token))
    out += [
        (re.compile(rb'^\{"time": "[^"]*"', re.M), b'{"time": "<TIME>"'),  # a JSON log line starts with its time
        (re.compile(rb'^(\{"time": .*"seconds": )[0-9][0-9.eE+-]*', re.M), rb"\1<SECONDS>"),
        (re.compile(rb'"(started_at|ended_at)": "\d{4}-\d\d-\d\dT[^"]*"'), rb'"\1": "<TIME>"'),
        (re.compile(rb"\(\d+(?:\.\d+)? s\)$", re.M), b"(<SECONDS> s)"),  # the end of a text log line
        (re.compile(rb"\.loyalty-staging-[0-9a-f]+-[A-Za-z0-9_]+"), b".loyalty-staging-<ID>"),
    ]
    return out


def normalise(data: bytes, rules: list[tuple[re.Pattern[bytes], bytes]]) -> bytes:
    for pattern, replacement in rules:
        data = pattern.sub(replacement, data)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_parquet(data: bytes) -> bool:
    return len(data) >= 8 and data[:4] == b"PAR1" and data[-4:] == b"PAR1"


def parquet_content(data: bytes) -> bytes:
    """A Parquet file as text: its Arrow schema with all metadata, then its values as CSV (null as \\N)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(pa.BufferReader(data)).to_string(show_field_metadata=True, show_schema_metadata=True)
    values = pl.read_parquet(io.BytesIO(data)).write_csv(null_value="\\N")
    return f"{schema}\n{values}".encode()


def digest(data: bytes, rules: list[tuple[re.Pattern[bytes], bytes]]) -> str:
    """SHA-256 of an output after normalising it: a Parquet file by content (see the module doc), else its bytes."""
    return sha256(normalise(parquet_content(data) if is_parquet(data) else data, rules))


def input_digests(inputs: Path) -> dict[str, str]:
    """SHA-256 of each input's bytes (the generator writes the same bytes for the same --rows)."""
    return {p.relative_to(inputs).as_posix(): sha256(p.read_bytes()) for p in input_files(inputs)}


def sorted_lines_sha256(data: bytes) -> str:
    """Hash of the multiset of lines: equal when two outputs differ only in line order."""
    return sha256(b"\n".join(sorted(data.splitlines())))


def run_env(checkout: Path) -> dict[str, str]:
    return {
        **FIXED_ENV,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(checkout / "src"),
    }


def check_import(checkout: Path, env: dict[str, str]) -> None:
    """Make sure the revision's own package is the one imported (not the venv's editable install)."""
    code = "import loyalty_cli; print(loyalty_cli.__file__)"
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/").stdout
    if not Path(found.strip()).resolve().is_relative_to((checkout / "src").resolve()):
        raise SystemExit(f"PYTHONPATH={checkout / 'src'} imports loyalty_cli from {found.strip()!r}")


def run_step(run: Run, c: Case, folder: Path, keep: Path, index: int, st: Step) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "loyalty_cli", *st.args],
        cwd=folder,
        env=run.env | ({"POLARS_MAX_THREADS": "1"} if c.one_thread else {}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=STEP_TIMEOUT,
    )
    seconds = time.perf_counter() - started
    out, err = normalise(proc.stdout, run.masks), normalise(proc.stderr, run.masks)
    (keep / f"stdout.{index}.txt").write_bytes(out)
    (keep / f"stderr.{index}.txt").write_bytes(err)
    return {
        "args": list(st.args),
        "expect": st.expect,
        "exit": proc.returncode,
        "stdout": sha256(out),
        "stderr": sha256(err),
        "stderr_sorted_lines": sorted_lines_sha256(err),
        "seconds": round(seconds, 2),  # information only, never compared
    }


def written_files(folder: Path, linked: dict[str, int]) -> list[str]:
    """Files of the case folder that are not the inputs it was given (new files, or inputs replaced)."""
    found = []
    for path in input_files(folder):
        rel = path.relative_to(folder).as_posix()
        if linked.get(rel) != path.stat().st_ino:
            found.append(rel)
    missing = [rel for rel in linked if not (folder / rel).exists()]
    return found + [f"{rel} (removed)" for rel in missing]


def run_case(run: Run, c: Case, inputs: Path) -> dict[str, Any]:
    started = time.perf_counter()
    folder = run.run_dir / c.name
    keep = run.keep / c.name
    keep.mkdir(parents=True)
    linked = link_inputs(inputs, folder, c.big)
    steps = [run_step(run, c, folder, keep, i, st) for i, st in enumerate(c.steps, 1)]
    files = {}
    for rel in written_files(folder, linked):
        if rel.endswith(" (removed)"):
            files[rel] = "removed"
            continue
        data = (folder / rel).read_bytes()
        (keep / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
        (keep / "files" / rel).write_bytes(data if is_parquet(data) else normalise(data, run.masks))
        files[rel] = digest(data, run.masks)
    shutil.rmtree(folder)
    print(f"  {run.keep.name}: {c.name} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    return {"big": c.big, "steps": steps, "files": dict(sorted(files.items()))}


def describe_checkout(checkout: Path) -> str:
    head = git("-C", str(checkout), "rev-parse", "HEAD")
    dirty = git("-C", str(checkout), "--no-optional-locks", "status", "--porcelain")
    return head + (" + uncommitted changes" if dirty else "")


def snapshot_worktree(keep: Path) -> Path:
    """A copy of the working tree's src/, so that one run sees one state of the code while others edit it."""
    folder = keep / "checkout"
    shutil.copytree(REPO / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def run_revision(label: str, checkout: Path, cases: list[Case], inputs: Path, jobs: int, rows: int | None) -> Manifest:
    """Run every case on one checkout; returns its manifest (also written to /tmp/compare-outputs/LABEL/)."""
    keep = OUT_ROOT / label
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    revision = describe_checkout(checkout)  # before the run: others may commit meanwhile
    if checkout == REPO:
        checkout = snapshot_worktree(keep)
    env = run_env(checkout)
    check_import(checkout, env)
    before = input_digests(inputs)
    run_dir = Path(tempfile.mkdtemp(prefix="compare-run-", dir="/tmp"))  # same name length for every revision
    run = Run(checkout, run_dir, keep, env, masks(run_dir, checkout))
    started = time.perf_counter()
    print(f"{label}: running {len(cases)} cases of {checkout} in {run_dir} ...", flush=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        results = list(pool.map(lambda c: run_case(run, c, inputs), cases))
    finally:
        pool.shutdown(cancel_futures=True)  # on an error or SIGTERM: the running commands end, no new one starts
        shutil.rmtree(run_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    after = input_digests(inputs)
    if after != before:
        raise SystemExit(
            f"{label}: a command changed its inputs: {sorted(k for k in before if after.get(k) != before[k])}"
        )
    manifest = {
        "label": label,
        "checkout": str(checkout),
        "revision": revision,
        "python": sys.version.split()[0],
        "rows": rows,
        "env": FIXED_ENV,
        "inputs": before,
        "outputs": str(keep),
        "seconds": round(seconds, 1),
        "cases": {c.name: result for c, result in zip(cases, results, strict=True)},
    }
    (keep / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{label}: {len(cases)} cases in {seconds:.1f} s", flush=True)
    return manifest


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def checkout_revision(rev: str) -> Path:
    """`git worktree add --detach /tmp/compare-REV REV`, or the one already there at REV."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = Path("/tmp") / f"compare-{safe_label(rev)}"
    if path.exists():
        head = git("-C", str(path), "rev-parse", "HEAD")
        if head != sha:
            raise SystemExit(f"{path} is at {head[:12]}, not {rev}: remove it (git worktree remove {path})")
        return path
    git("worktree", "add", "--detach", str(path), sha)
    return path


def safe_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)


# ---------------------------------------------------------------------------------------------------------------
# Comparing two manifests
# ---------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Verdict:
    failures: list[str] = dataclasses.field(default_factory=list)  # exit, stdout, stderr, files
    notes: list[str] = dataclasses.field(default_factory=list)  # stderr line order only: does not fail

    def text(self) -> str:
        if self.failures:
            return f"DIFFERENT ({', '.join(self.failures)})"
        return f"same ({', '.join(self.notes)})" if self.notes else "same"


def compare_case(a: dict[str, Any], b: dict[str, Any]) -> Verdict:
    verdict = Verdict()
    if [s["args"] for s in a["steps"]] != [s["args"] for s in b["steps"]]:
        verdict.failures.append("command lines")
        return verdict
    several = len(a["steps"]) > 1
    for i, (sa, sb) in enumerate(zip(a["steps"], b["steps"], strict=True), 1):
        tag = f"#{i}" if several else ""
        if sa["exit"] != sb["exit"]:
            verdict.failures.append(f"exit{tag} {sa['exit']} vs {sb['exit']}")
        if sa["stdout"] != sb["stdout"]:
            verdict.failures.append(f"stdout{tag}")
        if sa["stderr"] != sb["stderr"]:
            target = verdict.notes if sa["stderr_sorted_lines"] == sb["stderr_sorted_lines"] else verdict.failures
            target.append(f"stderr{tag} line order only" if target is verdict.notes else f"stderr{tag}")
    for rel in sorted(set(a["files"]) | set(b["files"])):
        if a["files"].get(rel) != b["files"].get(rel):
            where = "" if rel in a["files"] and rel in b["files"] else " only in " + ("A" if rel in a["files"] else "B")
            verdict.failures.append(f"file {rel}{where}")
    return verdict


def unexpected_exits(manifest: Manifest) -> list[str]:
    return [
        f"{manifest['label']}: {name} #{i} exited {s['exit']}, expected {s['expect']}: loyalty {' '.join(s['args'])}"
        for name, result in manifest["cases"].items()
        for i, s in enumerate(result["steps"], 1)
        if s["exit"] != s["expect"]
    ]


def case_verdict(name: str, a: Manifest, b: Manifest) -> Verdict:
    if name in a["cases"] and name in b["cases"]:
        return compare_case(a["cases"][name], b["cases"][name])
    return Verdict(failures=["case only in " + ("A" if name in a["cases"] else "B")])


def compare(a: Manifest, b: Manifest) -> bool:
    """Print the table (and diffs); True when every case is the same and exited as expected."""
    print(f"\nA = {a['label']}: {a['revision']}\nB = {b['label']}: {b['revision']}\n")
    if a["inputs"] != b["inputs"]:
        print("The two runs had different inputs (--rows or data): their outputs cannot be compared.\n")
    names = list(a["cases"]) + [n for n in b["cases"] if n not in a["cases"]]
    verdicts = {name: case_verdict(name, a, b) for name in names}
    width = max(len(n) for n in names)
    print(f"{'case':<{width}}  commands  files  result")
    for name, verdict in verdicts.items():
        result = (a["cases"] | b["cases"])[name]
        print(f"{name:<{width}}  {len(result['steps']):>8}  {len(result['files']):>5}  {verdict.text()}")
    differing = [name for name, verdict in verdicts.items() if verdict.failures]
    for name in differing:
        if name in a["cases"] and name in b["cases"]:
            print_diffs(name, a, b)
    problems = unexpected_exits(a) + unexpected_exits(b)
    for problem in problems:
        print(f"UNEXPECTED EXIT CODE {problem}")
    steps = sum(len(r["steps"]) for r in a["cases"].values())
    files = sum(len(r["files"]) for r in a["cases"].values())
    if a["inputs"] == b["inputs"] and not differing and not problems:
        print(f"\nidentical: all {len(names)} cases ({steps} commands, {files} files written) have the same outputs")
        return True
    print(f"\n{len(differing)} of {len(names)} cases differ; {len(problems)} unexpected exit codes")
    return False


def print_diffs(name: str, a: Manifest, b: Manifest) -> None:
    """The first lines of a unified diff of each differing stdout, stderr or text file of a case."""
    dir_a, dir_b = Path(a["outputs"]) / name, Path(b["outputs"]) / name
    print(f"\n=== {name}: A {dir_a}  B {dir_b}")
    ra, rb = a["cases"][name], b["cases"][name]
    pairs: list[tuple[str, str]] = []
    for i, (sa, sb) in enumerate(zip(ra["steps"], rb["steps"], strict=False), 1):
        print(f"--- #{i}: loyalty {' '.join(sa['args'])}: exit {sa['exit']} vs {sb['exit']}")
        pairs += [(f"{kind}.{i}.txt", kind) for kind in ("stdout", "stderr") if sa[kind] != sb[kind]]
    changed = [
        rel for rel in sorted(set(ra["files"]) | set(rb["files"])) if ra["files"].get(rel) != rb["files"].get(rel)
    ]
    pairs += [(f"files/{rel}", rel) for rel in changed]
    for rel, title in pairs:
        print_diff(dir_a / rel, dir_b / rel, title)


def print_diff(path_a: Path, path_b: Path, title: str) -> None:
    if not path_a.exists() or not path_b.exists():
        print(f"{title}: only in {'A' if path_a.exists() else 'B'} (or the kept outputs are gone)")
        return
    data_a, data_b = path_a.read_bytes(), path_b.read_bytes()
    if is_parquet(data_a) and is_parquet(data_b):
        title += " (Parquet: schema, then values as CSV)"
        data_a, data_b = parquet_content(data_a), parquet_content(data_b)
    try:
        text_a, text_b = data_a.decode().splitlines(), data_b.decode().splitlines()
    except UnicodeDecodeError:
        print(f"{title}: binary files differ ({len(data_a)} vs {len(data_b)} bytes)")
        return
    diff = list(difflib.unified_diff(text_a, text_b, f"A/{title}", f"B/{title}", lineterm=""))
    print("\n".join(diff[:DIFF_LINES]))
    if len(diff) > DIFF_LINES:
        print(f"... ({len(diff) - DIFF_LINES} more diff lines: diff {path_a} {path_b})")


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--against", metavar="REV", help="compare the working tree with this revision")
    mode.add_argument("--record", metavar="FILE", type=Path, help="write the working tree's manifest here")
    mode.add_argument("--compare", metavar="JSON", nargs=2, type=Path, help="compare two manifests")
    mode.add_argument("--list", action="store_true", help="print the cases and their command lines")
    mode.add_argument("--generate", nargs=2, metavar=("ROWS", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--rev", help="with --record: record this revision (checked out as for --against) instead")
    parser.add_argument("--rows", default="1e6", help="lines of the generated shop (default 1e6)")
    parser.add_argument("--sample-only", action="store_true", help="skip the generated shop (fast check)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at a time (default 2)")
    parser.add_argument("--only", metavar="REGEX", help="run only the cases whose name matches (for debugging)")
    return parser.parse_args(argv)


def selected(args: argparse.Namespace) -> tuple[list[Case], int | None]:
    rows = None if args.sample_only else int(float(args.rows))
    cases = sample_cases() + (big_cases() if rows else [])
    if args.only:
        cases = [c for c in cases if re.search(args.only, c.name)]
    return cases, rows if any(c.big for c in cases) else None


def print_cases(cases: list[Case]) -> None:
    for c in cases:
        print(f"{c.name}{' (one Polars thread)' if c.one_thread else ''}")
        for st in c.steps:
            expect = f"  [exit {st.expect}]" if st.expect else ""
            print(f"    loyalty {shlex.join(st.args)}{expect}")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the temporary folders on kill
    args = parse_args()
    if args.generate:
        generate_big(int(args.generate[0]), Path(args.generate[1]))
        return 0
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        return 0 if compare(a, b) else 1
    cases, rows = selected(args)
    if args.list:
        print_cases(cases)
        return 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="compare-inputs-") as tmp:
        inputs = Path(tmp)
        prepare_inputs(inputs, rows)
        if args.record:
            checkout = checkout_revision(args.rev) if args.rev else REPO
            manifest = run_revision(safe_label(args.record.stem), checkout, cases, inputs, args.jobs, rows)
            args.record.write_text(json.dumps(manifest, indent=1))
            problems = unexpected_exits(manifest)
            print("\n".join(f"UNEXPECTED EXIT CODE {p}" for p in problems) or f"wrote {args.record}")
            return 1 if problems else 0
        checkout = checkout_revision(args.against)
        a = run_revision(safe_label(args.against), checkout, cases, inputs, args.jobs, rows)
        b = run_revision("worktree", REPO, cases, inputs, args.jobs, rows)
    same = compare(a, b)
    print(f"total {time.perf_counter() - started:.1f} s ({a['label']} {a['seconds']} s, worktree {b['seconds']} s)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
