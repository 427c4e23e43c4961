"""``loyalty rules``: show segment maps; check any rules file (segment maps, churn, lifecycle, columns) or a
pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli.common import handle_errors
from loyalty_cli.cli.console import Output, printable

SHOW_EXAMPLES = """
Examples:

  loyalty rules show

  loyalty rules show rfm_grid

  loyalty rules show my_map.toml
"""
CHECK_EXAMPLES = """
Examples:

  loyalty rules check my_map.toml

  loyalty rules check rules/*.toml

  loyalty rules check examples/pipeline.toml
"""
RULES_EXAMPLES = """
Examples:

  loyalty rules show rfm_grid

  loyalty rules check my_map.toml examples/pipeline.toml
"""
rules_app = typer.Typer(
    help="Show segment maps and check rules files (rules/*.toml) and pipelines.",
    epilog=RULES_EXAMPLES,
    no_args_is_help=True,
)


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
        pl.col(row).cast(pl.String).alias(row)
    )


@rules_app.command("show", epilog=SHOW_EXAMPLES)
@handle_errors
def show(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="MAP",
            help="Built-in map name or .toml file (default: all "  # noqa: UP045
            "built-in maps).",
        ),
    ] = None,
) -> None:
    """List the built-in maps, or show one map: its segments, conditions and actions, and its grid."""
    import polars as pl

    from loyalty_cli.rules.segments import builtin_maps, load_segment_rules

    out = Output()
    if name is None:
        rows = [load_segment_rules(n) for n in builtin_maps()]
        out.table(
            pl.DataFrame(
                {
                    "name": [m.name for m in rows],
                    "bins": [m.bins for m in rows],
                    "match": [m.match for m in rows],
                    "segments": [len(m.segments) for m in rows],
                    "description": [m.description for m in rows],
                }
            ),
            title="Built-in segment maps (loyalty rules show NAME)",
        )
        return
    seg_map = load_segment_rules(name)
    out.table(
        pl.DataFrame(
            {
                "segment": seg_map.names,
                "when": [s.when for s in seg_map.segments],
                "action": [s.action for s in seg_map.segments],
            }
        ),
        title=f"{seg_map.source}: {seg_map.description} (bins {seg_map.bins}, match {seg_map.match})",
    )
    grid = _grid_table(seg_map)
    if grid is not None:
        out.table(grid, title="Score grid")


def rules_kind(path: Path) -> str:
    """What a rules file is, from its content: ``segments``, ``churn``, ``lifecycle``, ``columns`` or
    ``pipeline``."""
    from loyalty_cli.io.userfiles import read_toml
    from loyalty_cli.pipeline import TOP_KEYS
    from loyalty_cli.schema import TABLES

    data = read_toml(
        path,
        what="Rules",
        hint="Check the file name and the folder you run loyalty from. The shipped files are in rules/: "
        "rfm_grid.toml, rfm_tertiles.toml, rfm_r_fm.toml, churn.toml, lifecycle.toml, columns.toml.",
    )
    if set(data) & TOP_KEYS:  # as_of, output_dir, inputs, steps: a pipeline, even with a misspelt key
        return "pipeline"
    if "lapsing" in data or "lapsed" in data:
        return "churn"
    if "rule" in data or "flag" in data:
        return "lifecycle"
    if set(data) & set(TABLES):  # a mapping, even with a misspelt table (its check then names it)
        return "columns"
    return "segments"


@rules_app.command("check", epilog=CHECK_EXAMPLES)
@handle_errors
def check(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Rules files to check: segment maps, churn rules, lifecycle rules, column mappings or pipelines.",
        ),
    ],
) -> None:
    """Check rules files, each with the checks of its kind, told from its content. Segment maps: syntax, known
    columns, every score cell covered, no overlaps (unless ordered), every segment reachable; churn and lifecycle
    rules: the checks their commands make on load; column mappings: known tables and fields; pipelines (loyalty
    run): keys, inputs, commands and their options, and the rules files the steps name (loyalty run --dry-run
    also reads the inputs). Exit code 1 on the first problem."""
    from loyalty_cli.io.columns import load_mapping_file
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.rules.lifecycle import load_lifecycle_rules
    from loyalty_cli.rules.segments import load_segment_rules

    out = Output()
    for path in files:
        kind = rules_kind(path)
        if kind == "churn":
            rules = load_churn_rules(path)
            what = f"churn rules: {rules.describe()}"
        elif kind == "lifecycle":
            load_lifecycle_rules(path)
            what = "lifecycle rules, every customer covered, every stage reachable"
        elif kind == "columns":
            load_mapping_file(path)
            what = "column mapping"
        elif kind == "pipeline":
            what = _check_pipeline(path)
        else:
            seg_map = load_segment_rules(path)
            what = (
                f"{words.count(len(seg_map.segments), 'segment')}, bins {seg_map.bins}, match {seg_map.match}, "
                "every cell covered, every segment reachable"
            )
        out.out.print(printable(f"{path}: OK ({what})"), markup=False)


def _check_pipeline(path: Path) -> str:
    """A pipeline through the loader ``loyalty run`` uses, and the rules files its steps name."""
    from loyalty_cli.cli.flags import option as option_flag
    from loyalty_cli.cli.run import check_step_rules, pipeline_commands
    from loyalty_cli.pipeline import load_pipeline

    pipeline = load_pipeline(path, pipeline_commands(), flag=option_flag)
    rules = check_step_rules(pipeline)
    steps = ", ".join(dict.fromkeys(s.command for s in pipeline.steps))
    return (
        f"pipeline: {words.count(len(pipeline.steps), 'step')} ({steps}), inputs {', '.join(pipeline.inputs)}; "
        "every key, command and option known; "
        + (f"rules file{'s' if len(rules) > 1 else ''} {', '.join(rules)} checked" if rules else "no rules files")
        + "; loyalty run --dry-run also reads the inputs"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules", rich_help_panel="Rules")
