"""Lengths of time as a person writes them (``14d``, ``2w``, ``12m``, ``14``), parsed into days or a count and its
unit. An error names the setting as the caller gives it (``option``: a front end passes its option's name)."""

from __future__ import annotations

import re

from loyalty_cli.errors import UsageError


def _duration_match(value: str, units: str) -> re.Match[str] | None:
    """A whole number and an optional unit letter of ``units`` (``14d``, ``2w``, ``14``): the one syntax of
    :func:`parse_days` and :func:`parse_duration`."""
    return re.fullmatch(rf"(\d+)\s*([{units}]?)", value.strip().lower())


def parse_days(value: str, option: str, *, minimum: int = 0) -> int:
    """A length of time as given on the command line: ``14d``, ``2w`` or ``14`` (days) -> days."""
    match = _duration_match(value, "dw")
    days = int(match[1]) * (7 if match[2] == "w" else 1) if match else -1
    if days < minimum:
        raise UsageError(
            f"{option} {value!r}: expected a number of days of at least {minimum}, e.g. 14d, 2w or 14"
            if match
            else f"{option} {value!r}: expected a number of days, e.g. 14d, 2w or 14"
        )
    return days


#: the unit letters of :func:`parse_duration`, with an example each
DURATION_UNITS: dict[str, tuple[str, str]] = {"d": ("day", "90d"), "w": ("week", "39w"), "m": ("month", "12m")}


def parse_duration(value: str, option: str, *, units: str = "dwm", bare: str | None = None) -> tuple[int, str]:
    """A length of time as given on the command line, kept in its unit: ``39w`` -> (39, "week"); ``units``
    are the letters accepted (d days, w weeks, m months); a bare number is a ``bare`` (e.g. "day") or, when
    ``bare`` is None, an error. The count is a whole number >= 1. :func:`parse_days` is the days-only form."""
    letters = [u for u in "mwd" if u in units]
    names = [DURATION_UNITS[u][0] + "s" for u in reversed(letters)]
    names_text = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    examples = [DURATION_UNITS[u][1] for u in letters]
    example = ", ".join(examples[:-1]) + f" or {examples[-1]}" if len(examples) > 1 else examples[0]
    match = _duration_match(value, units)
    if not match or (not match[2] and bare is None):
        raise UsageError(
            f"{option} {value!r}: expected a whole number of {names_text}"
            + ("" if bare else " with its unit")
            + f", e.g. {example}"
        )
    if int(match[1]) < 1:
        raise UsageError(f"{option} {value!r}: expected at least 1, e.g. {example}")
    return int(match[1]), DURATION_UNITS[match[2]][0] if match[2] else str(bare)
