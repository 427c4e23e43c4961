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

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loyalty_cli.errors import LoyaltyError
    from loyalty_cli.pipeline import Pipeline

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


def pipeline_commands() -> dict[str, set[str]]:
    """What the pipeline loader checks steps against: each command's option names (without dashes)."""
    return {name: _option_names(cmd) for name, cmd in _commands().items()}


def check_step_rules(pipeline: Pipeline) -> list[str]:
    """Load every rules file (or built-in map) the steps name, from the pipeline's folder as a run does, with
    the checks each kind makes on load; the files checked, in step order."""
    from loyalty_cli.metrics.churn import load_churn_rules
    from loyalty_cli.metrics.lifecycle import load_lifecycle_rules
    from loyalty_cli.pipeline import RULES_OPTIONS
    from loyalty_cli.segments import load_segment_rules

    loaders = {"segments": load_segment_rules, "churn": load_churn_rules, "lifecycle": load_lifecycle_rules}
    checked: list[str] = []
    with _in_folder(pipeline.folder):
        for step in pipeline.steps:
            for option, kind in RULES_OPTIONS.get(step.command, {}).items():
                rules = step.options.get(option)
                if isinstance(rules, str):
                    loaders[kind](rules)
                    checked.append(rules)
    return list(dict.fromkeys(checked))


@contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


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
                self._emit({"level": "error", "error": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)})
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
            _dry_run(pipeline, log)
            return
        with pipeline_lock(pipeline.lock_path), _terminate_as_interrupt(), _in_folder(pipeline.folder):
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


def _prepare(pipeline: Pipeline, tmp: Path, today: date) -> tuple[Path, dict[str, str], Path, date | None]:
    """Write the mapping file, resolve the as-of date (reading the transactions once) and the output folder."""
    from loyalty_cli.io.readers import ReadOptions
    from loyalty_cli.io.writers import write_text
    from loyalty_cli.pipeline import input_paths, mapping_toml, resolve_as_of
    from loyalty_cli.stage1 import load_transactions

    mapping = write_text(mapping_toml(pipeline.inputs), tmp / "columns.toml")
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


