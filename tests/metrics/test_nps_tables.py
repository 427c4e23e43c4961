"""The pieces of an NPS run on small hand-made answers: counts per status, one survey type, the 1-5 scale guess,
the respondent table, the detractor comments, the plans of a summary and the closed-loop lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from loyalty_cli.errors import UsageError, setting
from loyalty_cli.metrics.nps import NpsConfig, prepare_responses
from loyalty_cli.metrics.nps_lists import (
    answer_counts,
    customer_list,
    detractor_comments,
    looks_like_five_point,
    nps_tables,
    only_survey_type,
    respondent_table,
)

ONE = NpsConfig(min_n=1, dedupe="latest")


def prepared(rows: list[tuple], *, comments: bool = True) -> pl.DataFrame:
    """``(customer_id, minutes after 2024-01-01, score, survey_type, comment)`` prepared with :data:`ONE`."""
    start = datetime(2024, 1, 1)
    data = {
        "customer_id": pl.Series([r[0] for r in rows], dtype=pl.String),
        "responded_at": pl.Series([start + timedelta(minutes=r[1]) for r in rows], dtype=pl.Datetime("us")),
        "score": pl.Series([r[2] for r in rows], dtype=pl.Int16),
        "survey_type": pl.Series([r[3] for r in rows], dtype=pl.String),
    }
    if comments:
        data["comment"] = pl.Series([r[4] for r in rows], dtype=pl.String)
    return prepare_responses(pl.LazyFrame(data), config=ONE).collect()


# A answered 9 then 4 (the 9 is a repeat under "latest"), B 10 twice at the same time (a duplicate), C no score,
# D 2 and E 6 transactional, anonymous 7.
ANSWERS = [
    ("A", 0, 9, "relational", "good"),
    ("A", 10, 4, "relational", "worse"),
    ("B", 1, 10, "relational", None),
    ("B", 1, 10, "relational", None),
    ("C", 2, None, "relational", None),
    ("D", 3, 2, "transactional", "late"),
    ("E", 4, 6, "transactional", "meh"),
    (None, 5, 7, "relational", "fine"),
]


def test_answer_counts_lists_every_status():
    responses = prepared(ANSWERS)
    assert answer_counts(responses) == {"counted": 5, "non-response": 1, "duplicate": 1, "repeat": 1}
    assert answer_counts(responses.head(0)) == {"counted": 0, "non-response": 0, "duplicate": 0, "repeat": 0}


def test_only_one_survey_type():
    responses = prepared(ANSWERS)
    assert only_survey_type(responses, None, typed=True) is responses
    kept = only_survey_type(responses, " Transactional", typed=True)
    assert kept["customer_id"].to_list() == ["D", "E"]
    with pytest.raises(UsageError) as caught:
        only_survey_type(responses, "onboarding", typed=True)
    assert caught.value.message == f"{setting('survey_type')} onboarding: no such survey type in the surveys"
    assert caught.value.hint == "Survey types: relational, transactional."
    with pytest.raises(UsageError, match="the surveys have no survey type column") as caught:
        only_survey_type(responses, "onboarding", typed=False)
    assert setting("survey_type_col") in (caught.value.hint or "")


def test_a_five_point_scale_is_suspected_from_20_answers_up_to_5():
    low = [(f"C{i}", i, 1 + i % 5, "relational", None) for i in range(20)]
    assert looks_like_five_point(prepared(low))
    assert not looks_like_five_point(prepared(low[:19]))  # too few to tell
    assert not looks_like_five_point(prepared([*low, ("X", 99, 6, "relational", None)]))


def test_respondent_table_joins_customers_and_stages_email_first():
    responses = prepared(ANSWERS).lazy()
    customers = pl.LazyFrame({"customer_id": ["A", "D"], "net_spend": [120.0, 40.0], "email": ["a@x", "d@x"]})
    stages = pl.LazyFrame({"customer_id": ["A"], "stage": pl.Series(["lapsing"], dtype=pl.Enum(["new", "lapsing"]))})
    table = respondent_table(responses, customers=customers, stages=stages).collect()
    assert table.columns[:3] == ["customer_id", "email", "latest_score"]
    assert table.select("customer_id", "latest_score", "net_spend", "email").rows() == [
        ("A", 4, 120.0, "a@x"),  # the latest answer
        ("B", 10, None, None),
        ("D", 2, 40.0, "d@x"),
        ("E", 6, None, None),
    ]
    assert table["stage"].cast(pl.String).to_list() == ["lapsing", "(no purchase)", "(no purchase)", "(no purchase)"]
    assert respondent_table(responses).collect().columns[0] == "customer_id"


def test_detractor_comments_latest_first():
    answers = prepared(ANSWERS).lazy()
    comments = detractor_comments(answers, top=2).collect()
    # Counted 0-6 with a comment: A 4 'worse' (minute 10), E 6 'meh' (4), D 2 'late' (3); A's 9 is not a detractor.
    assert comments.columns == ["survey_type", "date", "score", "customer_id", "comment"]
    assert comments.select("customer_id", "comment").rows() == [("A", "worse"), ("E", "meh")]
    segmented = answers.with_columns(pl.lit("Champions").alias("segment"))
    assert "segment" in detractor_comments(segmented, top=1).collect_schema().names()


def test_nps_tables_plans_what_is_asked():
    answers = prepared(ANSWERS).lazy()
    assert list(nps_tables(answers, config=ONE)) == ["headline", "distribution", "trend"]
    with_customers = answers.with_columns(pl.lit("Loyal").alias("segment"), pl.lit(10.0).alias("net_spend"))
    plans = nps_tables(
        with_customers, config=ONE, by=["period"], weight="net_spend", trend=False, segments=True, comments=3
    )
    assert list(plans) == ["headline", "distribution", "by", "segments", "comments"]
    headline = plans["headline"].collect()
    # relational: A 4, B 10, anonymous 7 -> 1 promoter, 1 detractor of 3: 0; transactional: D 2, E 6: -100.
    assert headline.select("survey_type", "responses", "nps").rows() == [
        ("relational", 3, 0.0),
        ("transactional", 2, -100.0),
    ]
    no_comments = prepared(ANSWERS, comments=False).lazy()
    assert "comments" not in nps_tables(no_comments, config=ONE, comments=3)


def test_customer_lists():
    scores = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "latest_score": [10, 3, 5, 9],
            "nps_category": pl.Series(["promoter", "detractor", "detractor", "promoter"]),
            "responded_at": [datetime(2024, 1, d).date() for d in (1, 2, 3, 4)],
            "net_spend": [10.0, 500.0, 50.0, None],
        }
    )
    assert customer_list(scores, "promoters")["customer_id"].to_list() == ["D", "A"]
    assert customer_list(scores, "detractors")["customer_id"].to_list() == ["B", "C"]  # most valuable first
    assert customer_list(scores, "detractors", min_spend=100)["customer_id"].to_list() == ["B"]
    assert customer_list(scores, "customers") is scores
    with pytest.raises(ValueError, match="unknown list"):
        customer_list(scores, "fans")
