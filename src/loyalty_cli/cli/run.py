"""``loyalty run``: a pipeline of commands for cron, with the inputs read once."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loyalty_cli import words
from loyalty_cli.cli.common import handle_errors
from loyalty_cli.cli.console import printable, relay_messages
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
    names: set[str] = set()
    for param in command.params:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--"):
                names.add(opt[2:])
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
    """What the pipeline loader checks steps against: each command's option names (without dashes)."""
    return {name: _option_names(cmd) for name, cmd in _commands().items()}


def check_step_rules(pipeline: Pipeline) -> list[str]:
    """Load every rules file (or built-in map) the steps name, from the pipeline's folder as a run does, with
    the checks each kind makes on load; the files checked, in step order."""
    from loyalty_cli.pipeline import RULES_OPTIONS, from_folder
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.rules.lifecycle import load_lifecycle_rules
    from loyalty_cli.rules.segments import load_segment_rules

    loaders = {"segments": load_segment_rules, "churn": load_churn_rules, "lifecycle": load_lifecycle_rules}
    checked: list[str] = []
    for step in pipeline.steps:
        for option, kind in RULES_OPTIONS.get(step.command, {}).items():
            rules = step.options.get(option)
            if isinstance(rules, str):
                loaders[kind](from_folder(pipeline, rules) if (pipeline.folder / rules).exists() else rules)
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
    import polars as pl

    from loyalty_cli.io.writers import output_format

    try:
        kind = output_format(path)
        if kind == "csv":
            return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())
        if kind == "parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        return len(json.loads(path.read_text(encoding="utf-8")))
    except Exception:  # a count is a courtesy: never fail a step over it
        return None


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
        pipeline = load_pipeline(pipeline_file, {name: _option_names(cmd) for name, cmd in commands.items()})
        if dry_run:
            _dry_run(pipeline, log, commands)
            return
        with pipeline_lock(pipeline.lock_path), _terminate_as_interrupt():
            code = _execute(pipeline, commands, log, keep_going=keep_going)
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait (blocked) until the block is done: the outputs switch and the summary says so."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _output_dir(pipeline: Pipeline, as_of: date | None, today: date) -> tuple[dict[str, str], Path]:
    from loyalty_cli.pipeline import fill

    values = {"as_of": as_of.isoformat() if as_of else "latest", "date": today.isoformat()}
    return values, (pipeline.folder / fill(pipeline.output_dir, values)).resolve()


def _prepare(pipeline: Pipeline, today: date) -> tuple[MappingFile, dict[str, str], Path, date | None]:
    """The inputs' column mapping, the as-of date (reading the transactions once) and the output folder."""
    from loyalty_cli.io.readers import ReadOptions
    from loyalty_cli.pipeline import input_paths, pipeline_mapping, resolve_as_of
    from loyalty_cli.stage1 import load_transactions

    mapping = pipeline_mapping(pipeline)
    given = None if pipeline.as_of in ("latest", "today") else date.fromisoformat(pipeline.as_of)
    latest = None
    if "transactions" in pipeline.inputs and pipeline.as_of != "today":
        loaded = load_transactions(
            input_paths(pipeline, "transactions"),
            ReadOptions(mapping_file=mapping),
            as_of=given,
            on_bad_rows=pipeline.on_bad_rows,  # type: ignore[arg-type]
            activity=True,
        )
        latest = loaded.as_of
    as_of = resolve_as_of(pipeline.as_of, latest, today)
    values, output_dir = _output_dir(pipeline, as_of, today)
    return mapping, values, output_dir, as_of


