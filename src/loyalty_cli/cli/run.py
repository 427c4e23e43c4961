"""``loyalty run``: a pipeline of commands for cron, with the inputs read once."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loyalty_cli.cli.common import handle_errors
from loyalty_cli.cli.console import printable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loyalty_cli.pipeline import Pipeline

EXAMPLES = """
Examples:

  loyalty run rules/pipeline.toml

  loyalty run nightly.toml --dry-run

  loyalty run nightly.toml --keep-going --log-format json 2>> /var/log/loyalty.jsonl

Crontab (every night at 02:30; exit code 0 only when every step succeeded):

  30 2 * * * cd /srv/crm && .venv/bin/loyalty run nightly.toml --log-format json 2>> logs/loyalty.jsonl
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


class _Log:
    def __init__(self, fmt: str, quiet: bool) -> None:
        self.fmt, self.quiet = fmt, quiet

    def step(self, record: dict[str, Any]) -> None:
        if self.quiet and record["status"] == "ok":
            return
        if self.fmt == "json":
            line = json.dumps(record, sort_keys=False)
        else:
            rows = f", {record['rows']:,} rows" if record.get("rows") is not None else ""
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
            print(json.dumps({"message": text, **fields}), file=sys.stderr, flush=True)
        else:
            print(printable(text, newlines=True), file=sys.stderr, flush=True)


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
    pipeline_file: Annotated[Path, typer.Argument(help="The pipeline file (TOML).", show_default=False)],
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
        str, typer.Option("--log-format", help="One line per step on stderr: text or json.")
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
    commands = _commands()
    pipeline = load_pipeline(pipeline_file, {name: _option_names(cmd) for name, cmd in commands.items()})
    log = _Log(log_format, quiet)
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
    ``ok``, ``failed`` or ``interrupted``. ``last_ok_run`` names the run whose outputs the folder holds
    when that is not this one."""

    def __init__(self, pipeline: Pipeline) -> None:
        from loyalty_cli import __version__
        from loyalty_cli.pipeline import now

        self.pipeline = pipeline
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
        }

    def place(self, output_dir: Path, as_of: str | None) -> None:
        """The output folder is known: take over what the summary there says about its outputs, and write."""
        from loyalty_cli.pipeline import last_ok_run

        if self.path is None:
            self.path = output_dir / "run_summary.json"
            try:
                previous = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                previous = None
            self.data["last_ok_run"] = last_ok_run(previous)
        self.data["as_of"] = as_of
        self.write()

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
        from loyalty_cli.pipeline import now

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

    from loyalty_cli.errors import ExitCode, LoyaltyError
    from loyalty_cli.pipeline import check_publish, new_staging, publish, resolve_as_of, step_argv
    from loyalty_cli.stage1 import shared_reads

    summary = _Summary(pipeline)
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
                log.step(
                    {
                        "step": "inputs",
                        "command": "read",
                        "status": "failed",
                        "exit_code": int(exc.exit_code),
                        "error": exc.message,
                        "seconds": 0.0,
                    }
                )
                raise
            summary.place(output_dir, values["as_of"])
            staging = new_staging(pipeline, output_dir)
            values["output_dir"] = str(staging)  # {output_dir} in options: the step writes into the staging folder
            log.message(
                f"Pipeline {pipeline.path}: as of {values['as_of']}, {len(pipeline.steps)} steps, "
                f"outputs in {output_dir}",
                as_of=values["as_of"],
                output_dir=str(output_dir),
            )
            for step in pipeline.steps:
                record: dict[str, Any] = {"step": step.name, "command": step.command}
                if first_failure and not keep_going:
                    records.append({**record, "status": "skipped", "exit_code": None, "outputs": []})
                    log.step({**records[-1], "seconds": 0.0})
                    continue
                argv = step_argv(pipeline, step, as_of=as_of, output_dir=staging, mapping=mapping, values=values)
                started, wall = time.time(), time.perf_counter()
                try:
                    result = commands[step.command].main(
                        args=argv[1:], prog_name=f"loyalty {step.command}", standalone_mode=False
                    )
                    code = int(result) if isinstance(result, int) else 0
                except typer.Exit as exc:
                    code = int(exc.exit_code)
                except typer.Abort:
                    code = int(ExitCode.INTERRUPTED)
                except typer.TyperException as exc:  # bad options for the command (click's usage errors)
                    show = getattr(exc, "show", None)
                    if show:
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
                    replaces = (summary.data["last_ok_run"] or {}).get("outputs")
                    summary.data["last_ok_run"] = None  # from here on the folder holds no whole run's outputs
                    summary.write()
                    publish(staging, output_dir, replaces)
                    summary.finish("ok")
            finished = True
    except BaseException as exc:
        if not finished:
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
    return first_failure


def _input_files(pipeline: Pipeline, kind: str) -> list[Path]:
    from loyalty_cli.io.sources import expand_inputs
    from loyalty_cli.pipeline import input_paths

    return sorted(p.resolve() for p in expand_inputs(input_paths(pipeline, kind)))


def _outputs(argv: list[str], output_dir: Path, started: float) -> list[Path]:
    """Files in the output folder that the step wrote: its arguments that name files written since it began."""
    found: list[Path] = []
    for arg in argv:
        path = Path(arg)
        if not (path.is_absolute() and path.is_relative_to(output_dir)):
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [f for f in files if f.is_file() and f.stat().st_mtime >= started - 1 and f not in found]
    return found


def _dry_run(pipeline: Pipeline, log: _Log) -> None:
    """Check that the inputs exist and map, and that rules files load; print the plan."""
    import tempfile

    from loyalty_cli.io.readers import ReadOptions, read_table
    from loyalty_cli.metrics.churn import load_churn_rules
    from loyalty_cli.metrics.lifecycle import load_lifecycle_rules
    from loyalty_cli.pipeline import RULES_OPTIONS, step_argv
    from loyalty_cli.segments import load_segment_rules

    loaders = {"segments": load_segment_rules, "churn": load_churn_rules, "lifecycle": load_lifecycle_rules}

    with tempfile.TemporaryDirectory(prefix="loyalty-run-") as tmp, _in_folder(pipeline.folder):
        from loyalty_cli.io.writers import write_text
        from loyalty_cli.pipeline import mapping_toml

        mapping = write_text(mapping_toml(pipeline.inputs), Path(tmp) / "columns.toml")
        for kind, spec in pipeline.inputs.items():
            scan = read_table(kind, list(spec.paths), ReadOptions(mapping_file=mapping))
            typer.echo(printable(f"{kind}: {len(scan.paths)} file(s); columns: {'; '.join(scan.mapping.describe())}"))
        for step in pipeline.steps:
            for option, kind in RULES_OPTIONS.get(step.command, {}).items():
                rules = step.options.get(option)
                if isinstance(rules, str):
                    loaders[kind](rules)
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
