"""``loyalty rules``: show segment maps; check any rules file (segment maps, churn, lifecycle, columns) or a
pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loyalty_cli.cli import common
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


@rules_app.command("show", epilog=SHOW_EXAMPLES)
@common.handle_errors
def show(
    name: Annotated[
        str | None, typer.Argument(metavar="MAP", help="Built-in map name or .toml file (default: all built-in maps).")
    ] = None,
) -> None:
    """List the built-in maps, or show one map: its segments, conditions and actions, and its grid."""
    from loyalty_cli.app.rules import builtin_maps_table, map_tables
    from loyalty_cli.rules.segments import load_segment_rules

    if name is None:
        tables = [(builtin_maps_table(), "Built-in segment maps (loyalty rules show NAME)")]
    else:
        tables = map_tables(load_segment_rules(name))
    out = Output()
    for table, title in tables:
        out.table(table, title=title)


@rules_app.command("check", epilog=CHECK_EXAMPLES)
@common.handle_errors
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
    from loyalty_cli.app.rules import check_file
    from loyalty_cli.cli.flags import option as option_flag
    from loyalty_cli.cli.steps import pipeline_commands

    out = Output()
    for path in files:
        kind, what = check_file(path, pipeline_commands, option_flag)
        more = "; loyalty run --dry-run also reads the inputs" if kind == "pipeline" else ""
        out.out.print(printable(f"{path}: OK ({what}{more})"), markup=False)
