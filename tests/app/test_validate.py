"""``app.validate`` called directly: the kind checked in neutral words, and the facts, notes and verdict of
small exports read through ``load_inputs`` (``InputSpec.check``), hand-computed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.validate import ValidateConfig, validate
from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.io.readers import ReadOptions

# As of 2024-02-01: order 4 has no customer id (rejected), order 6 is dated on the as-of date (left out).
# Kept: 4 lines, 4 orders; purchases 1 and 3; returns 2 (4.00) and 5 (3.00, C's only order); net 10 - 4 + 20.50
# - 3 = 23.50; customers A, B, C, of whom A and B bought; C: no purchase, net -3.00.
TX = """order_id,customer_id,order_date,amount
1,A,2024-01-01,10
2,A,2024-01-05,-4
3,B,2024-01-02,20.5
4,,2024-01-03,7
5,C,2024-01-04,-3
6,B,2024-02-01,5
"""


def inputs_of(config: ValidateConfig, paths: list[Path], *, as_of: date | None = None, **read: object) -> Inputs:
    spec = InputSpec(
        **{config.kind: [str(p) for p in paths]},  # type: ignore[arg-type]
        options=ReadOptions(**read),  # type: ignore[arg-type]
        as_of=as_of,
        on_bad_rows="skip",
        check=config.kind,
        lines=config.lines,
    )
    return load_inputs(spec)


def test_the_kind_is_checked_in_neutral_words():
    with pytest.raises(ConfigError) as caught:
        ValidateConfig(kind="orders")
    assert caught.value.name == "kind"
    assert caught.value.message == f"{setting('kind')} must be transactions, surveys or contacts, got 'orders'"
    assert ValidateConfig(kind="surveys").date_field == "responded_at"


def test_transactions_every_row_accounted_for(tmp_path: Path):
    (tmp_path / "tx.csv").write_text(TX)
    config = ValidateConfig()
    inputs = inputs_of(config, [tmp_path / "tx.csv"], as_of=date(2024, 2, 1))
    assert "customers" not in inputs.tables and inputs.rejects["transactions"].height == 1  # no stage 1
    result = validate(inputs, config)
    assert dict(result.facts.iter_rows()) == {
        "rows read": "6",
        "rows rejected": "1",
        "rows on or after the as-of date": "1",
        "lines kept": "4",
        "orders": "4",
        "purchase orders": "2",
        "return orders": "2",
        "returns value": "7.0",
        "net revenue": "23.5",
        "customers": "3",
        "customers with a purchase": "2",
        "customers with no purchase (only returns)": "1",
        "net value of customers with no purchase": "-3.0",
        "first date": "2024-01-01",
        "last date": "2024-01-05",
    }
    assert result.title == f"Transactions: {tmp_path / 'tx.csv'}" and result.rows == 6 and not result.ok
    assert result.rejected["reject_reason"].to_list() == ["missing customer id"]
    assert [m.text for m in result.notes] == [
        "1 customer with no purchase, only returns (net -3.00): the other commands leave them out of their "
        "customer tables (net revenue and return orders here include them)"
    ]
    assert [(m.level, m.text) for m in result.verdict] == [("warning", "1 of 6 rows would be rejected:")]


def test_repeated_files_are_a_problem_unless_kept_once(tmp_path: Path):
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-02,5\n")
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    result = validate(inputs_of(ValidateConfig(), paths), ValidateConfig())
    facts = dict(result.facts.iter_rows())
    assert (facts["rows read"], facts["rows repeated from an earlier file"], facts["lines kept"]) == ("4", "2", "4")
    assert not result.ok and result.verdict[0].text == "2 of 4 rows repeat lines of an earlier file:"
    assert result.verdict[-1].always and setting("on_overlap") in result.verdict[-1].text
    kept = validate(inputs_of(ValidateConfig(), paths, on_overlap="keep-first"), ValidateConfig())
    facts = dict(kept.facts.iter_rows())
    assert (facts["rows read"], facts["rows repeated from an earlier file"], facts["lines kept"]) == ("4", "2", "2")
    assert kept.ok and [m.text for m in kept.verdict] == ["No bad rows."]


def test_surveys_and_contacts(tmp_path: Path):
    (tmp_path / "s.csv").write_text(
        "customer_id,responded_at,score\n1,2024-03-01,9\n2,2024-03-02,\n,2024-03-03,3\n4,2024-03-04,11\n"
    )
    config = ValidateConfig(kind="surveys")
    result = validate(inputs_of(config, [tmp_path / "s.csv"]), config)
    assert dict(result.facts.iter_rows()) == {
        "rows read": "4",
        "rows rejected": "1",  # 11 is outside 0-10
        "responses": "3",
        "scored": "2",
        "non-responses": "1",
        "respondents": "3",  # the answer without an id counts as one
        "first date": "2024-03-01",
        "last date": "2024-03-03",
    }
    (tmp_path / "c.csv").write_text("id,email\n1,a@x.com\n1,a@x.com\n2,\n")
    config = ValidateConfig(kind="contacts")
    result = validate(inputs_of(config, [tmp_path / "c.csv"], columns={"customer_id": "id"}), config)
    assert dict(result.facts.iter_rows()) == {
        "rows read": "3",
        "rows rejected": "0",
        "contacts": "3",
        "unique ids": "2",
        "with an email": "2",
    }
    assert result.ok and result.title == f"Contacts: {tmp_path / 'c.csv'}"
