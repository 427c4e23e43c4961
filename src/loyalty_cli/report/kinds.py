"""The Vega-Lite specification of each chart kind of :mod:`loyalty_cli.report.charts` (bars, columns, line,
heatmap; the spec kinds are described there), as plain dicts: the keys in the order Altair 6.3 wrote them (a
mark's type then its options by name; channels and their options by name; the layers' data given once when they
share it), so vl-convert draws the same bytes as when Altair built them (tests/report/golden/vega_lite.json)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

PALETTE = ("#2f6db5", "#e07b24", "#3a9a5b", "#b53a3a", "#7a56b0", "#8c6d31")
#: the colour of a bar's class by its first word (NPS categories: "detractor (0-6)")
CLASS_COLOURS = {"detractor": "#c0392b", "passive": "#a0a4aa", "promoter": "#3a9a5b"}
#: number formats of the axes (d3-format) by the spec's format name
AXIS_FORMATS = {"pct": ".0%", "num": ",~r", "money": ",~r", "int": ",d"}


def _format(name: str | None) -> str:
    return AXIS_FORMATS.get(name or "num", ",~r")


def _data(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"values": [dict(r) for r in rows]}


def _mark(kind: str, **options: Any) -> dict[str, Any]:
    """A mark: its type, then its options by name (as Altair writes them)."""
    return {"type": kind, **dict(sorted(options.items()))}


def _field(name: str, kind: str | None, **options: Any) -> dict[str, Any]:
    """An encoding channel of a field (``kind``: nominal, ordinal or quantitative; None for a second position
    such as ``x2``), its options by name as Altair writes them (None: an explicit null, e.g. no legend)."""
    channel = {**options, "field": name} if kind is None else {**options, "field": name, "type": kind}
    return dict(sorted(channel.items()))


def _layer(mark: dict[str, Any], encoding: Mapping[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    layer = {"data": data} if data is not None else {}
    return {**layer, "mark": mark, "encoding": dict(sorted(encoding.items()))}


def _chart(layers: list[dict[str, Any]], data: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    """A layered chart: the layers (each with its own data when ``data`` is None), the data they share, and the
    chart's properties by name (the title is added by :func:`vega_lite`)."""
    chart: dict[str, Any] = {"layer": layers}
    if data is not None:
        chart["data"] = data
    return {**chart, **properties}


def _colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour per series from :data:`PALETTE`, with a legend when there are several."""
    return _field(
        "series",
        "nominal",
        sort=list(names),
        scale={"domain": list(names), "range": list(PALETTE[: len(names)])},
        legend={"title": None} if len(names) > 1 else None,
    )


def bars(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Horizontal grouped bars (shares by segment or stage), the value written at each bar's end."""
    labels, series = list(spec["labels"]), spec["series"]
    names = [s["name"] for s in series]
    rows = [
        {"label": label, "series": s["name"], "value": s["values"][i] or 0.0, "text": s["text"][i]}
        for i, label in enumerate(labels)
        for s in series
    ]
    top = max([r["value"] for r in rows] + [1e-9])
    fmt = _format(spec.get("x_format", "pct"))
    base = {
        "y": _field("label", "nominal", sort=labels, title=spec.get("y_title"), axis={"labelLimit": 240}),
        "yOffset": _field("series", "nominal", sort=names),
    }
    x = _field(
        "value",
        "quantitative",
        title=spec["x_title"],
        scale={"domain": [0, top * 1.18], "nice": True},
        axis={"format": fmt, "tickCount": 6},
    )
    layers = [
        _layer(_mark("bar", height={"band": 0.9}), {**base, "x": x, "color": _colours(names)}),
        _layer(
            _mark("text", align="left", baseline="middle", dx=4),
            {**base, "x": _field("value", "quantitative"), "text": _field("text", "nominal")},
        ),
    ]
    return _chart(layers, _data(rows), height={"step": 15, "for": "offset"}, width=460)


