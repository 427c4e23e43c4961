"""Everything the CLI shows: messages on stderr, data on stdout; rich on a terminal, plain when piped. How help
is shown is in :mod:`loyalty_cli.cli.help`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from loyalty_cli.cli.flags import render, rendered

if TYPE_CHECKING:
    import polars as pl
    from rich.progress import Progress, TaskID

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


class Relay(Protocol):
    """Takes the messages of a command instead of stderr (see :func:`relay_messages`)."""

    def message(self, level: str, text: str) -> bool:
        """A note or warning (``level``); True: taken, not printed."""

    def error(self, exc: LoyaltyError) -> LoyaltyError | None:
        """An error: the one to print (the same, or worded for where the command runs), or None: taken."""


_RELAY: ContextVar[Relay | None] = ContextVar("loyalty_relay", default=None)


@contextmanager
def relay_messages(relay: Relay) -> Iterator[None]:
    """For the block, every note, warning and error an :class:`Output` shows goes to ``relay`` first (``loyalty
    run`` puts a step's messages in its log record, and words its errors for the pipeline file)."""
    token = _RELAY.set(relay)
    try:
        yield
    finally:
        _RELAY.reset(token)


def _taken(level: str, text: str) -> bool:
    relay = _RELAY.get()
    return relay is not None and relay.message(level, text)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich exits 1 when its reader goes away; let the command's error boundary end it quietly instead."""
        raise BrokenPipeError


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Output:
    """Where a command's words and tables go. ``quiet`` silences notes, never warnings, errors or data (the
    commands also skip their summary tables under ``--quiet`` when ``-o`` holds the data)."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.err = _Console(stderr=True, soft_wrap=True, highlight=False)
        self.out = _Console(soft_wrap=True, highlight=False)
        self.tty = _is_tty(sys.stdout) and not os.environ.get("CI")
        # Messages on a terminal wrap at its width between words; piped (a log, a test), a message stays one line.
        self.wrap = _is_tty(sys.stderr) and not os.environ.get("CI")
        self._progress: tuple[Progress, TaskID] | None = None

    def note(self, message: str, *, force: bool = False) -> None:
        """A message on stderr; ``--quiet`` silences it unless ``force``."""
        message = render(message)
        if (force or not self.quiet) and not _taken("note", message):
            self._say(_message(message))

    def _say(self, text: str) -> None:
        self.err.print(text, soft_wrap=not self.wrap)

    def status(self, message: str) -> AbstractContextManager[object]:
        """A spinner on stderr while work runs, only on a terminal and without --quiet (within :meth:`progress`,
        its line says ``message`` instead)."""
        if self._progress is not None:
            self.phase(message)
            return nullcontext()
        if self.quiet or not _is_tty(sys.stderr) or os.environ.get("CI"):
            return nullcontext()
        return self.err.status(_message(message))

    @contextmanager
    def progress(self) -> Iterator[None]:
        """For a command's run: on a terminal (not --quiet, not CI), one line on stderr with a spinner, what the
        work is doing (:meth:`phase`) and the time since the start; messages print above it, and it is gone
        when the block ends or a table is drawn on stdout. Piped, nothing."""
        if self.quiet or self._progress is not None or not _is_tty(sys.stderr) or os.environ.get("CI"):
            yield
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        # stdout is never redirected into the line: it may hold the data (-o -)
        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        bar.start()
        self._progress = (bar, bar.add_task("Starting"))
        try:
            yield
        finally:
            self.end_progress()

    def phase(self, text: str) -> None:
        """What the work is doing now, on the :meth:`progress` line (nothing without one)."""
        if self._progress is not None:
            bar, task = self._progress
            bar.update(task, description=_message(text), refresh=True)

    def end_progress(self) -> None:
        """Take the :meth:`progress` line away (before anything is written on stdout)."""
        if self._progress is not None:
            bar, self._progress = self._progress[0], None
            bar.stop()

    def warn(self, message: str) -> None:
        message = render(message)
        if not _taken("warning", message):
            self._say(f"[yellow]Warning:[/] {_message(message)}")

    def error(self, exc: LoyaltyError) -> None:
        relay = _RELAY.get()
        exc = rendered(exc)
        shown = exc if relay is None else relay.error(exc)
        if shown is None:
            return
        self._say(f"[bold red]Error:[/] {_message(shown.message)}")
        if shown.hint:
            self._say(f"[bold]Hint:[/] {_message(shown.hint)}")

    def drawn(self, *, to_stderr: bool = False) -> bool:
        """Whether tables are drawn (a terminal, not CI) rather than written as tab-separated values."""
        return self.tty or (to_stderr and _is_tty(sys.stderr) and not os.environ.get("CI"))

    def console(self, *, to_stderr: bool = False) -> Console:
        """Where tables go: stdout, or stderr when stdout holds the data (``-o -``)."""
        return self.err if to_stderr else self.out

    def table(
        self,
        df: pl.DataFrame,
        *,
        title: str | None = None,
        formats: dict[str, str] | None = None,
        to_stderr: bool = False,
        headers: dict[str, str] | None = None,
        drop: Sequence[str | tuple[str, ...]] = (),
        whole: str | None = None,
        nowrap: Sequence[str] = (),
    ) -> None:
        """A table: rich on a terminal, tab-separated values when piped (machine-readable, one row a line, text
        that a spreadsheet would run as a formula neutralised as in CSV files).

        Drawn, it fits the terminal's width and cuts no number, header or word: ``formats`` are the number
        formats of columns (a format spec such as ``.1%`` or ``,.2f``, or a template such as ``{:,.0f} d``),
        ``headers`` their shorter names (others show their name with spaces for underscores, so a header wraps
        between words); text wraps between words, except in the columns of ``nowrap``. When the columns cannot
        all fit, those of ``drop`` go first (a tuple of names together; then the last ones), and a line under the
        table names them and ``whole``, where they are written in full. Piped, the table is written as it is:
        every column under its own name, booleans as ``true``/``false`` as drawn."""
        formats = formats or {}
        console = self.console(to_stderr=to_stderr)
        if not to_stderr:
            self.end_progress()  # the tables on stdout come after the work
        if not self.drawn(to_stderr=to_stderr):
            from loyalty_cli.io.writers import csv_ready, neutralise_formulas

            if title:
                console.print(f"# {escape(printable(title))}")
            text = neutralise_formulas(printable_frame(csv_ready(df))).write_csv(separator="\t", float_precision=4)
            console.file.write(text)
            console.file.flush()
            return
        columns = [
            _Column.of(name, (headers or {}).get(name, name.replace("_", " ")), df[name], formats.get(name))
            for name in df.columns
        ]
        for column in columns:
            if column.name in nowrap:
                column.need = column.fill
        shown, widths = fit(columns, console.width, drop=drop)
        if title:
            console.print(Text(printable(title), style="table.title"), soft_wrap=False)
        table = Table(header_style="bold")
        for column, width in zip(shown, widths, strict=True):
            table.add_column(
                Text(column.header), justify="right" if column.right else "left", width=width, overflow="fold"
            )
        for row in zip(*(c.cells for c in shown), strict=True):
            table.add_row(*map(Text, row))
        console.print(table)
        left_out = [c.header for c in columns if c not in shown]
        if left_out:
            console.print(Text(left_out_line(left_out, console.width, whole), style="dim"), soft_wrap=False)

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.note(line)


def _message(text: str) -> str:
    """Text from anywhere (data included) as rich shows it: controls escaped, markup not applied."""
    return escape(printable(text, newlines=True))


def cell(value: object, fmt: str | None = None) -> str:
    """A value as a drawn table shows it: numbers in ``fmt`` (a format spec, or a template with ``{}``), else
    money-like floats with two decimals and thousands separators, counts with separators; booleans as
    ``true``/``false`` (the words piped output and files use); nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if fmt and isinstance(value, int | float):
        return fmt.format(value) if "{" in fmt else format(value, fmt)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return printable(str(value))


#: a number as text (a figure formatted before it reaches the table: ``-1,234.50``, ``+28.9``, ``39.2%``) or
#: nothing: a text column of them is aligned to the right, as numbers are
_NUMBER = re.compile(r"([+-]?[0-9][0-9,]*(\.[0-9]+)?%?)?")

#: the longest word of a text cell that sets its column's width; a longer one (a URL, a path) is folded
_LONGEST_WORD = 30


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


@dataclass(eq=False)
class _Column:
    """A column as drawn: its header, its cells as text, and the widths it needs (no number, header or word
    cut), it takes for its cells on one line (``fill``) and for its header on one line too (``want``)."""

    name: str
    header: str
    cells: list[str]
    right: bool
    need: int
    fill: int
    want: int

    @classmethod
    def of(cls, name: str, header: str, values: pl.Series, fmt: str | None) -> _Column:
        import polars as pl

        header = printable(header)
        cells = [cell(v, fmt) for v in values.to_list()]
        right = values.dtype.is_numeric() or (values.dtype == pl.String and all(map(_NUMBER.fullmatch, cells)))
        longest = max(map(cell_len, cells), default=0)
        need = longest if right else min(max(map(_longest_word, cells), default=0), _LONGEST_WORD)
        need = max(need, _longest_word(header), 1)
        return cls(name, header, cells, right, need, max(need, longest), max(need, longest, cell_len(header)))


def table_width(widths: Sequence[int]) -> int:
    """The width of a drawn table whose columns hold ``widths`` characters: a space either side of each and a
    line between columns and at both edges."""
    return sum(widths) + 3 * len(widths) + 1


def fit(
    columns: Sequence[_Column], width: int, *, drop: Sequence[str | tuple[str, ...]] = ()
) -> tuple[list[_Column], list[int]]:
    """The columns that fit ``width`` and the width of each: every column at its ``need`` at least, those of
    ``drop`` (by name; a tuple of names together) left out first, then the last ones, never the first. The room
    left goes first to cells that would wrap (a line per row: first to the column with the most wrapped cells for
    the room it takes), then to headers that would (a line once), in proportion to what each lacks."""
    shown = list(columns)
    order = [[c for c in columns if c.name in ((names,) if isinstance(names, str) else names)] for names in drop]
    while len(shown) > 1 and table_width([c.need for c in shown]) > width:
        gone = next((group for group in order if any(c in shown for c in group)), [shown[-1]])
        shown = [c for c in shown if c not in gone]
    widths = [c.need for c in shown]
    while (room := width - table_width(widths)) > 0:  # the cells first: the column that unwraps most rows a character
        lacking = {i: c.fill - widths[i] for i, c in enumerate(shown) if c.fill > widths[i]}
        if not lacking:
            break
        i = max(lacking, key=lambda i: sum(cell_len(v) > widths[i] for v in shown[i].cells) / lacking[i])
        widths[i] += min(room, lacking[i])
    return shown, _widen(widths, [c.want for c in shown], width - table_width(widths))


def _widen(widths: list[int], target: list[int], room: int) -> list[int]:
    """``widths`` grown towards ``target`` by ``room`` characters at most, in proportion to what each lacks."""
    lacking = [max(0, t - w) for w, t in zip(widths, target, strict=True)]
    total = sum(lacking)
    if room <= 0 or not total:
        return widths
    if total <= room:
        return [w + lack for w, lack in zip(widths, lacking, strict=True)]
    extra = [room * lack // total for lack in lacking]
    for i in sorted(range(len(widths)), key=lambda i: -lacking[i])[: room - sum(extra)]:
        extra[i] += 1
    return [w + e for w, e in zip(widths, extra, strict=True)]


def left_out_line(headers: Sequence[str], width: int, whole: str | None) -> str:
    """What a drawn table left out to fit the terminal, and where to find it."""
    where = whole or f"a wider terminal shows {'them' if len(headers) > 1 else 'it'}, and so does piped output"
    return f"Not shown, to fit {width} columns: {', '.join(headers)}; {where}."
