"""Plumbing shared by commands: error boundary, input options, as-of, rejects."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import ExitCode, LoyaltyError, UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.messages import Message
    from loyalty_cli.app.rejects import ClusterPath
    from loyalty_cli.handoff.summary import Line
    from loyalty_cli.io.columns import MappingFile
    from loyalty_cli.io.readers import ReadOptions

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_MAPPING = Path("rules") / "columns.toml"


def handle_errors(func: F) -> F:
    """Turn library errors into ``Error: ...`` / ``Hint: ...`` on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LoyaltyError as exc:
            Output().error(exc)
            raise typer.Exit(code=int(exc.exit_code)) from None
        except KeyboardInterrupt:
            Output().note("Interrupted.", force=True)
            raise typer.Exit(code=int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # The reader went away (``loyalty segment ... | head``): stop quietly, as Unix tools do, and keep
            # Python from failing again when it flushes stdout at exit.
            _silence_stdout()
            raise typer.Exit(code=int(ExitCode.BROKEN_PIPE)) from None

    return wrapper  # type: ignore[return-value]


def _silence_stdout() -> None:
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (e.g. a test runner's buffer)
        pass


def check_output(output: str | None, fmt: str | None, *, example: str) -> None:
    """Before reading anything: a known output suffix (or --format), and no --format without --output."""
    from loyalty_cli.io.writers import output_format

    if output:
        output_format(output, fmt)
    elif fmt:
        raise UsageError("--format needs --output", hint=f"e.g. -o {example}, or -o - --format json.")


def check_table_path(path: Path | str | None, option: str) -> None:
    """Before reading anything: an extra table's file (``--summary`` and the like) has a known suffix and is a
    file (only ``-o`` writes to stdout: two tables there could not be told apart)."""
    from loyalty_cli.io.writers import output_format

    if path is not None:
        if str(path) == "-":
            raise UsageError(f"{option} needs a file name", hint="Only -o/--output can write to stdout.")
        output_format(path)


#: the latest date a date option takes: later ones are typos, and dates near 9999 leave no room for the
#: horizons added to them (a traceback at 9999-12-31 before this)
LATEST_DATE = date(2999, 12, 31)


def to_date(value: datetime | date | None, flag: str = "--as-of") -> date | None:
    """The day of a date option (``flag``), None when not given; after :data:`LATEST_DATE` a usage error."""
    if value is None:
        return None
    day = value.date() if isinstance(value, datetime) else value
    if day > LATEST_DATE:
        raise UsageError(
            f"{flag} {day}: expected a date up to {LATEST_DATE}",
            hint=f"A date this far ahead is a typo: {flag} YYYY-MM-DD.",
        )
    return day


@dataclass(frozen=True)
class TransactionColumns:
    """The transaction column options of a command (``--customer-col`` ... ``--decimal-comma``, ``--mapping``),
    declared once: :func:`transaction_columns` adds them to a command and hands them over as this object."""

    mapping: Path | None = None
    customer_col: str | None = None
    date_col: str | None = None
    amount_col: str | None = None
    order_col: str | None = None
    quantity_col: str | None = None
    price_col: str | None = None
    category_col: str | None = None
    email_col: str | None = None
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    decimal_comma: bool = False
    on_overlap: str = "error"
    memory_limit: str | None = None
    engine: str | None = None  # None: not given (the mapping file's engine, else polars)
    spark_master: str | None = None
    spark_remote: str | None = None

    def engine_settings(self) -> dict[str, Any]:
        """The :class:`InputSpec` fields of where stage 1 runs: these options over the settings at the top of the
        mapping file (see :func:`loyalty_cli.engines.engine_fields`)."""
        from loyalty_cli.engines import engine_fields

        return engine_fields(
            engine=self.engine,
            memory_limit=self.memory_limit,
            spark_master=self.spark_master,
            spark_remote=self.spark_remote,
            mapping=mapping_file(self.mapping),
        )

    def read_options(self, out: Output) -> ReadOptions:
        return read_options(
            columns={
                "customer_id": self.customer_col,
                "order_date": self.date_col,
                "amount": self.amount_col,
                "order_id": self.order_col,
                "quantity": self.quantity_col,
                "unit_price": self.price_col,
                "category": self.category_col,
                "email": self.email_col,
            },
            mapping=self.mapping,
            date_format=self.date_format,
            delimiter=self.delimiter,
            encoding=self.encoding,
            decimal_comma=self.decimal_comma,
            on_overlap=self.on_overlap,
            out=out,
        )


#: the placeholder default of a command's ``tx`` parameter (replaced by :func:`transaction_columns`)
NO_COLUMN_OPTIONS = TransactionColumns()

_TRANSACTION_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("mapping", opt.Mapping),
    ("customer_col", opt.CustomerCol),
    ("date_col", opt.DateCol),
    ("amount_col", opt.AmountCol),
    ("order_col", opt.OrderCol),
    ("quantity_col", opt.QuantityCol),
    ("price_col", opt.PriceCol),
    ("category_col", opt.CategoryCol),
    ("email_col", opt.EmailCol),
    ("date_format", opt.DateFormat),
    ("delimiter", opt.Delimiter),
    ("encoding", opt.Encoding),
    ("decimal_comma", opt.DecimalComma),
    ("on_overlap", opt.OnOverlap),
    ("memory_limit", opt.MemoryLimit),
    ("engine", opt.Engine),
    ("spark_master", opt.SparkMaster),
    ("spark_remote", opt.SparkRemote),
)


def option_bundle(param: str, bundle: type, options: Sequence[tuple[str, Any]]) -> Callable[[F], F]:
    """A decorator giving a command a set of shared options declared once: the command declares one parameter
    ``param: bundle``; its command line gets ``options`` (name, Annotated type), and their values arrive as
    one ``bundle`` object (a dataclass whose fields include those names)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)  # the command's own annotations, resolved
        defaults = bundle()
        kept = [p for p in signature.parameters.values() if p.name != param]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name), annotation=annotation
            )
            for name, annotation in options
        ]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = bundle(**{name: kwargs.pop(name, getattr(defaults, name)) for name, _ in options})
            return func(*args, **{param: values}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**{p.name: p.annotation for p in kept}, **dict(options)}
        return wrapper  # type: ignore[return-value]

    return decorate


#: ``tx: TransactionColumns``: --mapping, --customer-col ... --decimal-comma (the "Columns and file format" panel)
transaction_columns = option_bundle("tx", TransactionColumns, _TRANSACTION_OPTIONS)


def mapping_file(mapping: Path | MappingFile | None) -> Path | MappingFile | None:
    """The mapping file the inputs are read with: the one given, else rules/columns.toml when there is one."""
    if mapping is None and DEFAULT_MAPPING.is_file():
        return DEFAULT_MAPPING
    return mapping


def read_options(
    *,
    columns: dict[str, str | None],
    mapping: Path | MappingFile | None,
    date_format: str | None,
    delimiter: str | None,
    encoding: str,
    decimal_comma: bool,
    out: Output,
    on_overlap: str = "error",
) -> ReadOptions:
    from loyalty_cli.io.overlap import ON_OVERLAP
    from loyalty_cli.io.readers import ReadOptions

    if on_overlap not in ON_OVERLAP:
        raise UsageError(f"--on-overlap must be error or keep-first, got {on_overlap!r}")
    if mapping is None and mapping_file(None) is not None:
        out.note(f"Column mapping from {DEFAULT_MAPPING}")
    mapping = mapping_file(mapping)
    if delimiter == "\\t":
        delimiter = "\t"
    return ReadOptions(
        columns={k: v for k, v in columns.items() if v},
        mapping_file=mapping,
        date_format=date_format,
        separator=delimiter,
        encoding=encoding,
        decimal_comma=decimal_comma,
        on_overlap=on_overlap,
    )


def check_bad_rows(value: str) -> str:
    if value not in ("error", "skip"):
        raise UsageError(f"--on-bad-rows must be error or skip, got {value!r}")
    return value


def shown(out: Output) -> Callable[[Message | Line], None]:
    """A listener that shows an application's messages on stderr as they come (notes silenced by --quiet
    unless ``always``)."""

    def show(message: Message | Line) -> None:
        if message.level == "warning":
            out.warn(message.text)
        else:
            out.note(message.text, force=getattr(message, "always", False))

    return show


def show_messages(messages: Sequence[Message | Line], out: Output) -> None:
    """Show the messages an application function or the list hand-off returned (see :func:`shown`)."""
    show = shown(out)
    for message in messages:
        show(message)


def load(spec: InputSpec, out: Output, *, what: str = "transactions") -> Inputs:
    """:func:`~loyalty_cli.app.inputs.load_inputs`, saying how the inputs are read as it goes (a spinner on a
    terminal meanwhile)."""
    from dataclasses import replace

    from loyalty_cli.app.inputs import load_inputs
    from loyalty_cli.app.messages import Messages

    def on_pass(i: int, passes: int) -> None:  # a read in passes (memory_limit): which one runs
        out.phase(f"Reading {what}: " + (f"{passes} partitions" if i == 0 else f"pass {i} of {passes}"))

    if spec.on_pass is None:
        spec = replace(spec, on_pass=on_pass)
    with out.status(f"Reading {what} ..."):
        return load_inputs(spec, Messages(listener=shown(out), on_phase=out.phase))


def rejects_target(rejects: str | Path | ClusterPath, spec: InputSpec) -> Path | ClusterPath:
    """``--rejects`` as the library takes it, checked before anything is read: a local file, or a cluster path
    that the run's Spark session writes (an error off the Spark engine; see :mod:`loyalty_cli.app.rejects`)."""
    from loyalty_cli.app.rejects import rejects_target as resolve

    return resolve(rejects, spec.spark)


