"""Pipelines for ``loyalty run``: a TOML file of inputs, an as-of policy and steps, validated on load.

A pipeline runs the same commands a person types, in one process, with the inputs read once
(:func:`loyalty_cli.stage1.shared_reads`), the as-of date resolved once, and every relative path taken from
the pipeline file's folder, so a cron job can run it from anywhere::

    as_of = "latest"                  # latest (day after the last transaction), today, or 2024-07-01
    output_dir = "out/{as_of}"        # placeholders: {as_of}, {date} (the day of the run), {output_dir}
    on_bad_rows = "skip"              # error (default) or skip (rejected rows go to <step>.rejects.csv)

    [inputs.transactions]             # also surveys, contacts, members and points
    path = "exports/orders/"          # a file, a folder, a glob, or a list of them
    customer_id = "CustomerID"        # optional: column mapping and settings, as in rules/columns.toml

    [[steps]]
    command = "segment"               # segment, cltv, nps, retention, churn, second-purchase, lifecycle,
                                      # report, program
    output = "segments.csv"           # in output_dir
    options = { rules = "rfm_grid", bins = 5 }   # the command's options, without the dashes
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from loyalty_cli.errors import ExitCode, LoyaltyError, RulesError
from loyalty_cli.io.columns import SETTING_KEYS
from loyalty_cli.rulefile import read_toml
from loyalty_cli.schema import TABLES

INPUT_KINDS = ("transactions", "surveys", "contacts", "members", "points")
TOP_KEYS = {"as_of", "output_dir", "on_bad_rows", "inputs", "steps"}
STEP_KEYS = {"command", "name", "output", "options"}
#: what each command reads: its positional input, then inputs passed as options when the pipeline has them
COMMAND_INPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "segment": ("transactions", {}),
    "cltv": ("transactions", {}),
    "second-purchase": ("transactions", {}),
    "retention": ("transactions", {}),
    "churn": ("transactions", {}),
    "nps": ("surveys", {"transactions": "--transactions"}),
    "lifecycle": ("transactions", {"surveys": "--surveys", "contacts": "--contacts"}),
    "report": (
        "transactions",
        {"surveys": "--surveys", "contacts": "--contacts", "members": "--members", "points": "--points"},
    ),
    "program": ("transactions", {"members": "--members", "points": "--points", "surveys": "--surveys"}),
}
#: the rules options of each command and the kind of rules file each takes (checked by ``run --dry-run``)
RULES_OPTIONS: dict[str, dict[str, str]] = {
    "segment": {"rules": "segments"},
    "nps": {"rules": "segments"},
    "churn": {"rules": "churn"},
    "lifecycle": {"rules": "lifecycle", "churn_rules": "churn"},
    "report": {"rules": "segments", "churn_rules": "churn", "lifecycle_rules": "lifecycle"},
}
#: inputs a command cannot run without, beside its positional one
REQUIRED_EXTRAS: dict[str, tuple[str, ...]] = {"program": ("members",)}
#: options the pipeline sets itself
RESERVED = {"output", "as-of", "quiet", "mapping", "on-bad-rows", "rejects", "help"}


class PipelineError(RulesError):
    """An invalid pipeline file (exit 1): the message names the file, the step and the key."""


class LockedError(LoyaltyError):
    """Another run of the same pipeline holds its lock."""

    exit_code = ExitCode.LOCKED


@dataclass(frozen=True)
class Input:
    kind: str
    paths: tuple[str, ...]  # as written, relative to the pipeline's folder
    mapping: dict[str, object]  # columns and settings, as in a [kind] table of rules/columns.toml


@dataclass(frozen=True)
class Step:
    name: str
    command: str
    output: str | None
    options: dict[str, object]


@dataclass(frozen=True)
class Pipeline:
    path: Path
    as_of: str  # "latest", "today" or an ISO date
    output_dir: str
    on_bad_rows: str
    inputs: dict[str, Input]
    steps: tuple[Step, ...]
    folder: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", self.path.resolve().parent)

    @property
    def lock_path(self) -> Path:
        return self.folder / f".{self.path.name}.lock"


def _fail(path: Path, where: str, problem: str, hint: str | None = None) -> PipelineError:
    return PipelineError(f"{path}: {where}: {problem}", hint=hint)


def load_pipeline(path: Path, commands: dict[str, set[str]]) -> Pipeline:
    """Parse and validate a pipeline file. ``commands`` maps each command name to its option names
    (without dashes), so unknown commands and options are caught before anything runs."""
    data = read_toml(path, what="Pipeline", error=PipelineError)
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(
            path, "top level", f"unknown key {sorted(unknown)[0]!r}", hint=f"Keys are {', '.join(sorted(TOP_KEYS))}."
        )
    as_of = data.get("as_of", "latest")
    if not isinstance(as_of, str | date):
        raise _fail(path, "as_of", f"expected latest, today or a date, got {as_of!r}")
    as_of = as_of.isoformat() if isinstance(as_of, date) else as_of
    if as_of not in ("latest", "today"):
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise _fail(path, "as_of", f"expected latest, today or a date like 2024-07-01, got {as_of!r}") from None
    output_dir = data.get("output_dir", "out")
    if not isinstance(output_dir, str) or not output_dir:
        raise _fail(path, "output_dir", "expected a folder name in quotes")
    on_bad_rows = data.get("on_bad_rows", "error")
    if on_bad_rows not in ("error", "skip"):
        raise _fail(path, "on_bad_rows", f"expected error or skip, got {on_bad_rows!r}")
    inputs = _inputs(path, data.get("inputs", {}))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(path, "steps", "no steps", hint="Add [[steps]] tables with a command and its output.")
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps, start=1):
        step = _step(path, i, raw, commands, inputs)
        if any(s.name == step.name for s in steps):
            raise _fail(
                path,
                f"step {i} ({step.name})",
                "the name is used by an earlier step",
                hint='Give each step a unique name = "...".',
            )
        steps.append(step)
    return Pipeline(
        path=path, as_of=as_of, output_dir=output_dir, on_bad_rows=on_bad_rows, inputs=inputs, steps=tuple(steps)
    )


def _inputs(path: Path, raw: object) -> dict[str, Input]:
    if not isinstance(raw, dict):
        raise _fail(path, "inputs", "expected [inputs.transactions], [inputs.surveys] or [inputs.contacts] tables")
    out: dict[str, Input] = {}
    for kind, spec in raw.items():
        where = f"[inputs.{kind}]"
        if kind not in INPUT_KINDS:
            raise _fail(path, where, "unknown input", hint=f"Inputs are {', '.join(INPUT_KINDS)}.")
        if not isinstance(spec, dict) or "path" not in spec:
            raise _fail(path, where, 'needs path = "..." (a file, folder or glob, or a list of them)')
        paths = spec["path"]
        paths = [paths] if isinstance(paths, str) else paths
        if not (isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths)):
            raise _fail(path, f"{where} path", "expected a path in quotes or a list of them")
        fields = {f.name for f in TABLES[kind]}
        mapping = {k: v for k, v in spec.items() if k != "path"}
        for key, value in mapping.items():
            if key not in fields and key not in SETTING_KEYS:
                raise _fail(
                    path,
                    f"{where} {key}",
                    "unknown key",
                    hint=f"Columns: {', '.join(sorted(fields))}; settings: {', '.join(sorted(SETTING_KEYS))}.",
                )
            if key in fields and not (isinstance(value, str) and value):
                raise _fail(path, f"{where} {key}", "expected a column header in quotes")
        out[kind] = Input(kind=kind, paths=tuple(paths), mapping=mapping)
    return out


def _step(path: Path, i: int, raw: object, commands: dict[str, set[str]], inputs: dict[str, Input]) -> Step:
    if not isinstance(raw, dict):
        raise _fail(path, f"step {i}", "expected a [[steps]] table")
    command = raw.get("command")
    name = raw.get("name", command)
    where = f"step {i} ({name})"
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise _fail(
            path, where, f"unknown key {sorted(unknown)[0]!r}", hint=f"Keys are {', '.join(sorted(STEP_KEYS))}."
        )
    if command not in COMMAND_INPUTS or command not in commands:
        known = [c for c in COMMAND_INPUTS if c in commands]
        raise _fail(path, f"step {i}", f"unknown command {command!r}", hint=f"Commands: {', '.join(known)}.")
    if not isinstance(name, str) or not name or "/" in name:
        raise _fail(path, where, "name must be a word (it names the step's files)")
    for needed in (COMMAND_INPUTS[command][0], *REQUIRED_EXTRAS.get(command, ())):
        if needed not in inputs:
            raise _fail(path, where, f"{command} needs [inputs.{needed}]")
    output = raw.get("output")
    if output is not None and not (isinstance(output, str) and output):
        raise _fail(path, f"{where} output", "expected a file name in quotes")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise _fail(path, f"{where} options", "expected a table, e.g. options = { bins = 4 }")
    for key, value in options.items():
        flag = key.replace("_", "-")
        if flag in RESERVED:
            raise _fail(
                path,
                f"{where} options.{key}",
                "is set by the pipeline",
                hint="Use the step's output, the pipeline's as_of, on_bad_rows and inputs instead.",
            )
        if flag not in commands[command]:
            raise _fail(
                path,
                f"{where} options.{key}",
                f"{command} has no option --{flag}",
                hint=f"See loyalty {command} --help.",
            )
        if not isinstance(value, str | int | float | bool | list):
            raise _fail(path, f"{where} options.{key}", "expected a string, number, true/false or a list")
    return Step(name=name, command=command, output=output, options=options)


def resolve_as_of(policy: str, latest: date | None, today: date) -> date | None:
    """The as-of date of a run: fixed, today, or ``latest`` (the day after the last transaction)."""
    if policy == "today":
        return today
    if policy == "latest":
        return latest
    return date.fromisoformat(policy)


def fill(text: str, values: dict[str, str]) -> str:
    """Replace {as_of}, {date} and {output_dir} in a path."""
    out = text
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def mapping_toml(inputs: dict[str, Input]) -> str:
    """The column mappings and settings of the inputs as one rules/columns.toml file."""
    lines = []
    for kind, spec in inputs.items():
        lines.append(f"[{kind}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.mapping.items()]
        lines.append("")
    return "\n".join(lines)


def step_argv(
    pipeline: Pipeline, step: Step, *, as_of: date | None, output_dir: Path, mapping: Path, values: dict[str, str]
) -> list[str]:
    """The command line of one step (paths absolute, as-of fixed)."""
    positional, extra = COMMAND_INPUTS[step.command]
    argv = [step.command, *input_paths(pipeline, positional)]
    for kind, flag in extra.items():
        if kind in pipeline.inputs:
            for p in input_paths(pipeline, kind):
                argv += [flag, p]
    if step.output:
        argv += ["--output", str(output_dir / fill(step.output, values))]
    if as_of is not None:
        argv += ["--as-of", as_of.isoformat()]
    argv += ["--quiet", "--mapping", str(mapping), "--on-bad-rows", pipeline.on_bad_rows]
    if pipeline.on_bad_rows == "skip":
        argv += ["--rejects", str(output_dir / f"{step.name}.rejects.csv")]
    for key, value in step.options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            continue
        else:
            for item in value if isinstance(value, list) else [value]:
                text = fill(str(item), values)
                argv += [flag, text]
    return argv


def input_paths(pipeline: Pipeline, kind: str) -> list[str]:
    """The paths (and globs) of an input, relative ones taken from the pipeline's folder."""
    import os.path

    return [p if Path(p).is_absolute() else os.path.normpath(pipeline.folder / p) for p in pipeline.inputs[kind].paths]


def file_facts(path: Path) -> dict[str, object]:
    """Size and SHA-256 of a file (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


# ---------------------------------------------------------------------------------------------------- lock
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def pipeline_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` as a lock for the block. A lock left by a dead process on this host is taken over;
    a live one raises :class:`LockedError`."""
    me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            pid, host = holder.get("pid"), holder.get("host")
            if isinstance(pid, int) and host == socket.gethostname() and not _alive(pid):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise LockedError(
                f"Another run of this pipeline is in progress (lock {path}, process {pid} on {host})",
                hint="Wait for it to finish. If no run is going on, delete the lock file.",
            ) from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    else:  # pragma: no cover - the stale lock came back between unlink and create
        raise LockedError(f"Could not take the lock {path}", hint="Try again.")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
