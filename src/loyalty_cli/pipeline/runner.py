"""Running a pipeline: the steps into a staging folder, the outputs published as a unit when every step succeeded,
a record per step and the run summary beside the outputs; a failed, interrupted or killed run leaves the previous
outputs as they were.

The front end runs each step (:class:`StepRunner`) and keeps the log (:class:`RunLog`): this module never shows
anything, never parses a command line (the CLI's ``loyalty run`` is one such front end)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loyalty_cli import words
from loyalty_cli.errors import BadRowsError, ExitCode, LoyaltyError
from loyalty_cli.pipeline.config import Pipeline, Step, fill, input_paths, listed, resolve_as_of
from loyalty_cli.pipeline.locks import LockedError, pipeline_lock
from loyalty_cli.pipeline.staging import check_publish, new_staging, publish
from loyalty_cli.pipeline.steps import pipeline_mapping, step_values
from loyalty_cli.pipeline.summary import RunSummary

if TYPE_CHECKING:
    from loyalty_cli.io.columns import MappingFile


def no_messages() -> dict[str, Any]:
    """A step's messages when it did not run: its record's error, hint, warnings and notes."""
    return {"error": None, "hint": None, "warnings": [], "notes": []}


class StepRunner(Protocol):
    def __call__(
        self, step: Step, found: dict[str, object], mapping: MappingFile
    ) -> tuple[int, list[Path], dict[str, Any]]:
        """Run one step with its option values (``found``, see :func:`~loyalty_cli.pipeline.step_values`) and the
        inputs' column mapping: its exit code, the files it wrote and its messages for its record (the keys of
        :func:`no_messages`)."""


class RunLog(Protocol):
    """Where the run's records and messages go."""

    #: an error already logged in a step's record (the front end does not log it again)
    reported: BaseException | None

    def step(self, record: dict[str, Any]) -> None:
        """A step's record (also the inputs' when they cannot be read), with its ``seconds``."""

    def message(self, text: str, **fields: Any) -> None:
        """A line about the run, with its facts as fields."""


def step_line(record: dict[str, Any]) -> str:
    """A step's record as a line of a text log: ``segment [segment]: ok, 3,000 rows -> segments.csv (0.52 s)``."""
    rows = f", {words.count(record['rows'], 'row')}" if record.get("rows") is not None else ""
    outputs = f" -> {', '.join(record['outputs'])}" if record.get("outputs") else ""
    code = f" (exit {record['exit_code']})" if record["status"] == "failed" else ""
    return (
        f"{record['step']} [{record['command']}]: {record['status']}{code}{rows}{outputs} ({record['seconds']:.2f} s)"
    )


def level(record: dict[str, Any]) -> str:
    """The level of a step's record in a log: error (failed), warning (with warnings) or info."""
    return "error" if record["status"] == "failed" else "warning" if record.get("warnings") else "info"


def pipeline_error(exc: LoyaltyError, pipeline: Pipeline) -> LoyaltyError:
    """An error worded for a pipeline: rows are skipped with the pipeline file's key, not a command's option."""
    if isinstance(exc, BadRowsError):
        return exc.going_on(
            f'set on_bad_rows = "skip" in {pipeline.path}: each step writes the rows it rejects, with their '
            "reasons, to <step>.rejects.csv in the output folder"
        )
    return exc


def count_rows(path: Path) -> int | None:
    """The rows of a step's main output (None when it cannot be counted)."""
    import polars as pl

    from loyalty_cli.io.writers import output_format

    try:
        kind = output_format(path)
        if kind == "csv":
            return int(pl.scan_csv(path, infer_schema=False, glob=False).select(pl.len()).collect().item())
        if kind == "parquet":
            return int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
        return len(json.loads(path.read_text(encoding="utf-8")))
    except Exception:  # a count is a courtesy: never fail a step over it
        return None


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, a cron timeout) unwinds like Ctrl-C: temporary files are removed, the locks released."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def no_interrupts() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait (blocked) until the block is done: the outputs switch and the summary says so."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _output_dir(pipeline: Pipeline, as_of: date | None, today: date) -> tuple[dict[str, str], Path]:
    values = {"as_of": as_of.isoformat() if as_of else "latest", "date": today.isoformat()}
    return values, (pipeline.folder / fill(pipeline.output_dir, values)).resolve()


