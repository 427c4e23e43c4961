"""``app.nps`` called directly: the config checked in neutral words, the survey check before reading, and the
NPS, trend, lists and notes of a small survey (with and without its respondents' transactions), hand-computed;
:func:`nps_summary` as the report calls it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.messages import Messages
from loyalty_cli.app.nps import NpsCommandConfig, nps, survey_check
from loyalty_cli.app.nps_summary import nps_summary
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.io.readers import ReadOptions
from loyalty_cli.metrics.rfm import RfmConfig, rfm_scores

AS_OF = date(2024, 7, 1)
# Relational answers, deduped latest per quarter. Counted: Q1 A 10, B 9, C 8, D 6, E 3, anonymous 10; Q2 B 10
# (another quarter: counted too); A's blank answer is a non-response. 7 counted of 8: 4 promoters, 1 passive,
# 2 detractors: NPS = (4 - 2) / 7 = 28.57. Wald: SE = sqrt((6/7 - (2/7)^2) / 7) = 33.285 points, margin
# 1.96 x 33.285 = 65.24: -36.7 to 93.8. Trend: Q1 (3 - 2) / 6 = 16.67, Q2 100.
SURVEYS = """customer_id,responded_at,score,comment,survey_type
A,2024-01-10 10:00,10,love it,relational
B,2024-01-11 10:00,9,,relational
C,2024-01-12 10:00,8,,relational
D,2024-02-01 10:00,6,slow,relational
E,2024-02-02 10:00,3,rude,relational
A,2024-02-03 10:00,,,relational
,2024-02-04 10:00,10,,relational
B,2024-04-05 10:00,10,,relational
"""
# Net spend: A 100, B 300, C 50, E 500, Z 20 (D bought nothing). High value from p80 of [20, 50, 100, 300, 500]:
# 300 + 0.2 x 200 = 340. Weighted by net spend (D and the anonymous answer have none): promoters A 100 + B 300
# + B 300 = 700, detractors E 500, of 1,250: NPS 16.0.
ORDERS = """customer_id,order_date,amount
A,2024-03-01,100
B,2024-02-01,300
C,2024-05-01,50
E,2024-06-01,500
Z,2024-06-15,20
"""
WALD = {"interval": "wald", "min_n": 1}


def inputs_of(tmp_path: Path, config: NpsCommandConfig, *, surveys: str = SURVEYS, orders: bool = False) -> Inputs:
    (tmp_path / "s.csv").write_text(surveys)
    (tmp_path / "tx.csv").write_text(ORDERS)
    spec = InputSpec(
        transactions=[str(tmp_path / "tx.csv")] if orders else [],
        surveys=[str(tmp_path / "s.csv")],
        side_options={"surveys": ReadOptions(keep=config.survey_columns)},
        survey_config=config.stats,
        sides_first=True,
        check_scan={"surveys": survey_check(config, as_of=AS_OF)},
        as_of=AS_OF,
        activity=config.lifecycle is not None,
        need_customers=False,
    )
    return load_inputs(spec)


def texts(messages) -> list[str]:
    return [m.text for m in messages]


@pytest.mark.parametrize(
    ("settings", "name", "fragment"),
    [
        ({"interval": "exact"}, "interval", "must be one of adjusted-wald, wald, bootstrap, got 'exact'"),
        ({"confidence": 95}, "confidence", "must be at least 0.5 and below 1, got 95"),
        ({"min_n": 0}, "min_n", "must be at least 1, got 0"),
        ({"period": "day"}, "period", "must be one of week, month, quarter, year"),
        ({"dedupe": "first"}, "dedupe", "must be one of auto, latest, latest-per-period, all"),
        ({"bootstrap_samples": 5}, "bootstrap_samples", "must be at least 100, got 5"),
    ],
)
def test_config_names_the_bad_setting(settings, name, fragment):
    with pytest.raises(ConfigError) as caught:
        NpsCommandConfig(**settings)
    assert caught.value.name == name
    assert caught.value.message.startswith(f"{setting(name)} {fragment}")
    assert "--" not in caught.value.message


def test_config_checks_lists_and_what_needs_transactions():
    with pytest.raises(UsageError, match="must be one of promoters, detractors, customers") as caught:
        NpsCommandConfig(list_="fans")
    assert caught.value.message.startswith(setting("list"))
    for settings, first in (
        ({"by": ("touchpoint", "segment")}, f"{setting('by')} segment"),
        ({"rules": "rfm_grid"}, setting("rules")),
        ({"min_spend": 100.0}, setting("min_spend")),
    ):
        with pytest.raises(UsageError) as caught:
            NpsCommandConfig(**settings)
        assert caught.value.message == f"{first} needs {setting('transactions')}"
    config = NpsCommandConfig(by=("segment", "touchpoint", "segment", "stage"), transactions=True, confidence=0.9)
    assert config.by == ("segment", "touchpoint", "stage") and config.survey_columns == ("touchpoint",)
    assert config.segment_map is not None and config.lifecycle is not None
    assert config.stats.confidence == 0.9 and config.stats.label == "90% adjusted-wald"
    assert NpsCommandConfig().segment_map is None and NpsCommandConfig().lifecycle is None


def test_nps_trend_lists_and_notes_by_hand(tmp_path):
    config = NpsCommandConfig(**WALD, list_="promoters")
    result = nps(inputs_of(tmp_path, config), config)
    row = result.tables.headline.row(0, named=True)
    assert (row["survey_type"], row["responses"], row["promoters"], row["passives"], row["detractors"]) == (
        "relational",
        7,
        4,
        1,
        2,
    )
    assert row["nps"] == pytest.approx(200 / 7) and row["non_responses"] == 1
    assert result.tables.counts == {"counted": 7, "non-response": 1, "duplicate": 0, "repeat": 0}
    trend = result.tables.trend
    assert trend is not None
    assert trend.select("period", "responses", "complete").rows() == [("2024-Q1", 6, True), ("2024-Q2", 1, True)]
    assert trend["nps"].to_list() == pytest.approx([100 / 6, 100.0])
    assert result.table.equals(result.tables.headline)  # no breakdown: -o writes the headline
    assert result.tables.segments is None and result.tables.by is None
    # The latest scored answer per respondent (A's blank answer is no score); promoters most recent first.
    assert dict(result.respondents.select("customer_id", "latest_score").iter_rows()) == {
        "A": 10,
        "B": 10,
        "C": 8,
        "D": 6,
        "E": 3,
    }
    assert result.customer_list is not None and result.customer_list["customer_id"].to_list() == ["B", "A"]
    assert result.list_note is None
    assert texts(result.messages) == [
        "8 answers: 7 counted, 1 non-response (blank or NA score: not in n), 0 duplicates (the same answer twice), "
        "0 earlier answers of repeat responders dropped",
        "Dedupe auto (relational: latest-per-period); periods: quarter",
        "1 anonymous answer (no customer id) counted as they are (cannot be deduped)",
    ]
    assert texts(result.said) == ["relational: NPS 28.6 (95% wald interval -36.7 to 93.8), n = 7"]


def test_respondents_matched_to_customers_by_hand(tmp_path):
    config = NpsCommandConfig(**WALD, transactions=True, list_="detractors", by=("touchpoint",))
    with pytest.raises(DataError):  # the reader refuses a --by column the surveys do not have
        inputs_of(tmp_path, config, orders=True)
    config = NpsCommandConfig(**WALD, transactions=True, list_="detractors")
    result = nps(inputs_of(tmp_path, config, orders=True), config)
    assert result.tables.headline["nps_weighted_by_net_spend"].to_list() == pytest.approx([16.0])
    segments = result.tables.segments
    assert segments is not None and segments["responses"].sum() == 7
    assert {"(no purchase)", "(anonymous)"} <= set(segments["segment"].cast(pl.String))
    assert result.customer_list is not None
    assert result.customer_list.select("customer_id", "net_spend").rows() == [("E", 500.0)]  # D has no purchase
    assert result.list_note == "High-value detractors: net spend of at least 340.00 (top 20% of customers)"
    assert texts(result.said)[-1] == "4 of 5 respondents found among the customers of the transactions"
    assert "Customers as of 2024-07-01 (orders before that day): 5; segments from built-in rfm_grid" in texts(
        result.messages
    )
    config = NpsCommandConfig(**WALD, transactions=True, list_="detractors", min_spend=1000.0)
    result = nps(inputs_of(tmp_path, config, orders=True), config)
    assert result.customer_list is not None and result.customer_list.is_empty()
    assert result.list_note == "High-value detractors: net spend of at least 1,000.00"


def test_one_survey_type_and_no_scored_answers(tmp_path):
    config = NpsCommandConfig(**WALD, survey_type=" Relational ")
    assert nps(inputs_of(tmp_path, config), config).tables.headline["responses"].to_list() == [7]
    config = NpsCommandConfig(**WALD, survey_type="onboarding")
    with pytest.raises(UsageError, match="no such survey type in the surveys"):
        nps(inputs_of(tmp_path, config), config)
    config = NpsCommandConfig(**WALD)
    blank = "customer_id,responded_at,score\nA,2024-01-01,NA\n"
    with pytest.raises(DataError, match="No scored answers in") as caught:
        nps(inputs_of(tmp_path, config, surveys=blank), config)
    assert setting("score_col") in (caught.value.hint or "")


def test_a_survey_without_dates_is_checked_before_reading(tmp_path):
    wave = "customer_id,score\nA,9\nB,3\n"
    for config, refused in (
        (NpsCommandConfig(trend=True), setting("trend")),
        (NpsCommandConfig(by=("period",)), f"{setting('by')} period"),
    ):
        with pytest.raises(UsageError) as caught:
            inputs_of(tmp_path, config, surveys=wave)
        assert caught.value.message.startswith(f"{refused} needs response dates")
    config = NpsCommandConfig(min_n=1)
    messages = Messages()
    check = survey_check(config, as_of=AS_OF)
    inputs = inputs_of(tmp_path, config, surveys=wave)
    check(inputs.scans["surveys"], messages)
    assert texts(messages.items)[1] == f"{setting('as_of')} 2024-07-01 leaves no answer out: the surveys have no dates"
    result = nps(inputs, config)
    assert result.tables.trend is None and result.tables.headline["nps"].to_list() == [0.0]


def test_nps_summary_as_the_report_calls_it(tmp_path):
    config = NpsCommandConfig(**WALD, transactions=True)
    inputs = inputs_of(tmp_path, config, orders=True)
    command = nps(inputs, config)
    assert config.segment_map is not None
    customers = config.segment_map.assign(rfm_scores(inputs.customers.lazy(), config=RfmConfig())).collect()
    summary = nps_summary(inputs.tables["surveys"], config=config.stats, customers=customers, as_of=AS_OF, comments=5)
    assert summary.headline.equals(command.tables.headline)
    assert summary.segments is not None and summary.segments.equals(command.tables.segments)
    assert summary.trend is not None and summary.trend.equals(command.tables.trend)
    assert summary.comments is not None
    assert summary.comments.select("customer_id", "score", "comment").rows() == [("E", 3, "rude"), ("D", 6, "slow")]
    assert summary.comments["segment"][1] == "(no purchase)"  # latest first; D bought nothing
    bare = nps_summary(inputs.tables["surveys"], config=config.stats)
    assert "nps_weighted_by_net_spend" not in bare.headline.columns and bare.segments is None
    assert bare.comments is None and bare.counts["counted"] == 7
