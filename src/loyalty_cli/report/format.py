"""The building blocks of the template context: number formats, chart numbers, tables and sections.

The template only loops and prints; it decides nothing. Values from the data stay raw text here (customer
ids, segment names, comments): the template escapes them (Jinja2 autoescape), and the charts escape theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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


def make_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool], note: str = ""
) -> dict[str, Any]:
    return {
        "title": title,
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "numeric": list(numeric),
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
