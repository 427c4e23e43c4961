"""``rules``: segment maps as tables, and the check of any rules file (segment map, churn or lifecycle rules,
column mapping) or pipeline with the checks of its kind, told from its content."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import polars as pl

from loyalty_cli import words
from loyalty_cli.rules.segments import SegmentMap, builtin_maps, load_segment_rules


def builtin_maps_table() -> pl.DataFrame:
    """The built-in segment maps: name, bins, match, segments (how many), description."""
    maps = [load_segment_rules(name) for name in builtin_maps()]
    rows = [(m.name, m.bins, m.match, len(m.segments), m.description) for m in maps]
    return pl.DataFrame(rows, schema=["name", "bins", "match", "segments", "description"], orient="row")


def map_tables(seg_map: SegmentMap) -> list[tuple[pl.DataFrame, str]]:
    """A segment map's tables with their titles: its segments (condition, action), then, for a map of two
    dimensions, its score grid (the segment of each cell, the first dimension down, the second across)."""
    segments = [(s.name, s.when, s.action) for s in seg_map.segments]
    tables = [
        (
            pl.DataFrame(segments, schema=["segment", "when", "action"], orient="row"),
            f"{seg_map.source}: {seg_map.description} (bins {seg_map.bins}, match {seg_map.match})",
        )
    ]
    if len(seg_map.dimensions) == 2:
        row, col = seg_map.dimensions
        wide = (
            seg_map.grid()
            .unique(subset=[row, col], keep="first", maintain_order=True)
            .pivot(on=col, index=row, values="segment", sort_columns=True)
            .sort(row, descending=True)
        )
        wide = wide.rename({c: f"{col}={c}" for c in wide.columns if c != row})
        tables.append((wide.with_columns(pl.col(row).cast(pl.String)), "Score grid"))
    return tables


def rules_kind(path: Path) -> str:
    """What a rules file is, from its content: ``segments``, ``churn``, ``lifecycle``, ``programme``, ``columns``
    or ``pipeline``."""
    from loyalty_cli.io.columns import ENGINE_KEYS
    from loyalty_cli.io.userfiles import read_toml
    from loyalty_cli.pipeline import TOP_KEYS
    from loyalty_cli.schema import TABLES

    data = read_toml(
        path,
        what="Rules",
        hint="Check the file name and the folder you run loyalty from. The shipped files are in rules/: "
        "rfm_grid.toml, rfm_tertiles.toml, rfm_r_fm.toml, churn.toml, lifecycle.toml, columns.toml.",
    )
    if set(data) & (TOP_KEYS - set(ENGINE_KEYS)):  # as_of, output_dir, inputs, steps: a pipeline, even misspelt
        return "pipeline"
    if "lapsing" in data or "lapsed" in data:
        return "churn"
    if "rule" in data or "flag" in data:
        return "lifecycle"
    if "tier" in data or "expiry" in data or "near" in data:
        return "programme"
    if set(data) & {*TABLES, *ENGINE_KEYS}:  # a mapping, even with a misspelt table (its check then names it)
        return "columns"
    return "segments"


def check_file(
    path: Path, commands: Callable[[], Mapping[str, Collection[str]]], flag: Callable[[str], str]
) -> tuple[str, str]:
    """Check a rules file with the checks its kind makes on load: its kind (:func:`rules_kind`) and what was
    checked. A pipeline goes through the loader a run uses (``commands``: each command's options, asked for
    then; ``flag``: an option as a message names it), with the rules files its steps name."""
    from loyalty_cli.io.columns import load_mapping_file
    from loyalty_cli.pipeline import check_rules, load_pipeline
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.rules.lifecycle import load_lifecycle_rules

    kind = rules_kind(path)
    if kind == "churn":
        return kind, f"churn rules: {load_churn_rules(path).describe()}"
    if kind == "lifecycle":
        load_lifecycle_rules(path)
        return kind, "lifecycle rules, every customer covered, every stage reachable"
    if kind == "programme":
        from loyalty_cli.rules.programme import load_programme_rules

        return kind, f"programme rules: {load_programme_rules(path).describe()}"
    if kind == "columns":
        load_mapping_file(path)
        return kind, "column mapping"
    if kind == "pipeline":
        pipeline = load_pipeline(path, commands(), flag=flag)
        rules = check_rules(pipeline)
        steps = ", ".join(dict.fromkeys(s.command for s in pipeline.steps))
        return kind, (
            f"pipeline: {words.count(len(pipeline.steps), 'step')} ({steps}), inputs {', '.join(pipeline.inputs)}; "
            "every key, command and option known; "
            + (f"rules file{'s' if len(rules) > 1 else ''} {', '.join(rules)} checked" if rules else "no rules files")
        )
    seg_map = load_segment_rules(path)
    return kind, (
        f"{words.count(len(seg_map.segments), 'segment')}, bins {seg_map.bins}, match {seg_map.match}, "
        "every cell covered, every segment reachable"
    )
