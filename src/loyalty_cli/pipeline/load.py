"""A pipeline file loaded and checked: every key, input, command and option (:func:`load_pipeline`), and the
rules files its steps name (:func:`check_rules`). What a file may say, and the values of a loaded pipeline, are in
:mod:`loyalty_cli.pipeline.config`."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath

from loyalty_cli.io.columns import SETTING_KEYS
from loyalty_cli.io.userfiles import read_toml
from loyalty_cli.pipeline.config import (
    COMMAND_INPUTS,
    INPUT_KINDS,
    NEEDS_OUTPUT,
    ONE_OF_INPUTS,
    READ_OPTIONS,
    REQUIRED_EXTRAS,
    REQUIRED_OPTIONS,
    RESERVED,
    RULES_OPTIONS,
    STEP_KEYS,
    STEP_NAME,
    TOP_KEYS,
    Input,
    Pipeline,
    PipelineError,
    Step,
    fill,
    listed,
    local_file,
)
from loyalty_cli.schema import TABLES
from loyalty_cli.words import did_you_mean


def _fail(path: Path, where: str, problem: str, hint: str | None = None) -> PipelineError:
    return PipelineError(f"{path}: {where}: {problem}", hint=hint)


def _quoted(key: str) -> str:
    """An option named in a message, in neutral words: the key in quotes."""
    return repr(key)


def load_pipeline(path: Path, commands: dict[str, set[str]], *, flag: Callable[[str], str] = _quoted) -> Pipeline:
    """Parse and validate a pipeline file. ``commands`` maps each command name to its option names as a pipeline
    file writes them (``cut_points``), so unknown commands and options are caught before anything runs. ``flag``
    words an option a message names, from its key: the front end's own spelling (by default the key in
    quotes)."""
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
    engine_options = _engine_options(path, data)
    inputs = _inputs(path, data.get("inputs", {}))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(path, "steps", "no steps", hint="Add [[steps]] tables with a command and its output.")
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps, start=1):
        step = _step(path, i, raw, commands, inputs, flag)
        if any(s.name == step.name for s in steps):
            raise _fail(
                path,
                f"step {i} ({step.name})",
                "the name is used by an earlier step",
                hint='Give each step a unique name = "...".',
            )
        _check_reads(path, i, step, steps)
        steps.append(step)
    return Pipeline(
        path=path,
        as_of=as_of,
        output_dir=output_dir,
        on_bad_rows=on_bad_rows,
        inputs=inputs,
        steps=tuple(steps),
        engine_options=engine_options,
    )


def _engine_options(path: Path, data: dict[str, object]) -> dict[str, str]:
    """The top-level ``memory_limit``, ``engine``, ``spark_master`` and ``spark_remote``, checked as a command
    checks its options, the values as written (a size in bytes as its digits)."""
    from loyalty_cli.errors import ConfigError
    from loyalty_cli.memory import parse_memory_limit

    found: dict[str, str] = {}
    if "memory_limit" in data:
        value = data["memory_limit"]
        hint = 'Write memory_limit = "1GB" (also 512MB, 1.5GiB, a number of bytes, or "none" for no budget).'
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise _fail(path, "memory_limit", f"expected a size in quotes, got {value!r}", hint=hint)
        try:
            parse_memory_limit(value)
        except ConfigError:
            problem = f"expected a size such as 1GB or none, got {value!r}"
            raise _fail(path, "memory_limit", problem, hint=hint) from None
        found["memory_limit"] = str(value)
    if "engine" in data:
        if data["engine"] not in ("polars", "spark"):
            raise _fail(path, "engine", f"expected polars or spark, got {data['engine']!r}")
        found["engine"] = str(data["engine"])
    for key in ("spark_master", "spark_remote"):
        if key not in data:
            continue
        value = data[key]
        if not (isinstance(value, str) and value.strip()):
            raise _fail(path, key, f"expected a URL in quotes, got {value!r}")
        if found.get("engine") != "spark":
            raise _fail(path, key, 'needs engine = "spark"', hint=f'Add engine = "spark" beside {key}, or remove it.')
        found[key] = value
    if "spark_master" in found and "spark_remote" in found:
        raise _fail(
            path,
            "spark_remote",
            "give a Spark master or a Spark Connect remote, not both",
            hint="Keep spark_master (local[*], yarn, spark://host:7077) or spark_remote (sc://host:15002).",
        )
    if "spark_remote" in found and not found["spark_remote"].startswith("sc://"):
        raise _fail(
            path, "spark_remote", f"expected a Spark Connect URL such as sc://host:15002, got {found['spark_remote']!r}"
        )
    return found


def _as_of(path: Path, value: object) -> str:
    """``latest``, ``today`` or an ISO date (a TOML date or YYYY-MM-DD in quotes, as the as-of setting takes)."""
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


# Complexity 21: one check per thing an [inputs.KIND] table can get wrong, in the order a person fixes them;
# split up, the checks would only pass the same five values around.
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


def _step(
    path: Path,
    i: int,
    raw: object,
    commands: dict[str, set[str]],
    inputs: dict[str, Input],
    flag: Callable[[str], str],
) -> Step:
    if not isinstance(raw, dict):
        raise _fail(path, f"step {i}", "expected a [[steps]] table")
    command = raw.get("command")
    name = raw.get("name", command)
    where = f"step {i} ({name})"
    _check_step_head(path, i, raw, commands, name)
    for needed in (COMMAND_INPUTS[command][0], *REQUIRED_EXTRAS.get(command, ())):
        if needed and needed not in inputs:
            raise _fail(path, where, f"{command} needs [inputs.{needed}]")
    either = ONE_OF_INPUTS.get(command, ())
    if either and not set(either) & set(inputs):
        raise _fail(path, where, f"{command} needs " + " or ".join(f"[inputs.{kind}]" for kind in either))
    output = raw.get("output")
    if output is not None and not (isinstance(output, str) and output):
        raise _fail(path, f"{where} output", "expected a file name in quotes")
    if output is None and command in NEEDS_OUTPUT:
        raise _fail(
            path, where, f"{command} needs an output", hint=f'Add output = "{NEEDS_OUTPUT[command]}" to the step.'
        )
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
        _check_option(path, f"{where} options.{key}", command, key, value, commands[command], flag)
    given = {key.replace("-", "_") for key in options}
    for key, example in REQUIRED_OPTIONS.get(command, {}).items():
        if key not in given:
            raise _fail(
                path,
                where,
                f"{command} needs {flag(key)}",
                hint=f"Add it to the step's options: options = {{ {key} = {example} }}.",
            )
    return Step(name=name, command=command, output=output, options=options)


def _check_reads(path: Path, i: int, step: Step, earlier: list[Step]) -> None:
    """A file a step reads from ``{output_dir}`` (:data:`READ_OPTIONS`) is one an earlier step writes: its
    output, a file beside it (``at_risk.control.csv`` beside ``at_risk.csv``) or a path in ``{output_dir}`` one
    of its options names (or a file in that folder), placeholders filled alike."""
    for key, value in step.options.items():
        if key.replace("-", "_") not in READ_OPTIONS.get(step.command, ()):
            continue
        for item in listed(value):
            if not (isinstance(item, str) and "{output_dir}" in item):
                continue
            wanted = _in_output_dir(item.split("{output_dir}", 1)[1])
            if not any(_writes(s, wanted) for s in earlier):
                raise _fail(
                    path,
                    f"step {i} ({step.name}) options.{key}",
                    f"{item!r} is written by no earlier step",
                    hint="A step reads a file of output_dir only after the step that writes it: put that step "
                    'first (e.g. output = "at_risk.csv"), or name a file outside output_dir.',
                )


def _in_output_dir(relative: str) -> PurePosixPath:
    """A path in the output folder as compared between steps: placeholders filled as :func:`_climbs_out` fills
    them, normalised."""
    filled = fill(relative, {"as_of": "2000-01-01", "date": "2000-01-01"}).replace("\\", "/")
    return PurePosixPath(posixpath.normpath("/" + filled.lstrip("/")))


def _writes(step: Step, wanted: PurePosixPath) -> bool:
    """Whether ``step`` writes ``wanted`` (see :func:`_check_reads`); ``wanted`` may be a glob."""
    written = [_in_output_dir(step.output)] if step.output else []
    for value in step.options.values():
        written += [
            _in_output_dir(item.split("{output_dir}", 1)[1])
            for item in listed(value)
            if isinstance(item, str) and "{output_dir}" in item
        ]
    for path in written:
        beside = path.parent / f"{path.stem}.*{path.suffix}"
        if any(wanted.match(str(p)) or p.match(str(wanted)) for p in (path, beside)) or wanted.is_relative_to(path):
            return True
    return False


def _check_step_head(path: Path, i: int, raw: dict[str, object], commands: dict[str, set[str]], name: object) -> None:
    """A step's keys, command and name."""
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise _fail(
            path,
            f"step {i} ({name})",
            f"unknown key {sorted(unknown)[0]!r}",
            hint=f"{did_you_mean(sorted(unknown)[0], STEP_KEYS)}Keys are {', '.join(sorted(STEP_KEYS))}.",
        )
    command = raw.get("command")
    if command not in COMMAND_INPUTS or command not in commands:
        known = [c for c in COMMAND_INPUTS if c in commands]
        raise _fail(
            path,
            f"step {i}",
            f"unknown command {command!r}",
            hint=f"{did_you_mean(command, known)}Commands: {', '.join(known)}.",  # type: ignore[arg-type]
        )
    if not (isinstance(name, str) and STEP_NAME.fullmatch(name)):
        raise _fail(
            path,
            f"step {i}",
            f"name {name!r} cannot name a file",
            hint='Use letters, digits, _ - and . (not first), e.g. name = "winback_at_risk".',
        )


