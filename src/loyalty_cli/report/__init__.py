"""The HTML report: section tables (``sections``), a formatted context (``context``), inline SVG charts
(``charts``) and the Jinja2 page (``render``). Pure functions: the CLI reads the inputs and writes the file."""

from loyalty_cli.report.context import FileInfo, InputInfo, ReportMeta, build_context
from loyalty_cli.report.render import render_html
from loyalty_cli.report.sections import ReportData, ReportSettings, compute_report

__all__ = [
    "FileInfo",
    "InputInfo",
    "ReportData",
    "ReportMeta",
    "ReportSettings",
    "build_context",
    "compute_report",
    "render_html",
]
