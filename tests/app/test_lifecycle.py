"""``app.lifecycle`` called directly: the config checked in neutral words, the to-do list, the summaries, the
transition matrix and the notes, hand-computed on a small shop with surveys, contacts and a previous
snapshot read through ``load_inputs``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.lifecycle import SUMMARY_COLUMNS, LifecycleConfig, lifecycle, stages
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.metrics.lifecycle_transitions import NOT_BEFORE, NOT_NOW

AS_OF = date(2024, 7, 1)
# Rules in order: prospect (a contact who never bought), back (other before, bought since), repeat (2+ orders),
# other (everybody else); a flag for promoters.
RULES = """
[[rule]]
stage = "prospect"
when = "prospect"
action = "welcome"

[[rule]]
stage = "back"
when = "previous_stage = 'other' and bought_since_previous"
action = "welcome back"

[[rule]]
stage = "repeat"
when = "orders >= 2"
action = "cross-sell"

[[rule]]
stage = "other"
when = "true"
action = "nudge"

[[flag]]
name = "fan"
when = "nps_category = 'promoter'"
action = "ask for a review"
"""
# As of 2024-07-01:
#   A  2024-06-01 10, 2024-06-20 30   2 orders, net 40; a promoter (10)           -> repeat, flag fan
#   B  2024-01-10 50                  1 order, net 50                             -> other
#   C  2024-03-01 20, 2024-06-25 5    other in the snapshot of 2024-06-01, bought since -> back (net 25)
#   P  a contact who never bought                                                  -> prospect (net 0)
#   Q  a contact who signed up on 2024-07-05, after the as-of date: left out
#   Z  answered the survey but is not a customer; D is in the snapshot but bought nothing now
TX = (
    "customer_id,order_date,amount\nA,2024-06-01,10\nA,2024-06-20,30\nB,2024-01-10,50\nC,2024-03-01,20\n"
    "C,2024-06-25,5\n"
)
SURVEYS = "customer_id,responded_at,score\nA,2024-06-21,10\nZ,2024-06-22,3\n"
CONTACTS = "customer_id,email,signed_up_at\nA,a@x.com,2023-01-01\nP,p@x.com,2024-01-01\nQ,q@x.com,2024-07-05\n"
PREVIOUS = "customer_id,stage,as_of\nC,other,2024-06-01\nD,new,2024-06-01\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    for name, text in [
        ("tx.csv", TX),
        ("surveys.csv", SURVEYS),
        ("contacts.csv", CONTACTS),
        ("previous.csv", PREVIOUS),
        ("rules.toml", RULES),
    ]:
        (tmp_path / name).write_text(text)
    return tmp_path


def inputs_of(folder: Path, *, previous: str | None = "previous.csv", tx: str = "tx.csv") -> Inputs:
    return load_inputs(
        InputSpec(
            transactions=[str(folder / tx)],
            surveys=[str(folder / "surveys.csv")],
            contacts=[str(folder / "contacts.csv")],
            previous=str(folder / previous) if previous else None,
            as_of=AS_OF,
            activity=True,
        )
    )


def config_of(folder: Path, **more: object) -> LifecycleConfig:
    given = {"surveys": True, "contacts": True, "previous": True, **more}
    return LifecycleConfig(rules=str(folder / "rules.toml"), **given)  # type: ignore[arg-type]


def test_config_is_checked_in_neutral_words(shop: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(shop, min_n=0)
    assert caught.value.name == "min_n" and caught.value.message == f"{setting('min_n')} must be at least 1, got 0"
    with pytest.raises(UsageError, match="Unknown stage 'bak'") as unknown:
        config_of(shop, stages=("bak",))
    assert "Did you mean 'back'?" in str(unknown.value.hint)
    with pytest.raises(UsageError) as unreachable:
        config_of(shop, stages=("back",), previous=False)
    assert unreachable.value.message == f"{setting('stages')} back needs {setting('previous')}"
    with pytest.raises(UsageError) as no_contacts:
        config_of(shop, stages=("prospect",), contacts=False)
    assert no_contacts.value.message == f"{setting('stages')} prospect needs {setting('contacts')}"
    assert config_of(shop, stages=("back", "other")).lifecycle_rules.stages == ["prospect", "back", "repeat", "other"]


def test_to_do_list_summaries_and_transitions(shop: Path) -> None:
    result = lifecycle(inputs_of(shop), config_of(shop))
    assert result.as_of == AS_OF
    todo = result.todo
    assert todo.schema["stage"] == pl.String
    # by stage (rule order), then net spend (largest first)
    assert todo.select("customer_id", "stage", "action", "flags").rows() == [
        ("P", "prospect", "welcome", None),
        ("C", "back", "welcome back", None),
        ("A", "repeat", "cross-sell", "fan"),
        ("B", "other", "nudge", None),
    ]
    assert todo["email"].to_list() == ["p@x.com", None, "a@x.com", None]
    assert result.summary.select("stage", "customers", "net_spend").rows() == [
        ("prospect", 1, 0.0),
        ("back", 1, 25.0),
        ("repeat", 1, 40.0),
        ("other", 1, 50.0),
    ]
    assert result.summary["share_customers"].to_list() == [0.25] * 4
    assert result.summary["share_net_spend"].to_list() == pytest.approx([0, 25 / 115, 40 / 115, 50 / 115])
    assert result.flags.rows() == [("fan", "ask for a review", 1, 40.0)]
    matrix = result.transitions
    assert matrix is not None
    assert matrix.columns == ["previous_stage", "prospect", "back", "repeat", "other", NOT_NOW, "total"]
    assert matrix.rows() == [
        ("other", 0, 1, 0, 0, 0, 1),
        ("new", 0, 0, 0, 0, 1, 1),
        (NOT_BEFORE, 1, 0, 1, 1, 0, 3),
    ]
    assert result.contacts is not None and result.contacts.height == 3


def test_facts_and_notes(shop: Path) -> None:
    result = lifecycle(inputs_of(shop), config_of(shop, stages=("repeat",)))
    assert result.todo["customer_id"].to_list() == ["A"]  # only the kept stage is written ...
    facts = result.facts
    assert (facts.people, facts.customers, facts.prospects) == (4, 3, 1)  # ... the facts count everybody
    assert (facts.respondents, facts.nps_matched, facts.contacts_later) == (2, 1, 1)
    assert (facts.previous_people, facts.previous_found, facts.previous_dates) == (2, 1, [date(2024, 6, 1)])
    assert facts.window_sources == ["none: churn status decides"]  # fewer repeaters than min_n
    texts = [m.text for m in result.messages]
    assert texts[0] == (
        f"As of {AS_OF} (data before that day): 3 customers and 1 prospect (contacts with no purchase); stages "
        f"from {shop / 'rules.toml'}; churn status and value tiers from built-in churn"
    )
    warning = next(m for m in result.messages if m.level == "warning")
    assert f"Lower {setting('min_n')} or give {setting('window')} in days." in warning.text
    assert "1 contact who signed up on or after the as-of date left out" in texts
    assert "Latest NPS answer for 1 of the 2 respondents (the others are not among the customers and contacts)" in texts
    assert "Previous snapshot as of 2024-06-01: 2 people, 1 of them found now" in texts


def test_without_a_previous_snapshot_the_rules_that_need_it_are_named(shop: Path) -> None:
    result = lifecycle(inputs_of(shop, previous=None), config_of(shop, previous=False))
    assert result.transitions is None
    assert dict(result.todo.select("customer_id", "stage").iter_rows())["C"] == "repeat"
    assert any(
        m.text.startswith(f"No {setting('previous')} snapshot: rule #2 (stage 'back') can never apply")
        for m in result.messages
    )


def test_stages_with_the_defaults_is_what_nps_and_the_report_use(shop: Path) -> None:
    inputs = inputs_of(shop, previous=None)
    staged = stages(inputs.customers, inputs.activity, as_of=AS_OF)
    assert staged.moves is None and staged.window.by is None
    assert staged.table.schema["stage"] == pl.Enum(LifecycleConfig().lifecycle_rules.stages)
    assert staged.table.height == 3 and staged.summary["customers"].sum() == 3


def test_the_churn_commands_ranked_statuses_give_the_same_stages(shop: Path) -> None:
    # the report hands the churn section's ranked statuses to the lifecycle (computed once): the same stages,
    # summaries and flags as when the lifecycle ranks them itself
    from loyalty_cli.app.churn import ChurnConfig, churn

    inputs = inputs_of(shop)
    config = config_of(shop)
    ranked = churn(inputs, ChurnConfig()).ranked
    own, shared = lifecycle(inputs, config), lifecycle(inputs, config, ranked=ranked)
    assert shared.todo.equals(own.todo) and shared.summary.equals(own.summary) and shared.flags.equals(own.flags)
    assert own.todo["churn_status"].drop_nulls().len() == own.facts.customers == 3
    # the report's narrow table: the same summaries, flags and facts from the columns they read
    narrow = lifecycle(
        inputs, config, ranked=ranked.select("customer_id", "status", "value_tier", "ipt_days"), summaries_only=True
    )
    assert narrow.summary.equals(own.summary) and narrow.flags.equals(own.flags) and narrow.facts == own.facts
    assert narrow.todo.columns == ["customer_id", *SUMMARY_COLUMNS]
    assert narrow.todo.equals(own.todo.select(narrow.todo.columns))  # the same rows in the same order
    # they are really used: other statuses give other stages
    other = ranked.with_columns(pl.lit("lapsed").cast(ranked.schema["status"]).alias("status"))
    moved = lifecycle(inputs, config, ranked=other).todo
    assert moved["churn_status"].drop_nulls().to_list() == ["lapsed"] * 3


def test_a_previous_snapshot_is_read_back_and_checked(shop: Path) -> None:
    (shop / "quoted.csv").write_text("customer_id,stage,as_of\n'=C,lapsed,2024-06-01\n 'abc ,new,2024-06-01\n")
    previous = inputs_of(shop, previous="quoted.csv").tables["previous"]
    assert previous.rows() == [("=C", "lapsed", date(2024, 6, 1)), ("'abc", "new", date(2024, 6, 1))]
    with pytest.raises(DataError, match="Previous snapshot not found: .*missing.csv"):
        inputs_of(shop, previous="missing.csv")
    (shop / "later.csv").write_text("customer_id,stage,as_of\nC,lapsed,2024-08-01\n")
    with pytest.raises(DataError, match="is as of 2024-08-01, after this run's as-of date 2024-07-01"):
        inputs_of(shop, previous="later.csv")
    (shop / "prev.txt").write_text("x")
    with pytest.raises(UsageError, match=f"^{setting('previous')}: Cannot tell the output format"):
        inputs_of(shop, previous="prev.txt")


def test_no_inter_purchase_time_stops_with_the_setting_named(shop: Path) -> None:
    (shop / "once.csv").write_text("customer_id,order_date,amount\nA,2024-06-01,10\nB,2024-01-10,50\n")
    with pytest.raises(DataError, match="bought on two different days") as caught:
        lifecycle(inputs_of(shop, tx="once.csv"), config_of(shop))
    assert f"({setting('churn_rules')} FILE)" in str(caught.value.hint)
