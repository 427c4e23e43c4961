"""Wording shared by every layer's messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` things in words that agree with the number: ``1 row``, ``2 rows``, ``1,204 customers``,
    ``0 rows``; ``plural`` for a word that does not just take an s (``count(n, "entry", "entries")``). The one
    way messages word a count."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``"Did you mean 'steps'? "`` when ``word`` looks like a misspelling of one of ``choices`` (difflib, case
    ignored), else ``""``: the start of a hint, before the list of what is allowed."""
    if not isinstance(word, str):
        return ""
    known = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(known), n=1, cutoff=0.6)
    return f"Did you mean {known[close[0]]!r}? " if close else ""
