"""``loyalty run``: a pipeline of commands for cron, with the inputs read once (the run itself:
:mod:`loyalty_cli.pipeline.runner`; each step as its command: :mod:`loyalty_cli.cli.steps`)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loyalty_cli import words
from loyalty_cli.cli import common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import printable
from loyalty_cli.cli.flags import option as option_flag
from loyalty_cli.cli.flags import rendered

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loyalty_cli.cli.steps import Steps
    from loyalty_cli.pipeline import Step

EXAMPLES = """
Examples:

  loyalty run examples/pipeline.toml

  loyalty run nightly.toml --dry-run

  loyalty run nightly.toml --keep-going --log-format json 2>> loyalty.jsonl

Crontab (every night at 02:30; exit code 0 only when every step succeeded):

  30 2 * * * cd /srv/crm && mkdir -p logs && .venv/bin/loyalty run nightly.toml --log-format json 2>> logs/loyalty.jsonl
"""


class _Log:
    """The run's log on stderr: a line per step and message, as text, or as JSON records that each carry their
    ``time`` (UTC) and ``level`` (info, warning, error), the errors and hints included: every line parses."""

    def __init__(self, fmt: str, quiet: bool) -> None:
        self.fmt, self.quiet = fmt, quiet
        self.reported: BaseException | None = None  # an error already logged in a step's record

    def _write(self, record: dict[str, Any], text: str) -> None:
        """The record (with its time) in a JSON log, the text in a text log."""
        from loyalty_cli.pipeline import now

        line = json.dumps({"time": now("milliseconds"), **record}) if self.fmt == "json" else text
        print(line, file=sys.stderr, flush=True)

    def step(self, record: dict[str, Any]) -> None:
        from loyalty_cli.pipeline.runner import level, step_line

        if not (self.quiet and record["status"] == "ok"):
            self._write({"level": level(record), **record}, printable(step_line(record)))

    def message(self, text: str, **fields: Any) -> None:
        if not self.quiet:
            self._write({"level": "info", "message": text, **fields}, printable(text, newlines=True))

    @contextmanager
    def errors(self) -> Iterator[None]:
        """In a JSON log, an error that stops the run is a record too (not the CLI's ``Error:`` lines), unless a
        step's record holds it already; an unexpected exception is one with its traceback. Text: as it comes."""
        if self.fmt != "json":
            yield
            return
        import traceback

        from loyalty_cli.errors import ExitCode, LoyaltyError

        try:
            yield
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, LoyaltyError):
                shown = rendered(exc)
                record = {"error": shown.message, "hint": shown.hint, "exit_code": int(exc.exit_code)}
            elif isinstance(exc, KeyboardInterrupt):
                record = {"error": "Interrupted", "exit_code": int(ExitCode.INTERRUPTED)}
            else:  # a bug: still one record, with the traceback in it
                error = f"{type(exc).__name__}: {exc}"
                record = {"error": error, "traceback": traceback.format_exc(), "exit_code": int(ExitCode.BAD_INPUT)}
            if exc is not self.reported:
                self._write({"level": "error", **record}, "")
            raise typer.Exit(code=record["exit_code"]) from None


def _rows(path: Path) -> int | None:
    """The rows of a step's main output, looked up here at each run so that a test can replace it."""
    from loyalty_cli.pipeline.runner import count_rows

    return count_rows(path)


