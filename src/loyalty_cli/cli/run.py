"""``loyalty run``: a pipeline of commands for cron, with the inputs read once."""

from __future__ import annotations

import json
import signal
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loyalty_cli import words
from loyalty_cli.cli.common import handle_errors
from loyalty_cli.cli.console import printable, relay_messages
from loyalty_cli.cli.flags import option as option_flag
from loyalty_cli.cli.flags import rendered

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loyalty_cli.errors import LoyaltyError
    from loyalty_cli.io.columns import MappingFile
    from loyalty_cli.pipeline import Pipeline, Step

EXAMPLES = """
Examples:

  loyalty run examples/pipeline.toml

  loyalty run nightly.toml --dry-run

  loyalty run nightly.toml --keep-going --log-format json 2>> loyalty.jsonl

Crontab (every night at 02:30; exit code 0 only when every step succeeded):

  30 2 * * * cd /srv/crm && mkdir -p logs && .venv/bin/loyalty run nightly.toml --log-format json 2>> logs/loyalty.jsonl
"""


def _commands() -> dict[str, Any]:
    import typer.main

    from loyalty_cli.cli import app

    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def _option_names(command: Any) -> set[str]:
    """A command's options as a pipeline file names them: ``--cut-points`` is ``cut_points``."""
    names: set[str] = set()
    for param in command.params:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--"):
                names.add(opt[2:].replace("-", "_"))
    return names


def _parameter_names(command: Any) -> dict[str, str]:
    """A command's option names (without dashes, underscores for dashes) -> its parameter names."""
    names = {param.name: param.name for param in command.params}
    for param in command.params:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--"):
                names[opt[2:].replace("-", "_")] = param.name
    return names


def pipeline_commands() -> dict[str, set[str]]:
    """What the pipeline loader checks steps against: each command's options as a pipeline file names them
    (``cut_points``); the loader words them with :func:`loyalty_cli.cli.flags.option`."""
    return {name: _option_names(cmd) for name, cmd in _commands().items()}