def _prepare(pipeline: Pipeline, today: date) -> tuple[MappingFile, dict[str, str], Path, date | None]:
    """The inputs' column mapping, the as-of date (reading the transactions once) and the output folder."""
    from loyalty_cli.io.readers import ReadOptions
    from loyalty_cli.stage1 import load_transactions

    mapping = pipeline_mapping(pipeline)
    latest = None
    if "transactions" in pipeline.inputs and pipeline.as_of != "today":
        common: dict[str, Any] = {
            "as_of": pipeline.fixed_as_of,
            "on_bad_rows": pipeline.on_bad_rows,
            "activity": True,
        }
        paths, options = input_paths(pipeline, "transactions"), ReadOptions(mapping_file=mapping)
        if pipeline.engine == "spark":  # the pipeline's engine: the steps on Spark share this read
            from loyalty_cli.spark import SparkSettings, load_transactions_spark

            settings = SparkSettings(
                master=pipeline.engine_options.get("spark_master"), remote=pipeline.engine_options.get("spark_remote")
            )
            loaded = load_transactions_spark(paths, options, **common, settings=settings)
        else:
            loaded = load_transactions(paths, options, **common, memory_limit=pipeline.memory_limit)
        latest = loaded.as_of
    as_of = resolve_as_of(pipeline.as_of, latest, today)
    values, output_dir = _output_dir(pipeline, as_of, today)
    return mapping, values, output_dir, as_of


def in_order(written: list[Path], found: dict[str, object], staging: Path) -> list[Path]:
    """The files a step wrote in the output folder, in the order of its options (the output first), each
    folder's files sorted, each file once."""
    files = [Path(os.path.normpath(p)) for p in written]
    inside = [p for p in dict.fromkeys(files) if p.is_file() and p.is_relative_to(staging)]
    named = [
        Path(os.path.normpath(str(v))) for value in found.values() for v in listed(value) if isinstance(v, str | Path)
    ]

    def rank(path: Path) -> tuple[int, str]:
        for i, name in enumerate(named):
            if path == name or path.is_relative_to(name):
                return i, str(path)
        return len(named), str(path)

    return sorted(inside, key=rank)


def _inputs_failed(exc: LoyaltyError, log: RunLog, shown: LoyaltyError) -> LoyaltyError:
    """The inputs cannot be read: a record for them, and the error (``shown``: worded for the pipeline) to raise."""
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
    return shown


# Complexity 26: the run's states (staging, steps, publishing, the summary) and the ways out of each (a failed
# step, an error before the folder is known, an interrupt, a lock) share the staging folder and the summary;
# the except and finally blocks must see them all, so they stay in one function.
def run_pipeline(
    pipeline: Pipeline,
    run_step: StepRunner,
    log: RunLog,
    *,
    keep_going: bool,
    worded: Callable[[LoyaltyError], LoyaltyError] = lambda exc: exc,
    rows: Callable[[Path], int | None] = count_rows,
) -> int:
    """Run the steps into a staging folder beside the output folder and move their outputs into place only
    when every step succeeded: a failed, interrupted or killed run leaves the previous outputs as they were.
    One run of a pipeline at a time (its lock); SIGTERM stops a run as Ctrl-C does. ``keep_going``: run the
    other steps after one failed; ``worded``: an error as the front end words it (then for the pipeline,
    :func:`pipeline_error`); ``rows``: the rows of a step's main output. Returns the first failed step's exit code
    (0: ok)."""
    from loyalty_cli.stage1 import shared_reads

    def shown(exc: LoyaltyError) -> LoyaltyError:
        return pipeline_error(worded(exc), pipeline)

    # released in reverse: the output folder's lock (taken when the folder is known), SIGTERM, the pipeline's lock
    locks = ExitStack()
    locks.enter_context(pipeline_lock(pipeline.lock_path))
    locks.enter_context(terminate_as_interrupt())
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
                raise _inputs_failed(exc, log, shown(exc)) from None
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
                if first_failure and not keep_going:
                    records.append({**record, "status": "skipped", "exit_code": None, "outputs": [], **no_messages()})
                    log.step({**records[-1], "seconds": 0.0})
                    continue
                found = step_values(pipeline, step, as_of=as_of, output_dir=staging, values=values)
                wall = time.perf_counter()
                code, written, messages = run_step(step, found, mapping)
                seconds = time.perf_counter() - wall
                outputs = in_order(written, found, staging)
                main_output = Path(str(found["output"])) if "output" in found else None
                counted = rows(main_output) if main_output is not None and main_output.is_file() and code == 0 else None
                record.update(
                    status="ok" if code == 0 else "failed",
                    exit_code=code,
                    rows=counted,
                    outputs=[str(p.relative_to(staging)) for p in outputs],
                    **messages,
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
                with no_interrupts():
                    check_publish(staging, output_dir)
                    publish(staging, output_dir, summary.replaces())
                    summary.finish("ok")
            finished = True
    except BaseException as exc:
        if not finished and not isinstance(exc, LockedError):  # another run has the folder: its summary stays
            interrupted = isinstance(exc, KeyboardInterrupt)
            message = shown(exc).message if isinstance(exc, LoyaltyError) else None if interrupted else repr(exc)
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
