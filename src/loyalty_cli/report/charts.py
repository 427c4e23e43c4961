"""Static SVG charts from plain chart specs (dicts of labels and numbers), written as Vega-Lite specifications
and rendered to SVG by vl-convert, with no JavaScript in the page.

The specifications are the dicts Altair 6.3 wrote for these charts, key for key (tests/report/golden/
vega_lite.json holds Altair's; the tests validate them against its Vega-Lite schema): building them through
Altair took most of the drawing time (1M lines: the page 0.7-0.8 s of CPU, 0.3-0.4 s without it) and its import
0.3-1 s. vl-convert's engine starts in the background while the report computes (:func:`warm_up`).

Each function returns one ``<svg class="chart">`` element as :class:`markupsafe.Markup`. Vega's SVG writer
escapes every text it draws (labels, titles from the data), and the same spec always gives the same bytes
(vl-convert is pinned; text is measured with the Liberation Sans it bundles, metric-compatible with Arial and
Helvetica, which the page names first). Every chart has a visible title, axis titles with their units and a
legend where colour means something.

Spec kinds (built by the section modules of :mod:`loyalty_cli.report`); every spec has ``id``, ``title``
(optional ``subtitle``):

- ``bars``: horizontal grouped bars; ``labels``, ``series`` = [{name, values, text}], ``x_title``,
  ``x_format`` (``pct``, ``num`` or ``money``).
- ``columns``: vertical bars; ``labels``, ``values``, ``text``, ``x_title``, ``y_title``, ``y_format``,
  optional ``classes`` (one per bar: the colour, e.g. ``detractor``) with ``class_title`` (the legend's).
- ``line``: lines over ``x`` (``x_kind`` ``ordinal``: labels in order, or ``quantitative``: numbers);
  ``series`` = [{name, x, y, low?, high?}], ``x_title``, ``y_title``, ``y_format``, optional ``y_domain``
  ([low, high]: else from 0), ``x_ticks`` (the x values to label), ``shade`` = [x_from, x_to, label],
  ``zero_line``, ``markers`` and ``interpolate`` (``step-after`` for a survival curve).
- ``heatmap``: ``rows``, ``cols`` (labels), ``values`` (null: no cell), ``text``, ``max`` (the colour scale's
  top), ``x_title``, ``y_title``, ``legend_title``.
"""

from __future__ import annotations

import copy
import re
import textwrap
import threading
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from loyalty_cli.errors import LoyaltyError, setting
from loyalty_cli.report.kinds import KINDS

#: the fonts the charts name: vl-convert measures text with its bundled Liberation Sans; browsers draw it with
#: Liberation Sans, Arial or Helvetica (the same widths)
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
#: a chart is drawn at its own size and shown at most this much smaller (then its box scrolls) or larger
MIN_SCALE, MAX_SCALE = 0.8, 1.3
TITLE_WIDTH, SUBTITLE_WIDTH = 64, 90  # characters per line (titles are wrapped, never cut)
VEGA_LITE = "6.4"  # the Vega-Lite version vl-convert renders (Altair 6.3's schema)
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.4.1.json"  # named in each specification, as Altair 6.3 did
#: the view size Altair's default theme put first in every specification's config (kept: the same bytes)
ALTAIR_VIEW = {"continuousWidth": 300, "continuousHeight": 300}

CONFIG: dict[str, Any] = {
    "font": FONT,
    "aria": False,  # the page's <svg> has a role and a label; the marks need none (and it keeps the file small)
    "background": "white",
    "padding": {"left": 6, "right": 14, "top": 6, "bottom": 6},
    "view": {"stroke": None},
    "title": {
        "anchor": "start",
        "frame": "group",
        "fontSize": 15,
        "fontWeight": 600,
        "color": "#222",
        "subtitleFontSize": 12,
        "subtitleColor": "#555",
        "subtitlePadding": 4,
        "offset": 12,
    },
    "axis": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "titleColor": "#444",
        "labelColor": "#333",
        "gridColor": "#e6e9ee",
        "domainColor": "#888",
        "tickColor": "#888",
        "titlePadding": 8,
    },
    "legend": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "titleColor": "#444",
        "labelColor": "#333",
        "orient": "top",
        "symbolType": "square",
    },
    "text": {"fontSize": 11, "color": "#333"},
}


def _lines(text: str, width: int) -> str | list[str]:
    """A title wrapped at word boundaries (Vega draws a list as lines)."""
    lines = textwrap.wrap(text, width) or [""]
    return lines[0] if len(lines) == 1 else lines


def _title(spec: Mapping[str, Any]) -> dict[str, Any]:
    title: dict[str, Any] = {"text": _lines(spec["title"], TITLE_WIDTH)}
    if spec.get("subtitle"):
        title["subtitle"] = _lines(spec["subtitle"], SUBTITLE_WIDTH)
    return title


