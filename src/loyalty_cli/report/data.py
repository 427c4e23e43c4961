"""The plain data the report renders: every table of every section, the settings shown in the header and what
each input held. The application layer (:mod:`loyalty_cli.app.report`) fills them from the commands' results;
nothing here computes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from loyalty_cli.metrics.cltv import CltvConfig, CltvFit
from loyalty_cli.metrics.nps import NpsConfig
from loyalty_cli.metrics.program import ProgramConfig
from loyalty_cli.metrics.rfm import RfmConfig
from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig
from loyalty_cli.report.due_data import DueData
from loyalty_cli.report.format import Money
from loyalty_cli.report.product_data import ProductsData
from loyalty_cli.rules.churn import ChurnRules
from loyalty_cli.rules.lifecycle import LifecycleRules, load_lifecycle_rules
from loyalty_cli.rules.segments import SegmentMap


@dataclass(frozen=True)
class ReportSettings:
    """The rules and parameters every section used (shown in the report header)."""

    segments: SegmentMap
    churn: ChurnRules
    rfm: RfmConfig = field(default_factory=RfmConfig)
    nps: NpsConfig = field(default_factory=NpsConfig)
    cltv: CltvConfig = field(default_factory=CltvConfig)
    second_purchase: SecondPurchaseConfig = field(default_factory=SecondPurchaseConfig)
    lifecycle: LifecycleRules = field(default_factory=load_lifecycle_rules)
    program: ProgramConfig = field(default_factory=ProgramConfig)
    retention_period: str = "month"
    repeat_window_days: int = 90
    top: int = 10  # rows of the top-customer and comment tables
    currency: str | None = None  # an ISO code shown on money (None: plain numbers)

    @property
    def money(self) -> Money:
        """How money is shown: with the currency, when one was given."""
        return Money(self.currency)


@dataclass
class ReportData:
    """Every table the report shows; ``*_missing`` says why a section has no tables (None for the NPS and the
    programme: their input was not given)."""

    as_of: date
    customers: int
    revenue_cents: int  # net revenue of the whole data (as `loyalty validate`), returns included
    purchase_orders: int
    return_orders: int  # of the whole data (as `loyalty validate`)
    segments: pl.DataFrame
    retention: pl.DataFrame  # the long table
    cohorts: pl.DataFrame
    retention_wide: dict[str, pl.DataFrame]
    churn_summary: pl.DataFrame | None = None
    churn_rates: pl.DataFrame | None = None
    churn_missing: str | None = None
    clv: CltvFit | None = None
    clv_missing: str | None = None
    second_summary: pl.DataFrame | None = None
    second_shares: pl.DataFrame | None = None
    second_curve: pl.DataFrame | None = None
    second_value: pl.DataFrame | None = None
    second_nudge: int = 0
    second_caveat: str | None = None  # the history starts before the data
    nps_headline: pl.DataFrame | None = None
    nps_distribution: pl.DataFrame | None = None
    nps_trend: pl.DataFrame | None = None
    nps_segments: pl.DataFrame | None = None
    nps_comments: pl.DataFrame | None = None
    nps_counts: dict[str, int] = field(default_factory=dict)
    nps_missing: str | None = None
    contacts: dict[str, int] | None = None
    lifecycle_summary: pl.DataFrame | None = None  # stage_summary: one row per rule
    lifecycle_flags: pl.DataFrame | None = None  # flag_summary
    lifecycle_facts: dict[str, Any] = field(default_factory=dict)  # what was counted (for the section's notes)
    lifecycle_missing: str | None = None
    program: pl.DataFrame | None = None  # the long table of ``loyalty program`` (section, metric, group, ...)
    program_points: bool = False  # a points ledger was given
    program_missing: str | None = None
    due: DueData | None = None  # when the repeat customers are due (``loyalty next-order``'s dates, summed up)
    due_missing: str | None = None
    products: ProductsData | None = None  # ``loyalty products``'s tables, their top rows
    products_missing: str | None = None
    # the retention long table split by acquisition (``by, split``, then the long table's columns), with the
    # report's ``retention_by`` (None without one)
    retention_split: pl.DataFrame | None = None
    # the last two complete periods before the as-of date (the summary): one row each, the latest last
    # (:func:`loyalty_cli.app.report_inputs.recent_periods`); None when the data does not cover one whole period
    recent: pl.DataFrame | None = None
    # customers with orders but no purchase (only returns): in no table; revenue_cents includes their net value
    no_purchase_customers: int = 0
    no_purchase_cents: int = 0
    no_purchase_return_orders: int = 0

    @property
    def tables_cents(self) -> int:
        """Net revenue of the customers in the tables (those with a purchase)."""
        return self.revenue_cents - self.no_purchase_cents


@dataclass(frozen=True)
class InputRead:
    """What one input held once read: its files, its rows and the people in them, the rejected rows per reason
    and column (most first), the rows left out as dated on or after the as-of date, and (the transactions) a
    note on the customers left out of every table."""

    kind: str
    files: tuple[str, ...]
    rows: int = 0
    people: int = 0
    rejected: tuple[tuple[str, str | None, int], ...] = ()
    left_out: int = 0
    note: str | None = None
    first: date | None = None  # the first and last day of the rows read (None: no date)
    last: date | None = None


@dataclass(frozen=True)
class InputInfo:
    """One input as the header shows it: what was read, how much, and what was left out and why."""

    kind: str  # transactions, surveys, contacts, members, points
    files: tuple[str, ...] = ()  # as the header shows them: a folder of many files is one line
    counts: tuple[str, ...] = ()  # e.g. ("3,000 customers", "12,345 purchase orders")
    dropped: tuple[str, ...] = ()  # e.g. ("12 rows: missing customer id",)
    missing: str | None = None  # not given: what to pass
    dates: str = ""  # the days its rows cover, e.g. "orders from 2023-01-01 to 2024-12-31"


@dataclass(frozen=True)
class FileInfo:
    path: str
    what: str


@dataclass(frozen=True)
class ReportMeta:
    inputs: tuple[InputInfo, ...]
    files: tuple[FileInfo, ...] = ()
    extra_rules: tuple[tuple[str, str], ...] = field(default_factory=tuple)
