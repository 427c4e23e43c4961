"""The churn and lifecycle lists with each repeat customer's next-order date and contact window (the
``next_order`` setting), by hand for a given purchase model: the dates of tests/metrics/test_next_order.py,
reached from transaction lines through ``load_inputs``, ``churn`` and ``lifecycle``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app import churn as churn_app
from loyalty_cli.app.churn import ChurnConfig, churn
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.lifecycle import LifecycleConfig, lifecycle
from loyalty_cli.metrics import next_order as no
from loyalty_cli.metrics.churn_model import ModelResult
from loyalty_cli.models import BGNBDModel

AS_OF = date(2024, 4, 1)
# The shop of tests/metrics/test_next_order.py as lines (the last day of data is 03-31):
#   A  01-01, 01-21, 02-10   3 purchase days: x = 2, T = 91 - 1 = 90 days     net 30
#   B  03-20                 one-time buyer                                  net 10
#   C  03-02, 03-31          x = 1, T = 30 - 1 = 29 days                     net 20
# With the rate while active ~ Gamma(r = 2, alpha = 30 days) (MODEL below, in weeks: alpha = 30 / 7):
#   A: Lomax(shape r + x = 4, scale alpha + T = 120): Q(q) = 120 ((1 - q)^(-1/4) - 1):
#      Q(.25) = 8.948 -> day 9, Q(.5) = 22.705 -> day 23, Q(.75) = 49.706 -> day 50; day k = 03-31 + k:
#      contact_from 04-09, next_order_date 04-23, contact_to 05-20
#   C: Lomax(3, 59): Q(.25) = 5.938 -> 6, Q(.5) = 15.335 -> 16, Q(.75) = 34.657 -> 35: 04-06, 04-16, 05-05
#   B: no date (a one-time buyer)
TX = (
    "customer_id,order_date,amount\nA,2024-01-01,10\nA,2024-01-21,10\nA,2024-02-10,10\nB,2024-03-20,10\n"
    "C,2024-03-02,10\nC,2024-03-31,10\n"
)
# P: a contact who never bought (a prospect: no date either)
CONTACTS = "customer_id,email,signed_up_at\nA,a@x.com,2023-01-01\nP,p@x.com,2024-01-01\n"
MODEL = BGNBDModel.from_params(r=2.0, alpha=30 / 7, a=1.0, b=3.0)
DATES = {
    "A": (date(2024, 4, 23), date(2024, 4, 9), date(2024, 5, 20)),
    "B": (None, None, None),
    "C": (date(2024, 4, 16), date(2024, 4, 6), date(2024, 5, 5)),
    "P": (None, None, None),
}
COLUMNS = ["next_order_date", "contact_from", "contact_to"]
NOTE = (
    "Next-order dates from the {model} model, as next-order gives them (next_order_date: the median time to the "
    "next order if still active; contact_from..contact_to: its 25th to 75th percentiles): 2 repeat customers "
    "dated, {others} left empty"
)


@pytest.fixture
def shop(tmp_path: Path) -> Inputs:
    (tmp_path / "tx.csv").write_text(TX)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    return load_inputs(InputSpec(transactions=[str(tmp_path / "tx.csv")], as_of=AS_OF, activity=True))


@pytest.fixture
def with_contacts(tmp_path: Path, shop: Inputs) -> Inputs:
    spec = InputSpec(
        transactions=[str(tmp_path / "tx.csv")], contacts=[str(tmp_path / "contacts.csv")], as_of=AS_OF, activity=True
    )
    return load_inputs(spec)


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The purchase model of the dates is MODEL (a real fit needs 30 repeat customers): the names asked for."""
    asked: list[str] = []

    def fit(grouped: pl.DataFrame, name: str = "bgnbd", **settings: object) -> BGNBDModel:
        asked.append(name)
        return MODEL

    monkeypatch.setattr(no, "fit_rate_model", fit)
    return asked


def dates_of(table: pl.DataFrame) -> dict[str, tuple[date | None, ...]]:
    return {row[0]: row[1:] for row in table.select("customer_id", *COLUMNS).rows()}


