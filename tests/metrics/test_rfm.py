"""RFM scores: hand-computed cut points, ties, rank and fixed methods."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.rfm import RfmConfig, rfm_cut_points, rfm_scores, rfm_thresholds, segment_summary
from loyalty_cli.rules.segments import load_segment_rules

F_VALUES = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]


def customers(recency=None, orders=None, spend=None):
    n = len(orders or recency or spend)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(n)],
            "recency_days": recency or list(range(1, n + 1)),
            "orders": orders or [1] * n,
            "purchase_days": orders or [1] * n,
            "net_spend": [float(x) for x in (spend or range(10, 10 * n + 1, 10))],
            "mean_order_value": [float(x) for x in (spend or range(10, 10 * n + 1, 10))],
        }
    ).lazy()


def scores(frame, **config):
    return rfm_scores(frame, config=RfmConfig(**config)).collect()


def test_quantile_cut_points_by_hand():
    # linear quantiles of 1..10 at 0.2, 0.4, 0.6, 0.8 are 2.8, 4.6, 6.4, 8.2; recency is reversed
    out = scores(customers(recency=list(range(1, 11))))
    assert out["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    cuts = rfm_thresholds(customers(recency=list(range(1, 11))), config=RfmConfig()).collect()
    assert cuts.filter(pl.col("dimension") == "r")["cut"].to_list() == pytest.approx([2.8, 4.6, 6.4, 8.2])


def test_heavy_ties_share_a_score_and_one_time_buyers_stay_at_the_bottom():
    # cuts of F are 1, 1, 1.4, 2.2: bins 2 and 3 merge; F = 2 is above three cuts -> 4
    out = scores(customers(orders=F_VALUES))
    assert out["f_score"].to_list() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    cut_table = rfm_cut_points(out.lazy(), config=RfmConfig()).collect().filter(pl.col("dimension") == "f")
    assert cut_table.select("score", "customers").rows() == [(5, 2), (4, 2), (3, 0), (2, 0), (1, 6)]


def test_all_customers_tied_does_not_crash():
    out = scores(customers(orders=[1] * 7))
    assert out["f_score"].to_list() == [1] * 7


def test_rank_breaks_ties_by_customer_id_not_row_order():
    frame = customers(orders=F_VALUES)
    out = scores(frame, method="rank")
    assert out["f_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    shuffled = frame.collect().sample(fraction=1.0, shuffle=True, seed=3).lazy()
    again = scores(shuffled, method="rank").sort("customer_id")
    assert again["f_score"].to_list() == out["f_score"].to_list()
    # recency: longest ago gets 1
    assert scores(customers(recency=[5, 1, 9, 3]), method="rank", bins=4)["r_score"].to_list() == [2, 4, 1, 3]


def test_fixed_breaks():
    cfg = dict(method="fixed", breaks={"r": [30, 60, 90, 180], "f": [1, 2, 3, 5], "m": [50, 100, 250, 500]})
    out = scores(customers(recency=[10, 30, 31, 90, 200], orders=[1, 2, 3, 5, 9], spend=[50, 51, 100, 400, 900]), **cfg)
    assert out["r_score"].to_list() == [5, 5, 4, 3, 1]
    assert out["f_score"].to_list() == [1, 2, 3, 4, 5]
    assert out["m_score"].to_list() == [1, 2, 2, 4, 5]
    assert out["rfm_cell"].to_list()[0] == "511"


def test_frequency_days_and_monetary_mean_switch_columns():
    cfg = RfmConfig(frequency="days", monetary="mean")
    assert (cfg.column("f"), cfg.column("m")) == ("purchase_days", "mean_order_value")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bins=6), "--bins must be one of 3, 4, 5, 10"),
        (dict(method="fixed", breaks={"r": [1, 2, 3, 4]}), "--method fixed needs breaks for f, m"),
        (
            dict(method="fixed", breaks={"r": [1, 2, 3], "f": [1, 2, 3, 4], "m": [1, 2, 3, 4]}),
            "--breaks r has 3 cut points, which make 4 scores, but --bins is 5",
        ),
        (dict(breaks={"r": [3, 2, 1, 0]}), "strictly increasing"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(UsageError) as info:
        RfmConfig(**kwargs)
    assert re.search(message.replace("(", r"\("), render(str(info.value)))


def test_segment_summary_lists_every_segment_in_map_order():
    seg_map = load_segment_rules()
    frame = customers(recency=list(range(1, 11)), orders=F_VALUES)
    segmented = seg_map.assign(rfm_scores(frame, config=RfmConfig()))
    table = segment_summary(segmented, config=RfmConfig(), order=seg_map.names).collect()
    assert table["segment"].to_list() == seg_map.names
    assert table["customers"].sum() == 10
    assert table["share_customers"].sum() == pytest.approx(1.0)
    # r 5,5,4,4,3,3,2,2,1,1 x f 1,1,1,1,1,1,4,4,5,5
    by_name = dict(zip(table["segment"], table["customers"], strict=True))
    assert by_name == {
        "Champions": 0,
        "Loyal": 0,
        "Potential Loyalist": 0,
        "New": 2,
        "Promising": 2,
        "Need Attention": 0,
        "About to Sleep": 2,
        "At Risk": 2,
        "Can't Lose Them": 2,
        "Hibernating": 0,
    }


def test_scores_do_not_depend_on_row_order():
    rng = random.Random(5)
    rows = customers(
        recency=[rng.randint(1, 400) for _ in range(300)], orders=[rng.choice([1, 1, 1, 2, 3, 8]) for _ in range(300)]
    )
    base = scores(rows).sort("customer_id")
    for seed in range(3):
        shuffled = rows.collect().sample(fraction=1.0, shuffle=True, seed=seed).lazy()
        assert scores(shuffled).sort("customer_id").equals(base)


def test_segment_summary_carries_each_segments_action_in_map_order():
    from loyalty_cli.rules.segments import parse_segment_map

    seg_map = parse_segment_map(
        'bins = 5\n[[segment]]\nname = "Old"\nwhen = "r <= 2"\naction = "Win back"\n'
        '[[segment]]\nname = "Recent"\nwhen = "r >= 3"\naction = "Say <thanks> & upsell"\n',
        source="hand.toml",
    )
    assert seg_map.actions == {"Old": "Win back", "Recent": "Say <thanks> & upsell"}
    segmented = seg_map.assign(rfm_scores(customers(recency=list(range(1, 11))), config=RfmConfig()))
    per_row = segmented.select("segment", seg_map.action_of()).collect()  # each customer's: for lists
    assert per_row.columns == ["segment", "segment_action"]
    assert (
        per_row.select(pl.col("segment").cast(pl.String), "segment_action").rows()
        == [("Recent", "Say <thanks> & upsell")] * 6 + [("Old", "Win back")] * 4
    )
    as_text = pl.DataFrame({"segment": ["Old", None]}).select(seg_map.action_of())  # names as text too
    assert as_text["segment_action"].to_list() == ["Win back", None]
    table = segment_summary(segmented, config=RfmConfig(), order=seg_map.names, actions=seg_map.actions).collect()
    assert table.columns[-1] == "action"
    assert table.select("segment", "customers", "action").rows() == [
        ("Old", 4, "Win back"),
        ("Recent", 6, "Say <thanks> & upsell"),
    ]
    # a segment that holds nobody keeps its action; without actions the table is as before
    empty = segment_summary(
        segmented.filter(pl.col("segment") == "Recent"),
        config=RfmConfig(),
        order=seg_map.names,
        actions=seg_map.actions,
    ).collect()
    assert empty.select("segment", "customers", "action").rows()[0] == ("Old", 0, "Win back")
    assert "action" not in segment_summary(segmented, config=RfmConfig(), order=seg_map.names).collect_schema().names()


def test_segment_summary_does_not_depend_on_the_customers_order():
    """Floats summed in another order differ in the last digits: the summary sorts each group's values first,
    so any order of the customers (threads, stage 1 in passes) gives the same bytes."""
    rng = random.Random(7)
    spend = [round(rng.uniform(-50, 5000), 2) for _ in range(5000)] + [0.1, 0.2, 0.3] * 100
    frame = pl.DataFrame(
        {
            "segment": [["A", "B", "C"][i % 3] for i in range(len(spend))],
            "net_spend": spend,
            "recency_days": [rng.randint(1, 700) for _ in spend],
            "orders": [rng.randint(1, 30) for _ in spend],
        }
    )
    config = RfmConfig()
    results = set()
    for seed in range(8):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        table = segment_summary(shuffled.lazy(), config=config, order=["A", "B", "C"]).collect()
        results.add(table.write_csv(float_precision=None))
    assert len(results) == 1
