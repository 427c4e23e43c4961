"""The building blocks of the template context: number formats, chart numbers, tables and sections.

The template only loops and prints; it decides nothing. Values from the data stay raw text here (customer
ids, segment names, comments): the template escapes them (Jinja2 autoescape), and the charts escape theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Money:
    """Money as the page shows it: in a sentence or a key number with the currency code before it
    (``EUR 1,234.56``), in a table as a plain number under a header that names the currency
    (``net revenue (EUR)``); without a currency, plain numbers and plain headers."""

    currency: str | None = None

    def __call__(self, value: float | None) -> str:
        text = fmt_money(value)
        return f"{self.currency} {text}" if self.currency and value is not None else text

    def header(self, name: str) -> str:
        """A table header or an axis title of money: ``name (EUR)``."""
        return f"{name} ({self.currency})" if self.currency else name


def fmt_int(value: int | float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}%}"


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A chart number, rounded so the context (and the golden file) is stable and small."""
    return None if value is None else round(float(value), digits)


def every_nth(labels: Sequence[str], most: int = 8) -> list[str]:
    """The labels an axis shows when there are too many for all: every n-th from the first, at most ``most``."""
    step = max(1, -(-len(labels) // most))
    return list(labels[::step])


def make_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[bool],
    note: str = "",
    *,
    long: Sequence[int] = (),
) -> dict[str, Any]:
    """A table: numbers right-aligned and never wrapped; ``long``: the columns of running text (actions,
    comments), which wrap; every other cell stays on one line (a wide table scrolls in its box)."""
    return {
        "title": title,
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "numeric": list(numeric),
        "long": [i in long for i in range(len(columns))],
        "note": note,
    }


def make_section(
    sid: str,
    title: str,
    *,
    missing: str | None = None,
    intro: Sequence[str] = (),
    charts: Sequence[dict[str, Any]] = (),
    tables: Sequence[dict[str, Any]] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "id": sid,
        "title": title,
        "available": missing is None,
        "missing": missing or "",
        "intro": list(intro),
        "charts": list(charts),
        "tables": list(tables),
        "notes": list(notes),
    }
