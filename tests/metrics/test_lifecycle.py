"""Lifecycle stages on a hand-computed shop: every stage reached, rule order, flags, prospects, previous
snapshots and the transition matrix; rules validation."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import DataError, RulesError
from loyalty_cli.metrics.lifecycle import (
    as_text,
    contacts_left_out,
    flag_summary,
    lifecycle_inputs,
    lifecycle_table,
    stage_summary,
)
from loyalty_cli.metrics.lifecycle_transitions import (
    NOT_BEFORE,
    NOT_NOW,
    check_previous,
    transition_matrix,
    transitions,
)
from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig, Window
from loyalty_cli.rules.churn import load_churn_rules
from loyalty_cli.rules.lifecycle import INPUT_SCHEMA, load_lifecycle_rules, parse_lifecycle_rules
from loyalty_cli.stage1 import load_transactions

AS_OF = date(2024, 7, 1)
PREVIOUS_AS_OF = date(2024, 6, 20)
# customer: (days before as_of of each purchase, amount of each purchase)
SHOP = {
    "A": ([40, 30, 20, 10], 100),  # own IPT 10, recency 10 <= 15: active; 400 high -> loyal (+ detractor VIP)
    "B": ([60, 50, 40], 50),  # own IPT 10, recency 40 > 30: lapsed; 150 medium -> lapsed, win-back offer
    "C": ([25, 5], 30),  # 1 gap: population IPT 15, recency 5: active; 60 medium; NPS 9 -> advocate
    "D": ([5], 20),  # one-time, 5 days since first <= 20: new (NPS 10, but new comes first)
    "E": ([60], 500),  # one-time, window closed, recency 60 > 45: lapsed, high -> win-back offer
    "F": ([200], 10),  # one-time, lapsed, low -> lapsed, none
    "G": ([30, 20, 12], 10),  # own IPT 9, recency 12 <= 13.5: active, low, 3 orders -> repeat
    "H": ([58, 30], 40),  # 1 gap: population, 22.5 < 30 <= 45: lapsing, 80 medium -> win-back offer
    "I": ([25], 25),  # one-time, 25 > 20 window closed, 22.5 < 25 <= 45: lapsing -> one-time lapsing
    "K": ([300, 3], 5),  # lapsed in the previous snapshot, bought on June 28 -> reactivated
}
# Own IPTs of customers with a gap: A 10, B 10, C 20, G 9, H 28, K 297 -> population IPT 15 (lapsing > 22.5,
# lapsed > 45). Net spend 10,10,20,25,30,60,80,150,400,500: median 45, 80th percentile 200 (linear).
EXPECTED = {
    "A": ("loyal", "rewards, anniversary and birthday treats, referral ask", "detractor VIP"),
    "B": ("lapsed", "win-back offer", None),
    "C": ("advocate", "referral and review asks, rewards", "promoter"),
    "D": ("new", "thank-you and welcome series", "promoter"),
    "E": ("lapsed", "win-back offer", None),
    "F": ("lapsed", "none", None),
    "G": ("repeat", "cross-sell", None),
    "H": ("lapsing", "win-back offer", None),
    "I": ("one-time lapsing", "second-purchase reminder with a small incentive", None),
    "K": ("reactivated", "welcome-back series", None),
    "P": ("prospect", "first-order offer", None),
}
WINDOW = SecondPurchaseConfig(min_n=1, window=Window("days", 0, 20))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("shop")
    lines = [
        f"{c},{(AS_OF - timedelta(days=d)).isoformat()},{amount}" for c, (days, amount) in SHOP.items() for d in days
    ]
    path = folder / "tx.csv"
    path.write_text("customer_id,order_date,amount\n" + "\n".join(lines) + "\n")
    loaded = load_transactions([path], as_of=AS_OF, activity=True)
    assert loaded.activity is not None
    return loaded.customers, loaded.activity


SCORES = pl.DataFrame(
    {
        "customer_id": ["A", "C", "D"],
        "latest_score": [2, 9, 10],
        "nps_category": ["detractor", "promoter", "promoter"],
        "responded_at": [date(2024, 6, 1)] * 3,
    }
)
CONTACTS = pl.DataFrame(
    {
        "customer_id": ["A", "P", "Q"],
        "email": ["a@x.com", "p@x.com", "q@x.com"],
        "signed_up_at": [date(2023, 1, 1), date(2024, 1, 1), date(2024, 7, 5)],
    }
)
PREVIOUS = pl.DataFrame(
    {
        "customer_id": ["K", "B", "Z", "P"],
        "previous_stage": ["lapsed", "lapsed", "lapsed", "prospect"],
        "previous_as_of": [PREVIOUS_AS_OF] * 4,
    }
)


def staged(shop, **kwargs) -> pl.DataFrame:
    customers, activity = shop
    rules = load_lifecycle_rules()
    inputs = lifecycle_inputs(
        customers,
        activity.lazy(),
        as_of=AS_OF,
        churn_rules=load_churn_rules(),
        window=kwargs.pop("window", WINDOW),
        **kwargs,
    )
    return lifecycle_table(inputs, rules=rules).collect()


def test_contacts_left_out_are_the_later_signups_who_did_not_buy(shop):
    customers, _ = shop
    # Q signed up after the as-of date and never bought: left out. A also signs up later on a second row,
    # but an earlier row and its purchases keep A in; C (a customer) signs up later: in the table anyway.
    contacts = pl.concat(
        [
            CONTACTS,
            pl.DataFrame(
                {
                    "customer_id": ["A", "C"],
                    "email": ["a@x.com", "c@x.com"],
                    "signed_up_at": [date(2024, 8, 1), date(2024, 9, 1)],
                }
            ),
        ]
    )
    assert contacts_left_out(contacts, customers, as_of=AS_OF) == 1
    table = staged(shop, contacts=contacts.lazy())
    assert "Q" not in table["customer_id"].to_list() and {"A", "C", "P"} <= set(table["customer_id"])


def test_every_stage_is_reached_with_its_action_and_flags(shop):
    table = staged(shop, scores=SCORES.lazy(), contacts=CONTACTS.lazy(), previous=PREVIOUS.lazy())
    got = {r["customer_id"]: (r["stage"], r["action"], r["flags"]) for r in table.iter_rows(named=True)}
    assert got == EXPECTED  # Q signed up after the as-of date: not a prospect; Z is not in the data
    assert table["customer_id"].is_unique().all()
    assert set(table["stage"].cast(pl.String)) == set(load_lifecycle_rules().stages)
    rows = {r["customer_id"]: r for r in table.iter_rows(named=True)}
    assert (rows["C"]["churn_status"], rows["C"]["value_tier"], rows["C"]["ipt_days"]) == ("active", "medium", 15.0)
    assert (rows["H"]["churn_status"], rows["H"]["value_tier"]) == ("lapsing", "medium")
    assert (rows["I"]["window_closed"], rows["I"]["days_since_first"]) == (True, 25)
    assert rows["I"]["churn_status"] == "lapsing"
    assert (rows["D"]["window_closed"], rows["D"]["window_source"]) == (False, "fixed")
    assert rows["A"]["email"] == "a@x.com" and rows["A"]["latest_nps"] == 2
    assert rows["A"]["flag_actions"] == "personal call back"
    assert rows["P"]["email"] == "p@x.com" and rows["P"]["churn_status"] is None
    assert rows["K"]["bought_since_previous"] and rows["K"]["previous_stage"] == "lapsed"
    assert not rows["B"]["bought_since_previous"]
    assert rows["E"]["rule"] == "churn_status = 'lapsed' and value_tier in ('high', 'medium')"
    # sorted by stage (rule order), then net spend
    assert table["customer_id"].to_list() == ["P", "K", "D", "I", "C", "A", "G", "H", "E", "B", "F"]


def test_without_surveys_contacts_or_previous(shop):
    table = staged(shop)
    got = {r["customer_id"]: r["stage"] for r in table.iter_rows(named=True)}
    assert got["C"] == "repeat"  # no NPS: not an advocate
    assert got["K"] == "repeat"  # no previous snapshot: not reactivated (active, low value, 2 orders)
    assert "P" not in got and table["flags"].null_count() == table.height


def test_no_window_falls_back_to_churn_status(shop):
    table = staged(shop, window=SecondPurchaseConfig(min_n=100))
    rows = {r["customer_id"]: r for r in table.iter_rows(named=True)}
    assert rows["D"]["window_to_days"] is None and rows["D"]["window_source"].startswith("none")
    assert (rows["D"]["stage"], rows["I"]["stage"]) == ("new", "one-time lapsing")  # active / lapsing


def test_summaries(shop):
    table = staged(shop, scores=SCORES.lazy(), contacts=CONTACTS.lazy(), previous=PREVIOUS.lazy())
    rules = load_lifecycle_rules()
    summary = stage_summary(table.lazy(), rules=rules).collect()
    assert summary.height == len(rules.rules)
    assert summary.filter(pl.col("stage") == "lapsed").select("action", "customers", "net_spend").rows() == [
        ("win-back offer", 2, 650.0),
        ("none", 1, 10.0),
    ]
    assert summary["customers"].sum() == 11
    assert summary.filter(pl.col("stage") == "prospect")["share_customers"].item() == pytest.approx(1 / 11)
    assert summary["share_net_spend"].sum() == pytest.approx(1.0)
    flags = flag_summary(table.lazy(), rules=rules).collect()
    assert flags.rows() == [
        ("detractor VIP", "personal call back", 1, 400.0),
        ("promoter", "ask for a review or referral", 2, 80.0),
    ]


def test_reachable_stages_without_some_inputs():
    rules = load_lifecycle_rules()
    assert rules.reachable(surveys=True, contacts=True, previous=True) == rules.stages
    assert rules.reachable(surveys=False, contacts=False, previous=False) == [
        "new",
        "one-time lapsing",
        "loyal",
        "repeat",
        "lapsing",
        "lapsed",
    ]


def test_rule_order_decides():
    text = (Path(__file__).parent.parent.parent / "rules" / "lifecycle.toml").read_text()
    rules = parse_lifecycle_rules(text, source="rules/lifecycle.toml")
    row = {
        "prospect": False,
        "one_time": False,
        "window_closed": True,
        "churn_status": "active",
        "value_tier": "high",
        "nps_category": "promoter",
        "previous_stage": "lapsed",
        "bought_since_previous": True,
        "orders": 9,
    }
    frame = pl.DataFrame(
        [
            row,
            {**row, "previous_stage": None, "bought_since_previous": False},
            {**row, "previous_stage": None, "bought_since_previous": False, "nps_category": None},
            {
                **row,
                "previous_stage": None,
                "bought_since_previous": False,
                "nps_category": None,
                "value_tier": "low",
                "orders": 2,
            },
        ]
    )
    got = rules.assign(frame.lazy()).collect()["stage"].cast(pl.String).to_list()
    assert got == ["reactivated", "advocate", "loyal", "repeat"]


def test_transition_matrix_of_two_snapshots():
    before = pl.DataFrame(
        {"customer_id": ["1", "2", "3", "4", "5"], "previous_stage": ["new", "new", "lapsed", "repeat", "lapsed"]}
    )
    now = pl.DataFrame(
        {"customer_id": ["1", "2", "3", "4", "6"], "stage": ["repeat", "lapsed", "reactivated", "repeat", "new"]}
    )
    long = transitions(now.lazy(), before.lazy()).collect()
    matrix = transition_matrix(long, stages=["new", "repeat", "reactivated", "lapsed"])
    assert matrix.columns == ["previous_stage", "new", "repeat", "reactivated", "lapsed", NOT_NOW, "total"]
    assert matrix.rows() == [
        ("new", 0, 1, 0, 1, 0, 2),
        ("repeat", 0, 1, 0, 0, 0, 1),
        ("lapsed", 0, 0, 1, 0, 1, 2),
        (NOT_BEFORE, 1, 0, 0, 0, 0, 1),
    ]
    shares = long.filter(pl.col("previous_stage") == "new").sort("stage")["share_of_previous"].to_list()
    assert shares == [0.5, 0.5]


def test_check_previous():
    from loyalty_cli.io.snapshots import restore_text  # as read back: trimmed, the CSV writer's guard taken off

    def read_back(frame: pl.DataFrame) -> pl.DataFrame:
        return restore_text(frame, ("customer_id", "stage"))

    raw = pl.DataFrame({"customer_id": ["1", "'-2"], "stage": ["new", "lapsed"], "as_of": ["2024-06-01"] * 2})
    frame = check_previous(read_back(raw), source="prev.csv", as_of=AS_OF)
    assert frame.rows() == [("1", "new", date(2024, 6, 1)), ("-2", "lapsed", date(2024, 6, 1))]
    # only the apostrophe our CSVs put before formula-like text goes: an id that starts with ' stays
    quoted = check_previous(
        read_back(raw.with_columns(pl.Series("customer_id", ["'abc", "'=x"]))), source="prev.csv", as_of=AS_OF
    )
    assert quoted["customer_id"].to_list() == ["'abc", "=x"]
    with pytest.raises(DataError, match="prev.csv has no column 'as_of'"):
        check_previous(raw.drop("as_of"), source="prev.csv", as_of=AS_OF)
    with pytest.raises(DataError, match="customer '1' more than once"):
        check_previous(pl.concat([raw, raw.head(1)]), source="prev.csv", as_of=AS_OF)
    with pytest.raises(DataError, match="as of 2024-06-01, after this run's as-of date 2024-05-01"):
        check_previous(raw, source="prev.csv", as_of=date(2024, 5, 1))
    with pytest.raises(DataError, match="readable as_of date"):
        check_previous(raw.with_columns(pl.lit("June").alias("as_of")), source="prev.csv", as_of=AS_OF)


def test_shipped_rules_match_the_package():
    root = Path(__file__).parent.parent.parent
    assert (root / "rules" / "lifecycle.toml").read_text() == (
        root / "src" / "loyalty_cli" / "rules" / "lifecycle.toml"
    ).read_text()
    rules = load_lifecycle_rules()
    assert rules.stages == [
        "prospect",
        "reactivated",
        "new",
        "one-time lapsing",
        "advocate",
        "loyal",
        "repeat",
        "lapsing",
        "lapsed",
    ]
    assert [f.name for f in rules.flags] == ["detractor VIP", "promoter"]


HEAD = 'name = "mine"\n'


def rule(stage: str, when: str, action: str = "do it") -> str:
    return f'[[rule]]\nstage = "{stage}"\nwhen = "{when}"\naction = "{action}"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]\n", "my.toml is not valid TOML"),
        (HEAD + "colour = 1\n" + rule("A", "true"), "my.toml: unknown key(s) colour"),
        (HEAD, "my.toml: no rules"),
        (HEAD + rule("A", "true") + 'tone = "x"\n', "my.toml: rule #1 (stage 'A') has unknown key(s) tone"),
        (HEAD + '[[rule]]\nstage = "A"\nwhen = "true"\n', "my.toml: rule #1 (stage 'A') needs action as text"),
        (HEAD + '[[rule]]\nstage = "A"\naction = "x"\n', "my.toml: rule #1 (stage 'A') has no condition"),
        (HEAD + rule("A", "orders >= ") + rule("B", "true"), "my.toml: rule #1 (stage 'A'): cannot read condition"),
        (HEAD + rule("A", "spend > 5") + rule("B", "true"), "my.toml: rule #1 (stage 'A'): unknown column(s) 'spend'"),
        (
            HEAD + rule("A", "churn_status > 3") + rule("B", "true"),
            "rule #1 (stage 'A'): condition 'churn_status > 3' cannot be evaluated",
        ),
        (
            HEAD + rule("A", "orders + 1") + rule("B", "true"),
            "rule #1 (stage 'A'): condition 'orders + 1' is not true/false",
        ),
        (
            HEAD + rule("A", "true") + rule("B", "prospect"),
            "my.toml: rule #2 (stage 'B') can never be reached: earlier rules take every customer it matches",
        ),
        (
            HEAD + rule("A", "churn_status = 'gone'") + rule("B", "true"),
            "rule #1 (stage 'A') can never be reached: no kind of customer matches it",
        ),
        (
            HEAD + rule("A", "prospect") + rule("B", "churn_status in ('active', 'lapsing')"),
            "my.toml: no rule covers 336 kinds of customer, e.g. prospect = false, one_time = true, "
            "window_closed = true, churn_status = 'lapsed'",
        ),
        (HEAD + rule("A", "prospect") + rule("B", "not prospect and orders >= 0"), "my.toml: no rule covers"),
        (
            HEAD + rule("A", "true") + '[[flag]]\nname = "fan"\nwhen = "nps_category = \'fan\'"\naction = "x"\n',
            "my.toml: flag 'fan' can never be set",
        ),
    ],
)
def test_rules_validation(text: str, message: str):
    with pytest.raises(RulesError) as info:
        parse_lifecycle_rules(text, source="my.toml")
    assert message in str(info.value)


def test_numeric_rules_may_reach_a_stage():
    rules = parse_lifecycle_rules(HEAD + rule("big", "net_spend >= 1000") + rule("rest", "true"), source="my.toml")
    assert [r.partial for r in rules.rules] == [True, False]


def test_load_errors(tmp_path: Path):
    with pytest.raises(RulesError, match="Lifecycle rules file not found: nope.toml"):
        load_lifecycle_rules("nope.toml")
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + rule("A", "true"))
    assert load_lifecycle_rules(path).stages == ["A"]


def test_input_schema_is_what_lifecycle_inputs_gives(shop):
    """Conditions are type-checked against INPUT_SCHEMA: it must be the real dtypes, with and without the
    optional inputs (surveys, contacts, previous snapshot)."""
    customers, activity = shop
    for kwargs in (
        {},
        {"scores": SCORES.lazy(), "contacts": CONTACTS.lazy(), "previous": PREVIOUS.lazy()},
    ):
        inputs = lifecycle_inputs(
            customers, activity.lazy(), as_of=AS_OF, churn_rules=load_churn_rules(), window=WINDOW, **kwargs
        )
        schema = as_text(inputs.lazy()).collect_schema()  # the conditions read the Enums as text
        assert {c: schema[c] for c in INPUT_SCHEMA} == INPUT_SCHEMA


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "CAST(first_category AS INTEGER) > 1",
            "my.toml: rule #1 (stage 'A'): condition 'CAST(first_category AS INTEGER) > 1' is not allowed: 'CAST' is "
            "SQL, which conditions cannot use",
        ),
        (
            "lower(orders) = 'x'",
            "my.toml: rule #1 (stage 'A'): condition \"lower(orders) = 'x'\" cannot be evaluated: lower() needs "
            "text, but orders is a number",
        ),
        (
            "churn_status > 3",
            "my.toml: rule #1 (stage 'A'): condition 'churn_status > 3' cannot be evaluated: it compares "
            "churn_status (text) with 3 (a number)",
        ),
        (
            "first_category in (1, 2)",
            "my.toml: rule #1 (stage 'A'): condition 'first_category in (1, 2)' cannot be evaluated: 'in' compares "
            "first_category (text) with 1 (a number)",
        ),
    ],
)
def test_conditions_that_would_fail_at_run_time_fail_when_loaded(when, message):
    with pytest.raises(RulesError) as info:
        parse_lifecycle_rules(HEAD + rule("A", when) + rule("B", "true"), source="my.toml")
    assert info.value.message == message


def test_text_and_number_conditions_run_on_the_real_inputs(shop):
    customers, activity = shop
    text = HEAD + rule("big", "orders - 5 < 0 and lower(churn_status) = 'lapsed' and latest_nps is null")
    rules = parse_lifecycle_rules(text + rule("rest", "true"), source="my.toml")
    inputs = lifecycle_inputs(customers, activity.lazy(), as_of=AS_OF, churn_rules=load_churn_rules(), window=WINDOW)
    table = lifecycle_table(inputs, rules=rules).collect().sort("customer_id")
    lapsed = {c for c, (stage, _, _) in EXPECTED.items() if stage == "lapsed"}
    assert set(table.filter(pl.col("stage") == "big")["customer_id"]) == lapsed
