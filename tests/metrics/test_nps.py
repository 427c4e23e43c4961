"""NPS metrics on small hand-computed data: shares, SE, the three intervals, suppression, dedupe policies,
trend and change test, distribution, customer join, revenue weighting, lifecycle stages, per-customer scores
and lists."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.nps import (
    NpsConfig,
    nps_category,
    nps_table,
    nps_trend,
    prepare_responses,
    score_distribution,
)
from loyalty_cli.metrics.nps_lists import (
    customer_scores,
    detractor_list,
    high_value_threshold,
    promoter_list,
    with_customers,
    with_stages,
)
from loyalty_cli.metrics.nps_stats import bootstrap_interval

Z95 = 1.959964  # two-sided 95% normal critical value
ONE = NpsConfig(min_n=1)  # no suppression: the small examples below show their score


def answers(scores, *, customers=None, when=None, types=None, comments=None) -> pl.LazyFrame:
    """Rows as read_surveys returns them. Default: anonymous answers on 2024-01-01 + i minutes."""
    n = len(scores)
    when = when if when is not None else [datetime(2024, 1, 1) + timedelta(minutes=i) for i in range(n)]
    data = {
        "customer_id": pl.Series(customers if customers is not None else [None] * n, dtype=pl.String),
        "responded_at": pl.Series(when, dtype=pl.Datetime("us")),
        "score": pl.Series(scores, dtype=pl.Int16),
    }
    if comments is not None:
        data["comment"] = pl.Series(comments, dtype=pl.String)
    if types is not None:
        data["survey_type"] = pl.Series(types, dtype=pl.String)
    return pl.LazyFrame(data)


def counts(promoters: int, passives: int, detractors: int) -> pl.LazyFrame:
    return answers([10] * promoters + [7] * passives + [3] * detractors)


def table(lf: pl.LazyFrame, config: NpsConfig = ONE, **kwargs) -> pl.DataFrame:
    return nps_table(prepare_responses(lf, config=config), config=config, **kwargs).collect()


# --------------------------------------------------------------------------- categories, NPS, SE, intervals


def test_categories_at_the_boundaries():
    out = pl.DataFrame({"s": [0, 6, 7, 8, 9, 10, None]}).select(nps_category(pl.col("s")).cast(pl.String))
    assert out.to_series().to_list() == ["detractor", "detractor", "passive", "passive", "promoter", "promoter", None]


def test_ten_answers_by_hand():
    # Scores 10 10 10 9 9 | 8 7 | 6 3 0: 5 promoters, 2 passives, 3 detractors, n = 10.
    # p = 0.5, d = 0.3: NPS = 100 (0.5 - 0.3) = 20.
    # SE = sqrt((p + d - (p - d)^2) / n) = sqrt((0.8 - 0.04) / 10) = sqrt(0.076) = 0.275681 -> 27.568 points.
    # Wald 95%: 20 +/- 1.959964 x 27.568 = 20 +/- 54.032 -> [-34.03, 74.03].
    # Adjusted Wald: P' = 5.75, D' = 3.75, n' = 13: p' = 0.442308, d' = 0.288462, centre = 15.385;
    #   SE' = sqrt((0.730769 - 0.023669) / 13) = sqrt(0.054392) = 0.233220 -> margin 45.711 -> [-30.33, 61.10].
    lf = answers([10, 10, 10, 9, 9, 8, 7, 6, 3, 0])
    row = table(lf).row(0, named=True)
    assert (row["survey_type"], row["responses"], row["promoters"], row["passives"], row["detractors"]) == (
        "all",
        10,
        5,
        2,
        3,
    )
    assert (row["share_promoters"], row["share_passives"], row["share_detractors"]) == (0.5, 0.2, 0.3)
    assert row["nps"] == pytest.approx(20.0)
    assert row["se"] == pytest.approx(27.568, abs=1e-3)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(-30.326, abs=1e-3), pytest.approx(61.095, abs=1e-3))
    assert row["ci_method"] == "95% adjusted-wald" and row["suppressed"] is False
    wald = table(lf, NpsConfig(min_n=1, interval="wald")).row(0, named=True)
    assert (wald["ci_low"], wald["ci_high"]) == (pytest.approx(-34.032, abs=1e-3), pytest.approx(74.032, abs=1e-3))
    assert wald["nps"] == row["nps"] and wald["se"] == row["se"]  # the interval method changes only the interval


def test_worked_example_wald_margin_10_6():
    # n = 200, 90 P, 40 D: NPS = 45% - 20% = 25.0; SE = sqrt((0.65 - 0.0625) / 200) = 0.054199 -> 5.42 points;
    # Wald margin = 1.96 x 5.42 = 10.6.
    row = table(counts(90, 70, 40), NpsConfig(interval="wald")).row(0, named=True)
    assert row["nps"] == pytest.approx(25.0)
    assert row["se"] == pytest.approx(5.420, abs=1e-3)
    assert (row["ci_high"] - row["ci_low"]) / 2 == pytest.approx(10.62, abs=0.01)
    assert round((row["ci_high"] - row["ci_low"]) / 2, 1) == 10.6


def test_five_promoters_adjusted_wald_centre_62_5():
    # n = 5, all promoters: Wald says 100 +/- 0. Adjusted: P' = 5.75, D' = 0.75, n' = 8: p' = 0.71875,
    # d' = 0.09375, centre 62.5; SE' = sqrt((0.8125 - 0.390625) / 8) = 0.229640 -> margin 45.01:
    # [17.49, 107.51], the upper bound clipped to 100.
    row = table(counts(5, 0, 0)).row(0, named=True)
    assert row["nps"] == 100.0 and row["se"] == 0.0
    assert row["ci_low"] == pytest.approx(62.5 - 45.0085, abs=1e-3)
    assert row["ci_high"] == 100.0
    wald = table(counts(5, 0, 0), NpsConfig(min_n=1, interval="wald")).row(0, named=True)
    assert (wald["ci_low"], wald["ci_high"]) == (100.0, 100.0)


def test_confidence_level_changes_z():
    # 90%: z = 1.644854; n = 200 example: margin 1.644854 x 5.41987 = 8.915.
    row = table(counts(90, 70, 40), NpsConfig(interval="wald", confidence=0.9)).row(0, named=True)
    assert (row["ci_high"] - row["ci_low"]) / 2 == pytest.approx(8.915, abs=1e-3)
    assert row["ci_method"] == "90% wald"


def test_minimum_n_shows_counts_but_no_score():
    config = NpsConfig(min_n=30)
    rows = table(counts(20, 5, 4), config).row(0, named=True)  # n = 29
    assert (rows["responses"], rows["promoters"], rows["passives"], rows["detractors"]) == (29, 20, 5, 4)
    assert rows["suppressed"] is True
    assert [rows[c] for c in ("share_promoters", "nps", "se", "ci_low", "ci_high")] == [None] * 5
    assert table(counts(20, 6, 4), config).row(0, named=True)["nps"] == pytest.approx(100 * 16 / 30)


def test_non_responses_are_counted_but_not_in_n():
    lf = answers([10, None, 3, None, 8])
    row = table(lf).row(0, named=True)
    assert (row["responses"], row["non_responses"], row["nps"]) == (3, 2, 0.0)


def test_bootstrap_is_seeded_vectorised_and_independent_of_other_groups():
    config = NpsConfig(interval="bootstrap", seed=1)
    lf = counts(90, 70, 40)
    first = table(lf, config).row(0, named=True)
    assert first == table(lf, config).row(0, named=True)  # same seed, same interval
    # Close to Wald's 25 +/- 10.6 at n = 200.
    assert first["ci_low"] == pytest.approx(14.4, abs=1.2) and first["ci_high"] == pytest.approx(35.6, abs=1.2)
    assert first["ci_method"] == "95% bootstrap"
    # A group's interval depends on its counts and the seed only, not on the other groups.
    low, high = bootstrap_interval([0, 90, 5], [0, 70, 0], [0, 40, 0], confidence=0.95, samples=2000, seed=1)
    assert (low[1], high[1]) == (first["ci_low"], first["ci_high"])
    assert (low[2], high[2]) == (100.0, 100.0)  # every resample of five promoters is all promoters
    assert low[0] != low[0]  # NaN for no answers


def test_config_rejects_bad_options():
    for settings_, shown in (
        ({"interval": "exact"}, "--interval must be one of adjusted-wald, wald, bootstrap"),
        ({"confidence": 95}, "--confidence"),
        ({"min_n": 0}, "--min-n"),
        ({"period": "day"}, "--period"),
    ):
        with pytest.raises(UsageError) as caught:
            NpsConfig(**settings_)  # type: ignore[arg-type]
        assert re.search(shown, render(str(caught.value)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 10)), min_size=1, max_size=60),
    st.sampled_from(["adjusted-wald", "wald"]),
    st.randoms(use_true_random=False),
)
def test_property_nps_and_interval_stay_in_range_whatever_the_order(scores, interval, rnd):
    config = NpsConfig(min_n=1, interval=interval)
    row = table(answers(scores), config).row(0, named=True)
    scored = [s for s in scores if s is not None]
    if not scored:
        assert row["nps"] is None and row["non_responses"] == len(scores)
        return
    expected = 100 * (sum(s >= 9 for s in scored) - sum(s <= 6 for s in scored)) / len(scored)
    assert row["nps"] == pytest.approx(expected)
    assert -100 <= row["nps"] <= 100
    assert -100 <= row["ci_low"] <= row["ci_high"] <= 100
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    assert table(answers(shuffled), config).row(0, named=True) == row


# --------------------------------------------------------------------------- survey types and dedupe


def test_relational_and_transactional_are_never_pooled():
    lf = answers([10, 10, 0, 0, 7], types=["relational", "relational", "transactional", "transactional", None])
    out = table(lf).select("survey_type", "responses", "nps").rows()
    assert out == [("relational", 2, 100.0), ("transactional", 2, -100.0), ("unspecified", 1, 0.0)]


# Customer A answers a relational survey three times (two in Q1, one in Q2); B's answer is exported twice;
# C skips the question; two anonymous answers are identical (they cannot be told apart: both count).
DEDUPE = answers(
    [3, 9, 10, 8, 8, None, 6, 6],
    customers=["A", "A", "A", "B", "B", "C", None, None],
    when=[
        datetime(2024, 1, 5),
        datetime(2024, 2, 10),
        datetime(2024, 4, 2),
        datetime(2024, 1, 3),
        datetime(2024, 1, 3),
        datetime(2024, 1, 4),
        datetime(2024, 1, 6),
        datetime(2024, 1, 6),
    ],
    types=["relational"] * 8,
)


def statuses(lf: pl.LazyFrame, dedupe: str) -> list[tuple]:
    out = prepare_responses(lf, config=NpsConfig(dedupe=dedupe, min_n=1)).collect()  # type: ignore[arg-type]
    return out.select("customer_id", "score", pl.col("status").cast(pl.String)).rows()


def test_dedupe_all_drops_only_exact_duplicates():
    assert statuses(DEDUPE, "all") == [
        ("B", 8, "counted"),
        ("B", 8, "duplicate"),
        ("C", None, "non-response"),
        ("A", 3, "counted"),
        (None, 6, "counted"),
        (None, 6, "counted"),
        ("A", 9, "counted"),
        ("A", 10, "counted"),
    ]


def test_dedupe_latest_keeps_one_answer_per_customer():
    assert [s for s in statuses(DEDUPE, "latest") if s[0] == "A"] == [
        ("A", 3, "repeat"),
        ("A", 9, "repeat"),
        ("A", 10, "counted"),
    ]
    row = table(DEDUPE, NpsConfig(dedupe="latest", min_n=1)).row(0, named=True)
    # Counted: A 10, B 8, two anonymous 6: 1 P, 1 Pa, 2 D -> NPS -25.
    assert (row["responses"], row["repeats"], row["duplicates"], row["non_responses"], row["nps"]) == (
        4,
        2,
        1,
        1,
        -25.0,
    )


def test_dedupe_latest_per_period_and_auto():
    expected = [("A", 3, "repeat"), ("A", 9, "counted"), ("A", 10, "counted")]
    assert [s for s in statuses(DEDUPE, "latest-per-period") if s[0] == "A"] == expected
    assert [s for s in statuses(DEDUPE, "auto") if s[0] == "A"] == expected  # relational: per period
    per_month = prepare_responses(DEDUPE, config=NpsConfig(dedupe="latest-per-period", period="month")).collect()
    assert per_month.filter(pl.col("customer_id") == "A")["status"].cast(pl.String).to_list() == ["counted"] * 3
    transactional = DEDUPE.with_columns(pl.lit("transactional").alias("survey_type"))
    assert [s for s in statuses(transactional, "auto") if s[0] == "A"] == [  # each rates one transaction
        ("A", 3, "counted"),
        ("A", 9, "counted"),
        ("A", 10, "counted"),
    ]


def test_dedupe_ties_take_the_lower_score_whatever_the_row_order():
    same_time = [datetime(2024, 1, 1, 12)] * 2
    for scores in ([9, 4], [4, 9]):
        lf = answers(scores, customers=["A", "A"], when=same_time)
        out = prepare_responses(lf, config=NpsConfig(dedupe="latest")).collect()
        assert out.filter(pl.col("status") == "counted")["score"].to_list() == [4]


@pytest.mark.parametrize("dedupe", ["all", "latest", "latest-per-period", "auto"])
def test_dedupe_does_not_depend_on_row_order(dedupe):
    reversed_rows = DEDUPE.collect().reverse().lazy()
    assert statuses(reversed_rows, dedupe) == statuses(DEDUPE, dedupe)


def test_a_blank_answer_never_replaces_a_score():
    lf = answers([9, None], customers=["A", "A"], when=[datetime(2024, 1, 1), datetime(2024, 1, 2)])
    assert statuses(lf, "latest") == [("A", 9, "counted"), ("A", None, "non-response")]


# --------------------------------------------------------------------------- trend and change test


def two_quarters(first: tuple[int, int, int], second: tuple[int, int, int]) -> pl.LazyFrame:
    q1 = [10] * first[0] + [7] * first[1] + [3] * first[2]
    q2 = [10] * second[0] + [7] * second[1] + [3] * second[2]
    when = [datetime(2024, 2, 1)] * len(q1) + [datetime(2024, 5, 1)] * len(q2)
    return answers(q1 + q2, when=when, types=["relational"] * (len(q1) + len(q2)))


def trend(lf: pl.LazyFrame, config: NpsConfig, as_of: date | None = None) -> pl.DataFrame:
    return nps_trend(prepare_responses(lf, config=config), config=config, as_of=as_of).collect()


def test_change_25_to_35_2_is_not_significant():
    # Q1: n = 200, 90 P, 40 D -> 25.0, SE 5.41987. Q2: n = 250, 125 P, 37 D -> 50% - 14.8% = 35.2,
    # SE = sqrt((0.648 - 0.352^2) / 250) = sqrt(0.002096384) = 4.57863. Change +10.2;
    # z = 10.2 / sqrt(5.41987^2 + 4.57863^2) = 10.2 / 7.09498 = 1.4376; p = 2 (1 - Phi(1.4376)) = 0.1505.
    out = trend(two_quarters((90, 70, 40), (125, 88, 37)), NpsConfig())
    assert out.select("period", "responses").rows() == [("2024-Q1", 200), ("2024-Q2", 250)]
    q2 = out.row(1, named=True)
    assert q2["nps"] == pytest.approx(35.2)
    assert q2["change"] == pytest.approx(10.2)
    assert q2["z"] == pytest.approx(1.4376, abs=1e-4)
    assert q2["p_value"] == pytest.approx(0.1505, abs=1e-4)
    assert q2["significant"] is False
    assert out.row(0, named=True)["change"] is None  # no previous period


def test_change_25_to_50_is_significant():
    # Q2: n = 200, 120 P, 20 D -> 50; SE = sqrt((0.7 - 0.25) / 200) = 4.74342; z = 25 / 7.20243 = 3.471,
    # p = 0.00052.
    q2 = trend(two_quarters((90, 70, 40), (120, 60, 20)), NpsConfig()).row(1, named=True)
    assert q2["z"] == pytest.approx(3.471, abs=1e-3)
    assert q2["p_value"] == pytest.approx(0.00052, abs=1e-5)
    assert q2["significant"] is True


def test_trend_lists_empty_periods_and_does_not_test_suppressed_ones():
    when = [datetime(2024, 1, 10)] * 40 + [datetime(2024, 3, 5)] * 10 + [datetime(2024, 4, 2)] * 40
    lf = answers([10] * 90, when=when)
    out = trend(lf, NpsConfig(period="month"), as_of=date(2024, 4, 15))
    assert out.select("period", "responses", "suppressed", "complete").rows() == [
        ("2024-01", 40, False, True),
        ("2024-02", 0, True, True),
        ("2024-03", 10, True, True),
        ("2024-04", 40, False, False),  # April has not ended by the as-of date
    ]
    assert out["change"].to_list() == [None, None, None, None]  # each change has a suppressed side
    assert out["period_start"].to_list() == [date(2024, m, 1) for m in (1, 2, 3, 4)]


def test_period_labels():
    lf = answers([9], when=[datetime(2024, 1, 3)])
    labels = [trend(lf, NpsConfig(min_n=1, period=p))["period"][0] for p in ("week", "month", "quarter", "year")]
    assert labels == ["2024-W01", "2024-01", "2024-Q1", "2024"]


def test_score_distribution_lists_every_score():
    out = score_distribution(prepare_responses(answers([10, 10, 7, 0, None]), config=ONE)).collect()
    assert out.height == 11
    assert out.filter(pl.col("responses") > 0).select("score", "responses", "share").rows() == [
        (0, 1, 0.25),
        (7, 1, 0.25),
        (10, 2, 0.5),
    ]


# --------------------------------------------------------------------------- customers, weighting, lists


def customers_frame() -> pl.LazyFrame:
    segments = pl.Enum(["Champions", "At Risk"])
    return pl.LazyFrame(
        {
            "customer_id": ["A", "B", "C"],
            "email": ["a@x.com", "b@x.com", None],
            "segment": pl.Series(["Champions", "At Risk", "Champions"], dtype=segments),
            "net_spend": [300.0, 100.0, 100.0],
            "orders": pl.Series([5, 1, 2], dtype=pl.UInt32),
            "last_purchase": [date(2024, 3, 1)] * 3,
            "recency_days": [10, 40, 20],
        }
    )


SURVEYED = answers(
    [10, 3, 7, 9, 5],
    customers=["A", "B", "C", "D", None],
    when=[datetime(2024, 1, d) for d in (1, 2, 3, 4, 5)],
    comments=["love it", "<script>alert(1)</script>", None, "ok", "anon"],
)


def test_nps_by_segment_and_revenue_weighted():
    joined = with_customers(prepare_responses(SURVEYED, config=ONE), customers_frame())
    by_segment = nps_table(joined, config=ONE, by=["segment"], weight="net_spend").collect()
    assert by_segment.select(pl.col("segment").cast(pl.String), "responses", "nps").rows() == [
        ("Champions", 2, 50.0),  # A 10, C 7
        ("At Risk", 1, -100.0),  # B 3
        ("(no purchase)", 1, 100.0),  # D answered but bought nothing before the as-of date
        ("(anonymous)", 1, -100.0),
    ]
    headline = nps_table(joined, config=ONE, weight="net_spend").collect().row(0, named=True)
    # Unweighted: 2 P (A, D), 1 Pa, 2 D -> 0. Revenue-weighted over customers with spend: A 300 (P), B 100 (D),
    # C 100 (Pa) -> (300 - 100) / 500 = 40.
    assert headline["nps"] == 0.0
    assert headline["nps_weighted_by_net_spend"] == pytest.approx(40.0)
    assert headline["net_spend_total"] == 500.0


def test_nps_by_lifecycle_stage_keeps_the_rule_order():
    # Stages as lifecycle_table gives them: an Enum in rule order (advocate before lapsed), whatever the rows' order.
    stages = pl.LazyFrame(
        {"customer_id": ["C", "A", "B"], "stage": ["lapsed", "advocate", "lapsed"]},
        schema={"customer_id": pl.String, "stage": pl.Enum(["new", "advocate", "lapsed"])},
    )
    joined = with_stages(prepare_responses(SURVEYED, config=ONE), stages)
    assert joined.collect_schema()["stage"] == pl.Enum(["new", "advocate", "lapsed", "(no purchase)", "(anonymous)"])
    by_stage = nps_table(joined, config=ONE, by=["stage"]).collect()
    assert by_stage.select(pl.col("stage").cast(pl.String), "responses", "promoters", "detractors", "nps").rows() == [
        ("advocate", 1, 1, 0, 100.0),  # A 10
        ("lapsed", 2, 0, 1, -50.0),  # B 3, C 7
        ("(no purchase)", 1, 1, 0, 100.0),  # D 9: not among the customers
        ("(anonymous)", 1, 0, 1, -100.0),  # 5, no customer id
    ]
    # Respondents (one row each) get the same labels; plain text stages stay text.
    scores = with_stages(customer_scores(prepare_responses(SURVEYED, config=ONE)), stages.cast({"stage": pl.String}))
    assert scores.collect_schema()["stage"] == pl.String
    assert scores.collect().select("customer_id", "stage").rows() == [
        ("A", "advocate"),
        ("B", "lapsed"),
        ("C", "lapsed"),
        ("D", "(no purchase)"),
    ]


def test_customer_scores_and_lists():
    lf = (
        SURVEYED.collect()
        .vstack(answers([9], customers=["B"], when=[datetime(2023, 12, 1)], comments=["older"]).collect())
        .lazy()
    )
    scores = customer_scores(prepare_responses(lf, config=ONE))
    out = scores.collect()
    assert out.select(
        "customer_id", "latest_score", pl.col("nps_category").cast(pl.String), "scored_responses"
    ).rows() == [("A", 10, "promoter", 1), ("B", 3, "detractor", 2), ("C", 7, "passive", 1), ("D", 9, "promoter", 1)]
    assert out.filter(pl.col("customer_id") == "B")["comment"].to_list() == ["<script>alert(1)</script>"]
    assert promoter_list(scores).collect()["customer_id"].to_list() == ["D", "A"]  # most recent first
    assert detractor_list(scores).collect()["customer_id"].to_list() == ["B"]
    valued = with_customers(scores, customers_frame())
    assert valued.collect().filter(pl.col("customer_id") == "A")["email"].to_list() == ["a@x.com"]
    assert detractor_list(valued, min_spend=100).collect()["customer_id"].to_list() == ["B"]
    assert detractor_list(valued, min_spend=150).collect().height == 0
    # The top 20% start at the 80th percentile of net spend: 100, 100, 300 -> 100 + 0.6 x 200 = 220.
    assert high_value_threshold(customers_frame()).collect().item() == pytest.approx(220.0)


# --------------------------------------------------------------------------- answers without a date


def test_answers_without_a_date_count_but_have_no_trend():
    """A single-wave export without dates: the NPS, distribution and customer scores are computed; a
    customer's answers all count as given at the same time, so a dedupe to one answer keeps the lower score
    (the tie rule), whatever the row order; the trend has no period to put them in and is empty."""
    lf = answers([9, 4, 10, 3, 7], customers=["A", "A", "B", None, None], when=[None] * 5)
    for rows in (lf, lf.collect().reverse().lazy(), lf.drop("responded_at")):  # no column at all: the same
        for dedupe in ("auto", "latest", "latest-per-period"):
            out = prepare_responses(rows, config=NpsConfig(dedupe=dedupe)).collect()
            assert out.schema["responded_at"] == pl.Datetime("us")
            counted = out.filter(pl.col("status") == "counted").sort("score")
            assert counted.select("customer_id", "score").rows() == [(None, 3), ("A", 4), (None, 7), ("B", 10)]
            assert out.filter(pl.col("status") == "repeat")["score"].to_list() == [9]
    assert table(lf).select("responses", "promoters", "detractors", "repeats", "nps").row(0) == (4, 1, 2, 1, -25.0)
    assert table(lf, NpsConfig(dedupe="all", min_n=1))["responses"].to_list() == [5]
    empty = trend(lf, ONE)
    assert empty.is_empty()
    assert empty.columns == trend(answers([9]), ONE).columns
    scores = customer_scores(prepare_responses(lf, config=ONE)).collect()
    assert scores.select("customer_id", "latest_score", "responded_at", "scored_responses").rows() == [
        ("A", 4, None, 2),
        ("B", 10, None, 1),
    ]
    assert detractor_list(scores.lazy()).collect()["customer_id"].to_list() == ["A"]
