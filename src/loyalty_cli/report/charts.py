"""Static inline SVG charts from plain chart specs (dicts of labels and numbers).

No JavaScript, no fonts, no network: each function returns one ``<svg class="chart">`` element as
:class:`markupsafe.Markup`. Every text from the data goes through :func:`markupsafe.escape`, and every
coordinate is printed with a fixed number of decimals, so the same spec always gives the same bytes.

Spec kinds (built by the section modules of :mod:`loyalty_cli.report`):

- ``bars``: horizontal grouped bars; ``labels``, ``series`` = [{name, values (0..1 shares), text}].
- ``columns``: vertical bars; ``labels``, ``values``, ``text``, optional ``classes`` (one CSS class per bar).
- ``line``: lines over a numeric x; ``series`` = [{name, x, y, low?, high?}], ``x_ticks`` = [[x, label]],
  ``y_max``, ``y_format`` (``pct`` or ``num``), optional ``shade`` = [x_from, x_to, label].
- ``heatmap``: ``rows``, ``cols`` (labels), ``values`` (0..1 or null), ``text``, ``max`` (colour scale top).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

WIDTH = 760
PALETTE = ("#2f6db5", "#e07b24", "#3a9a5b", "#b53a3a", "#7a56b0", "#8c6d31")


def _n(x: float) -> str:
    """A coordinate: one decimal, no negative zero."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _open(spec: Mapping[str, Any], height: float) -> list[str]:
    title = escape(spec["title"])
    return [
        f'<svg class="chart" data-chart="{escape(spec["id"])}" role="img" aria-label="{title}" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" height="{_n(height)}">',
        f"<title>{title}</title>",
    ]


