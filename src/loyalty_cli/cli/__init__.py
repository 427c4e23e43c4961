"""The ``loyalty`` command: a thin layer that parses options, calls the library, writes, reports.

Only this package imports typer and rich. Heavy modules (polars, numpy) are imported inside commands so
that ``loyalty --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loyalty_cli import __version__
from loyalty_cli.cli import churn as churn_cmd
from loyalty_cli.cli import cltv as cltv_cmd
from loyalty_cli.cli import data, rules, segment
from loyalty_cli.cli import lifecycle as lifecycle_cmd
from loyalty_cli.cli import nps as nps_cmd
from loyalty_cli.cli import program as program_cmd
from loyalty_cli.cli import report as report_cmd
from loyalty_cli.cli import retention as retention_cmd
from loyalty_cli.cli import run as run_cmd
from loyalty_cli.cli import second_purchase as second_purchase_cmd
from loyalty_cli.cli import uplift as uplift_cmd
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


segment.register(app)
cltv_cmd.register(app)
data.register(app)
rules.register(app)
run_cmd.register(app)
nps_cmd.register(app)
second_purchase_cmd.register(app)
retention_cmd.register(app)
churn_cmd.register(app)
lifecycle_cmd.register(app)
report_cmd.register(app)
uplift_cmd.register(app)
program_cmd.register(app)


def main() -> None:
    app()
