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

# Characters that drive a terminal instead of showing: C0 controls (ESC starts colour, title and screen-clearing
# sequences), DEL, C1 controls (U+009B is a one-byte CSI), line/paragraph separators and the bidi controls
# that reorder what follows (U+202E). They reach messages and tables from the data, so they are shown as
# escapes (ESC as \x1b), never sent as they are.
_CONTROLS = [
    *map(chr, range(0x20)),
    *map(chr, range(0x7F, 0xA0)),
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x2028, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPES = {c: _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in _CONTROLS}
_SHOWN = str.maketrans(_ESCAPES)
_SHOWN_KEEP_LINES = str.maketrans({c: e for c, e in _ESCAPES.items() if c != "\n"})


def printable(text: str, *, newlines: bool = False) -> str:
    r"""``text`` with every control character shown as an escape (``\x1b``, ``\t``, ``\u202e``); ``newlines``
    keeps line breaks (messages that span lines). Everything shown on stdout or stderr goes through it."""
    return text.translate(_SHOWN_KEEP_LINES if newlines else _SHOWN)


def printable_frame(df: pl.DataFrame) -> pl.DataFrame:
    """:func:`printable` on every header and text cell, in Polars: a tab-separated row stays one line with one
    field per column, and nothing in it drives the terminal."""
    import polars as pl

    text = [n for n, t in df.schema.items() if t == pl.String or isinstance(t, pl.Categorical | pl.Enum)]
    controls, escapes = list(_ESCAPES), list(_ESCAPES.values())
    df = df.with_columns(pl.col(n).cast(pl.String).str.replace_many(controls, escapes) for n in text)
    return df.rename({n: printable(n) for n in df.columns if printable(n) != n})


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
            self.err.print(_message(message))

    def status(self, message: str) -> AbstractContextManager[object]:
        """A spinner on stderr while work runs, only on a terminal and without --quiet."""
        if self.quiet or not _is_tty(sys.stderr) or os.environ.get("CI"):
            return nullcontext()
        return self.err.status(_message(message))

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/] {_message(message)}")

    def error(self, exc: LoyaltyError) -> None:
        self.err.print(f"[bold red]Error:[/] {_message(exc.message)}")
        if exc.hint:
            self.err.print(f"[bold]Hint:[/] {_message(exc.hint)}")

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
        """A table: rich on a terminal, tab-separated values when piped (machine-readable, one row a line, text
        that a spreadsheet would run as a formula neutralised as in CSV files)."""
        formats = formats or {}
        console = self.err if to_stderr else self.out
        if not self.drawn(to_stderr=to_stderr):
            from loyalty_cli.io.writers import csv_ready, neutralise_formulas

            if title:
                console.print(f"# {escape(printable(title))}")
            text = neutralise_formulas(printable_frame(csv_ready(df))).write_csv(separator="\t", float_precision=4)
            console.file.write(text)
            console.file.flush()
            return
        table = Table(title=escape(printable(title)) if title else None, title_justify="left", header_style="bold")
        for name, dtype in df.schema.items():
            table.add_column(escape(printable(name)), justify="right" if dtype.is_numeric() else "left")
        for row in df.iter_rows():
            table.add_row(*(_cell(v, formats.get(n)) for n, v in zip(df.columns, row, strict=True)))
        console.print(table)

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.note(line)


def _message(text: str) -> str:
    """Text from anywhere (data included) as rich shows it: controls escaped, markup not applied."""
    return escape(printable(text, newlines=True))


def _cell(value: object, fmt: str | None) -> str:
    if value is None:
        return ""
    if fmt and isinstance(value, int | float):
        return format(value, fmt)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(printable(str(value)))
