"""A pipeline step run as its command, without a command line.

``loyalty run`` takes a step's options from the pipeline file (option names without dashes, TOML values),
types them as the command's own parameters are typed (the Typer function's annotations: no command line is
built or parsed), and runs the command's :class:`~loyalty_cli.cli.command.Command` with
:func:`~loyalty_cli.cli.command.execute`, the inputs shared by every step (read once, see
:func:`loyalty_cli.stage1.shared_reads`).
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from loyalty_cli.cli.command import Command
from loyalty_cli.errors import UsageError
from loyalty_cli.pipeline.config import from_folder

#: the command of each pipeline step: its module in loyalty_cli.cli and its Typer function
STEP_COMMANDS: dict[str, tuple[str, str]] = {
    "segment": ("segment", "segment"),
    "cltv": ("cltv", "cltv"),
    "second-purchase": ("second_purchase", "second_purchase"),
    "retention": ("retention", "retention"),
    "churn": ("churn", "churn"),
    "nps": ("nps", "nps"),
    "lifecycle": ("lifecycle", "lifecycle"),
    "report": ("report", "report"),
    "program": ("program", "program"),
}


def step_command(name: str) -> tuple[Command, Callable[..., Any]]:
    """A step's :class:`Command` and the Typer function that declares its options."""
    module_name, function = STEP_COMMANDS[name]
    module = importlib.import_module(f"loyalty_cli.cli.{module_name}")
    return module.COMMAND, getattr(module, function)


def parameters(function: Callable[..., Any]) -> dict[str, tuple[type | Any, Any]]:
    """A Typer function's parameters: name -> (the type of its value, its default)."""
    signature = inspect.signature(function, eval_str=True)
    return {name: (_value_type(p.annotation), p.default) for name, p in signature.parameters.items()}


def _value_type(annotation: Any) -> Any:
    """``Annotated[list[str] | None, typer.Option(...)]`` -> ``list[str]``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kept[0] if len(kept) == 1 else annotation
    return annotation


def typed_options(
    function: Callable[..., Any],
    names: Mapping[str, str],
    given: Mapping[str, Any],
    folder: Path | None = None,
    *,
    command: str,
) -> dict[str, Any]:
    """Every parameter of the command (its default unless ``given``), ``given`` by option name (``names``:
    option name -> parameter name) and typed as the command line would type it; a value of the wrong type is a
    :class:`UsageError` naming the option. A relative path is taken from ``folder`` (the pipeline's)."""
    params = parameters(function)
    options = {name: default for name, (_, default) in params.items()}
    for key, value in given.items():
        name = names.get(key, key)
        kind, _ = params[name]
        try:
            options[name] = _typed(kind, value, key)
        except UsageError as exc:
            raise UsageError(exc.message, hint=f"See loyalty {command} --help.") from None
        if folder is not None:
            options[name] = _from(folder, options[name])
    return options


def _from(folder: Path, value: Any) -> Any:
    if isinstance(value, list):
        return [_from(folder, v) for v in value]
    return Path(from_folder(folder, str(value))) if isinstance(value, Path) else value


def _typed(kind: Any, value: Any, key: str) -> Any:
    if value is None:
        return None
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return [_typed(item, v, key) for v in (value if isinstance(value, list) else [value])]
    if isinstance(value, list):  # one value: a list of one (e.g. an input of the pipeline with one path)
        if len(value) != 1:
            raise UsageError(f"{key} = {value!r}: expected one value, not a list")
        value = value[0]
    try:
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is Path:
            return Path(str(value))
        if kind is datetime:
            return value if isinstance(value, datetime) else datetime.strptime(str(value), "%Y-%m-%d")
        return str(value)
    except (TypeError, ValueError):  # worded as the command line words it
        expected = {bool: "a valid boolean", int: "a valid integer", float: "a valid float"}
        problem = (
            f"{value!r} does not match the format '%Y-%m-%d'."
            if kind is datetime
            else f"{value!r} is not {expected.get(kind, 'a valid value')}."
        )
        raise UsageError(f"Invalid value for '--{key.replace('_', '-')}': {problem}") from None
