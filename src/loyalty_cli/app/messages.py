"""Notes and warnings as data: what a command has to say, in order, for any front end to show or log.

A :class:`Messages` collects them; a front end that shows them as they happen (a terminal, a cron log)
passes a ``listener`` that receives each one when it is added, so the words keep their order with the work
(the column mapping is said before a long read, not after it). A long step says what it is doing with
:meth:`Messages.phase` (a terminal shows it on its progress line; nothing keeps it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["note", "warning"]


@dataclass(frozen=True)
class Message:
    """One line for a person: a ``note`` (silenced by a quiet front end unless ``always``) or a ``warning``."""

    level: Level
    text: str
    always: bool = False


@dataclass
class Messages:
    """The messages of one command, in order; ``listener`` (optional) is told each one as it is added;
    ``on_phase`` (optional) is told each phase of the work (:meth:`phase`)."""

    listener: Callable[[Message], None] | None = None
    items: list[Message] = field(default_factory=list)
    on_phase: Callable[[str], None] | None = None

    def phase(self, text: str) -> None:
        """What the work is doing now (``Fitting the BG/NBD model``): for a progress line, not a message."""
        if self.on_phase is not None:
            self.on_phase(text)

    def add(self, message: Message) -> None:
        self.items.append(message)
        if self.listener is not None:
            self.listener(message)

    def note(self, text: str, *, always: bool = False) -> None:
        self.add(Message("note", text, always))

    def warn(self, text: str) -> None:
        self.add(Message("warning", text))

    def notes(self, texts: Iterable[str | None]) -> None:
        """Each text that is not None or empty, as a note."""
        for text in texts:
            if text:
                self.note(text)
