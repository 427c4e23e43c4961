"""How a command runs, the same from its command line and from a ``loyalty run`` step.

A :class:`Command` is four steps: ``configure`` turns the option values (by parameter name) into the
application's config and checks the outputs, before anything is read; ``inputs`` says what to read;
``compute`` is the application function
(its notes shown as they come); ``deliver`` writes the outputs and shows the tables, and returns the
files it wrote. :func:`execute` runs them: the Typer command passes its parameters, ``loyalty run`` a step's
options from the pipeline file (with the inputs of the pipeline, read once for all its steps).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from loyalty_cli.app.messages import Messages
from loyalty_cli.cli.common import (
    TransactionColumns,
    check_bad_rows,
    load,
    rejects_path,
    rejects_target,
    shown,
    to_date,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec

Options = Mapping[str, Any]
T = TypeVar("T")


def rejects_of(*kinds: str) -> Callable[[Inputs, Options, Output], list[Path]]:
    """A command's ``rejects``: under --on-bad-rows skip, the rejected rows of these input kinds, in this order,
    in one file: ``--rejects`` (default: beside the output, see :func:`~loyalty_cli.cli.common.rejects_path`)."""

    def write(inputs: Inputs, options: Options, out: Output) -> list[Path]:
        frames = [inputs.rejects[kind] for kind in kinds if kind in inputs.rejects]
        if not any(frame.height for frame in frames):
            return []
        path = rejects_path(options.get("rejects"), options.get("output"))
        write_rejects(frames, path, out)
        return [path]

    return write


#: the rejected transaction lines (most commands' only input)
transaction_rejects = rejects_of("transactions")


@dataclass(frozen=True)
class Command:
    """A command as both front ends run it (see the module docstring). ``rejects`` writes the rejected rows
    of its inputs under --on-bad-rows skip, right after reading (a later failure keeps them)."""

    name: str
    configure: Callable[[Options], Any]
    inputs: Callable[[Options, Any, Output], InputSpec]
    compute: Callable[[Inputs, Any, Messages], Any]
    deliver: Callable[[Any, Options, Output], list[Path]]
    rejects: Callable[[Inputs, Options, Output], list[Path]] = transaction_rejects
    reading: str = "transactions"  # what the spinner says is being read


def execute(command: Command, options: Options, out: Output) -> list[Path]:
    """Configure (fail before reading), read, compute, write and show: the files written."""
    config = command.configure(options)
    spec = command.inputs(options, config, out)
    if "mapping" in options:  # the mapping the inputs are read with (rules/columns.toml when none was given)
        options = {**options, "mapping": spec.options.mapping_file}
    if options.get("rejects") is not None:  # a cluster path needs the Spark engine: told before reading
        options = {**options, "rejects": rejects_target(options["rejects"], spec)}
    with out.progress():  # on a terminal: a line saying what runs, and since when
        inputs = load(spec, out, what=command.reading)
        written = command.rejects(inputs, options, out) if spec.on_bad_rows == "skip" else []
        out.phase(f"Computing {command.name}")
        said = Messages(listener=shown(out), on_phase=out.phase)  # notes shown as they come
        result = command.compute(inputs, config, said)
        out.phase("Writing")
        if options.get("output") == "-":
            out.end_progress()  # the data goes to stdout
        return [*written, *command.deliver(result, options, out)]


def app_function(name: str, *, messages: bool = True) -> Callable[[Inputs, Any, Messages], Any]:
    """A command's ``compute``: the application function ``loyalty_cli.app.<name>.<name>``, imported when the
    command runs (so ``loyalty --help`` stays light); ``messages=False`` for one that takes none (its notes are
    in its result)."""

    def compute(inputs: Inputs, config: Any, said: Messages) -> Any:
        function = getattr(importlib.import_module(f"loyalty_cli.app.{name}"), name)
        return function(inputs, config, said) if messages else function(inputs, config)

    return compute


def config_of(cls: type[T], options: Options, **given: Any) -> T:
    """``cls`` (an application config dataclass) from the options of its fields' names; ``given``: the fields
    whose values the command turns from its options itself (a tuple from a repeated option, parsed text ...)."""
    names = [f.name for f in fields(cls) if f.init and f.name not in given]  # type: ignore[arg-type]
    return cls(**{name: options[name] for name in names if name in options}, **given)


def write_file(table: pl.DataFrame, path: Path | str | None, what: str, out: Output) -> list[Path]:
    """An extra table a command writes when asked (``--cut-points FILE`` and the like), said on stderr as
    ``Wrote <what> to PATH``: the file, or nothing without a path."""
    if path is None:
        return []
    from loyalty_cli.io.writers import write_table

    write_table(table, path)
    out.note(f"Wrote {what} to {path}")
    return [Path(path)]


def write_output(table: pl.DataFrame, options: Options, what: str, out: Output) -> list[Path]:
    """A command's table in ``-o`` (with ``--format``), said as ``Wrote <what> to PATH`` unless it went to
    stdout: the file written, if any."""
    from loyalty_cli.io.writers import write_table

    path = write_table(table, options["output"], fmt=options["fmt"]) if options["output"] else None
    if path:
        out.note(f"Wrote {what} to {path}")
    return [path] if path else []


def flat(options: Options) -> dict[str, Any]:
    """A Typer command's parameters with the option bundles (``tx``, ``lists``) spread into plain names, as a
    pipeline step gives them. A command's own parameter keeps its value over a bundle's field of the same name
    (``lifecycle --contacts`` is an input, not the list option its bundle leaves out)."""
    values = dict(options)
    for bundle in ("tx", "lists"):
        if bundle in values:
            for name, value in vars(values.pop(bundle)).items():
                values.setdefault(name, value)
    return values


def transaction_spec(options: Options, out: Output, **more: Any) -> InputSpec:
    """The transactions of a command (its ``inputs`` argument), read with its column options, as-of date and
    bad-rows policy; ``more``: other :class:`InputSpec` fields (``activity=True``, side inputs ...)."""
    from loyalty_cli.app.inputs import InputSpec

    policy = check_bad_rows(options.get("on_bad_rows", "error"))
    tx = TransactionColumns(**{f.name: options[f.name] for f in fields(TransactionColumns) if f.name in options})
    return InputSpec(
        transactions=list(options["inputs"]),
        options=tx.read_options(out),
        as_of=to_date(options.get("as_of")),
        on_bad_rows=policy,  # type: ignore[arg-type]
        **tx.engine_settings(),
        **more,
    )
