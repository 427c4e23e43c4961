"""Static SVG charts from plain chart specs (dicts of labels and numbers), drawn by Altair (Vega-Lite) and
rendered to SVG by vl-convert, with no JavaScript in the page.

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

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

#: the fonts the charts name: vl-convert measures text with its bundled Liberation Sans; browsers draw it with
#: Liberation Sans, Arial or Helvetica (the same widths)
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
PALETTE = ("#2f6db5", "#e07b24", "#3a9a5b", "#b53a3a", "#7a56b0", "#8c6d31")
#: the colour of a bar's class by its first word (NPS categories: "detractor (0-6)")
CLASS_COLOURS = {"detractor": "#c0392b", "passive": "#a0a4aa", "promoter": "#3a9a5b"}
#: number formats of the axes (d3-format) by the spec's format name
AXIS_FORMATS = {"pct": ".0%", "num": ",~r", "money": ",~r", "int": ",d"}
#: a chart is drawn at its own size and shown at most this much smaller (then its box scrolls) or larger
MIN_SCALE, MAX_SCALE = 0.8, 1.3
TITLE_WIDTH, SUBTITLE_WIDTH = 64, 90  # characters per line (titles are wrapped, never cut)
VEGA_LITE = "6.4"  # the Vega-Lite version vl-convert renders (Altair 6.3's schema)

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


def _format(name: str | None) -> str:
    return AXIS_FORMATS.get(name or "num", ",~r")


def _data(rows: Sequence[Mapping[str, Any]]) -> Any:
    import altair as alt

    return alt.Data(values=[dict(r) for r in rows])


def bars(spec: Mapping[str, Any]) -> Any:
    """Horizontal grouped bars (shares by segment or stage), the value written at each bar's end."""
    import altair as alt

    labels, series = list(spec["labels"]), spec["series"]
    names = [s["name"] for s in series]
    rows = [
        {"label": label, "series": s["name"], "value": s["values"][i] or 0.0, "text": s["text"][i]}
        for i, label in enumerate(labels)
        for s in series
    ]
    top = max([r["value"] for r in rows] + [1e-9])
    fmt = _format(spec.get("x_format", "pct"))
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y("label:N", sort=labels, title=spec.get("y_title"), axis=alt.Axis(labelLimit=240)),
        yOffset=alt.YOffset("series:N", sort=names),
    )
    x = alt.X(
        "value:Q",
        title=spec["x_title"],
        scale=alt.Scale(domain=[0, top * 1.18], nice=True),
        axis=alt.Axis(format=fmt, tickCount=6),
    )
    colour = alt.Color(
        "series:N",
        sort=names,
        scale=alt.Scale(domain=names, range=list(PALETTE[: len(names)])),
        legend=alt.Legend(title=None) if len(names) > 1 else None,
    )
    layer = alt.layer(
        base.mark_bar(height={"band": 0.9}).encode(x=x, color=colour),
        base.mark_text(align="left", baseline="middle", dx=4).encode(x="value:Q", text="text:N"),
    )
    return layer.properties(width=460, height={"step": 15, "for": "offset"})


def columns(spec: Mapping[str, Any]) -> Any:
    """Vertical bars over labels in order (a distribution), the value written above each bar."""
    import altair as alt

    labels = list(spec["labels"])
    classes = spec.get("classes")
    rows = [
        {"label": label, "value": value or 0.0, "text": text, "class": classes[i] if classes else ""}
        for i, (label, value, text) in enumerate(zip(labels, spec["values"], spec["text"], strict=True))
    ]
    longest = max((len(str(label)) for label in labels), default=0)
    base = alt.Chart(_data(rows)).encode(
        x=alt.X(
            "label:N",
            sort=labels,
            title=spec["x_title"],
            axis=alt.Axis(labelAngle=-35 if longest > 6 else 0, labelLimit=120),
        )
    )
    y = alt.Y("value:Q", title=spec["y_title"], axis=alt.Axis(format=_format(spec.get("y_format")), tickCount=5))
    if classes:
        order = list(dict.fromkeys(classes))
        colour: Any = alt.Color(
            "class:N",
            sort=order,
            scale=alt.Scale(domain=order, range=[CLASS_COLOURS.get(c.split()[0], PALETTE[0]) for c in order]),
            legend=alt.Legend(title=spec.get("class_title")),
        )
    else:
        colour = alt.value(PALETTE[0])
    layer = alt.layer(
        base.mark_bar().encode(y=y, color=colour),
        base.mark_text(baseline="bottom", dy=-3).encode(y="value:Q", text="text:N"),
    )
    step = 44 if longest <= 6 else 48
    return layer.properties(width={"step": step}, height=220)


