"""The HTML report, rendering only: the plain data of every section (``data``, filled by
:mod:`loyalty_cli.app.report` from the commands' results), the formatted context (``context``, one module per
section), inline SVG charts (``charts``) and the Jinja2 page (``render``). Pure functions: the front end
writes the file."""

from loyalty_cli.report.context import build_context
from loyalty_cli.report.data import FileInfo, InputInfo, InputRead, ReportData, ReportMeta, ReportSettings
from loyalty_cli.report.header import input_infos
from loyalty_cli.report.render import render_html, worded

__all__ = [
    "FileInfo",
    "InputInfo",
    "InputRead",
    "ReportData",
    "ReportMeta",
    "ReportSettings",
    "build_context",
    "input_infos",
    "render_html",
    "worded",
]