def _text(x: float, y: float, label: object, *, anchor: str = "start", cls: str = "lbl") -> str:
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" class="{cls}">{escape(label)}</text>'


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        px = x + i * 190
        parts.append(f'<rect x="{_n(px)}" y="{_n(y - 9)}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(_text(px + 14, y, name))
    return parts


def bars(spec: Mapping[str, Any]) -> Markup:
    labels, series = spec["labels"], spec["series"]
    row_h = 8 + 14 * len(series)
    left, right, top = 170.0, 70.0, 28.0
    height = top + row_h * len(labels) + 10
    span = WIDTH - left - right
    top_value = max([v for s in series for v in s["values"] if v is not None] + [1e-9])
    parts = _open(spec, height)
    parts += _legend([s["name"] for s in series], left, 16)
    for i, label in enumerate(labels):
        y0 = top + i * row_h
        parts.append(_text(left - 6, y0 + row_h / 2 + 3, label, anchor="end"))
        for j, s in enumerate(series):
            value = s["values"][i] or 0.0
            w = span * value / top_value
            y = y0 + 4 + j * 14
            parts.append(
                f'<rect x="{_n(left)}" y="{_n(y)}" width="{_n(w)}" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
            )
            parts.append(_text(left + w + 4, y + 10, s["text"][i], cls="val"))
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(spec: Mapping[str, Any]) -> Markup:
    labels, values, texts = spec["labels"], spec["values"], spec["text"]
    classes = spec.get("classes") or ["" for _ in labels]
    left, right, top, bottom = 20.0, 20.0, 22.0, 40.0
    height = 220.0
    span_h = height - top - bottom
    step = (WIDTH - left - right) / max(len(labels), 1)
    top_value = max([v for v in values if v is not None] + [1e-9])
    parts = _open(spec, height)
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        h = span_h * (value or 0.0) / top_value
        x = left + i * step
        cls = f' class="{escape(classes[i])}"' if classes[i] else ""
        parts.append(
            f'<rect{cls} x="{_n(x + step * 0.1)}" y="{_n(top + span_h - h)}" width="{_n(step * 0.8)}" '
            f'height="{_n(h)}" fill="{PALETTE[0]}"/>'
        )
        parts.append(_text(x + step / 2, top + span_h - h - 4, text, anchor="middle", cls="val"))
        parts.append(_text(x + step / 2, height - bottom + 16, label, anchor="middle"))
    if spec.get("x_title"):
        parts.append(_text(WIDTH / 2, height - 6, spec["x_title"], anchor="middle", cls="axis"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _y_label(value: float, fmt: str) -> str:
    return f"{value:.0%}" if fmt == "pct" else f"{value:,.0f}"


@dataclass(frozen=True)
class _Plot:
    """The drawing area of a line chart and its scales: data coordinates to SVG coordinates."""

    x_min: float
    x_span: float
    y_min: float
    y_max: float
    left: float = 60.0
    right: float = 20.0
    top: float = 28.0
    bottom: float = 44.0
    height: float = 260.0

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> _Plot:
        xs = [x for s in spec["series"] for x in s["x"]] + [t[0] for t in spec.get("x_ticks", [])]
        x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
        return cls(x_min, (x_max - x_min) or 1.0, float(spec.get("y_min", 0.0)), float(spec["y_max"]))

    @property
    def y_span(self) -> float:
        return (self.y_max - self.y_min) or 1.0

    def px(self, x: float) -> float:
        return self.left + (WIDTH - self.left - self.right) * (x - self.x_min) / self.x_span

    def py(self, y: float) -> float:
        inner = self.height - self.top - self.bottom
        return self.top + inner * (1 - (min(max(y, self.y_min), self.y_max) - self.y_min) / self.y_span)


def line(spec: Mapping[str, Any]) -> Markup:
    series = spec["series"]
    plot = _Plot.of(spec)
    left, right, height = plot.left, plot.right, plot.height
    parts = _open(spec, height)
    parts += _legend([s["name"] for s in series], left, 16)
    parts += _line_axes(spec, plot)
    for j, s in enumerate(series):
        parts += _line_series(s, PALETTE[j % len(PALETTE)], plot)
    if spec.get("x_title"):
        parts.append(_text((left + WIDTH - right) / 2, height - 6, spec["x_title"], anchor="middle", cls="axis"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _line_axes(spec: Mapping[str, Any], plot: _Plot) -> list[str]:
    """The y grid with its labels, the shaded x range (``shade``) and the x tick labels."""
    left, right, top, bottom, height = plot.left, plot.right, plot.top, plot.bottom, plot.height
    parts = []
    for k in range(5):  # y grid
        value = plot.y_min + plot.y_span * k / 4
        y = _n(plot.py(value))
        parts.append(f'<line class="grid" x1="{_n(left)}" x2="{_n(WIDTH - right)}" y1="{y}" y2="{y}"/>')
        parts.append(
            _text(left - 6, plot.py(value) + 4, _y_label(value, spec.get("y_format", "num")), anchor="end", cls="axis")
        )
    if spec.get("shade"):
        lo, hi, label = spec["shade"]
        parts.append(
            f'<rect class="shade" x="{_n(plot.px(lo))}" y="{_n(top)}" width="{_n(plot.px(hi) - plot.px(lo))}" '
            f'height="{_n(height - top - bottom)}"/>'
        )
        parts.append(_text(plot.px(lo) + 3, top + 12, label, cls="axis"))
    for x, label in spec.get("x_ticks", []):
        parts.append(_text(plot.px(x), height - bottom + 16, label, anchor="middle", cls="axis"))
    return parts


def _line_series(s: Mapping[str, Any], colour: str, plot: _Plot) -> list[str]:
    """One series: its interval band (points with an interval only), its line (broken where y is missing) and
    its markers."""
    px, py = plot.px, plot.py
    parts = []
    if s.get("low") is not None:
        for x, lo, hi in zip(s["x"], s["low"], s["high"], strict=True):
            if lo is not None and hi is not None:
                parts.append(
                    f'<line class="ci" x1="{_n(px(x))}" x2="{_n(px(x))}" y1="{_n(py(lo))}" '
                    f'y2="{_n(py(hi))}" stroke="{colour}"/>'
                )
    runs: list[list[str]] = [[]]
    for x, y in zip(s["x"], s["y"], strict=True):
        if y is None:
            runs.append([])
        else:
            runs[-1].append(f"{_n(px(x))},{_n(py(y))}")
    for run in (r for r in runs if r):
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
    if s.get("markers"):
        for x, y in zip(s["x"], s["y"], strict=True):
            if y is not None:
                parts.append(f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="3" fill="{colour}"/>')
    return parts


def _heat(x: float) -> str:
    """Pale to deep green as x goes from 0 to 1 (the terminal's retention colours)."""
    x = max(0.0, min(1.0, x))
    r, g, b = (round(a + (c - a) * x) for a, c in ((247, 35), (252, 139), (245, 69)))
    return f"rgb({r},{g},{b})"


def heatmap(spec: Mapping[str, Any]) -> Markup:
    rows, cols, values, texts = spec["rows"], spec["cols"], spec["values"], spec["text"]
    left, top = 110.0, 34.0
    cell_w = max(14.0, min(46.0, (WIDTH - left - 10) / max(len(cols), 1)))
    cell_h = 18.0
    width = left + cell_w * len(cols) + 10
    height = top + cell_h * len(rows) + 8
    top_value = float(spec["max"]) or 1.0
    parts = _open(spec, height)
    parts[0] = (
        parts[0]
        .replace(f'viewBox="0 0 {WIDTH} ', f'viewBox="0 0 {_n(width)} ')
        .replace(f'width="{WIDTH}"', f'width="{_n(width)}"')
    )
    for j, col in enumerate(cols):
        parts.append(_text(left + cell_w * (j + 0.5), top - 8, col, anchor="middle", cls="axis"))
    show_text = cell_w >= 30
    for i, row in enumerate(rows):
        y = top + i * cell_h
        parts.append(_text(left - 6, y + 13, row, anchor="end", cls="axis"))
        for j, value in enumerate(values[i]):
            if value is None:
                continue
            x = left + j * cell_w
            share = value / top_value
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(cell_w - 1)}" height="{_n(cell_h - 1)}" '
                f'fill="{_heat(share)}"><title>{escape(row)} {escape(col_label(cols, j))}: '
                f"{escape(texts[i][j])}</title></rect>"
            )
            if show_text:
                cls = "cell dark" if share >= 0.6 else "cell"
                parts.append(_text(x + cell_w / 2, y + 13, texts[i][j], anchor="middle", cls=cls))
    parts.append("</svg>")
    return Markup("".join(parts))


def col_label(cols: Sequence[str], j: int) -> str:
    return str(cols[j])


KINDS = {"bars": bars, "columns": columns, "line": line, "heatmap": heatmap}


def render_chart(spec: Mapping[str, Any]) -> Markup:
    """The SVG of one chart spec."""
    return KINDS[spec["kind"]](spec)