def rejects_path(rejects: str | Path | ClusterPath | None, output: str | None) -> Path | ClusterPath:
    if rejects is not None:
        from loyalty_cli.app.rejects import rejects_target as resolve

        return resolve(rejects, None)  # a cluster path was made a ClusterPath by rejects_target, else is refused
    if output and output != "-":
        target = Path(output)
        return target.with_name(f"{target.stem}.rejects.csv")
    return Path("rejects.csv")


MAX_PROBLEMS = 10


def list_problems(table: pl.DataFrame, out: Output, *, always: bool = False) -> None:
    """One line per kind of problem (file, reason, column), the most frequent first, at most 10."""
    from loyalty_cli.io.validate import summarise_rejects

    problems = summarise_rejects(table)
    for problem in problems[:MAX_PROBLEMS]:
        out.note(f"  {problem.describe()}", force=always)
    rest: dict[tuple[str, str | None], tuple[int, set[str]]] = {}
    for p in problems[MAX_PROBLEMS:]:  # the rest, one line per reason and column
        count, files = rest.get((p.reason, p.column), (0, set()))
        rest[(p.reason, p.column)] = (count + p.count, files | {p.file})
    for (reason, column), (count, files) in rest.items():
        where = words.count(len(files), "other file") + (f", column {column!r}" if column else "")
        out.note(f"  {words.count(count, 'more row')} with {reason} in {where}", force=always)


def write_rejects(
    frames: Sequence[pl.DataFrame], path: str | Path | ClusterPath, out: Output, *, describe: bool = True
) -> None:
    """Write every rejected row with its file, row number and reason (under --on-bad-rows skip): a local file,
    or a cluster path through the run's Spark session (:func:`loyalty_cli.app.rejects.write_rejects`)."""
    from loyalty_cli.app.rejects import write_rejects as write

    written = write(frames, path)
    if written is None:
        return
    table = written.table
    out.warn(
        f"{words.count(table.height, 'rejected row')} written to {written.where}"
        + (":" if describe and not out.quiet else "")
    )
    if describe:
        list_problems(table, out)