def _execute(pipeline: Pipeline, commands: dict[str, Any], log: _Log, *, keep_going: bool) -> int:
    """Run the steps into a staging folder beside the output folder and move their outputs into place only
    when every step succeeded: a failed, interrupted or killed run leaves the previous outputs as they were."""
    import shutil

    from loyalty_cli.errors import ExitCode, LoyaltyError
    from loyalty_cli.pipeline import LockedError, check_publish, new_staging, publish, resolve_as_of, step_values
    from loyalty_cli.pipeline.summary import RunSummary
    from loyalty_cli.stage1 import shared_reads

    locks = ExitStack()  # the output folder's lock, taken when the folder is known, released last
    summary = RunSummary(pipeline, locks)
    records: list[dict[str, Any]] = summary.data["steps"]
    first_failure = 0
    today = date.today()
    staging: Path | None = None
    finished = False
    try:
        with shared_reads():
            if pipeline.as_of != "latest" or "{as_of}" not in pipeline.output_dir:  # known before reading
                values, output_dir = _output_dir(pipeline, resolve_as_of(pipeline.as_of, None, today), today)
                summary.place(output_dir, None if pipeline.as_of == "latest" else values["as_of"])
            try:
                mapping, values, output_dir, as_of = _prepare(pipeline, today)
            except LoyaltyError as exc:
                shown = _for_pipeline(exc, pipeline)
                log.step(
                    {
                        "step": "inputs",
                        "command": "read",
                        "status": "failed",
                        "exit_code": int(exc.exit_code),
                        "error": shown.message,
                        "hint": shown.hint,
                        "seconds": 0.0,
                    }
                )
                log.reported = shown
                raise shown from None
            summary.place(output_dir, values["as_of"])
            staging = new_staging(pipeline, output_dir)
            values["output_dir"] = str(staging)  # {output_dir} in options: the step writes into the staging folder
            log.message(
                f"Pipeline {pipeline.path}: as of {values['as_of']}, {words.count(len(pipeline.steps), 'step')}, "
                f"outputs in {output_dir}",
                as_of=values["as_of"],
                output_dir=str(output_dir),
            )
            for step in pipeline.steps:
                record: dict[str, Any] = {"step": step.name, "command": step.command}
                messages = _StepMessages(pipeline, take=log.fmt == "json")
                if first_failure and not keep_going:
                    records.append(
                        {**record, "status": "skipped", "exit_code": None, "outputs": [], **messages.fields()}
                    )
                    log.step({**records[-1], "seconds": 0.0})
                    continue
                found = step_values(pipeline, step, as_of=as_of, output_dir=staging, values=values)
                wall = time.perf_counter()
                with relay_messages(messages):
                    code, written = _run_step(pipeline, step, found, mapping, _parameter_names(commands[step.command]))
                seconds = time.perf_counter() - wall
                outputs = _in_order(written, found, staging)
                main_output = Path(str(found["output"])) if "output" in found else None
                rows = _rows(main_output) if main_output is not None and main_output.is_file() and code == 0 else None
                record.update(
                    status="ok" if code == 0 else "failed",
                    exit_code=code,
                    rows=rows,
                    outputs=[str(p.relative_to(staging)) for p in outputs],
                    **messages.fields(),
                )
                records.append(record)
                log.step({**record, "seconds": round(seconds, 3)})
                if code == int(ExitCode.INTERRUPTED):
                    raise KeyboardInterrupt
                if code and not first_failure:
                    first_failure = code
            summary.inputs()
            if first_failure:
                summary.finish("failed")
            else:
                with _no_interrupts():
                    check_publish(staging, output_dir)
                    publish(staging, output_dir, summary.replaces())
                    summary.finish("ok")
            finished = True
    except BaseException as exc:
        if not finished and not isinstance(exc, LockedError):  # another run has the folder: its summary stays
            interrupted = isinstance(exc, KeyboardInterrupt)
            message = rendered(exc).message if isinstance(exc, LoyaltyError) else None if interrupted else repr(exc)
            try:
                summary.finish("interrupted" if interrupted else "failed", message)
            except LoyaltyError:  # the folder cannot be written to: the error that got us here says more
                pass
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        locks.close()
    return first_failure


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


def _in_order(written: list[Path], found: dict[str, object], staging: Path) -> list[Path]:
    """The files a step wrote in the output folder, in the order of its options (the output first), each
    folder's files sorted, each file once."""
    files = [Path(os.path.normpath(p)) for p in written]
    inside = [p for p in dict.fromkeys(files) if p.is_file() and p.is_relative_to(staging)]
    named = [
        Path(os.path.normpath(str(v)))
        for value in found.values()
        for v in (value if isinstance(value, list) else [value])
        if isinstance(v, str | Path)
    ]

    def rank(path: Path) -> tuple[int, str]:
        for i, name in enumerate(named):
            if path == name or path.is_relative_to(name):
                return i, str(path)
        return len(named), str(path)

    return sorted(inside, key=rank)


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
