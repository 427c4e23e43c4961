"""One exception family for everything a user can get wrong, and the exit codes the CLI maps them to."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BAD_INPUT = 1  # bad data, mapping or rules
    USAGE = 2  # wrong options (Typer uses 2 as well)
    MODEL = 3  # a model did not converge or there is not enough data for it
    LOCKED = 4  # another run of the same pipeline holds its lock
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # stdout closed by its reader (e.g. piped into head): 128 + SIGPIPE, as Unix tools end


SETTING_OPEN, SETTING_CLOSE = "\u27e8", "\u27e9"  # the mathematical angle brackets: no export or flag uses them


def setting(name: str) -> str:
    """A reference to a command's setting in a message, e.g. ``setting("as_of")`` in a hint. The library never
    writes a flag: the CLI renders the reference as its option, a pipeline as its key."""
    return f"{SETTING_OPEN}{name}{SETTING_CLOSE}"


class LoyaltyError(Exception):
    """Base class: a message saying what is wrong and where, and a hint saying how to fix it."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class DataError(LoyaltyError):
    """The input data cannot be read or fails validation."""


class BadRowsError(DataError):
    """Rows that fail validation, under the policy that stops on them. The hint says how to fix them (``fixes``),
    then how to go on without them (``skip``): the on-bad-rows setting unless the caller words it for where it
    runs (:meth:`going_on`: a pipeline file)."""

    SKIP = f"pass {setting('on_bad_rows')} skip: every rejected row is written with its reason to a rejects file"
    GO_ON = "To go on without them, "

    def __init__(self, message: str, fixes: Sequence[str] = (), *, skip: str = SKIP) -> None:
        self.fixes = tuple(fixes)
        super().__init__(message, hint=" ".join([*self.fixes, f"{self.GO_ON}{skip}."]))

    def going_on(self, skip: str) -> BadRowsError:
        """The same error with ``skip`` (e.g. 'set ... in the pipeline file') as the way to go on. The fixes are
        taken from the hint as it stands, so settings a front end has worded already (the fixes may name some)
        stay worded."""
        fixes = (self.hint or "").rpartition(self.GO_ON)[0].rstrip()
        return BadRowsError(self.message, [fixes] if fixes else [], skip=skip)


class RulesError(LoyaltyError):
    """A rules or mapping file is invalid."""


class UsageError(LoyaltyError):
    """Options that cannot work together, found after parsing."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A setting of a command's config that cannot work (exit 2). ``name`` is the config field; the message
    starts with it as a :func:`setting` reference, which each front end words its own way (the option of that name
    on the command line, the key ``bins`` in a pipeline file)."""

    def __init__(self, name: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{setting(name)} {message}", hint)
        self.name = name


class ModelError(LoyaltyError):
    """A model could not be fitted."""

    exit_code = ExitCode.MODEL


def format_rows(rows: Sequence[int], total: int, *, limit: int = 5) -> str:
    """'rows 3, 7, 9' or 'rows 3, 7, 9, 12, 15 (first 5 of 40)'."""
    shown = ", ".join(str(r) for r in rows[:limit])
    word = "row" if total == 1 else "rows"
    if total > min(limit, len(rows)):
        return f"{word} {shown} (first {min(limit, len(rows))} of {total:,})"
    return f"{word} {shown}"
