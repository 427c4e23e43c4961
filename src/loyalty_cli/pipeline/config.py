"""What a pipeline file may say (its keys, inputs, commands and the options they take), the loaded pipeline
(:class:`Pipeline`, its :class:`Input` and :class:`Step`), and its values (as-of policy, placeholders, input
paths). The file is read and checked in :mod:`loyalty_cli.pipeline.load`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from loyalty_cli.errors import RulesError

INPUT_KINDS = ("transactions", "surveys", "contacts", "members", "points")


#: where stage 1 runs, set once for every step that reads transactions (a step's own options win)
ENGINE_KEYS = ("memory_limit", "engine", "spark_master", "spark_remote")


TOP_KEYS = {"as_of", "output_dir", "on_bad_rows", "inputs", "steps", *ENGINE_KEYS}


STEP_KEYS = {"command", "name", "output", "options"}


#: what each command reads: its positional input, then the inputs it takes as options of the same name when
#: the pipeline has them
COMMAND_INPUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "segment": ("transactions", ()),
    "cltv": ("transactions", ()),
    "second-purchase": ("transactions", ()),
    "next-order": ("transactions", ()),
    "retention": ("transactions", ("members",)),  # members: read only for options.by = "member"
    "churn": ("transactions", ()),
    "nps": ("surveys", ("transactions",)),
    "lifecycle": ("transactions", ("surveys", "contacts")),
    "report": ("transactions", ("surveys", "contacts", "members", "points")),
    "program": ("transactions", ("members", "points", "surveys")),
    "products": ("transactions", ()),
    "plan-test": ("transactions", ()),
    "reminders": ("", ("points", "members", "contacts")),  # no positional input: points and/or contacts
}


#: the rules options of each command and the kind of rules file each takes (checked by a dry run)
RULES_OPTIONS: dict[str, dict[str, str]] = {
    "segment": {"rules": "segments"},
    "nps": {"rules": "segments"},
    "churn": {"rules": "churn"},
    "lifecycle": {"rules": "lifecycle", "churn_rules": "churn"},
    "report": {"rules": "segments", "churn_rules": "churn", "lifecycle_rules": "lifecycle"},
    "reminders": {"rules": "programme"},
}


#: inputs a command cannot run without, beside its positional one
REQUIRED_EXTRAS: dict[str, tuple[str, ...]] = {"program": ("members",)}
#: inputs of which a command needs one at least (a command without a positional input)
ONE_OF_INPUTS: dict[str, tuple[str, ...]] = {"reminders": ("points", "contacts")}


#: extra inputs a step is given only when one of its options has a value: (command, input) -> (option, value)
EXTRA_WHEN: dict[tuple[str, str], tuple[str, str]] = {("retention", "members"): ("by", "member")}


#: options a command cannot run without (its required options), each with an example value for the hint
REQUIRED_OPTIONS: dict[str, dict[str, str]] = {"plan-test": {"mde": '"0.05"'}}


#: commands whose step must name its output, with an example name for the hint
NEEDS_OUTPUT: dict[str, str] = {"report": "report.html"}


#: options that read files beside the inputs: one in ``{output_dir}`` must be written by an earlier step
READ_OPTIONS: dict[str, tuple[str, ...]] = {"plan-test": ("list",)}


#: options the pipeline sets itself, as a pipeline file would name them
RESERVED = {"output", "as_of", "quiet", "mapping", "on_bad_rows", "rejects", "help"}


#: a step's name names its files (``<name>.rejects.csv``): a word that is safe in a file name on any system
STEP_NAME = re.compile(r"\w[\w.-]{0,99}")


class PipelineError(RulesError):
    """An invalid pipeline file (exit 1): the message names the file, the step and the key."""


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
    #: the pipeline's engine settings as written (keys of :data:`ENGINE_KEYS` the file sets)
    engine_options: dict[str, str] = field(default_factory=dict)
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

    @property
    def fixed_as_of(self) -> date | None:
        """The as-of date the file fixes (None for latest and today)."""
        return None if self.as_of in ("latest", "today") else date.fromisoformat(self.as_of)

    @property
    def engine(self) -> str:
        """Where stage 1 runs: polars (the default) or spark."""
        return self.engine_options.get("engine", "polars")

    @property
    def memory_limit(self) -> int | None:
        """The memory budget the file sets, in bytes (None: none set, or none)."""
        from loyalty_cli.memory import parse_memory_limit

        return parse_memory_limit(self.engine_options.get("memory_limit"))


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


def from_folder(folder: Path, path: str) -> str:
    """A path written in a pipeline file, taken from the pipeline's ``folder``: as written when it is absolute or
    the folder is the working directory (so messages name it as the user wrote it), else joined to the folder."""
    if Path(path).is_absolute() or Path.cwd().resolve() == folder:
        return path
    return os.path.normpath(folder / path)


def local_file(pipeline: Pipeline, value: str) -> str:
    """An option value that may name a file (a rules file) or not (a built-in map): taken from the pipeline's
    folder when a file of that name is there, else as written (a missing file is named as the user wrote it)."""
    return from_folder(pipeline.folder, value) if (pipeline.folder / value).exists() else value


def input_paths(pipeline: Pipeline, kind: str) -> list[str]:
    """The paths (and globs) of an input, relative ones taken from the pipeline's folder."""
    return [p if Path(p).is_absolute() else os.path.normpath(pipeline.folder / p) for p in pipeline.inputs[kind].paths]


def listed(value: object) -> list[object]:
    """An option's values: a list as it is, one value as a list of one."""
    return value if isinstance(value, list) else [value]
