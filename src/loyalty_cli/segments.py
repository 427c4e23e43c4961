"""Segment maps: named segments from conditions over RFM scores and summary columns, kept as TOML in
``rules/`` so analysts can edit them.

A map is checked when it is loaded, and every problem names the file and the rule:
- each ``when`` is a condition in the allow-listed language of :func:`~loyalty_cli.rulefile.compile_condition`
  (never SQL, never ``eval``-ed), type-checked, over ``r``, ``f``, ``m``, ``fm`` (= (f + m + 1) // 2, the mean
  of F and M rounded half up) and the summary columns;
- every cell of the score grid is covered (a final ``when = "true"`` is an explicit catch-all);
- no cell is matched by two rules, unless the map says ``match = "first"`` (then the order decides);
- every named segment is reachable: some cell reaches it before an earlier rule claims it.
Rules that also test summary columns (``orders >= 2``) cannot cover a cell on their own: they need
``match = "first"`` and a later score-only rule for the cells they leave.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl

from loyalty_cli.errors import RulesError
from loyalty_cli.rulefile import (
    CONDITION_SYNTAX,
    builtin_text,
    compile_condition,
    evaluate_condition,
    parse_toml,
    read_text,
)
from loyalty_cli.words import did_you_mean

SCORES = ("r", "f", "m", "fm")
SCORE_DTYPE = pl.Int8  # as rfm_scores gives them
# The summary columns a condition may use, with their dtypes in the customer summary (a test keeps them equal):
# conditions are type-checked against them when a map loads.
SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "recency_days": pl.Int32(),
    "tenure_days": pl.Int32(),
    "orders": pl.UInt32(),
    "purchase_days": pl.UInt32(),
    "net_spend": pl.Float64(),
    "gross_spend": pl.Float64(),
    "returns_value": pl.Float64(),
    "return_orders": pl.UInt32(),
    "repeat_spend": pl.Float64(),
    "mean_order_value": pl.Float64(),
    "first_category": pl.String(),
    "first_channel": pl.String(),
}
SUMMARY_COLUMNS = tuple(SUMMARY_SCHEMA)
CONDITION_SCHEMA: dict[str, pl.DataType] = {**dict.fromkeys(SCORES, SCORE_DTYPE()), **SUMMARY_SCHEMA}
DEFAULT_MAP = "rfm_grid"
_SEGMENT_KEYS = {"name", "when", "description", "action"}
_TOP_KEYS = {"name", "version", "description", "bins", "match", "segment", "source"}


@dataclass(frozen=True)
class Segment:
    name: str
    when: str
    expr: pl.Expr
    description: str
    action: str
    partial: bool  # tests summary columns, so it may or may not hold for a score cell


@dataclass(frozen=True)
class SegmentMap:
    name: str
    source: str  # file path, or "built-in: NAME"
    version: str
    description: str
    bins: int
    match: Literal["exclusive", "first"]
    segments: tuple[Segment, ...]
    dimensions: tuple[str, ...]  # scores the conditions use, in r/f/m order

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def actions(self) -> dict[str, str | None]:
        """Each segment's action (the tactic a campaign runs for it) by name; None where the map gives none."""
        return {s.name: s.action.strip() or None for s in self.segments}

    def action_of(self, segment: str = "segment") -> pl.Expr:
        """The action of each row's segment (``segment``: the column :meth:`assign` adds, or its names as text), as
        ``<segment>_action``. Picked by the segment's position in the map (30x faster than a lookup by name)."""
        actions = pl.Series([self.actions[name] for name in self.names], dtype=pl.String)
        position = pl.col(segment).cast(pl.Enum(self.names)).to_physical()
        return pl.lit(actions).gather(position).alias(f"{segment}_action")

    def assign(self, scored: pl.LazyFrame) -> pl.LazyFrame:
        """Add a ``segment`` column to a frame with ``r_score, f_score, m_score`` and summary columns. A summary
        column the data lacks (``first_category`` without a category column) is empty, as in lifecycle rules:
        a comparison with it is never true."""
        have = set(scored.collect_schema().names())
        used = set().union(*(s.expr.meta.root_names() for s in self.segments)) & set(SUMMARY_SCHEMA)
        missing = sorted(used - have)
        scores = [
            pl.col("r_score").alias("r"),
            pl.col("f_score").alias("f"),
            pl.col("m_score").alias("m"),
            ((pl.col("f_score") + pl.col("m_score") + 1) // 2).alias("fm"),
            *(pl.lit(None, dtype=SUMMARY_SCHEMA[c]).alias(c) for c in missing),
        ]
        chain = None
        for seg in self.segments:
            chain = (pl.when(seg.expr) if chain is None else chain.when(seg.expr)).then(pl.lit(seg.name))
        assert chain is not None
        segment = chain.otherwise(pl.lit(None, dtype=pl.String))
        return (
            scored.with_columns(scores)
            .with_columns(segment.cast(pl.Enum(self.names)).alias("segment"))
            .drop(["r", "f", "m", "fm", *missing])
        )

    def grid(self) -> pl.DataFrame:
        """Every score cell of the dimensions used, with the segment it gets (score-only rules)."""
        cells = _cells(self.bins, self.dimensions)
        first = _first_match(cells, [s for s in self.segments if not s.partial])
        return cells.select(list(self.dimensions)).with_columns(pl.Series("segment", first, dtype=pl.String))


def _cells(bins: int, dims: tuple[str, ...]) -> pl.DataFrame:
    base = [d for d in ("r", "f", "m") if d in dims or ("fm" in dims and d in "fm")]
    rows = list(itertools.product(range(1, bins + 1), repeat=len(base)))
    frame = pl.DataFrame(rows, schema=dict.fromkeys(base, SCORE_DTYPE), orient="row")
    if "fm" in dims:
        frame = frame.with_columns(((pl.col("f") + pl.col("m") + 1) // 2).alias("fm"))
    return frame


def _matches(cells: pl.DataFrame, seg: Segment, where: str) -> list[bool]:
    if seg.partial:  # summary columns unknown on the grid: null, so the test says "could match"
        cells = cells.with_columns(pl.lit(None, dtype=dtype).alias(c) for c, dtype in SUMMARY_SCHEMA.items())
    out = evaluate_condition(
        cells,
        seg.expr,
        where=f"{where}: rule {seg.name!r}",
        when=seg.when,
        hint="Compare scores with numbers, e.g. 'r >= 4 and f = 1'.",
    )
    return [bool(v) for v in out.fill_null(seg.partial)]


def _first_match(cells: pl.DataFrame, segs: list[Segment]) -> list[str | None]:
    result: list[str | None] = [None] * cells.height
    for seg in segs:
        for i, hit in enumerate(_matches(cells, seg, seg.name)):
            if hit and result[i] is None:
                result[i] = seg.name
    return result


def _describe_cells(cells: pl.DataFrame, idx: list[int], limit: int = 6) -> str:
    dims = [c for c in cells.columns if c != "fm"]
    shown = ["".join(f"{d}{cells[d][i]}" for d in dims) for i in idx[:limit]]
    text = ", ".join(" ".join(s[j : j + 2] for j in range(0, len(s), 2)) for s in shown)
    return text + (f" (and {len(idx) - limit} more)" if len(idx) > limit else "")


def _compile(where: str, raw: dict[str, object], position: int) -> Segment:
    unknown = set(raw) - _SEGMENT_KEYS
    label = raw.get("name", f"#{position}")
    if unknown:
        raise RulesError(
            f"{where}: rule {label!r} has unknown key(s) {', '.join(sorted(unknown))}",
            hint=f"A rule has {', '.join(sorted(_SEGMENT_KEYS))}.",
        )
    name, when = raw.get("name"), raw.get("when")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{where}: rule #{position} has no name", hint='Add name = "Champions".')
    expr, roots = compile_condition(
        when,
        where=f"{where}: rule {name!r}",
        columns=CONDITION_SCHEMA,
        example="r = 5 and f >= 4",
        syntax_hint=f'e.g. "r >= 4 and f in (2, 3)" or "r between 1 and 2". {CONDITION_SYNTAX}',
        columns_hint=f"Use scores {', '.join(SCORES)} or summary columns {', '.join(SUMMARY_COLUMNS)}.",
    )
    return Segment(
        name=name.strip(),
        when=str(when),
        expr=expr,
        description=str(raw.get("description", "")),
        action=str(raw.get("action", "")),
        partial=bool(roots - set(SCORES)),
    )


def parse_segment_map(text: str, *, source: str) -> SegmentMap:
    """Parse and check a segment map (see the module docstring for the checks)."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="A map has")
    bins = data.get("bins")
    if bins not in (3, 4, 5, 10):
        raise RulesError(
            f"{source}: bins must be 3, 4, 5 or 10 (the scores the map is written for), got {bins!r}",
            hint="bins is the number of scores per dimension the conditions are written for (r = 5 is the best "
            "recency only with bins = 5): 5 (quintiles, the usual RFM grid), 3 (tertiles), 4 (quartiles) or 10 "
            "(deciles), the ones RFM scoring supports. Write the map for one of them.",
        )
    match = data.get("match", "exclusive")
    if match not in ("exclusive", "first"):
        raise RulesError(f'{source}: match must be "exclusive" or "first", got {match!r}')
    raw_segments = data.get("segment")
    if not isinstance(raw_segments, list) or not raw_segments:
        raise RulesError(f"{source}: no segments", hint="Add [[segment]] tables with name and when.")
    segments = tuple(_compile(source, raw, i + 1) for i, raw in enumerate(raw_segments))
    seen: set[str] = set()
    for seg in segments:
        if seg.name in seen:
            raise RulesError(
                f"{source}: segment {seg.name!r} is defined twice",
                hint="Give each rule its own name, or merge the conditions with 'or'.",
            )
        seen.add(seg.name)
    used = set().union(*(set(s.expr.meta.root_names()) for s in segments)) & set(SCORES)
    dims = tuple(d for d in SCORES if d in used) or ("r",)
    cells = _cells(bins, dims)
    hits = {s.name: _matches(cells, s, source) for s in segments}
    exact = [s for s in segments if not s.partial]

    if match == "exclusive":
        partial = [s.name for s in segments if s.partial]
        if partial:
            raise RulesError(
                f"{source}: rule {partial[0]!r} tests summary columns, so it may overlap others",
                hint='Set match = "first" at the top and order the rules.',
            )
        for a, b in itertools.combinations(exact, 2):
            both = [i for i in range(cells.height) if hits[a.name][i] and hits[b.name][i]]
            if both:
                raise RulesError(
                    f"{source}: rules {a.name!r} and {b.name!r} both match {_describe_cells(cells, both)}",
                    hint='Make the conditions exclusive, or set match = "first" so the first rule wins.',
                )
    uncovered = [i for i in range(cells.height) if not any(hits[s.name][i] for s in exact)]
    if uncovered:
        raise RulesError(
            f"{source}: no rule covers {_describe_cells(cells, uncovered)}",
            hint='Extend a rule, or add a last catch-all rule with when = "true".',
        )
    claimed = [False] * cells.height
    for seg in segments:
        reached = [i for i in range(cells.height) if hits[seg.name][i] and not claimed[i]]
        if not reached and not seg.partial:
            why = (
                "earlier rules take every cell it matches"
                if any(hits[seg.name])
                else f"it matches no score cell (scores run 1 to {bins})"
            )
            raise RulesError(
                f"{source}: segment {seg.name!r} can never be reached: {why}",
                hint="Move it up, narrow the rules before it, or remove it.",
            )
        if seg.partial and not any(hits[seg.name][i] and not claimed[i] for i in range(cells.height)):
            raise RulesError(
                f"{source}: segment {seg.name!r} can never be reached",
                hint="Move it up, or narrow the rules before it.",
            )
        if not seg.partial:
            for i in reached:
                claimed[i] = True
    return SegmentMap(
        name=str(data.get("name", Path(source).stem)),
        source=source,
        version=str(data.get("version", "1")),
        description=str(data.get("description", "")).strip(),
        bins=int(bins),
        match=match,
        segments=segments,
        dimensions=dims,
    )


def builtin_maps() -> list[str]:
    folder = resources.files("loyalty_cli") / "rules"
    return sorted(
        p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml") and p.name.startswith("rfm_")
    )


def load_segment_rules(spec: str | Path | None = None) -> SegmentMap:
    """A map by built-in name (``rfm_grid``, ``rfm_tertiles``, ``rfm_r_fm``) or by path to a TOML file."""
    spec = DEFAULT_MAP if spec is None else spec
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        text = read_text(path, what="Rules", hint=f"Built-in maps: {', '.join(builtin_maps())}.")
        return parse_segment_map(text, source=str(path))
    if str(spec) not in builtin_maps():
        raise RulesError(
            f"No segment map called {spec!r}",
            hint=f"{did_you_mean(str(spec), builtin_maps())}Built-in maps: {', '.join(builtin_maps())}; or pass a "
            ".toml file.",
        )
    return parse_segment_map(builtin_text(str(spec)), source=f"built-in {spec}")
