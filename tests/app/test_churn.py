"""``app.churn`` called directly: the config checked in neutral words, statuses, value tiers and ranks, the
status summary, the churn rates and the notes, hand-computed on a small shop."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.churn import ChurnConfig, check_ipt, churn
from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.errors import ConfigError, DataError, LoyaltyError, UsageError, setting

ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"
AS_OF = date(2024, 7, 1)
FIXED = "[lapsing]\ndays = 30\n[lapsed]\ndays = 90\n"

# As of 2024-07-01 with fixed rules (lapsing after 30 days, lapsed after 90):
#   A  2024-05-01 50, 2024-06-21 100  recency 10   net 150  active
#   B  2024-05-22 300                 recency 40   net 300  lapsing
#   C  2024-03-01 20                  recency 122  net 20   lapsed
#   D  2024-04-02 60                  recency 90   net 60   lapsing (exactly at 90 days is not beyond it)
# Value tiers over [20, 60, 150, 300]: high >= p80 = 150 + 0.4 x 150 = 210 (B); medium >= p50 = 60 + 0.5 x 90
# = 105 (A); low: C, D. Worth a costly offer: lapsing/lapsed in high or medium: B only.
SHOP = """customer_id,order_date,amount
A,2024-05-01,50
A,2024-06-21,100
B,2024-05-22,300
C,2024-03-01,20
D,2024-04-02,60
"""


def inputs_of(path: Path, as_of: date | None = AS_OF) -> Inputs:
    return load_inputs(InputSpec(transactions=[str(path)], as_of=as_of, activity=True))


@pytest.fixture
def shop(tmp_path: Path) -> Inputs:
    path = tmp_path / "tx.csv"
    path.write_text(SHOP)
    return inputs_of(path)


@pytest.fixture
def fixed(tmp_path: Path) -> str:
    path = tmp_path / "fixed.toml"
    path.write_text(FIXED)
    return str(path)


def test_statuses_tiers_ranks_and_summary(shop, fixed):
    result = churn(shop, ChurnConfig(rules=fixed))
    assert result.as_of == AS_OF and result.value_column == "net_spend" and result.period == "month"
    assert result.ranked.select("customer_id", "status", "value_tier", "value_rank", "worth_costly_offer").rows() == [
        ("A", "active", "medium", 1, None),
        ("B", "lapsing", "high", 1, True),
        ("D", "lapsing", "low", 2, False),
        ("C", "lapsed", "low", 1, False),
    ]
    assert result.ranked.columns[:6] == [
        "customer_id",
        "status",
        "value_tier",
        "value_rank",
        "worth_costly_offer",
        "reason",
    ]
    assert result.ranked.filter(pl.col("customer_id") == "D")["reason"].item() == (
        "90 days since the last purchase > lapsing threshold fixed 30 days = 30 days, <= lapsed threshold "
        "fixed 90 days = 90 days"
    )
    assert result.customers.equals(result.ranked)  # no status chosen: everybody
    summary = result.summary.with_columns(pl.col("status").cast(pl.String))
    assert summary.select("status", "customers", "net_spend", "high_value", "worth_costly_offer").rows() == [
        ("active", 1, 150.0, 0, 0),
        ("lapsing", 2, 360.0, 1, 1),
        ("lapsed", 1, 20.0, 0, 0),
    ]
    assert summary["share_customers"].to_list() == [0.25, 0.5, 0.25]
    assert result.counts == {"active": 1, "lapsing": 2, "lapsed": 1}
    assert [m.text for m in result.messages] == [
        f"As of 2024-07-01 (data before that day); 4 customers; rules {fixed}: lapsing after fixed 30 days, "
        "lapsed after fixed 90 days"
    ]


def test_rates_replay_the_thresholds(shop, fixed):
    # C (last purchase 2024-03-01) is lapsed from 2024-05-31 on (92 days > 90 by June 1); D only from 2024-07-02.
    # May: at the start C and D (A and B arrive in May): C lapses during it. June: A, B, D at the start; nobody
    # lapses; at its end C is lapsed and the other three are not.
    rates = churn(shop, ChurnConfig(rules=fixed)).rates
    by_period = {r["period"]: r for r in rates.iter_rows(named=True)}
    may, june = by_period["2024-05"], by_period["2024-06"]
    assert (may["customers_at_start"], may["new_customers"], may["churned"], may["churn_rate"]) == (2, 2, 1, 0.5)
    assert (june["customers_at_start"], june["churned"], june["lapsed_at_end"], june["active_at_end"]) == (3, 0, 1, 3)
    assert rates["period"][-1] == "2024-06"  # July holds the as-of date: not over


def test_chosen_statuses_and_top_lists(shop, fixed):
    result = churn(shop, ChurnConfig(rules=fixed, statuses=("lapsed", "lapsing"), top=1))
    assert result.customers["customer_id"].to_list() == ["B", "D", "C"]  # status order, then value
    assert result.ranked.height == 4
    assert list(result.at_risk) == ["lapsing", "lapsed"]
    assert result.at_risk["lapsing"]["customer_id"].to_list() == ["B"]
    assert result.at_risk["lapsing"].columns == [
        "customer_id",
        "value_rank",
        "value_tier",
        "worth_costly_offer",
        "recency_days",
        "ipt_days",
        "net_spend",
    ]
    assert churn(shop, ChurnConfig(rules=fixed, top=0)).at_risk == {}


def test_population_ipt_rules_need_a_repeat_customer(tmp_path):
    path = tmp_path / "once.csv"
    path.write_text("customer_id,order_date,amount\nA,2024-01-01,5\nB,2024-02-01,7\n")
    inputs = inputs_of(path)
    with pytest.raises(DataError) as caught:
        churn(inputs, ChurnConfig())
    assert caught.value.message.startswith(f"No customer in {path} bought on two different days")
    assert setting("rules") in str(caught.value.hint)
    with pytest.raises(DataError, match="no inter-purchase time") as caught:
        check_ipt(inputs, ChurnConfig().rule_set, hint="Do something else.")
    assert caught.value.hint == "Do something else."


@pytest.mark.parametrize(
    ("settings", "error", "text"),
    [
        ({"period": "year"}, ConfigError, f"{setting('period')} must be week, month or quarter, got 'year'"),
        ({"model": "xgboost"}, ConfigError, f"{setting('model')} must be one of"),
        ({"rank_by": "loudest"}, ConfigError, f"{setting('rank_by')} must be historical or predicted"),
        ({"rank_by": "predicted"}, UsageError, f"{setting('rank_by')} predicted needs {setting('model')}"),
        ({"top": -1}, ConfigError, f"{setting('top')} must be 0 or more, got -1"),
        ({"statuses": ("gone",)}, UsageError, "Unknown status 'gone'"),
    ],
)
def test_config_rejects_bad_settings(settings, error, text):
    with pytest.raises(error) as caught:
        ChurnConfig(**settings)
    assert caught.value.message.startswith(text)
    assert "--" not in caught.value.message + (caught.value.hint or "")
    if error is ConfigError:
        assert caught.value.name == next(iter(settings))


def test_config_loads_the_rules_before_any_data(tmp_path):
    assert ChurnConfig().rule_set.source == "built-in churn"
    with pytest.raises(LoyaltyError, match="Churn rules file not found"):
        ChurnConfig(rules=str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[lapsing]\nmultiplier = 1.5\n[lapsed]\nmultiplier = 1.2\n")
    with pytest.raises(LoyaltyError, match=r"must be above \[lapsing\] multiplier"):
        ChurnConfig(rules=str(bad))


def test_ranked_by_a_model_on_the_sample():
    result = churn(inputs_of(SAMPLE, None), ChurnConfig(model="bgnbd", rank_by="predicted", top=3))
    assert result.value_column == "predicted_value"
    assert {"p_alive", "p_alive_model", "predicted_value"} <= set(result.ranked.columns)
    lapsed = result.ranked.filter(pl.col("status") == "lapsed")["predicted_value"].to_list()
    assert lapsed == sorted(lapsed, reverse=True)
    assert result.at_risk["lapsed"]["predicted_value"].to_list() == lapsed[:3]
    texts = [m.text for m in result.messages]
    assert texts[1].startswith("P(alive) from BG/NBD (bgnbd) fitted on 3,000 customers")
    assert texts[2].startswith("BG/NBD gives every one-time buyer P(alive) = 1") and setting("model") in texts[2]


@pytest.mark.parametrize("config", [ChurnConfig(), ChurnConfig(period="week", top=2)], ids=["month", "week"])
def test_the_summaries_only_list_is_narrow_in_the_same_order(config):
    # the report's churn: no reasons nor the summary columns it does not show, the rows in the same order, so the
    # summary (float sums over that order), the rates and the counts are the command's own
    inputs = inputs_of(SAMPLE, None)
    full, narrow = churn(inputs, config), churn(inputs, config, summaries_only=True)
    assert narrow.ranked.columns == [
        "customer_id",
        "status",
        "value_tier",
        "value_rank",
        "worth_costly_offer",
        "ipt_days",
        "net_spend",
    ]
    assert narrow.ranked.equals(full.ranked.select(narrow.ranked.columns))
    assert narrow.summary.equals(full.summary) and narrow.rates.equals(full.rates) and narrow.counts == full.counts
    assert narrow.messages == full.messages and "reason" in full.ranked.columns
