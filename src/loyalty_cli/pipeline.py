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
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from loyalty_cli.errors import DataError, ExitCode, LoyaltyError, RulesError
from loyalty_cli.io.columns import SETTING_KEYS
from loyalty_cli.rulefile import read_toml
from loyalty_cli.schema import TABLES
from loyalty_cli.words import did_you_mean

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
#: a step's name names its files (``<name>.rejects.csv``): a word that is safe in a file name on any system
STEP_NAME = re.compile(r"\w[\w.-]{0,99}")


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
    name: str = field(init=False)

    def __post_init__(self) -> None:
        # resolved once, at load time: a pipeline run through a symlink is the same pipeline as its target
        resolved = self.path.resolve()
        object.__setattr__(self, "folder", resolved.parent)
        object.__setattr__(self, "name", resolved.name)

    @property
    def file(self) -> Path:
        """The pipeline file's absolute path, links resolved (resolved when loaded: a relative ``path`` would
        be wrong once a run is in its folder)."""
        return self.folder / self.name

    @property
    def lock_path(self) -> Path:
        return self.folder / f".{self.name}.lock"


def _fail(path: Path, where: str, problem: str, hint: str | None = None) -> PipelineError:
    return PipelineError(f"{path}: {where}: {problem}", hint=hint)


def load_pipeline(path: Path, commands: dict[str, set[str]]) -> Pipeline:
    """Parse and validate a pipeline file. ``commands`` maps each command name to its option names
    (without dashes), so unknown commands and options are caught before anything runs."""
    data = read_toml(path, what="Pipeline", error=PipelineError)
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(
            path,
            "top level",
            f"unknown key {sorted(unknown)[0]!r}",
            hint=f"{did_you_mean(sorted(unknown)[0], TOP_KEYS)}Keys are {', '.join(sorted(TOP_KEYS))}.",
        )
    as_of = _as_of(path, data.get("as_of", "latest"))
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


