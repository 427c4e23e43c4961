"""The report's section on when customers are due (:mod:`loyalty_cli.app.report_next_order`): the numbers of
``loyalty next-order``, from the CLV section's fit when it is the same model, and the reason when there is none."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.cltv import CltvSettings, cltv
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.next_order import NextOrderSettings, next_order
from loyalty_cli.app.report_next_order import due_data
from loyalty_cli.metrics.next_order_weeks import due_overview

DATA = Path(__file__).parent.parent / "report" / "data"


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    spec = InputSpec(transactions=[str(DATA / "transactions.csv")], as_of=date(2025, 1, 1), activity=True)
    return load_inputs(spec)


def test_the_counts_are_the_next_order_commands(inputs: Inputs) -> None:
    found, why = due_data(inputs, NextOrderSettings())
    assert why is None and found is not None and not found.shared
    command = next_order(inputs, NextOrderSettings())
    due = {row["within_days"]: row["due"] for row in command.due.iter_rows(named=True)}
    o = found.overview
    assert (o["due_7d"], o["due_30d"]) == (due[7], due[30])
    assert o["repeat_customers"] == command.everyone.height and found.one_time == command.one_time
    assert o == due_overview(command.everyone.lazy()).collect().row(0, named=True)
    # the weeks count the likely active customers, each once
    assert found.weeks["customers"].sum() == o["likely_active"] == int((command.everyone["p_alive"] >= 0.5).sum())
    assert found.model == "BG/NBD" and found.fitted_on == inputs.customers.height


def test_the_clv_fit_is_used_when_it_is_the_same_model(inputs: Inputs) -> None:
    clv = cltv(inputs, CltvSettings())
    shared, _ = due_data(inputs, NextOrderSettings(), clv)
    own, _ = due_data(inputs, NextOrderSettings())
    assert shared is not None and own is not None and shared.shared
    assert shared.overview == own.overview and shared.weeks.equals(own.weeks)
    assert shared.typical_gap_days == pytest.approx(own.typical_gap_days, rel=1e-4)
    # another model, or a fit on a calibration period, is not the one next-order fits: fitted again
    other, _ = due_data(inputs, NextOrderSettings(model="pnbd"), clv)
    assert other is not None and not other.shared and other.model == "Pareto/NBD"
    held = replace(clv, fit=replace(clv.fit, as_of=date(2024, 10, 1)))
    assert not due_data(inputs, NextOrderSettings(), held)[0].shared  # type: ignore[union-attr]


def test_too_few_repeat_customers_say_why(tmp_path: Path) -> None:
    (tmp_path / "tx.csv").write_text(
        "customer_id,order_date,amount\na,2024-01-05,10\na,2024-02-05,20\nb,2024-02-05,5\n"
    )
    inputs = load_inputs(InputSpec(transactions=[str(tmp_path / "tx.csv")], activity=True))
    found, why = due_data(inputs, NextOrderSettings())
    assert found is None
    assert why == (
        "no next-order dates: only 1 customer bought on two different days: too few to tell how fast customers "
        "buy again (at least 30 are needed)"
    )


def test_every_week_is_a_row(inputs: Inputs) -> None:
    found, _ = due_data(inputs, NextOrderSettings())
    assert found is not None
    assert found.weeks["week"].to_list() == list(range(14))
    assert [(d - date(2025, 1, 1)).days for d in found.weeks["week_start"]] == [7 * k for k in range(14)]
