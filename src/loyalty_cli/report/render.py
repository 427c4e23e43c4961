"""Render the context to one self-contained HTML page (Jinja2, autoescape on, StrictUndefined).

The page has no script, no external stylesheet, font or image: CSS is inline and charts are inline SVG from
:mod:`loyalty_cli.report.charts`, so it opens offline in any browser and can be mailed as one file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

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


def render_html(context: dict[str, Any]) -> str:
    """The report page for a context from :func:`loyalty_cli.report.context.build_context`."""
    return environment().get_template(TEMPLATE).render(**context)