def line(spec: Mapping[str, Any]) -> Any:
    """Lines over periods or days: each point's interval as a bar when given, a shaded x range, a zero line."""
    import altair as alt

    series = spec["series"]
    names = [s["name"] for s in series]
    ordinal = spec.get("x_kind", "ordinal") == "ordinal"
    rows = []
    for s in series:
        for i, (x, y) in enumerate(zip(s["x"], s["y"], strict=True)):
            row = {"series": s["name"], "x": x, "y": y}
            if s.get("low") is not None:
                row["low"], row["high"] = s["low"][i], s["high"][i]
            rows.append(row)
    order = list(dict.fromkeys(r["x"] for r in rows)) if ordinal else None
    ticks = spec.get("x_ticks")
    x_axis = alt.Axis(
        values=list(ticks) if ticks else alt.Undefined,
        labelAngle=0,
        labelOverlap=True,
        labelFlush=not ordinal,
        grid=not ordinal,
    )
    x = alt.X("x:O" if ordinal else "x:Q", sort=order, title=spec["x_title"], axis=x_axis)
    y_fmt = _format(spec.get("y_format"))
    domain = spec.get("y_domain")
    scale = alt.Scale(domain=list(domain), nice=True, zero=False) if domain else alt.Scale(zero=True, nice=True)
    y = alt.Y("y:Q", title=spec["y_title"], scale=scale, axis=alt.Axis(format=y_fmt, tickCount=6))
    colour = alt.Color(
        "series:N",
        sort=names,
        scale=alt.Scale(domain=names, range=list(PALETTE[: len(names)])),
        legend=alt.Legend(title=None) if len(names) > 1 else None,
    )
    base = alt.Chart(_data(rows)).encode(x=x)
    layers = []
    if spec.get("shade"):
        lo, hi, label = spec["shade"]
        shade = alt.Chart(_data([{"from": lo, "to": hi, "label": label}]))
        layers.append(shade.mark_rect(color=PALETTE[0], opacity=0.09).encode(x="from:Q", x2="to:Q"))
        layers.append(
            shade.mark_text(align="left", baseline="top", dx=4, dy=4, y=0, color="#2f4f7f").encode(
                x="from:Q", text="label:N"
            )
        )
    if spec.get("zero_line") and domain and domain[0] < 0 < domain[1]:
        layers.append(alt.Chart(_data([{"zero": 0}])).mark_rule(color="#999", strokeDash=[4, 3]).encode(y="zero:Q"))
    if any("low" in r for r in rows):
        layers.append(
            base.mark_rule(strokeWidth=7, opacity=0.28).encode(y=alt.Y("low:Q", scale=scale), y2="high:Q", color=colour)
        )
    line_mark = base.mark_line(  # a period with no value breaks the line (never drawn as 0)
        strokeWidth=2, invalid="break-paths-filter-domains", interpolate=spec.get("interpolate", "linear")
    )
    layers.append(line_mark.encode(y=y, color=colour))
    if spec.get("markers") or any(s.get("markers") for s in series):
        layers.append(base.mark_point(filled=True, size=36, opacity=1).encode(y=y, color=colour))
    return alt.layer(*layers).properties(width=560, height=230)


def heatmap(spec: Mapping[str, Any]) -> Any:
    """A cohort x period matrix: each cell coloured and written; a colour legend; cells not lived are blank."""
    import altair as alt

    rows_, cols = list(spec["rows"]), list(spec["cols"])
    top = float(spec["max"]) or 1.0
    rows = [
        {"row": row, "col": col, "value": value, "text": spec["text"][i][j]}
        for i, row in enumerate(rows_)
        for j, (col, value) in enumerate(zip(cols, spec["values"][i], strict=True))
        if value is not None
    ]
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("col:O", sort=cols, title=spec["x_title"], axis=alt.Axis(orient="top", labelAngle=0, ticks=False)),
        y=alt.Y("row:O", sort=rows_, title=spec["y_title"], axis=alt.Axis(ticks=False)),
    )
    colour = alt.Color(
        "value:Q",
        scale=alt.Scale(scheme="greens", domain=[0, top], clamp=True),
        legend=alt.Legend(
            title=spec["legend_title"], format=".0%", orient="top", gradientLength=180, direction="horizontal"
        ),
    )
    dark = f"datum.value >= {top * 0.55!r}"
    layer = alt.layer(
        base.mark_rect(stroke="white", strokeWidth=1).encode(color=colour),
        base.mark_text(fontSize=10).encode(
            text="text:N", color=alt.condition(dark, alt.value("white"), alt.value("#1d2b22"))
        ),
    )
    return layer.properties(width={"step": 30}, height={"step": 19})


KINDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "bars": bars,
    "columns": columns,
    "line": line,
    "heatmap": heatmap,
}

_ROOT = re.compile(r'^<svg [^>]*width="([\d.]+)" height="([\d.]+)" viewBox="([^"]+)">')
_IDS = re.compile(r'( id="|url\(#|href="#)([A-Za-z_][\w.-]*)')
_DEFINED = re.compile(r' id="([A-Za-z_][\w.-]*)"')


def vega_lite(spec: Mapping[str, Any], *, validate: bool = False) -> dict[str, Any]:
    """The Vega-Lite specification of a chart spec (Altair); ``validate``: check it against the schema (the
    tests do; it costs a third of the drawing time)."""
    chart = KINDS[spec["kind"]](spec).properties(title=_title(spec))
    return chart.configure(**CONFIG).to_dict(validate=validate)  # type: ignore[no-any-return]


def to_svg(vl_spec: Mapping[str, Any]) -> str:
    """The SVG vl-convert writes for a Vega-Lite specification."""
    import vl_convert

    return vl_convert.vegalite_to_svg(dict(vl_spec), vl_version=VEGA_LITE)  # type: ignore[no-any-return]


def render_chart(spec: Mapping[str, Any]) -> Markup:
    """The SVG of one chart spec: its root element named (``data-chart``), labelled (its title) and sized to
    scale with the page (``width: 100%`` between :data:`MIN_SCALE` and :data:`MAX_SCALE` of its own size, its
    viewBox kept); its ids (a legend's gradient) named after the chart and numbered in order, so charts never
    share one and the same spec gives the same bytes whatever was drawn before it."""
    svg = to_svg(vega_lite(spec))
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