def check_step_rules(pipeline: Pipeline) -> list[str]:
    """Load every rules file (or built-in map) the steps name, from the pipeline's folder as a run does, with
    the checks each kind makes on load; the files checked, in step order."""
    from loyalty_cli.pipeline import RULES_OPTIONS, local_file
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.rules.lifecycle import load_lifecycle_rules
    from loyalty_cli.rules.segments import load_segment_rules

    loaders = {"segments": load_segment_rules, "churn": load_churn_rules, "lifecycle": load_lifecycle_rules}
    checked: list[str] = []
    for step in pipeline.steps:
        for option, kind in RULES_OPTIONS.get(step.command, {}).items():
            rules = step.options.get(option)
            if isinstance(rules, str):
                loaders[kind](local_file(pipeline, rules))
                checked.append(rules)
    return list(dict.fromkeys(checked))


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, a cron timeout) unwinds like Ctrl-C: temporary files are removed, the lock released."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _timestamp() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Log:
    """The run's log on stderr: a line per step and message, as text, or as JSON records that each carry their
    ``time`` (UTC) and ``level`` (info, warning, error), the errors and hints included: every line parses."""

    def __init__(self, fmt: str, quiet: bool) -> None:
        self.fmt, self.quiet = fmt, quiet
        self.reported: BaseException | None = None  # an error already logged in a step's record

    def _emit(self, record: dict[str, Any]) -> None:
        print(json.dumps({"time": _timestamp(), **record}), file=sys.stderr, flush=True)

    def step(self, record: dict[str, Any]) -> None:
        if self.quiet and record["status"] == "ok":
            return
        if self.fmt == "json":
            level = "error" if record["status"] == "failed" else "warning" if record.get("warnings") else "info"
            self._emit({"level": level, **record})
            return
        rows = f", {words.count(record['rows'], 'row')}" if record.get("rows") is not None else ""
        outputs = f" -> {', '.join(record['outputs'])}" if record.get("outputs") else ""
        code = f" (exit {record['exit_code']})" if record["status"] == "failed" else ""
        line = printable(
            f"{record['step']} [{record['command']}]: {record['status']}{code}{rows}{outputs} "
            f"({record['seconds']:.2f} s)"
        )
        print(line, file=sys.stderr, flush=True)

    def message(self, text: str, **fields: Any) -> None:
        if self.quiet:
            return
        if self.fmt == "json":
            self._emit({"level": "info", "message": text, **fields})
        else:
            print(printable(text, newlines=True), file=sys.stderr, flush=True)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """In a JSON log, an error that stops the run is a record too (not the CLI's ``Error:`` lines), unless a
        step's record holds it already; an unexpected exception is one with its traceback. Text: as it comes."""
        if self.fmt != "json":
            yield
            return
        from loyalty_cli.errors import ExitCode, LoyaltyError

        try:
            yield
        except (typer.Exit, typer.Abort):
            raise
        except LoyaltyError as exc:
            if exc is not self.reported:
                shown = rendered(exc)
                self._emit(
                    {"level": "error", "error": shown.message, "hint": shown.hint, "exit_code": int(exc.exit_code)}
                )
            raise typer.Exit(code=int(exc.exit_code)) from None
        except KeyboardInterrupt:
            self._emit({"level": "error", "error": "Interrupted", "exit_code": int(ExitCode.INTERRUPTED)})
            raise typer.Exit(code=int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:  # a bug: still one record, with the traceback in it
            import traceback

            self._emit(
                {
                    "level": "error",
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                    "exit_code": int(ExitCode.BAD_INPUT),
                }
            )
            raise typer.Exit(code=int(ExitCode.BAD_INPUT)) from None


def _for_pipeline(exc: LoyaltyError, pipeline: Pipeline) -> LoyaltyError:
    """An error worded for a pipeline: rows are skipped with the pipeline file's key, not the command's flag."""
    from loyalty_cli.errors import BadRowsError

    exc = rendered(exc)

    if isinstance(exc, BadRowsError):
        return exc.going_on(
            f'set on_bad_rows = "skip" in {pipeline.path}: each step writes the rows it rejects, with their '
            "reasons, to <step>.rejects.csv in the output folder"
        )
    return exc


class _StepMessages:
    """A step's notes, warnings and error (see :func:`relay_messages`), for its record in the log and the run
    summary. In a JSON log they appear there only (``take``); in a text log they are printed as well, as the
    command prints them. Errors are worded for the pipeline (:func:`_for_pipeline`)."""

    def __init__(self, pipeline: Pipeline, *, take: bool) -> None:
        self.pipeline, self.take = pipeline, take
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.failure: LoyaltyError | None = None

    def message(self, level: str, text: str) -> bool:
        (self.warnings if level == "warning" else self.notes).append(text)
        return self.take

    def error(self, exc: LoyaltyError) -> LoyaltyError | None:
        self.failure = _for_pipeline(exc, self.pipeline)
        return None if self.take else self.failure

    def fields(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "error": failure.message if failure else None,
            "hint": failure.hint if failure else None,
            "warnings": self.warnings,
            "notes": self.notes,
        }


def _rows(path: Path) -> int | None:
    """The rows of a step's main output (:func:`loyalty_cli.pipeline.runner.count_rows`), looked up here at each
    run so that a test can replace it."""
    from loyalty_cli.pipeline.runner import count_rows

    return count_rows(path)


@handle_errors
def run(
    pipeline_file: Annotated[
        Path, typer.Argument(metavar="PIPELINE", help="The pipeline file (TOML).", show_default=False)
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the pipeline, inputs, columns and rules, print the plan, run nothing."),
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Run the other steps after a step fails, to report every failure in one run (the exit code still "
            "says it failed, and the outputs are still published only when every step succeeds).",
        ),
    ] = False,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            metavar="text|json",
            help="One line per step on stderr: text, or json (every line a JSON record, errors and warnings too).",
        ),
    ] = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log failed steps only.")] = False,
) -> None:
    """Run a pipeline of commands (segment, cltv, nps, ...) as a scheduled job: inputs read once, one log
    line per step, outputs switched as a unit when every step succeeded, a run summary (JSON) beside them,
    a lock against overlapping runs."""
    from loyalty_cli.errors import ExitCode, UsageError
    from loyalty_cli.pipeline import load_pipeline, pipeline_lock

    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format must be text or json, got {log_format!r}")
    log = _Log(log_format, quiet)
    with log.errors():
        commands = _commands()
        pipeline = load_pipeline(
            pipeline_file, {name: _option_names(cmd) for name, cmd in commands.items()}, flag=option_flag
        )
        if dry_run:
            _dry_run(pipeline, log, commands)
            return
        with pipeline_lock(pipeline.lock_path), _terminate_as_interrupt():
            code = _execute(pipeline, commands, log, keep_going=keep_going)
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


