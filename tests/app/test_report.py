"""The report's application function: every section from its command's own application function, run once on
the shared inputs, and the reason instead of the tables where a section cannot be computed."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.app.churn import ChurnConfig, churn
from loyalty_cli.app.cltv import CltvSettings, cltv
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.lifecycle import LifecycleConfig, lifecycle
from loyalty_cli.app.report import ReportConfig, ReportResult, report
from loyalty_cli.app.report_inputs import data_totals, input_reads, recent_periods
from loyalty_cli.app.report_products import product_lines
from loyalty_cli.app.retention import RetentionConfig, retention
from loyalty_cli.app.segment import SegmentConfig, segment
from loyalty_cli.errors import ConfigError, RulesError, setting
from loyalty_cli.report import ReportMeta, build_context
from loyalty_cli.stage1.activity_parts import ActivityParts
from loyalty_cli.stage1.passes import Footprint

DATA = Path(__file__).parent.parent / "report" / "data"
SIDES = ("surveys", "contacts", "members", "points")


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    spec = InputSpec(
        transactions=[str(DATA / "transactions.csv")],
        **{kind: [str(DATA / f"{kind}.csv")] for kind in SIDES},
        as_of=date(2025, 1, 1),
        activity=True,
        lines=product_lines(),
    )
    return load_inputs(spec)


@pytest.fixture(scope="module")
def result(inputs: Inputs) -> ReportResult:
    return report(inputs, ReportConfig(min_n=5, products=True))


def test_every_section_is_there(result: ReportResult) -> None:
    assert result.missing == {}
    assert None not in (result.churn, result.cltv, result.nps, result.lifecycle, result.program, result.contacts)
    assert result.due is not None and result.products is not None
    assert list(result.reads) == ["transactions", *SIDES]
    context = build_context(result.data, result.settings, ReportMeta(inputs=()))
    assert [s["id"] for s in context["sections"] if s["available"]] == [
        "segments",
        "nps",
        "retention",
        "churn",
        "clv",
        "second-purchase",
        "next-order",
        "products",
        "lifecycle",
        "program",
    ]


def test_the_sections_are_the_commands_own_results(inputs: Inputs, result: ReportResult) -> None:
    assert result.segment.summary.equals(segment(inputs, SegmentConfig()).summary)
    statuses = churn(inputs, ChurnConfig())
    assert result.data.churn_summary is not None and result.data.churn_summary.equals(statuses.summary)
    assert result.churn is not None and result.churn.counts == statuses.counts
    assert result.data.cohorts.equals(retention(inputs, RetentionConfig()).cohorts)
    fit = cltv(inputs, CltvSettings()).fit
    assert result.data.clv is not None and result.data.clv.totals() == fit.totals()
    stages = lifecycle(inputs, LifecycleConfig(min_n=5, surveys=True, contacts=True))
    assert result.lifecycle is not None and result.lifecycle.summary.equals(stages.summary)
    # the 79 customers of the fixture, as the lifecycle counts them beside its prospects
    assert result.totals["customers"] == stages.facts.customers == 79


def test_products_and_due_dates_are_the_commands_own(inputs: Inputs, result: ReportResult) -> None:
    from loyalty_cli.app.next_order import NextOrderSettings, next_order
    from loyalty_cli.app.products import ProductsConfig, products

    # the product lines were read with stage 1, then let go (line-sized)
    assert not {"product_lines", "product_names", "product_categories"} & set(inputs.tables)
    assert result.products is not None and result.due is not None
    fresh = load_inputs(dataclasses.replace(inputs.spec, lines=product_lines()))
    command = products(fresh, ProductsConfig(top=3, min_n=5, min_support=5))
    assert command.cycle is not None and command.pairs is not None
    assert result.products.cycle["item"].to_list() == command.cycle["product"].head(10).to_list()
    assert result.products.pairs_found == command.pairs.height
    due = {row["within_days"]: row["due"] for row in next_order(inputs, NextOrderSettings()).due.iter_rows(named=True)}
    assert (result.due.overview["due_7d"], result.due.overview["due_30d"]) == (due[7], due[30])
    assert result.due.shared  # the CLV section's fit, not fitted again


def test_the_clv_section_beside_the_others_is_the_one_after_them(inputs: Inputs, result: ReportResult) -> None:
    # read in one pass, the CLV section is computed in a thread beside the other sections; read in passes (a
    # memory budget), after them: the same report either way
    assert inputs.passes == 1
    after = report(dataclasses.replace(inputs, passes=2), ReportConfig(min_n=5, products=False))
    assert result.cltv is not None and after.cltv is not None
    assert result.cltv.fit.parameters().equals(after.cltv.fit.parameters())
    assert result.cltv.fit.totals() == after.cltv.fit.totals()
    assert result.cltv.fit.customers.equals(after.cltv.fit.customers)
    assert result.due is not None and after.due is not None and result.due.overview == after.due.overview
    assert result.data.churn_summary is not None and result.data.churn_summary.equals(after.data.churn_summary)
    assert result.lifecycle is not None and after.lifecycle is not None
    assert result.lifecycle.summary.equals(after.lifecycle.summary)


def test_a_failing_section_beside_the_clv_fit_fails_at_once(inputs: Inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    # an error (or an interrupt) in a section computed while the CLV fit runs in its thread is raised at once, not
    # after the fit: here the fit is held until the error has been raised
    import loyalty_cli.app.report as app_report

    released, fit_started, fit_done = threading.Event(), threading.Event(), threading.Event()

    def held_fit(*args: object) -> tuple[None, str]:
        fit_started.set()
        released.wait(timeout=10)
        fit_done.set()
        return None, "held"

    def broken(*args: object, **kwargs: object) -> None:
        assert fit_started.wait(timeout=30)
        raise RuntimeError("retention broke")

    monkeypatch.setattr(app_report, "_cltv", held_fit)
    monkeypatch.setattr(app_report, "retention", broken)
    try:
        with pytest.raises(RuntimeError, match="retention broke"):
            report(inputs, ReportConfig(min_n=5, products=False))
        assert not fit_done.is_set()  # the fit is still held: the error did not wait for it
    finally:
        released.set()


def test_an_error_of_the_clv_fit_is_the_sections(inputs: Inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    import loyalty_cli.app.report as app_report

    def failing_fit(*args: object) -> None:
        raise RuntimeError("the fit broke")

    monkeypatch.setattr(app_report, "_cltv", failing_fit)
    with pytest.raises(RuntimeError, match="the fit broke"):
        report(inputs, ReportConfig(min_n=5, products=False))


def test_the_per_customer_lists_are_not_kept(result: ReportResult) -> None:
    # the page shows the churn and lifecycle summaries: their per-customer lists are emptied (columns kept), the
    # counts and summaries stay
    assert result.churn is not None and result.lifecycle is not None
    assert result.churn.ranked.height == result.churn.customers.height == result.lifecycle.todo.height == 0
    assert result.segment.rows.height == 0 and "segment" in result.segment.rows.frame.columns  # once NPS matched
    assert result.nps is not None and result.nps.segments is not None and result.nps.segments.height > 0
    assert {"status", "value_tier", "net_spend"} <= set(result.churn.ranked.columns)  # no reasons: not shown
    assert "stage" in result.lifecycle.todo.columns
    assert sum(result.churn.counts.values()) == result.totals["customers"] == 79
    assert result.lifecycle.summary["customers"].sum() > 79  # the customers and the contacts' prospects


def test_the_key_numbers_are_counted_by_hand(tmp_path: Path) -> None:
    # a: 10.00 on two days (a repeat customer); b: 5.00 then a return of 2.00; c: only a return (in no table)
    (tmp_path / "tx.csv").write_text(
        "customer_id,order_id,order_date,amount\n"
        "a,1,2024-01-05,4.00\na,2,2024-02-05,6.00\nb,3,2024-03-05,5.00\nb,4,2024-03-20,-2.00\nc,5,2024-04-01,-3.00\n"
    )
    found = report(load_inputs(InputSpec(transactions=[str(tmp_path / "tx.csv")], activity=True)), ReportConfig())
    assert found.totals == {
        "customers": 2,
        "revenue_cents": 1000,  # 4 + 6 + 5 - 2 - 3
        "purchase_orders": 3,
        "return_orders": 2,
        "no_purchase_customers": 1,
        "no_purchase_cents": -300,
        "no_purchase_return_orders": 1,
    }
    assert found.data.tables_cents == 1300
    # one repeat customer: nothing for the CLV model nor the next-order dates; no product lines read; and no NPS
    # nor programme without their inputs
    assert set(found.missing) == {"clv", "due", "products"}
    assert found.missing["clv"].startswith("the CLV model could not be fitted")
    assert (
        found.missing["products"] == f"left out unless asked for ({setting('products')}: it reads every line's product)"
    )
    assert found.missing["due"].startswith("no next-order dates: only 1 customer bought on two different days")
    assert found.nps is None and found.program is None and found.contacts is None


def test_a_section_that_cannot_be_computed_says_why(tmp_path: Path) -> None:
    (tmp_path / "tx.csv").write_text("customer_id,order_date,amount\na,2024-01-05,10\nb,2024-02-05,20\n")
    (tmp_path / "sv.csv").write_text("customer_id,responded_at,score\na,2024-01-10,\n")
    spec = InputSpec(transactions=[str(tmp_path / "tx.csv")], surveys=[str(tmp_path / "sv.csv")], activity=True)
    found = report(load_inputs(spec), ReportConfig())
    assert found.missing["churn"].startswith("no customer bought on two different days")
    assert found.missing["lifecycle"] == (
        "the stages start from the churn status, which is not available: " + found.missing["churn"]
    )
    assert found.missing["nps"] == "the surveys have no scored answer before the as-of date"
    assert found.churn is None and found.lifecycle is None and found.nps is None
    assert found.data.second_summary is not None and found.data.second_summary.height == 1
    assert found.reads["surveys"].rows == 1 and found.reads["surveys"].people == 1


@pytest.mark.parametrize(
    ("values", "name"),
    [({"top": 0}, "top"), ({"point_value": -1.0}, "point_value"), ({"period": "year"}, "period")],
)
def test_the_config_rejects_a_bad_value_naming_the_setting(values: dict, name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ReportConfig(**values)
    assert raised.value.message.startswith(setting(name))


def test_the_rules_are_loaded_when_the_config_is_built(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="nope.toml"):
        ReportConfig(lifecycle_rules=str(tmp_path / "nope.toml"))
    config = ReportConfig(rules="rfm_tertiles")
    assert config.segment.rfm.bins == config.settings().rfm.bins == 3
    assert config.settings().segments is config.segment.segment_map


def test_the_products_section_is_asked_for(inputs: Inputs) -> None:
    # the same inputs (their product lines read): without the setting the products are not computed
    found = report(inputs, ReportConfig(min_n=5))
    assert found.products is None
    assert found.missing == {
        "products": f"left out unless asked for ({setting('products')}: it reads every line's product)"
    }


def test_read_in_passes_the_totals_come_from_the_activity_parts_never_merged(
    tiny_footprint: Footprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read in passes (a memory budget), the activity table stays in its parts on disk (~24M rows at 50M lines): the
    # totals, the last two periods and the days read are added up part by part (whole numbers: the same as from the
    # whole table), and no section merges the parts. When the report merged them, it peaked at 4.2 GB on 50M lines
    # under a 1 GB budget.
    spec = InputSpec(transactions=[str(DATA / "transactions.csv")], as_of=date(2025, 1, 1), activity=True)
    one = load_inputs(spec)
    many = load_inputs(dataclasses.replace(spec, memory_limit=6_000))
    assert many.passes > 1

    def merged(self: ActivityParts) -> None:
        raise AssertionError("the activity parts were merged")

    monkeypatch.setattr(ActivityParts, "collect", merged)
    assert data_totals(many) == data_totals(one)
    periods = recent_periods(many, "month")
    assert periods is not None and periods["customers"].sum() > 0
    assert_frame_equal(periods, recent_periods(one, "month"), check_exact=True)  # type: ignore[arg-type]
    assert input_reads(many) == input_reads(one)
    assert input_reads(many)["transactions"].first is not None
    found = report(many, ReportConfig(min_n=5))
    assert found.totals == data_totals(one) and "activity" not in many.tables