class _Summary:
    """``run_summary.json`` in the output folder, rewritten at every change of state: ``running`` from the
    moment the folder is known (so a run killed with ``kill -9`` never leaves one that says ``ok``), then
    ``ok``, ``failed`` or ``interrupted``. ``last_ok_run`` names the run of this pipeline whose outputs the
    folder holds when that is not this one; ``other_pipelines`` the same for each other pipeline that
    publishes into the folder, so that no run removes their files. From the moment the folder is known the run
    holds its lock (``locks``): runs of pipelines that share it take turns. A run that fails before its folder
    is known writes its summary to the fixed part of ``output_dir`` (:func:`fixed_folder`)."""

    def __init__(self, pipeline: Pipeline, locks: ExitStack) -> None:
        from loyalty_cli import __version__
        from loyalty_cli.pipeline import now

        self.pipeline, self.locks = pipeline, locks
        self.path: Path | None = None
        self.data: dict[str, Any] = {
            "loyalty_version": __version__,
            "pipeline": str(pipeline.file),
            "status": "running",
            "started_at": now(),
            "ended_at": None,
            "as_of": None,
            "inputs": None,
            "steps": [],
            "error": None,
            "last_ok_run": None,
            "other_pipelines": {},
        }

    def place(self, output_dir: Path, as_of: str | None) -> None:
        """The output folder is known: lock it, take over what the summary there says about its outputs (of
        this pipeline and of the others), and write."""
        from loyalty_cli.errors import DataError
        from loyalty_cli.pipeline import fixed_folder, output_lock_path, pipeline_lock, published_runs

        if self.path is None:
            try:
                output_dir.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(
                    f"Could not create the folder {output_dir.parent}: {exc.strerror or exc}",
                    hint="Set output_dir to a folder that the user who runs the pipeline can write to.",
                ) from None
            busy = (
                f"Another run is writing to {output_dir}",
                "Wait for it to finish, or give each pipeline its own output_dir.",
            )
            self.locks.enter_context(pipeline_lock(output_lock_path(output_dir), busy))
            self.path = output_dir / "run_summary.json"
            published = published_runs(self._read(self.path))
            self.data["last_ok_run"] = published.pop(self.data["pipeline"], None)
            self.data["other_pipelines"] = published
            early = fixed_folder(self.pipeline) / "run_summary.json"  # of a run that failed before its folder
            stale = self._read(early) if early != self.path else None
            if isinstance(stale, dict) and stale.get("pipeline") == self.data["pipeline"]:
                early.unlink(missing_ok=True)
        self.data["as_of"] = as_of
        self.write()

    @staticmethod
    def _read(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def replaces(self) -> list[str]:
        """Before this run's outputs are published: the files of this pipeline's last run to remove when this
        one did not write them (none that another pipeline published), which from now on are no longer
        another pipeline's either when this run writes them. The folder holds no whole run's outputs now."""
        mine = {o for step in self.data["steps"] for o in step.get("outputs") or []}
        others = self.data["other_pipelines"]
        theirs = {o for run in others.values() for o in run["outputs"]}
        for run in others.values():
            run["outputs"] = [o for o in run["outputs"] if o not in mine]
        replaced = [o for o in (self.data["last_ok_run"] or {}).get("outputs") or [] if o not in theirs]
        self.data["last_ok_run"] = None
        self.write()
        return replaced

    def inputs(self) -> None:
        """Size and SHA-256 of every input file (not when one cannot be listed: the error says why)."""
        from loyalty_cli.errors import LoyaltyError
        from loyalty_cli.pipeline import file_facts

        try:
            self.data["inputs"] = {
                kind: [file_facts(p) for p in _input_files(self.pipeline, kind)] for kind in self.pipeline.inputs
            }
        except (LoyaltyError, OSError):
            self.data["inputs"] = None

    def finish(self, status: str, error: str | None = None) -> None:
        from loyalty_cli.pipeline import fixed_folder, now

        if self.path is None:  # the run ends before its folder is known
            self.path = fixed_folder(self.pipeline) / "run_summary.json"
        self.data.update(status=status, ended_at=now(), error=error)
        self.write()

    def write(self) -> None:
        from loyalty_cli.io.writers import write_text

        if self.path is not None:
            write_text(json.dumps(self.data, indent=2) + "\n", self.path)


def _execute(pipeline: Pipeline, commands: dict[str, Any], log: _Log, *, keep_going: bool) -> int:
    """Run the steps into a staging folder beside the output folder and move their outputs into place only
    when every step succeeded: a failed, interrupted or killed run leaves the previous outputs as they were."""
    import shutil
    import tempfile

    from loyalty_cli.errors import ExitCode, LoyaltyError, UsageError
    from loyalty_cli.pipeline import LockedError, check_publish, new_staging, publish, resolve_as_of, step_argv
    from loyalty_cli.stage1 import shared_reads

    locks = ExitStack()  # the output folder's lock, taken when the folder is known, released last
    summary = _Summary(pipeline, locks)
    records: list[dict[str, Any]] = summary.data["steps"]
    first_failure = 0
    today = date.today()
    staging: Path | None = None
    finished = False
    try:
        with tempfile.TemporaryDirectory(prefix="loyalty-run-") as tmp, shared_reads():
            if pipeline.as_of != "latest" or "{as_of}" not in pipeline.output_dir:  # known before reading
                values, output_dir = _output_dir(pipeline, resolve_as_of(pipeline.as_of, None, today), today)
                summary.place(output_dir, None if pipeline.as_of == "latest" else values["as_of"])
            try:
                mapping, values, output_dir, as_of = _prepare(pipeline, Path(tmp), today)
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
                argv = step_argv(pipeline, step, as_of=as_of, output_dir=staging, mapping=mapping, values=values)
                started, wall = time.time(), time.perf_counter()
                try:
                    with relay_messages(messages):
                        result = commands[step.command].main(
                            args=argv[1:], prog_name=f"loyalty {step.command}", standalone_mode=False
                        )
                    code = int(result) if isinstance(result, int) else 0
                except typer.Exit as exc:
                    code = int(exc.exit_code)
                except typer.Abort:
                    code = int(ExitCode.INTERRUPTED)
                except typer.TyperException as exc:  # bad options for the command (click's usage errors)
                    messages.failure = UsageError(exc.format_message(), hint=f"See loyalty {step.command} --help.")
                    show = getattr(exc, "show", None)
                    if show and not messages.take:
                        show()
                    code = int(ExitCode.USAGE)
                seconds = time.perf_counter() - wall
                outputs = _outputs(argv, staging, started)
                main_output = Path(argv[argv.index("--output") + 1]) if "--output" in argv else None
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
            message = exc.message if isinstance(exc, LoyaltyError) else None if interrupted else repr(exc)
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


def _input_files(pipeline: Pipeline, kind: str) -> list[Path]:
    from loyalty_cli.io.sources import expand_inputs
    from loyalty_cli.pipeline import input_paths

    return sorted(p.resolve() for p in expand_inputs(input_paths(pipeline, kind)))


def _outputs(argv: list[str], output_dir: Path, started: float) -> list[Path]:
    """Files in the output folder that the step wrote: its arguments that name files written since it began."""
    found: list[Path] = []
    for arg in argv:
        path = Path(os.path.normpath(arg))
        if not (path.is_absolute() and path.is_relative_to(output_dir)):
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [f for f in files if f.is_file() and f.stat().st_mtime >= started - 1 and f not in found]
    return found


def _dry_run(pipeline: Pipeline, log: _Log) -> None:
    """Check that the inputs exist and map, and that rules files load; print the plan."""
    import tempfile

    from loyalty_cli.io.readers import ReadOptions, read_table
    from loyalty_cli.pipeline import step_argv

    with tempfile.TemporaryDirectory(prefix="loyalty-run-") as tmp, _in_folder(pipeline.folder):
        from loyalty_cli.io.writers import write_text
        from loyalty_cli.pipeline import mapping_toml

        mapping = write_text(mapping_toml(pipeline.inputs), Path(tmp) / "columns.toml")
        for kind, spec in pipeline.inputs.items():
            scan = read_table(kind, list(spec.paths), ReadOptions(mapping_file=mapping))
            typer.echo(
                printable(
                    f"{kind}: {words.count(len(scan.paths), 'file')}; columns: {'; '.join(scan.mapping.describe())}"
                )
            )
        check_step_rules(pipeline)
        as_of = None if pipeline.as_of in ("latest", "today") else date.fromisoformat(pipeline.as_of)
        out_dir = Path("<output_dir>")
        values = {"as_of": pipeline.as_of, "date": date.today().isoformat(), "output_dir": str(out_dir)}
        typer.echo(printable(f"as of: {pipeline.as_of}; outputs in {pipeline.output_dir}"))
        for i, step in enumerate(pipeline.steps, start=1):
            argv = step_argv(pipeline, step, as_of=as_of, output_dir=out_dir, mapping=Path("<mapping>"), values=values)
            typer.echo(printable(f"{i}. {step.name}: loyalty {' '.join(_quote(a) for a in argv)}"))
    log.message("Dry run: the pipeline, its inputs, columns and rules are valid; nothing was run.")


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:<>={}" for c in arg) else json.dumps(arg)


def register(app: typer.Typer) -> None:
    app.command("run", epilog=EXAMPLES, rich_help_panel="Automate")(run)