def _as_of(path: Path, value: object) -> str:
    """``latest``, ``today`` or an ISO date (a TOML date or YYYY-MM-DD in quotes, as ``--as-of`` takes)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and (value in ("latest", "today") or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        try:
            return date.fromisoformat(value).isoformat() if value[0].isdigit() else value
        except ValueError:
            pass  # 2024-02-30
    shown = repr(value) if isinstance(value, str) else value.isoformat() if isinstance(value, date | time) else value
    raise _fail(
        path,
        "as_of",
        f"expected latest, today or a date, got {shown}",
        hint='Write as_of = "latest" (the day after the last transaction), "today" or a date such as 2024-07-01.',
    )


def _inputs(path: Path, raw: object) -> dict[str, Input]:
    if not isinstance(raw, dict):
        raise _fail(path, "inputs", "expected [inputs.transactions], [inputs.surveys] or [inputs.contacts] tables")
    out: dict[str, Input] = {}
    for kind, spec in raw.items():
        where = f"[inputs.{kind}]"
        if kind not in INPUT_KINDS:
            raise _fail(
                path,
                where,
                "unknown input",
                hint=f"{did_you_mean(kind, INPUT_KINDS)}Inputs are {', '.join(INPUT_KINDS)}.",
            )
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
                    hint=f"{did_you_mean(key, [*fields, *SETTING_KEYS])}Columns: {', '.join(sorted(fields))}; "
                    f"settings: {', '.join(sorted(SETTING_KEYS))}.",
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
            path,
            where,
            f"unknown key {sorted(unknown)[0]!r}",
            hint=f"{did_you_mean(sorted(unknown)[0], STEP_KEYS)}Keys are {', '.join(sorted(STEP_KEYS))}.",
        )
    if command not in COMMAND_INPUTS or command not in commands:
        known = [c for c in COMMAND_INPUTS if c in commands]
        raise _fail(
            path,
            f"step {i}",
            f"unknown command {command!r}",
            hint=f"{did_you_mean(command, known)}Commands: {', '.join(known)}.",
        )
    if not (isinstance(name, str) and STEP_NAME.fullmatch(name)):
        raise _fail(
            path,
            f"step {i}",
            f"name {name!r} cannot name a file",
            hint='Use letters, digits, _ - and . (not first), e.g. name = "winback_at_risk".',
        )
    for needed in (COMMAND_INPUTS[command][0], *REQUIRED_EXTRAS.get(command, ())):
        if needed not in inputs:
            raise _fail(path, where, f"{command} needs [inputs.{needed}]")
    output = raw.get("output")
    if output is not None and not (isinstance(output, str) and output):
        raise _fail(path, f"{where} output", "expected a file name in quotes")
    if output is not None and _climbs_out(output):
        raise _fail(
            path,
            f"{where} output",
            f"{output!r} is outside output_dir",
            hint='A step writes into output_dir: name a file or a folder in it, e.g. output = "segments.csv".',
        )
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
                hint=f"{did_you_mean(key, [o.replace('-', '_') for o in commands[command] - RESERVED])}"
                f"See loyalty {command} --help.",
            )
        if not isinstance(value, str | int | float | bool | list):
            raise _fail(path, f"{where} options.{key}", "expected a string, number, true/false or a list")
        for item in value if isinstance(value, list) else [value]:
            if (
                isinstance(item, str)
                and "{output_dir}" in item
                and _climbs_out(item.split("{output_dir}", 1)[1].lstrip("/"))
            ):
                raise _fail(
                    path,
                    f"{where} options.{key}",
                    f"{item!r} is outside output_dir",
                    hint="Name a file or folder in it after {output_dir}/, or a path outside it without {output_dir}.",
                )
    return Step(name=name, command=command, output=output, options=options)


def _climbs_out(relative: str) -> bool:
    """Whether a path meant to be inside the output folder (placeholders filled as a run fills them) is absolute,
    climbs out with ``..`` or names the folder again (``{output_dir}``)."""
    filled = Path(fill(relative, {"as_of": "2000-01-01", "date": "2000-01-01"}))
    return "{output_dir}" in relative or filled.is_absolute() or ".." in filled.parts


def staged_path(folder: Path, relative: str) -> Path:
    """``folder / relative``, checked to stay inside ``folder`` once links are followed (the run-time side of the
    load-time check on a step's output)."""
    path = folder / relative
    if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
        raise PipelineError(
            f"Cannot write {path}: {relative!r} is outside the output folder {folder}",
            hint="Name a file or a folder inside output_dir, with no link out of it.",
        )
    return path


def fixed_folder(pipeline: Pipeline) -> Path:
    """The part of ``output_dir`` before its first placeholder (the pipeline's folder when it starts with one):
    known before the inputs are read, it holds the summary of a run that failed before its folder was known."""
    template = pipeline.output_dir
    head = template[: template.find("{")] if "{" in template else template + "/"
    return (pipeline.folder / head[: head.rfind("/") + 1]).resolve()


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
    if "target" in step.options and "contacts" not in step.options and "contacts" in pipeline.inputs:
        # a hand-off step takes the pipeline's contacts (emails and consent) unless it names its own: without
        # them its list would not be screened for consent
        extra = {**extra, "contacts": "--contacts"}
    for kind, flag in extra.items():
        if kind in pipeline.inputs:
            for p in input_paths(pipeline, kind):
                argv += [flag, p]
    if step.output:
        argv += ["--output", str(staged_path(output_dir, fill(step.output, values)))]
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
                if "{output_dir}" in str(item):
                    staged_path(Path(values["output_dir"]), os.path.relpath(text, values["output_dir"]))
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
BUSY = (
    "Another run of this pipeline is in progress",
    "Wait for it to finish: the lock is released when its process ends.",
)


def output_lock_path(output_dir: Path) -> Path:
    """The lock of an output folder, beside it: runs of different pipelines that share the folder take turns."""
    return output_dir.parent / f".{output_dir.name}.loyalty.lock"


@contextmanager
def pipeline_lock(path: Path, busy: tuple[str, str] = BUSY) -> Iterator[None]:
    """Hold ``path`` as a lock for the block: an operating-system lock (``flock``) on the file, released by the
    system when the process ends however it ends, so a lock file left by a killed run, another host or a
    full disk never blocks. The JSON inside (pid, host, started) only names the holder in the message of
    the :class:`LockedError` another run gets (``busy``: its message and hint)."""
    fd = _take_lock(path, busy)
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": now()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only its message names nobody
            pass
        yield
    finally:
        try:
            path.unlink(missing_ok=True)  # while still holding it (see _take_lock)
        except OSError:  # pragma: no cover - left behind, it blocks nobody
            pass
        os.close(fd)


def _take_lock(path: Path, busy: tuple[str, str]) -> int:
    import fcntl

    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(
                f"Could not create the lock file {path}: {exc.strerror or exc}",
                hint="The pipeline's folder must be writable by the user who runs it.",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise LockedError(f"{busy[0]} (lock {path}{holder})", hint=busy[1]) from None
        except OSError as exc:
            os.close(fd)
            raise DataError(f"Could not lock {path}: {exc.strerror or exc}", hint="Try again.") from None
        # the run that held it may have removed the file before we locked it: then lock the new one
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise LockedError(f"Could not take the lock {path}", hint="Try again.")  # pragma: no cover


def _holder(fd: int) -> str:
    """``, process 12 on host since ...`` from a lock file's JSON; nothing when it is empty or garbage."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return ""
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return ""
    host, started = holder.get("host"), holder.get("started")
    return (
        f", process {holder['pid']}"
        + (f" on {host}" if isinstance(host, str) else "")
        + (f" since {started}" if isinstance(started, str) else "")
    )


def now() -> str:
    """The time now in UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------------ staging
def _staging_key(pipeline: Pipeline) -> str:
    """Names this pipeline's staging folders, apart from those of other pipelines writing beside it."""
    return hashlib.sha256(str(pipeline.file).encode()).hexdigest()[:12]


def new_staging(pipeline: Pipeline, output_dir: Path) -> Path:
    """A fresh, empty staging folder beside ``output_dir`` (so on the same file system) for a run's outputs.
    Staging folders that runs of this pipeline left there are removed first: the caller holds the lock, so
    their runs are dead."""
    key = _staging_key(pipeline)
    parent = output_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for dead in parent.glob(f".*.loyalty-staging-{key}-*"):
        shutil.rmtree(dead, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.loyalty-staging-{key}-", dir=parent))


def staged_files(staging: Path) -> list[Path]:
    """The files in a staging folder, relative to it, sorted."""
    return sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file() or p.is_symlink())


def check_publish(staging: Path, output_dir: Path) -> None:
    """Raise before anything moves if a staged file would replace a folder or go under a file."""
    for rel in staged_files(staging):
        target = output_dir / rel
        blocker = next((output_dir / up for up in reversed(rel.parents[:-1]) if (output_dir / up).is_file()), None)
        if blocker is None and target.is_dir():  # a folder, or a link to one
            blocker = target
        if blocker is not None:
            raise DataError(
                f"Cannot write {target}: {blocker} is {'a folder' if blocker.is_dir() else 'a file'}",
                hint="Move it away, or change the step's output.",
            )


def publish(staging: Path, output_dir: Path, replaces: object = None) -> list[Path]:
    """Move every file of ``staging`` to the same place under ``output_dir`` (each an atomic rename on one
    file system; a replaced file's permissions carry over; a symbolic link's target is replaced and the link
    kept, as ``-o`` does), remove the files of the run it ``replaces`` (see :func:`remove_stale`) that it did
    not write, make the changes durable, remove the staging folder. Other files of ``output_dir`` are left
    alone."""
    moved: list[Path] = []
    folders: set[Path] = set()
    try:
        for rel in staged_files(staging):
            source, target = staging / rel, output_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            real = Path(os.path.realpath(target)) if target.is_symlink() else target
            try:
                before = real.stat()
            except FileNotFoundError:
                before = None
            if before is not None and stat.S_ISREG(before.st_mode):
                os.chmod(source, stat.S_IMODE(before.st_mode))
            _move(source, real)
            moved.append(target)
            folders.add(real.parent)
        folders.update(p.parent for p in remove_stale(output_dir, replaces, set(moved)))
        for folder in sorted(f for f in folders if f.is_dir()):
            _fsync_folder(folder)
    except OSError as exc:
        raise DataError(
            f"Could not move the outputs into {output_dir}: {exc.strerror or exc}",
            hint="Check that the output folder is writable and on the same disk as its parent folder.",
        ) from None
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def _move(source: Path, target: Path) -> None:
    """Rename ``source`` over ``target``; when a link took ``target`` to another file system, write it there
    as every output is written (:func:`~loyalty_cli.io.writers.atomic_write`: a temporary file beside it,
    flushed, renamed): atomic all the same."""
    import errno

    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    from loyalty_cli.io.writers import atomic_write

    with source.open("rb") as src:
        atomic_write(target, lambda fh: shutil.copyfileobj(src, fh, 1 << 20))
    source.unlink()


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def last_ok_run(previous: object) -> dict[str, object] | None:
    """From the summary a run finds in its output folder: the run whose outputs are there (that one if it
    succeeded, else the one it named), as as-of date, start, end, inputs and the files it published."""
    if not isinstance(previous, dict):
        return None
    if previous.get("status") == "ok":
        steps = previous.get("steps")
        outputs = (
            [o for s in steps if isinstance(s, dict) for o in s.get("outputs") or []] if isinstance(steps, list) else []
        )
        return {
            **{key: previous.get(key) for key in ("as_of", "started_at", "ended_at", "inputs")},
            "outputs": sorted({o for o in outputs if isinstance(o, str)}),
        }
    carried = previous.get("last_ok_run")
    return carried if isinstance(carried, dict) else None


def published_runs(previous: object) -> dict[str, dict[str, object]]:
    """From the summary a run finds in its output folder: for each pipeline (by file) that publishes into the
    folder, its last successful run there (as :func:`last_ok_run` gives it): the one the summary is about, and
    the others it carried in ``other_pipelines``. Garbled entries are dropped."""
    if not isinstance(previous, dict):
        return {}
    carried = previous.get("other_pipelines")
    runs = {
        name: {**run, "outputs": sorted({o for o in run.get("outputs") or [] if isinstance(o, str)})}
        for name, run in (carried.items() if isinstance(carried, dict) else [])
        if isinstance(name, str) and isinstance(run, dict) and isinstance(run.get("outputs") or [], list)
    }
    owner = previous.get("pipeline")
    if isinstance(owner, str):
        runs.pop(owner, None)
        own = last_ok_run(previous)
        if own is not None and isinstance(own.get("outputs") or [], list):
            runs[owner] = {**own, "outputs": sorted({o for o in own.get("outputs") or [] if isinstance(o, str)})}
    return runs


def remove_stale(output_dir: Path, previous: object, current: set[Path]) -> list[Path]:
    """Remove the files an earlier run published (``previous``: their paths relative to ``output_dir``) that
    this run did not write, so that the folder holds one run's outputs (a rejects file of last night's run
    must not sit beside tonight's lists). Only plain files inside the folder; emptied folders go too."""
    removed: list[Path] = []
    for rel in previous if isinstance(previous, list) else []:
        if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            continue
        target = output_dir / rel
        if target in current or target.is_symlink() or not target.is_file():
            continue
        target.unlink()
        removed.append(target)
        for folder in target.parents:
            if folder == output_dir or not folder.is_relative_to(output_dir):
                break
            try:
                folder.rmdir()
            except OSError:  # not empty
                break
    return removed
