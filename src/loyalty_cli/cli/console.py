"""Everything the CLI shows: messages on stderr, data on stdout; rich on a terminal, plain when piped."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.errors import LoyaltyError


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Output:
    """Where a command's words and tables go. ``quiet`` silences notes, never errors or data."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.err = Console(stderr=True, soft_wrap=True, highlight=False)
        self.out = Console(soft_wrap=True, highlight=False)
        self.tty = _is_tty(sys.stdout) and not os.environ.get("CI")

    def note(self, message: str, *, force: bool = False) -> None:
        """A message on stderr; ``--quiet`` silences it unless ``force``."""
        if force or not self.quiet:
            self.err.print(escape(message))

    def status(self, message: str) -> AbstractContextManager[object]:
        """A spinner on stderr while work runs, only on a terminal and without --quiet."""
        if self.quiet or not _is_tty(sys.stderr) or os.environ.get("CI"):
            return nullcontext()
        return self.err.status(escape(message))

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/] {escape(message)}")

    def error(self, exc: LoyaltyError) -> None:
        self.err.print(f"[bold red]Error:[/] {escape(exc.message)}")
        if exc.hint:
            self.err.print(f"[bold]Hint:[/] {escape(exc.hint)}")

    def drawn(self, *, to_stderr: bool = False) -> bool:
        """Whether tables are drawn (a terminal, not CI) rather than written as tab-separated values."""
        return self.tty or (to_stderr and _is_tty(sys.stderr) and not os.environ.get("CI"))

    def table(
        self,
        df: pl.DataFrame,
        *,
        title: str | None = None,
        formats: dict[str, str] | None = None,
        to_stderr: bool = False,
    ) -> None:
        """A table: rich on a terminal, tab-separated values when piped (machine-readable)."""
        formats = formats or {}
        console = self.err if to_stderr else self.out
        if not self.drawn(to_stderr=to_stderr):
            if title:
                console.print(f"# {escape(title)}")
            text = df.write_csv(separator="\t", float_precision=4)
            console.file.write(text)
            console.file.flush()
            return
        table = Table(title=escape(title) if title else None, title_justify="left", header_style="bold")
        for name, dtype in df.schema.items():
            table.add_column(escape(name), justify="right" if dtype.is_numeric() else "left")
        for row in df.iter_rows():
            table.add_row(*(_cell(v, formats.get(n)) for n, v in zip(df.columns, row, strict=True)))
        console.print(table)

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.note(line)


def _cell(value: object, fmt: str | None) -> str:
    if value is None:
        return ""
    if fmt and isinstance(value, int | float):
        return format(value, fmt)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))
