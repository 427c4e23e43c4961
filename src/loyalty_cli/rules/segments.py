"""Segment maps: named segments from conditions over RFM scores and summary columns, kept as TOML in
``rules/`` so analysts can edit them.

A map is checked when it is loaded, and every problem names the file and the rule:
- each ``when`` is a condition in the allow-listed language of :func:`~loyalty_cli.rules.conditions.compile_condition`
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
from pathlib import Path
from typing import Any, Literal

import polars as pl

from loyalty_cli.errors import RulesError
from loyalty_cli.io.userfiles import read_text
from loyalty_cli.rules.conditions import Claims, Vocabulary
from loyalty_cli.rules.files import builtin_names, builtin_text, check_keys, entries, header, parse_toml
from loyalty_cli.rules.grammar import CONDITION_SYNTAX
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
VOCABULARY = Vocabulary(
    columns=CONDITION_SCHEMA,
    exact=frozenset(SCORES),
    syntax_hint=f'e.g. "r >= 4 and f in (2, 3)" or "r between 1 and 2". {CONDITION_SYNTAX}',
    columns_hint=f"Use scores {', '.join(SCORES)} or summary columns {', '.join(SUMMARY_COLUMNS)}.",
    grid_hint="Compare scores with numbers, e.g. 'r >= 4 and f = 1'.",
)


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


def _matches(cells: pl.DataFrame, seg: Segment, where: str) -> tuple[list[bool], list[bool]]:
    """(may match, surely matches) per score cell: summary columns are unknown on the grid (null), so a rule
    that tests them "may match"."""
    return VOCABULARY.on_grid(cells, seg.expr, where=f"{where}: rule {seg.name!r}", when=seg.when, partial=seg.partial)


def _first_match(cells: pl.DataFrame, segs: list[Segment]) -> list[str | None]:
    result: list[str | None] = [None] * cells.height
    for seg in segs:
        for i, hit in enumerate(_matches(cells, seg, seg.name)[0]):
            if hit and result[i] is None:
                result[i] = seg.name
    return result


def _describe_cells(cells: pl.DataFrame, idx: list[int], limit: int = 6) -> str:
    dims = [c for c in cells.columns if c != "fm"]
    shown = ["".join(f"{d}{cells[d][i]}" for d in dims) for i in idx[:limit]]
    text = ", ".join(" ".join(s[j : j + 2] for j in range(0, len(s), 2)) for s in shown)
    return text + (f" (and {len(idx) - limit} more)" if len(idx) > limit else "")


def _compile(where: str, raw: dict[str, object], position: int) -> Segment:
    label = raw.get("name", f"#{position}")
    check_keys(raw, _SEGMENT_KEYS, where=f"{where}: rule {label!r} has", has="A rule has")
    name, when = raw.get("name"), raw.get("when")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{where}: rule #{position} has no name", hint='Add name = "Champions".')
    expr, partial = VOCABULARY.compile(when, where=f"{where}: rule {name!r}", example="r = 5 and f >= 4")
    return Segment(
        name=name.strip(),
        when=str(when),
        expr=expr,
        description=str(raw.get("description", "")),
        action=str(raw.get("action", "")),
        partial=partial,
    )


def _bins(source: str, data: dict[str, Any]) -> int:
    bins = data.get("bins")
    if type(bins) is not int or bins not in (3, 4, 5, 10):  # not 5.0, not true
        raise RulesError(
            f"{source}: bins must be 3, 4, 5 or 10 (the scores the map is written for), got {bins!r}",
            hint="bins is the number of scores per dimension the conditions are written for (r = 5 is the best "
            "recency only with bins = 5): 5 (quintiles, the usual RFM grid), 3 (tertiles), 4 (quartiles) or 10 "
            "(deciles), the ones RFM scoring supports. Write the map for one of them.",
        )
    return bins  # type: ignore[return-value]


def _segments(source: str, data: dict[str, Any]) -> tuple[Segment, ...]:
    """The [[segment]] rules, compiled, each with its own name."""
    if not isinstance(data.get("segment"), list) or not data["segment"]:
        raise RulesError(f"{source}: no segments", hint="Add [[segment]] tables with name and when.")
    raw_segments = entries(source, data, "segment")  # each a table
    segments = tuple(_compile(source, raw, i + 1) for i, raw in enumerate(raw_segments))
    seen: set[str] = set()
    for seg in segments:
        if seg.name in seen:
            raise RulesError(
                f"{source}: segment {seg.name!r} is defined twice",
                hint="Give each rule its own name, or merge the conditions with 'or'.",
            )
        seen.add(seg.name)
    return segments


Matches = list[tuple[list[bool], list[bool]]]  # (may match, surely matches) per cell, per segment


def _check_exclusive(source: str, segments: tuple[Segment, ...], cells: pl.DataFrame, matches: Matches) -> None:
    """With match = "exclusive": no rule tests summary columns, and no two rules match one cell."""
    partial = [s.name for s in segments if s.partial]
    if partial:
        raise RulesError(
            f"{source}: rule {partial[0]!r} tests summary columns, so it may overlap others",
            hint='Set match = "first" at the top and order the rules.',
        )
    for (a, (hits_a, _)), (b, (hits_b, _)) in itertools.combinations(zip(segments, matches, strict=True), 2):
        both = [i for i in range(cells.height) if hits_a[i] and hits_b[i]]
        if both:
            raise RulesError(
                f"{source}: rules {a.name!r} and {b.name!r} both match {_describe_cells(cells, both)}",
                hint='Make the conditions exclusive, or set match = "first" so the first rule wins.',
            )


def _check_cover_and_reach(
    source: str, segments: tuple[Segment, ...], cells: pl.DataFrame, matches: Matches, bins: int
) -> None:
    """Every score cell is covered by a rule that tests scores only; every segment is reached by a cell that no
    earlier rule takes."""
    claims = Claims(cells.height)
    reached = [claims.add(may, sure) for may, sure in matches]
    if claims.uncovered:
        raise RulesError(
            f"{source}: no rule covers {_describe_cells(cells, claims.uncovered)}",
            hint='Extend a rule, or add a last catch-all rule with when = "true".',
        )
    for seg, (may, _), ok in zip(segments, matches, reached, strict=True):
        if ok:
            continue
        if seg.partial:
            raise RulesError(
                f"{source}: segment {seg.name!r} can never be reached",
                hint="Move it up, or narrow the rules before it.",
            )
        why = (
            "earlier rules take every cell it matches"
            if any(may)
            else f"it matches no score cell (scores run 1 to {bins})"
        )
        raise RulesError(
            f"{source}: segment {seg.name!r} can never be reached: {why}",
            hint="Move it up, narrow the rules before it, or remove it.",
        )


def parse_segment_map(text: str, *, source: str) -> SegmentMap:
    """Parse and check a segment map (see the module docstring for the checks)."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="A map has")
    bins = _bins(source, data)
    match = data.get("match", "exclusive")
    if match not in ("exclusive", "first"):
        raise RulesError(f'{source}: match must be "exclusive" or "first", got {match!r}')
    segments = _segments(source, data)
    used = set().union(*(set(s.expr.meta.root_names()) for s in segments)) & set(SCORES)
    dims = tuple(d for d in SCORES if d in used) or ("r",)
    cells = _cells(bins, dims)
    matches = [_matches(cells, s, source) for s in segments]
    if match == "exclusive":
        _check_exclusive(source, segments, cells, matches)
    _check_cover_and_reach(source, segments, cells, matches, bins)
    return SegmentMap(
        source=source,
        **header(source, data, check=False),
        bins=int(bins),
        match=match,
        segments=segments,
        dimensions=dims,
    )


def builtin_maps() -> list[str]:
    """The names of the built-in segment maps (``rules/rfm_*.toml``)."""
    return builtin_names("rfm_")


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
