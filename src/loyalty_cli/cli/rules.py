"""``loyalty rules``: show and check segment maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional  # noqa: UP035

import typer

from loyalty_cli.cli.common import handle_errors
from loyalty_cli.cli.console import Output

rules_app = typer.Typer(help="Show and check segment maps (rules/*.toml).", no_args_is_help=True)


def _grid_table(seg_map):  # noqa: ANN001, ANN202
    import polars as pl

    grid = seg_map.grid()
    dims = [d for d in seg_map.dimensions]
    if len(dims) != 2:
        return None
    row, col = dims
    wide = (
        grid.unique(subset=[row, col], keep="first", maintain_order=True)
        .pivot(on=col, index=row, values="segment", sort_columns=True)
        .sort(row, descending=True)
    )
    return wide.rename({c: f"{col}={c}" for c in wide.columns if c != row}).with_columns(
        pl.col(row).cast(pl.String).alias(row))


@rules_app.command("show")
@handle_errors
def show(
    name: Annotated[Optional[str], typer.Argument(help="Built-in map name or .toml file (default: all "  # noqa: UP045
                                                  "built-in maps).")] = None,
) -> None:
    """List the built-in maps, or show one map: its segments, conditions and actions, and its grid."""
    import polars as pl

    from loyalty_cli.segments import builtin_maps, load_segment_rules

    out = Output()
    if name is None:
        rows = [load_segment_rules(n) for n in builtin_maps()]
        out.table(pl.DataFrame({
            "name": [m.name for m in rows], "bins": [m.bins for m in rows], "match": [m.match for m in rows],
            "segments": [len(m.segments) for m in rows], "description": [m.description for m in rows],
        }), title="Built-in segment maps (loyalty rules show NAME)")
        return
    seg_map = load_segment_rules(name)
    out.table(pl.DataFrame({
        "segment": seg_map.names, "when": [s.when for s in seg_map.segments],
        "action": [s.action for s in seg_map.segments],
    }), title=f"{seg_map.source}: {seg_map.description} (bins {seg_map.bins}, match {seg_map.match})")
    grid = _grid_table(seg_map)
    if grid is not None:
        out.table(grid, title="Score grid")


@rules_app.command("check")
@handle_errors
def check(files: Annotated[list[Path], typer.Argument(help="Segment map files to check.")]) -> None:
    """Check segment maps: syntax, known columns, every score cell covered, no overlaps (unless ordered),
    every segment reachable. Exit code 1 on the first problem."""
    from loyalty_cli.segments import load_segment_rules

    out = Output()
    for path in files:
        seg_map = load_segment_rules(path)
        out.out.print(f"{path}: OK ({len(seg_map.segments)} segments, bins {seg_map.bins}, match "
                      f"{seg_map.match}, every cell covered, every segment reachable)", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules", rich_help_panel="Rules")
