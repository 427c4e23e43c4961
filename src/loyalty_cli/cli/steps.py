"""A pipeline step run as its command, without a command line.

``loyalty run`` takes a step's option values by option name (:func:`loyalty_cli.pipeline.step_values`), types
them as the command's Typer function types its parameters (no command line is built or parsed) and runs the
command's :class:`~loyalty_cli.cli.command.Command` with :func:`~loyalty_cli.cli.command.execute`, on the inputs
read once for every step (:func:`loyalty_cli.stage1.shared_reads`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loyalty_cli.cli import command, common
from loyalty_cli.cli.console import Output, relay_messages
from loyalty_cli.cli.flags import option as option_flag
from loyalty_cli.cli.flags import rendered
from loyalty_cli.errors import UsageError
from loyalty_cli.pipeline.config import from_folder, listed

if TYPE_CHECKING:
    from loyalty_cli.errors import LoyaltyError
    from loyalty_cli.io.columns import MappingFile
    from loyalty_cli.pipeline import Pipeline, Step

EXPECTED = {bool: "a valid boolean", int: "a valid integer", float: "a valid float"}


@functools.cache
def option_names() -> dict[str, dict[str, str]]:
    """Each command's options as a pipeline file names them (``--cut-points``: ``cut_points``) -> its parameters."""
    import typer.main

    from loyalty_cli.cli import app

    return {
        name: {
            flag[2:].replace("-", "_"): param.name
            for param in cmd.params
            for flag in [*param.opts, *param.secondary_opts]
            if flag.startswith("--")
        }
        for name, cmd in typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
    }


def pipeline_commands() -> dict[str, set[str]]:
    """What the pipeline loader checks steps against: each command's options as a pipeline file names them
    (``cut_points``); the loader words them with :func:`loyalty_cli.cli.flags.option`."""
    return {name: set(options) for name, options in option_names().items()}


class Steps:
    """The steps of ``pipeline`` as their commands: each step's :class:`~loyalty_cli.cli.command.Command` and
    options (:meth:`options`), and each step run (a :class:`~loyalty_cli.pipeline.runner.StepRunner`)."""

    def __init__(self, pipeline: Pipeline, *, take: bool) -> None:
        self.pipeline, self.take = pipeline, take  # take: a step's messages go to its record only (a JSON log)

    def options(
        self, step: Step, found: dict[str, object], mapping: MappingFile
    ) -> tuple[command.Command, dict[str, Any]]:
        """The step's command and its options: every parameter of the command's Typer function (its default unless
        ``found``, by option name) typed as the command line would type it (a value of the wrong type is a
        :class:`UsageError` naming the option), and ``mapping``, the columns of the pipeline's inputs."""
        name = step.command.replace("-", "_")  # loyalty_cli.cli.second_purchase.second_purchase
        module = importlib.import_module(f"loyalty_cli.cli.{name}")
        params = inspect.signature(getattr(module, name), eval_str=True).parameters
        options: dict[str, Any] = {key: p.default for key, p in params.items()}
        for key, value in found.items():
            parameter = option_names()[step.command].get(key, key)
            try:
                options[parameter] = _typed(_value_type(params[parameter].annotation), value, key, self.pipeline.folder)
            except UsageError as exc:
                raise UsageError(exc.message, hint=f"See loyalty {step.command} --help.") from None
        return module.COMMAND, {**options, "mapping": mapping}

    def __call__(self, step: Step, found: dict[str, object], mapping: MappingFile) -> tuple[int, list[Path], dict]:
        """Run a step as its command: its exit code, the files it wrote and its messages (:class:`_Messages`);
        errors are shown (and relayed to its messages) as the command shows them."""
        messages = _Messages(self.pipeline, take=self.take)
        written: list[Path] = []

        @common.handle_errors
        def run() -> None:
            cmd, options = self.options(step, found, mapping)
            written.extend(command.execute(cmd, options, Output(quiet=True)))

        with relay_messages(messages):
            try:
                run()
            except typer.Exit as exc:
                return int(exc.exit_code), written, messages.fields
        return 0, written, messages.fields


class _Messages:
    """A step's notes, warnings and error (see :func:`loyalty_cli.cli.console.relay_messages`), for its record
    in the log and the run summary (``fields``). In a JSON log they appear there only (``take``); in a text log
    they are printed as well, as the command prints them. Errors are worded for the pipeline."""

    def __init__(self, pipeline: Pipeline, *, take: bool) -> None:
        from loyalty_cli.pipeline.runner import no_messages

        self.pipeline, self.take, self.fields = pipeline, take, no_messages()

    def message(self, level: str, text: str) -> bool:
        self.fields["warnings" if level == "warning" else "notes"].append(text)
        return self.take

    def error(self, exc: LoyaltyError) -> LoyaltyError | None:
        from loyalty_cli.pipeline.runner import pipeline_error

        failure = pipeline_error(rendered(exc), self.pipeline)
        self.fields.update(error=failure.message, hint=failure.hint)
        return None if self.take else failure


def _value_type(annotation: Any) -> Any:
    """``Annotated[list[str] | None, typer.Option(...)]`` -> ``list[str]``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kept[0] if len(kept) == 1 else annotation
    return annotation


def _typed(kind: Any, value: Any, key: str, folder: Path) -> Any:
    """A value of the pipeline file as the command line types a value of ``kind`` for the option ``key``, a
    relative path taken from ``folder`` (the pipeline's)."""
    if value is None:
        return None
    if typing.get_origin(kind) is list:
        return [_typed(typing.get_args(kind)[0], item, key, folder) for item in listed(value)]
    if isinstance(value, list):  # one value: a list of one (e.g. an input of the pipeline with one path)
        if len(value) != 1:
            raise UsageError(f"{key} = {value!r}: expected one value, not a list")
        value = value[0]
    try:
        if kind in EXPECTED and (kind is bool) != isinstance(value, bool):
            raise ValueError
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        if kind is datetime:
            return value if isinstance(value, datetime) else datetime.strptime(str(value), "%Y-%m-%d")
        if kind is Path:
            return Path(from_folder(folder, str(value)))
        return kind(value) if kind in EXPECTED else str(value)
    except (TypeError, ValueError):  # worded as the command line words it
        problem = (
            "does not match the format '%Y-%m-%d'"
            if kind is datetime
            else f"is not {EXPECTED.get(kind, 'a valid value')}"
        )
        raise UsageError(f"Invalid value for '{option_flag(key)}': {value!r} {problem}.") from None
