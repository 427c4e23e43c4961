"""The ``loyalty`` command: a thin layer that parses options, calls the library, writes, reports.

Only this package imports typer and rich. Heavy modules (polars, numpy) are imported inside commands so
that ``loyalty --help`` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from loyalty_cli import __version__
from loyalty_cli.cli import (
    churn,
    cltv,
    data,
    lifecycle,
    next_order,
    nps,
    plan_test,
    products,
    program,
    reminders,
    report,
    retention,
    rules,
    run,
    second_purchase,
    segment,
    uplift,
)
from loyalty_cli.cli.help import HelpGroup

app = typer.Typer(
    name="loyalty",
    cls=HelpGroup,
    help="Customer loyalty analytics from shop, CRM and survey exports: RFM segments, NPS, churn, "
    "retention, CLV.\n\nExit codes: 0 ok, 1 bad data or rules, 2 usage, 3 model failure, 4 pipeline locked, "
    "130 interrupted, 141 output pipe closed by its reader.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loyalty {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Customer loyalty analytics from shop, CRM and survey exports."""


# the commands, in the order `loyalty --help` lists them in their panels: (function, examples, panel)
for function, examples, panel in (
    (segment.segment, segment.EXAMPLES, "Analyse"),
    (cltv.cltv, cltv.EXAMPLES, "Analyse"),
    (data.validate, data.VALIDATE_EXAMPLES, "Data"),
    (data.sample, data.SAMPLE_EXAMPLES, "Data"),
    (run.run, run.EXAMPLES, "Automate"),
    (nps.nps, nps.EXAMPLES, "Analyse"),
    (second_purchase.second_purchase, second_purchase.EXAMPLES, "Analyse"),
    (next_order.next_order, next_order.EXAMPLES, "Analyse"),
    (retention.retention, retention.EXAMPLES, "Analyse"),
    (churn.churn, churn.EXAMPLES, "Analyse"),
    (lifecycle.lifecycle, lifecycle.EXAMPLES, "Analyse"),
    (report.report, report.EXAMPLES, "Report"),
    (uplift.uplift, uplift.EXAMPLES, "Analyse"),
    (plan_test.plan_test, plan_test.EXAMPLES, "Analyse"),
    (program.program, program.EXAMPLES, "Analyse"),
    (products.products, products.EXAMPLES, "Analyse"),
    (reminders.reminders, reminders.EXAMPLES, "Analyse"),
):
    app.command(function.__name__.replace("_", "-"), epilog=examples, rich_help_panel=panel)(function)
app.add_typer(rules.rules_app, name="rules", rich_help_panel="Rules")


def main() -> None:
    budget_allocator(sys.argv[1:])
    app()


#: jemalloc (Polars' allocator) giving freed pages back at once instead of after 10 s
RETURN_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"


def budget_allocator(argv: Sequence[str]) -> None:
    """With a memory budget on the command line (``--memory-limit SIZE``, not ``none``), Polars' allocator gives
    freed pages back at once, so that a phase's peak does not come on top of the last one's leftovers: 50M Parquet
    lines with ``--memory-limit 1GB``, ``segment`` peaked at 901 MiB instead of 1035 MiB. It costs CPU (10M
    lines: ~35% more user+sys time, page faults), so only when a budget is asked for. Read when Polars loads, so
    set before any command runs; a value in the environment wins."""
    for i, arg in enumerate(argv):
        if arg == "--":
            return
        if arg.startswith("--memory-limit="):
            value: str | None = arg.split("=", 1)[1]
        elif arg == "--memory-limit":
            value = argv[i + 1] if i + 1 < len(argv) else None
        else:
            continue
        if value is not None and value.strip().lower() not in ("", "none"):
            os.environ.setdefault("_RJEM_MALLOC_CONF", RETURN_AT_ONCE)
        return
