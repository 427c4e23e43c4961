"""The ``loyalty`` command: a thin layer that parses options, calls the library, writes, reports.

Only this package imports typer and rich. Heavy modules (polars, numpy) are imported inside commands so
that ``loyalty --help`` starts fast.
"""

from __future__ import annotations

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
    program,
    report,
    retention,
    rules,
    run,
    second_purchase,
    segment,
    uplift,
)
from loyalty_cli.cli.console import HelpGroup

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
):
    app.command(function.__name__.replace("_", "-"), epilog=examples, rich_help_panel=panel)(function)
app.add_typer(rules.rules_app, name="rules", rich_help_panel="Rules")


def main() -> None:
    app()