@common.handle_errors
@opt.declare(
    quiet=opt.o("Log failed steps only.", flag=("--quiet", "-q")),
    dry_run=opt.o("Check the pipeline, inputs, columns and rules, print the plan, run nothing."),
    keep_going=opt.o(
        "Run the other steps after a step fails, to report every failure in one run (the exit code still says it "
        "failed, and the outputs are still published only when every step succeeds)."
    ),
    log_format=opt.o(
        "One line per step on stderr: text, or json (every line a JSON record, errors and warnings too).", "text|json"
    ),
)
def run(
    pipeline_file: Annotated[
        Path, typer.Argument(metavar="PIPELINE", help="The pipeline file (TOML).", show_default=False)
    ],
    dry_run: bool = False,
    keep_going: bool = False,
    log_format: str = "text",
    quiet: bool = False,
) -> None:
    """Run a pipeline of commands (segment, cltv, nps, ...) as a scheduled job: inputs read once, one log
    line per step, outputs switched as a unit when every step succeeded, a run summary (JSON) beside them,
    a lock against overlapping runs."""
    from loyalty_cli.cli.steps import Steps, pipeline_commands
    from loyalty_cli.errors import UsageError
    from loyalty_cli.pipeline import load_pipeline
    from loyalty_cli.pipeline.runner import run_pipeline

    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format must be text or json, got {log_format!r}")
    log = _Log(log_format, quiet)
    with log.errors():
        pipeline = load_pipeline(pipeline_file, pipeline_commands(), flag=option_flag)
        steps = Steps(pipeline, take=log_format == "json")
        if dry_run:
            return _dry_run(steps, log)
        code = run_pipeline(pipeline, steps, log, keep_going=keep_going, worded=rendered, rows=_rows)
    if code:
        raise typer.Exit(code=code)


def _dry_run(steps: Steps, log: _Log) -> None:
    """Check that the inputs exist and map, and that every step's options make a valid config (its rules
    files loaded, its outputs known); print the plan, each step as the command a person would type."""
    from loyalty_cli.io.readers import ReadOptions, read_table
    from loyalty_cli.pipeline import input_paths, pipeline_mapping
    from loyalty_cli.pipeline.steps import plan

    pipeline = steps.pipeline
    mapping = pipeline_mapping(pipeline)
    for kind in pipeline.inputs:
        scan = read_table(kind, input_paths(pipeline, kind), ReadOptions(mapping_file=mapping))
        columns = "; ".join(scan.mapping.describe())
        typer.echo(printable(f"{kind}: {words.count(len(scan.paths), 'file')}; columns: {columns}"))
    typer.echo(printable(f"as of: {pipeline.as_of}; outputs in {pipeline.output_dir}"))
    if pipeline.engine_options:  # the pipeline's own keys, as its file writes them
        settings = ", ".join(f"{key} = {json.dumps(value)}" for key, value in pipeline.engine_options.items())
        typer.echo(printable(f"engine: {settings} (for every step that reads transactions)"))
    for i, (step, found) in enumerate(plan(pipeline), start=1):
        command, options = steps.options(step, _existing(step, found), mapping)
        command.configure(options)
        typer.echo(printable(f"{i}. {step.name}: loyalty {_command_line(step.command, found)}"))
    log.message("Dry run: the pipeline, its inputs, columns and rules are valid; nothing was run.")


def _existing(step: Step, found: dict[str, object]) -> dict[str, object]:
    """A step's option values without the files it reads from the output folder (:data:`~loyalty_cli.pipeline.
    config.READ_OPTIONS`): earlier steps write them when the pipeline runs (the loader checked that one does), so a
    dry run, which writes nothing, checks the step's other options only."""
    from loyalty_cli.pipeline.config import READ_OPTIONS, listed
    from loyalty_cli.pipeline.steps import PLAN_OUTPUT_DIR

    kept = dict(found)
    for key in READ_OPTIONS.get(step.command, ()):
        if key in kept:
            values = [v for v in listed(kept[key]) if not Path(str(v)).is_relative_to(PLAN_OUTPUT_DIR)]
            if values:
                kept[key] = values
            else:
                del kept[key]
    return kept


def _command_line(command: str, found: dict[str, object]) -> str:
    """The command line a person would type for a step, from its option values by option name."""
    from loyalty_cli.pipeline.config import listed

    argv = [command, *map(str, listed(found.get("inputs", [])))]
    for key, value in found.items():
        if key != "inputs" and value is not False:
            flag = option_flag(key)
            argv += [flag] if value is True else [a for item in listed(value) for a in (flag, str(item))]
    return " ".join(a if a and all(c.isalnum() or c in "-_./:<>={}" for c in a) else json.dumps(a) for a in argv)