def _check_option(
    path: Path, where: str, command: str, key: str, value: object, known: set[str], flag: Callable[[str], str]
) -> None:
    """One of a step's options: the command has it, the pipeline does not set it, its value is of a TOML kind a
    command line could give, and a path in ``{output_dir}`` stays inside it."""
    option = key.replace("-", "_")
    if option in RESERVED:
        raise _fail(
            path,
            where,
            "is set by the pipeline",
            hint="Use the step's output, the pipeline's as_of, on_bad_rows and inputs instead.",
        )
    if option not in known:
        raise _fail(
            path,
            where,
            f"{command} has no option {flag(option)}",
            hint=f"{did_you_mean(key, sorted(known - RESERVED))}See the help of loyalty {command} for its options.",
        )
    if not isinstance(value, str | int | float | bool | list):
        raise _fail(path, where, "expected a string, number, true/false or a list")
    for item in listed(value):
        if (
            isinstance(item, str)
            and "{output_dir}" in item
            and _climbs_out(item.split("{output_dir}", 1)[1].lstrip("/"))
        ):
            raise _fail(
                path,
                where,
                f"{item!r} is outside output_dir",
                hint="Name a file or folder in it after {output_dir}/, or a path outside it without {output_dir}.",
            )


def _climbs_out(relative: str) -> bool:
    """Whether a path meant to be inside the output folder (placeholders filled as a run fills them) is absolute,
    climbs out with ``..`` or names the folder again (``{output_dir}``)."""
    filled = Path(fill(relative, {"as_of": "2000-01-01", "date": "2000-01-01"}))
    return "{output_dir}" in relative or filled.is_absolute() or ".." in filled.parts


def check_rules(pipeline: Pipeline) -> list[str]:
    """Load every rules file (or built-in map) the steps name, from the pipeline's folder as a run does, with
    the checks each kind makes on load; the files checked, in step order."""
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.rules.lifecycle import load_lifecycle_rules
    from loyalty_cli.rules.programme import load_programme_rules
    from loyalty_cli.rules.segments import load_segment_rules

    loaders = {"segments": load_segment_rules, "churn": load_churn_rules, "lifecycle": load_lifecycle_rules}
    loaders["programme"] = load_programme_rules
    checked: list[str] = []
    for step in pipeline.steps:
        for option, kind in RULES_OPTIONS.get(step.command, {}).items():
            rules = step.options.get(option)
            if isinstance(rules, str):
                loaders[kind](local_file(pipeline, rules))
                checked.append(rules)
    return list(dict.fromkeys(checked))
