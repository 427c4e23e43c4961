"""Plumbing shared by commands: error boundary, input options, as-of, rejects."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from loyalty_cli.cli.console import Output
from loyalty_cli.errors import ExitCode, LoyaltyError, UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.io.readers import ReadOptions, Scan
    from loyalty_cli.stage1 import Loaded

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
            Output().err.print("Interrupted.")
            raise typer.Exit(code=int(ExitCode.INTERRUPTED)) from None

    return wrapper  # type: ignore[return-value]


def to_date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def read_options(
    *,
    columns: dict[str, str | None],
    mapping: Path | None,
    date_format: str | None,
    delimiter: str | None,
    encoding: str,
    decimal_comma: bool,
    out: Output,
) -> ReadOptions:
    from loyalty_cli.io.readers import ReadOptions

    if mapping is None and DEFAULT_MAPPING.is_file():
        mapping = DEFAULT_MAPPING
        out.note(f"Column mapping from {DEFAULT_MAPPING}")
    if delimiter == "\\t":
        delimiter = "\t"
    return ReadOptions(
        columns={k: v for k, v in columns.items() if v},
        mapping_file=mapping,
        date_format=date_format,
        separator=delimiter,
        encoding=encoding,
        decimal_comma=decimal_comma,
    )


def check_bad_rows(value: str) -> str:
    if value not in ("error", "skip"):
        raise UsageError(f"--on-bad-rows must be error or skip, got {value!r}")
    return value


def describe_scan(scan: Scan, out: Output) -> None:
    files = scan.paths
    shown = str(files[0]) if len(files) == 1 else f"{len(files)} files ({files[0]} ... {files[-1]})"
    out.note(f"Reading {scan.table} from {shown}")
    out.note("Columns: " + "; ".join(scan.mapping.describe()))
    for name, fmt in scan.date_formats.items():
        out.note(f"Dates in {scan.mapping.columns[name]!r} read as {fmt}")
    out.lines(scan.notes)


def note_left_out(scans: Sequence[Scan], out: Output) -> None:
    """After collecting: say how many rows were dated on or after the as-of date (left out, not bad)."""
    for scan in scans:
        note = scan.left_out_note()
        if note:
            out.note(note)


def load_transactions_checked(
    inputs: Sequence[str],
    options: ReadOptions,
    *,
    as_of: date | None,
    policy: str,
    rejects: Path | None,
    output: str | None,
    out: Output,
    activity: bool = False,
) -> Loaded:
    """Stage 1 for a command: read the transactions once (shared within ``loyalty run``), say how they were
    read, write the rejects under ``--on-bad-rows skip``, and stop when nobody bought before the as-of date."""
    from loyalty_cli.errors import DataError
    from loyalty_cli.stage1 import load_transactions

    with out.status("Reading transactions ..."):
        loaded = load_transactions(inputs, options, as_of=as_of, on_bad_rows=policy,  # type: ignore[arg-type]
                                   activity=activity, on_scan=lambda scan: describe_scan(scan, out))
    note_left_out([loaded.scan], out)
    if policy == "skip":
        write_rejects(loaded.rejects, rejects_path(rejects, output), out)
    if loaded.customers.is_empty():
        raise DataError("No customer made a purchase before the as-of date in "
                        + ", ".join(str(p) for p in loaded.scan.paths[:3]),
                        hint="Check --as-of, the date and amount columns, and the rejects file if rows were "
                        "skipped.")
    return loaded


def rejects_path(rejects: Path | None, output: str | None) -> Path:
    if rejects is not None:
        return rejects
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
        where = f"{len(files)} other file{'s' if len(files) > 1 else ''}" + (f", column {column!r}" if column
                                                                               else "")
        out.note(f"  {count:,} more {'row' if count == 1 else 'rows'} with {reason} in {where}", force=always)


def write_rejects(frames: Sequence[pl.DataFrame], path: Path, out: Output, *, describe: bool = True) -> None:
    """Write every rejected row with its file, row number and reason (under --on-bad-rows skip)."""
    import polars as pl

    from loyalty_cli.io.writers import write_table

    found = [f for f in frames if f.height]
    if not found:
        return
    table = pl.concat(found, how="diagonal_relaxed")
    write_table(table, path)
    out.warn(f"{table.height:,} rejected {'row' if table.height == 1 else 'rows'} written to {path}"
             + (":" if describe else ""))
    if describe:
        list_problems(table, out)