def columns(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Vertical bars over labels in order (a distribution), the value written above each bar."""
    labels = list(spec["labels"])
    classes = spec.get("classes")
    rows = [
        {"label": label, "value": value or 0.0, "text": text, "class": classes[i] if classes else ""}
        for i, (label, value, text) in enumerate(zip(labels, spec["values"], spec["text"], strict=True))
    ]
    longest = max((len(str(label)) for label in labels), default=0)
    axis = {"labelAngle": -35 if longest > 6 else 0, "labelLimit": 120}
    x = _field("label", "nominal", sort=labels, title=spec["x_title"], axis=axis)
    y = _field(
        "value",
        "quantitative",
        title=spec["y_title"],
        axis={"format": _format(spec.get("y_format")), "tickCount": 5},
    )
    if classes:
        order = list(dict.fromkeys(classes))
        colour = _field(
            "class",
            "nominal",
            sort=order,
            scale={"domain": order, "range": [CLASS_COLOURS.get(c.split()[0], PALETTE[0]) for c in order]},
            legend={"title": spec.get("class_title")},
        )
    else:
        colour = {"value": PALETTE[0]}
    layers = [
        _layer(_mark("bar"), {"x": x, "y": y, "color": colour}),
        _layer(
            _mark("text", baseline="bottom", dy=-3),
            {"x": x, "y": _field("value", "quantitative"), "text": _field("text", "nominal")},
        ),
    ]
    step = 44 if longest <= 6 else 48
    return _chart(layers, _data(rows), height=220, width={"step": step})


def line(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Lines over periods or days: each point's interval as a bar when given, a shaded x range, a zero line."""
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
    x_axis = {"labelAngle": 0, "labelOverlap": True, "labelFlush": not ordinal, "grid": not ordinal}
    if ticks:
        x_axis["values"] = list(ticks)
    x = _field(
        "x",
        "ordinal" if ordinal else "quantitative",
        sort=order,
        title=spec["x_title"],
        axis=dict(sorted(x_axis.items())),
    )
    y_fmt = _format(spec.get("y_format"))
    domain = spec.get("y_domain")
    scale = {"domain": list(domain), "nice": True, "zero": False} if domain else {"nice": True, "zero": True}
    y = _field("y", "quantitative", title=spec["y_title"], scale=scale, axis={"format": y_fmt, "tickCount": 6})
    colour = _colours(names)
    data = _data(rows)
    layers: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []  # (data, mark, encoding)
    if spec.get("shade"):
        lo, hi, label = spec["shade"]
        shade = [{"from": lo, "to": hi, "label": label}]
        from_x = _field("from", "quantitative")
        layers.append(
            (_data(shade), _mark("rect", color=PALETTE[0], opacity=0.09), {"x": from_x, "x2": _field("to", None)})
        )
        layers.append(
            (
                _data(shade),
                _mark("text", align="left", baseline="top", dx=4, dy=4, y=0, color="#2f4f7f"),
                {"x": from_x, "text": _field("label", "nominal")},
            )
        )
    if spec.get("zero_line") and domain and domain[0] < 0 < domain[1]:
        layers.append(
            (
                _data([{"zero": 0}]),
                _mark("rule", color="#999", strokeDash=[4, 3]),
                {"y": _field("zero", "quantitative")},
            )
        )
    if any("low" in r for r in rows):
        interval = {
            "x": x,
            "y": _field("low", "quantitative", scale=scale),
            "y2": _field("high", None),
            "color": colour,
        }
        layers.append((data, _mark("rule", strokeWidth=7, opacity=0.28), interval))
    line_mark = _mark(  # a period with no value breaks the line (never drawn as 0)
        "line", strokeWidth=2, invalid="break-paths-filter-domains", interpolate=spec.get("interpolate", "linear")
    )
    layers.append((data, line_mark, {"x": x, "y": y, "color": colour}))
    if spec.get("markers") or any(s.get("markers") for s in series):
        layers.append((data, _mark("point", filled=True, size=36, opacity=1), {"x": x, "y": y, "color": colour}))
    shared = all(d is data for d, _, _ in layers)  # one data set for all: given once, for the chart
    drawn = [_layer(mark, encoding, None if shared else d) for d, mark, encoding in layers]
    return _chart(drawn, data if shared else None, height=230, width=560)


def heatmap(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A cohort x period matrix: each cell coloured and written; a colour legend; cells not lived are blank."""
    rows_, cols = list(spec["rows"]), list(spec["cols"])
    top = float(spec["max"]) or 1.0
    rows = [
        {"row": row, "col": col, "value": value, "text": spec["text"][i][j]}
        for i, row in enumerate(rows_)
        for j, (col, value) in enumerate(zip(cols, spec["values"][i], strict=True))
        if value is not None
    ]
    base = {
        "x": _field(
            "col", "ordinal", sort=cols, title=spec["x_title"], axis={"labelAngle": 0, "orient": "top", "ticks": False}
        ),
        "y": _field("row", "ordinal", sort=rows_, title=spec["y_title"], axis={"ticks": False}),
    }
    legend = {
        "direction": "horizontal",
        "format": ".0%",
        "gradientLength": 180,
        "orient": "top",
        "title": spec["legend_title"],
    }
    colour = _field(
        "value", "quantitative", scale={"clamp": True, "domain": [0, top], "scheme": "greens"}, legend=legend
    )
    dark = f"datum.value >= {top * 0.55!r}"
    text_colour = {"condition": {"test": dark, "value": "white"}, "value": "#1d2b22"}
    layers = [
        _layer(_mark("rect", stroke="white", strokeWidth=1), {**base, "color": colour}),
        _layer(_mark("text", fontSize=10), {**base, "text": _field("text", "nominal"), "color": text_colour}),
    ]
    return _chart(layers, _data(rows), height={"step": 19}, width={"step": 30})


KINDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "bars": bars,
    "columns": columns,
    "line": line,
    "heatmap": heatmap,
}
