"""The template context: plain, JSON-serialisable data with every number already formatted (pure functions).

The template only loops and prints; it decides nothing. The summary (:mod:`~loyalty_cli.report.summary`) and the
table of contents come first. Each section is built by its own module
(:mod:`~loyalty_cli.report.sections`, :mod:`~loyalty_cli.report.nps`, :mod:`~loyalty_cli.report.value`,
:mod:`~loyalty_cli.report.next_order`, :mod:`~loyalty_cli.report.products`,
:mod:`~loyalty_cli.report.lifecycle`, :mod:`~loyalty_cli.report.program`), the top of the page by
:mod:`~loyalty_cli.report.header`. The same :class:`ReportData` always gives the same context (sorted, fixed
float formats, no clock), which is what the golden-file test compares.
"""

from __future__ import annotations

from typing import Any

from loyalty_cli.report.data import ReportData, ReportMeta, ReportSettings
from loyalty_cli.report.header import contacts_note, header, key_numbers
from loyalty_cli.report.lifecycle import lifecycle_section
from loyalty_cli.report.next_order import due_section
from loyalty_cli.report.nps import nps_section
from loyalty_cli.report.products import products_section
from loyalty_cli.report.program import program_section
from loyalty_cli.report.sections import churn_section, retention_section, segments_section
from loyalty_cli.report.summary import summary
from loyalty_cli.report.value import clv_section, second_purchase_section

TITLE = "Customer loyalty report"


def build_context(data: ReportData, settings: ReportSettings, meta: ReportMeta) -> dict[str, Any]:
    """The whole template context (JSON-serialisable; every number formatted)."""
    sections = [
        segments_section(data, settings),
        nps_section(data, settings),
        retention_section(data, settings),
        churn_section(data, settings),
        clv_section(data, settings),
        second_purchase_section(data, settings),
        due_section(data, settings),
        products_section(data, settings),
        lifecycle_section(data, settings),
        program_section(data, settings),
    ]
    return {
        "title": TITLE,
        "as_of": str(data.as_of),
        "header": header(data, settings, meta),
        "contacts": contacts_note(data),
        "summary": summary(data, settings),
        "key_numbers": key_numbers(data, settings),
        "sections": sections,
        "contents": [
            {"id": "summary", "title": "Summary", "available": True},
            {"id": "key-numbers", "title": "Key numbers", "available": True},
            *({"id": s["id"], "title": s["title"], "available": s["available"]} for s in sections),
            {"id": "rules", "title": "Rules used", "available": True},
            {"id": "files", "title": "Files written", "available": True},
        ],
        "charts": [c["id"] for s in sections for c in s["charts"]],
        "files": [{"path": f.path, "what": f.what} for f in meta.files],
    }
