"""Render the context to one self-contained HTML page (Jinja2, autoescape on, StrictUndefined).

The page has no script, no external stylesheet, font or image: CSS is inline and charts are inline SVG from
:mod:`loyalty_cli.report.charts`, so it opens offline in any browser and can be mailed as one file.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from loyalty_cli.errors import SETTING_OPEN
from loyalty_cli.report.charts import render_chart

TEMPLATE = "report.html.j2"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # autoescape=True, not select_autoescape(): the latter does not escape .html.j2 templates.
    env = Environment(
        loader=PackageLoader("loyalty_cli.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["chart"] = render_chart
    return env


def worded(value: Any, words: Callable[[str], str]) -> Any:
    """``value`` (a context, or any part of it) with every text that refers to a setting
    (:func:`loyalty_cli.errors.setting`, e.g. what to pass for an input not given) worded by ``words``, the
    front end's wording: on the command line, the setting's option."""
    if isinstance(value, str):
        return words(value) if SETTING_OPEN in value else value
    if isinstance(value, dict):
        return {key: worded(item, words) for key, item in value.items()}
    if isinstance(value, list):
        return [worded(item, words) for item in value]
    if isinstance(value, tuple):
        return tuple(worded(item, words) for item in value)
    return value


def render_html(context: dict[str, Any], *, words: Callable[[str], str]) -> str:
    """The report page for a context from :func:`loyalty_cli.report.context.build_context`, its references to
    settings worded by ``words`` (the caller's wording, e.g. as the command's options: :func:`worded`)."""
    return environment().get_template(TEMPLATE).render(**worded(context, words))
