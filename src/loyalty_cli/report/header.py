"""The top of the report: what each input held, the rules and settings used, and the key numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import polars as pl

from loyalty_cli.errors import setting
from loyalty_cli.report.data import InputInfo, InputRead, ReportData, ReportMeta, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_num, fmt_pct
from loyalty_cli.report.nps import NO_SURVEYS
from loyalty_cli.report.program import program_figures, program_rule
from loyalty_cli.words import count

#: the inputs besides the transactions, in the header's order, and what to pass when one is not given (the
#: settings as references, worded when the page is rendered)
NOT_GIVEN = {
    "surveys": f"not given: pass {setting('surveys')} FILE for the NPS section",
    "contacts": f"not given: pass {setting('contacts')} FILE for contact counts and prospects",
    "members": f"not given: pass {setting('members')} FILE for the loyalty programme section",
    "points": f"not given: pass {setting('points')} FILE (with {setting('members')}) for points, liability and "
    "breakage",
}
#: the points ledger given without the members: it is not read
POINTS_UNREAD = f"given without {setting('members')}, so not read: pass {setting('members')} FILE too"


def input_infos(
    reads: Mapping[str, InputRead], data: ReportData, *, points_unread: bool = False
) -> tuple[InputInfo, ...]:
    """How the header shows the inputs: the transactions, then each other input read or what to pass for it."""
    tx = reads["transactions"]
    returns = count(data.no_purchase_return_orders, "return or cancellation order")
    counts = (
        count(data.customers, "customer"),
        count(data.purchase_orders, "purchase order"),
        count(data.return_orders, "return or cancellation order"),
    )
    dropped = _dropped(tx, (f"{tx.note} ({returns})",) if tx.note else ())
    infos = [InputInfo("transactions", files_read(tx.files), counts, dropped, dates=_dates(tx, "orders"))]
    for kind, missing in NOT_GIVEN.items():
        if kind in reads:
            infos.append(_info(reads[kind]))
        else:
            infos.append(InputInfo(kind, missing=POINTS_UNREAD if kind == "points" and points_unread else missing))
    return tuple(infos)


def _dropped(read: InputRead, more: Sequence[str] = ()) -> tuple[str, ...]:
    """Rows left out and why: rejected rows by reason and column, rows dated on or after the as-of date, and
    ``more`` (what else was left out: customers with no purchase)."""
    lines = [
        f"{count(n, 'row')} rejected: {reason}" + (f" (column {column})" if column else "")
        for reason, column, n in read.rejected
    ]
    if read.left_out:
        lines.append(f"{count(read.left_out, 'row')} dated on or after the as-of date left out")
    return (*lines, *more) or ("no row left out",)


def _info(read: InputRead) -> InputInfo:
    """One of the other inputs: what was read, how much, what was left out."""
    rows, people = read.rows, read.people
    counts = {
        "surveys": (count(rows, "answer"), count(people, "identified respondent")),
        "contacts": (count(rows, "row"), count(people, "customer")),
        "members": (count(people, "member"), count(rows, "row")),
        "points": (count(rows, "ledger row"), count(people, "customer")),
    }[read.kind]
    return InputInfo(read.kind, files_read(read.files), counts, _dropped(read), dates=_dates(read, DATED[read.kind]))


#: what the dates of each input are
DATED = {"surveys": "answers", "contacts": "sign-ups", "members": "enrolments", "points": "ledger rows"}


def _dates(read: InputRead, what: str) -> str:
    """The days the rows of an input cover: ``orders from 2023-01-01 to 2024-12-31`` (empty without dates)."""
    if read.first is None:
        return ""
    return f"{what} from {read.first} to {read.last}" if read.first != read.last else f"{what} on {read.first}"


#: a folder with more files than this is shown as one line: the folder and its file count
FOLDER_FILES = 3


def files_read(files: Sequence[str]) -> tuple[str, ...]:
    """The files of an input as the header lists them: each file, except that a folder holding more than
    :data:`FOLDER_FILES` of them is one line, ``exports/ (305 files)``; in the order first read."""
    folders: dict[str, list[str]] = {}
    for path in files:
        folders.setdefault(str(PurePath(path).parent), []).append(path)
    lines: list[str] = []
    for folder, paths in folders.items():
        if len(paths) > FOLDER_FILES:
            lines.append(f"{PurePath(folder).as_posix().rstrip('/')}/ ({count(len(paths), 'file')})")
        else:
            lines.extend(paths)
    return tuple(lines)


def contacts_note(data: ReportData) -> str:
    """The contacts in one line (empty without them)."""
    if data.contacts is None:
        return ""
    c = data.contacts
    return (
        f"{count(c['customers'], 'contact')}, {c['with_purchase']:,} with a purchase, "
        f"{count(c['prospects'], 'prospect')} (no purchase yet)"
        + (f", {c['consent']:,} with email consent" if "consent" in c else "")
    )


def header(data: ReportData, settings: ReportSettings, meta: ReportMeta) -> dict[str, Any]:
    inputs = [
        {
            "kind": i.kind,
            "files": list(i.files),
            "counts": list(i.counts),
            "dropped": list(i.dropped),
            "missing": i.missing or "",
            "dates": i.dates,
        }
        for i in meta.inputs
    ]
    rfm = settings.rfm
    sp = settings.second_purchase
    nps = settings.nps
    clv = settings.cltv
    rules = [
        ("RFM scores", f"{rfm.method}, {rfm.bins} bins; F = {rfm.column('f')}, M = {rfm.column('m')}"),
        ("Segments", settings.segments.source),
        ("Churn", f"{settings.churn.source}: {settings.churn.describe()}"),
        (
            "Retention",
            f"{settings.retention_period}ly cohorts; 'within' = any of {data.retention['horizon'][0]} "
            f"{settings.retention_period}s from k; repeat rate within {settings.repeat_window_days} days",
        ),
        (
            "NPS",
            f"{nps.label} interval; groups under {count(nps.min_n, 'answer')} suppressed; "
            f"dedupe {nps.dedupe}; trend by {nps.period}",
        ),
        (
            "CLV",
            f"{clv.model} + Gamma-Gamma, unit {clv.unit}, {clv.horizon_months} months, discount "
            f"{clv.discount_monthly:.2%} a month",
        ),
        (
            "Second purchase",
            f"window {sp.window.describe()}; numbers from fewer than {count(sp.min_n, 'customer')} left "
            f"empty; nudge list closing {count(sp.closing_days, 'day')}",
        ),
        (
            "Lifecycle",
            f"{settings.lifecycle.source}: {len(settings.lifecycle.rules)} rules (the first that holds "
            f"decides the stage and action), {len(settings.lifecycle.flags)} flags",
        ),
        *([program_rule(settings)] if data.program is not None else []),
        *meta.extra_rules,
    ]
    return {"inputs": inputs, "rules": [{"name": k, "value": v} for k, v in rules]}


def key_numbers(data: ReportData, settings: ReportSettings) -> list[dict[str, str]]:
    window = settings.repeat_window_days
    money = settings.money
    all_row = data.cohorts.filter(pl.col("cohort") == "all").row(0, named=True)
    rate = all_row["repeat_rate"]
    customers_note, revenue_note = f"bought before {data.as_of}", "returns included"
    if data.no_purchase_customers:  # in no table: say so, and how the net revenue splits
        who = f"{count(data.no_purchase_customers, 'customer')} with no purchase, only returns"
        customers_note += f"; {who}, left out"
        revenue_note += (
            f": {money(data.tables_cents / 100)} from the {count(data.customers, 'customer')} in the tables, "
            f"{money(data.no_purchase_cents / 100)} from {who}, in none"
        )
    keys = [
        {"label": "Customers", "value": fmt_int(data.customers), "note": customers_note},
        {"label": "Net revenue", "value": money(data.revenue_cents / 100), "note": revenue_note},
        {
            "label": f"Repeat rate ({window} days)",
            "value": fmt_pct(rate) if rate is not None else "n/a",
            "note": f"second purchase day within {count(window, 'day')}: {all_row['repeat_customers']:,} of "
            f"{count(all_row['window_closed'], 'customer')} whose window is over",
        },
    ]
    if data.nps_headline is None:
        keys.append({"label": "NPS", "value": "n/a", "note": data.nps_missing or NO_SURVEYS})
    else:
        for row in data.nps_headline.iter_rows(named=True):
            if row["suppressed"]:
                keys.append(
                    {
                        "label": f"NPS ({row['survey_type']})",
                        "value": "n/a",
                        "note": f"n = {row['responses']:,}: too few answers",
                    }
                )
            else:
                keys.append(
                    {
                        "label": f"NPS ({row['survey_type']})",
                        "value": fmt_num(row["nps"]),
                        "note": f"{fmt_num(row['ci_low'])} to {fmt_num(row['ci_high'])}, n = {row['responses']:,}",
                    }
                )
    if data.clv is None:
        keys.append({"label": "Predicted CLV", "value": "n/a", "note": "model not fitted (see the CLV section)"})
    else:
        s = data.clv.config.suffix
        total = data.clv.totals()[f"predicted_clv_{s}"]
        keys.append(
            {
                "label": f"Predicted CLV ({data.clv.config.horizon_months} months)",
                "value": money(total),
                "note": "all customers, discounted",
            }
        )
    if data.program is not None:
        fig = program_figures(data.program)
        active = settings.program.active_days
        keys.append(
            {
                "label": "Members",
                "value": fmt_int(fig["members"][0]),
                "note": f"enrolment rate {fmt_pct(fig['enrolment_rate'][0])} of customers; "
                f"{fmt_int(fig[f'active_members_{active}d'][0])} active ({active} days)",
            }
        )
    return keys