_ROOT = re.compile(r'^<svg [^>]*width="([\d.]+)" height="([\d.]+)" viewBox="([^"]+)">')
_IDS = re.compile(r'( id="|url\(#|href="#)([A-Za-z_][\w.-]*)')
_DEFINED = re.compile(r' id="([A-Za-z_][\w.-]*)"')


def vega_lite(spec: Mapping[str, Any], *, validate: bool = False) -> dict[str, Any]:
    """The Vega-Lite specification of a chart spec, written as Altair wrote it (the same keys in the same order,
    so vl-convert draws the same bytes; Altair itself took most of the drawing time); ``validate``: check it
    against Altair's Vega-Lite schema (the tests do)."""
    chart = KINDS[spec["kind"]](spec)
    layers = {key: chart[key] for key in ("layer", "data") if key in chart}
    properties = {key: value for key, value in chart.items() if key not in layers}
    properties["title"] = _title(spec)
    view = {**ALTAIR_VIEW, **CONFIG["view"]}
    config = {"view": view, **{key: CONFIG[key] for key in sorted(CONFIG) if key != "view"}}
    vl = {"config": copy.deepcopy(config), **layers, **dict(sorted(properties.items())), "$schema": SCHEMA}
    if validate:
        from altair.utils.schemapi import validate_jsonschema
        from altair.vegalite.v6.schema.core import load_schema

        validate_jsonschema(vl, load_schema())  # raises on a specification the schema refuses
    return vl


#: a chart to start vl-convert with (:func:`warm_up`)
_FIRST = {"mark": "point", "data": {"values": [{"x": 0}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}}
_warming: list[threading.Thread] = []


def warm_up() -> None:
    """Start vl-convert's engine in a background thread, once: its first drawing takes a second or more (the
    JavaScript engine starts and loads Vega), and it releases the GIL meanwhile, so a report computing its
    sections is not held up. The drawings later wait for it, if needed; a failure here is left to them."""
    if not _warming:
        thread = threading.Thread(target=_first_drawing, name="loyalty-chart-warm-up")
        _warming.append(thread)
        thread.start()


def _first_drawing() -> None:
    try:
        to_svg(_FIRST)
    except Exception:  # noqa: BLE001 - the real drawing says what is wrong
        pass


def to_svg(vl_spec: Mapping[str, Any]) -> str:
    """The SVG vl-convert writes for a Vega-Lite specification."""
    import vl_convert

    return vl_convert.vegalite_to_svg(dict(vl_spec), vl_version=VEGA_LITE)  # type: ignore[no-any-return]


def render_chart(spec: Mapping[str, Any]) -> Markup:
    """The SVG of one chart spec: its root element named (``data-chart``), labelled (its title) and sized to
    scale with the page (``width: 100%`` between :data:`MIN_SCALE` and :data:`MAX_SCALE` of its own size, its
    viewBox kept); its ids (a legend's gradient) named after the chart and numbered in order, so charts never
    share one and the same spec gives the same bytes whatever was drawn before it."""
    try:
        svg = to_svg(vega_lite(spec))
    except ValueError as exc:  # vl-convert refused the chart (e.g. ~1,500 columns of a century's retention)
        reason = next((line.strip() for line in str(exc).splitlines() if "Error" in line), type(exc).__name__)
        raise LoyaltyError(
            f"The report's chart {spec.get('title', spec['id'])!r} could not be drawn: {reason[:300]}",
            hint=f"Check {setting('as_of')} and the dates of the data: a chart over decades of periods is too large to "
            "draw.",
        ) from None
    found = _ROOT.match(svg)
    if found is None:  # pragma: no cover - vl-convert's output changed: the pin in pyproject.toml says which
        raise ValueError("unexpected SVG from vl-convert: no root element with width, height and viewBox")
    width, height, box = float(found.group(1)), float(found.group(2)), found.group(3)
    cid = str(spec["id"])
    body = svg[found.end() :]
    # Vega numbers its ids (gradient_0, ...) on a counter that runs on across charts: renumber them in order
    names = {name: f"{cid}-{k}" for k, name in enumerate(dict.fromkeys(_DEFINED.findall(body)))}
    body = _IDS.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), body)
    title = escape(spec["title"])
    root = (
        f'<svg class="chart" data-chart="{escape(cid)}" role="img" aria-label="{title}" viewBox="{box}" '
        f'width="{width:g}" height="{height:g}" style="min-width:{width * MIN_SCALE:.0f}px;'
        f'max-width:{width * MAX_SCALE:.0f}px">'
    )
    return Markup(f"{root}<title>{title}</title>{body}")