def test_the_churn_list_carries_the_dates_of_repeat_customers(shop, fits):
    plain = churn(shop, ChurnConfig())
    result = churn(shop, ChurnConfig(next_order=True))
    assert fits == ["bgnbd"]  # next-order's default model, fitted once
    assert result.customers.columns == [*plain.customers.columns, *COLUMNS]
    assert result.customers.drop(COLUMNS).equals(plain.customers)  # the list otherwise as it was, in its order
    assert dates_of(result.customers) == {k: v for k, v in DATES.items() if k != "P"}
    assert result.customers.schema["next_order_date"] == pl.Date
    # only the list: the ranked table, the summary and the at-risk lists are those of the command without it
    assert result.ranked.equals(plain.ranked) and result.summary.equals(plain.summary)
    assert result.messages[:-1] == plain.messages
    assert result.messages[-1].level == "note"
    assert result.messages[-1].text == NOTE.format(model="bgnbd", others="1 one-time buyer")


def test_chosen_statuses_keep_the_dates_of_the_fit_on_every_customer(shop, fits):
    everyone = churn(shop, ChurnConfig(next_order=True))
    status = dict(everyone.customers.select("customer_id", pl.col("status").cast(pl.String)).iter_rows())
    chosen = churn(shop, ChurnConfig(next_order=True, statuses=(status["A"],)))
    assert set(chosen.customers["customer_id"]) == {c for c, s in status.items() if s == status["A"]}
    assert dates_of(chosen.customers) == {c: DATES[c] for c in chosen.customers["customer_id"]}


def test_churn_with_a_model_reuses_its_fit(shop, monkeypatch):
    """With a model for P(alive), the dates come from that fit: no second fit."""

    def predictions(activity: pl.DataFrame, *, as_of: date, model: str) -> ModelResult:
        frame = pl.DataFrame({"customer_id": ["A", "B", "C"], "p_alive": [0.5, None, 0.9]})
        frame = frame.with_columns(pl.lit(model).alias("p_alive_model"), pl.lit(1.0).alias("predicted_value"))
        return ModelResult(predictions=frame, model=MODEL, note=None)

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitted again")

    monkeypatch.setattr(churn_app, "model_predictions", predictions)
    monkeypatch.setattr(no, "fit_rate_model", no_fit)
    result = churn(shop, ChurnConfig(model="pnbd", next_order=True))
    assert dates_of(result.customers) == {k: v for k, v in DATES.items() if k != "P"}
    assert result.customers.columns[-4:] == ["predicted_value", *COLUMNS]
    assert result.messages[-1].text == NOTE.format(model="pnbd", others="1 one-time buyer")


def test_without_enough_repeat_customers_the_list_is_written_with_empty_dates(shop):
    # no fit replaced: 2 repeat customers, fewer than the 30 a fit needs
    result = churn(shop, ChurnConfig(next_order=True))
    assert result.customers.select(COLUMNS).null_count().row(0) == (3, 3, 3)
    assert result.customers.schema["contact_from"] == pl.Date
    assert result.messages[-1].level == "warning"
    assert result.messages[-1].text.startswith(
        "No next-order dates: Only 2 customers bought on two different days: too few to tell how fast customers buy"
    )


def test_the_lifecycle_to_do_list_carries_the_dates_and_prospects_get_none(with_contacts, fits):
    config = LifecycleConfig(contacts=True)
    plain = lifecycle(with_contacts, config)
    result = lifecycle(with_contacts, LifecycleConfig(contacts=True, next_order=True))
    assert fits == ["bgnbd"]
    assert result.todo.columns == [*plain.todo.columns, *COLUMNS]
    assert result.todo.drop(COLUMNS).equals(plain.todo)
    assert dates_of(result.todo) == DATES
    assert result.summary.equals(plain.summary) and result.flags.equals(plain.flags)
    assert result.messages[:-1] == plain.messages
    assert result.messages[-1].text == NOTE.format(model="bgnbd", others="2 one-time buyers and prospects")


def test_lifecycle_stages_kept_and_summaries_only(shop, fits):
    repeat = lifecycle(shop, LifecycleConfig(next_order=True))
    stage_of = dict(repeat.todo.select("customer_id", "stage").iter_rows())
    kept = lifecycle(shop, LifecycleConfig(next_order=True, stages=(stage_of["C"],)))
    assert dates_of(kept.todo) == {c: DATES[c] for c in kept.todo["customer_id"]}
    assert repeat.messages[-1].text == NOTE.format(model="bgnbd", others="1 one-time buyer")
    # the report's narrow to-do list never carries them (nor fits the model)
    narrow = lifecycle(shop, LifecycleConfig(next_order=True), summaries_only=True)
    assert not set(COLUMNS) & set(narrow.todo.columns)
    assert fits == ["bgnbd", "bgnbd"]