def _execute(pipeline: Pipeline, commands: dict[str, Any], log: _Log, *, keep_going: bool) -> int:
    """Run the pipeline (:func:`loyalty_cli.pipeline.runner.run_pipeline`), each step as its command, its messages
    in its record (:class:`_StepMessages`), errors worded for the pipeline."""
    from loyalty_cli.pipeline.runner import run_pipeline

    def run_step(step: Step, found: dict[str, object], mapping: MappingFile) -> tuple[int, list[Path], dict[str, Any]]:
        messages = _StepMessages(pipeline, take=log.fmt == "json")
        with relay_messages(messages):
            code, written = _run_step(pipeline, step, found, mapping, _parameter_names(commands[step.command]))
        return code, written, messages.fields()

    return run_pipeline(
        pipeline, run_step, log, keep_going=keep_going, worded=lambda exc: _for_pipeline(exc, pipeline), rows=_rows
    )


def _run_step(
    pipeline: Pipeline, step: Step, found: dict[str, object], mapping: MappingFile, names: dict[str, str]
) -> tuple[int, list[Path]]:
    """Run one step as its command (no command line: see :mod:`loyalty_cli.cli.steps`): its exit code and
    the files it wrote. Errors are shown (and relayed to the step's record) as the command shows them."""
    from loyalty_cli.cli.command import execute
    from loyalty_cli.cli.console import Output
    from loyalty_cli.cli.steps import step_command, typed_options

    command, function = step_command(step.command)
    written: list[Path] = []

    @handle_errors
    def run_it() -> None:
        options = typed_options(function, names, found, pipeline.folder, command=step.command)
        written.extend(execute(command, {**options, "mapping": mapping}, Output(quiet=True)))

    try:
        run_it()
    except typer.Exit as exc:
        return int(exc.exit_code), written
    return 0, written


def _dry_run(pipeline: Pipeline, log: _Log, commands: dict[str, Any]) -> None:
    """Check that the inputs exist and map, and that every step's options make a valid config (its rules
    files loaded, its outputs known); print the plan, each step as the command a person would type."""
    from loyalty_cli.cli.steps import step_command, typed_options
    from loyalty_cli.io.readers import ReadOptions, read_table
    from loyalty_cli.pipeline import input_paths, pipeline_mapping, step_values

    mapping = pipeline_mapping(pipeline)
    for kind in pipeline.inputs:
        scan = read_table(kind, input_paths(pipeline, kind), ReadOptions(mapping_file=mapping))
        typer.echo(
            printable(f"{kind}: {words.count(len(scan.paths), 'file')}; columns: {'; '.join(scan.mapping.describe())}")
        )
    as_of = None if pipeline.as_of in ("latest", "today") else date.fromisoformat(pipeline.as_of)
    out_dir = Path("<output_dir>")
    values = {"as_of": pipeline.as_of, "date": date.today().isoformat(), "output_dir": str(out_dir)}
    typer.echo(printable(f"as of: {pipeline.as_of}; outputs in {pipeline.output_dir}"))
    for i, step in enumerate(pipeline.steps, start=1):
        found = step_values(pipeline, step, as_of=as_of, output_dir=out_dir, values=values)
        command, function = step_command(step.command)
        options = typed_options(
            function, _parameter_names(commands[step.command]), found, pipeline.folder, command=step.command
        )
        command.configure({**options, "mapping": mapping})
        typer.echo(
            printable(f"{i}. {step.name}: loyalty {' '.join(_quote(a) for a in _command_line(step.command, found))}")
        )
    log.message("Dry run: the pipeline, its inputs, columns and rules are valid; nothing was run.")


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _command_line(command: str, found: dict[str, object]) -> list[str]:
    """The command line a person would type for a step (``--dry-run`` shows it), from its option values by
    option name (:func:`loyalty_cli.pipeline.step_values`)."""
    argv = [command, *map(str, _listed(found["inputs"]))]
    for key, value in found.items():
        if key == "inputs" or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [a for item in _listed(value) for a in (flag, str(item))]
    return argv


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:<>={}" for c in arg) else json.dumps(arg)


def register(app: typer.Typer) -> None:
    app.command("run", epilog=EXAMPLES, rich_help_panel="Automate")(run)
