"""The status table kept narrow (:class:`Statuses`): its other columns made for the rows at hand with the
constants of all customers, the own IPT set in the customers' rows, columns cut alike (no copy by an eager step),
and churn's list written a slice at a time: the same table as the status computed whole."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.churn import ChurnConfig, churn
from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.io import writers
from loyalty_cli.io.rows import aligned
from loyalty_cli.io.writers import write_table
from loyalty_cli.metrics import churn as module
from loyalty_cli.metrics.churn import own_gaps, purchase_days, status_of, with_reasons
from loyalty_cli.metrics.churn_narrow import Statuses, aligned_own, narrow_status
from loyalty_cli.metrics.churn_ranking import rank_by_value, rank_in_place
from loyalty_cli.metrics.churn_rates import churn_tables, status_and_rates
from loyalty_cli.rules.churn import load_churn_rules, parse_churn_rules
from loyalty_cli.stage1.customers import customer_activity, customer_summary

AS_OF = date(2024, 7, 1)
RULES = load_churn_rules()


def history(customer: str, recency: int, gaps: list[int]) -> list:
    """Purchases (10 each) ending ``recency`` days before AS_OF with these gaps between them."""
    days = [AS_OF - timedelta(days=recency)]
    for gap in reversed(gaps):
        days.insert(0, days[0] - timedelta(days=gap))
    return [(customer, d, 10.0) for d in days]


# The shop of tests/metrics/test_churn.py: own IPT (median of own gaps, 2 gaps needed) P 10, Q 20, R 6, W 5;
# population IPT = median of every customer's own IPT with a gap (P 10, Q 20, R 6, S 40, W 5) = 10.
SHOP = [
    *history("P", 15, [10, 10, 20]),
    *history("Q", 31, [10, 30]),
    *history("R", 18, [4, 6, 8]),
    *history("S", 30, [40]),
    *history("T", 15, []),
    *history("U", 100, []),
    *history("V", 23, []),
    *history("W", 16, [5, 5]),
]


def inputs(rows=SHOP):
    tx = pl.DataFrame(
        [(c, datetime(d.year, d.month, d.day, 12), round(a * 100)) for c, d, a in rows],
        schema={"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64},
        orient="row",
    ).lazy()
    return customer_summary(tx, as_of=AS_OF).collect(), customer_activity(tx).collect()


def narrow(customers: pl.DataFrame, activity: pl.DataFrame, rules=RULES) -> Statuses:
    days = purchase_days(customers.lazy(), activity.lazy())
    return narrow_status(
        customers, aligned_own(customers.height, [own_gaps(days, how=rules.own_ipt).collect()]), rules=rules
    )


RULE_SETS = {
    "multiplier": RULES,
    "days": parse_churn_rules("[lapsing]\ndays = 20\n[lapsed]\ndays = 40\n", source="days.toml"),
    "percentile": parse_churn_rules("[lapsing]\npercentile = 50\n[lapsed]\npercentile = 75\n", source="p.toml"),
    "mean-bounded": parse_churn_rules(
        "[ipt]\nown = 'mean'\nmin_gaps = 1\n[lapsing]\nmultiplier = 1.5\nmin_days = 10\n[lapsed]\nmultiplier = 3\n",
        source="mean.toml",
    ),
}


@pytest.mark.parametrize("rules", RULE_SETS.values(), ids=RULE_SETS.keys())
def test_narrow_status_completed_is_the_status_table(rules):
    customers, activity = inputs()
    customers = customers.with_columns((pl.col("customer_id") + "@x.com").alias("email"))
    want = status_of(customers, activity, rules=rules).collect()
    statuses = narrow(customers, activity, rules)
    assert not {"gaps", "ipt_days", "ipt_source", "lapsing_after_days", "lapsed_after_days"} & set(
        statuses.table.columns
    )
    assert statuses.complete(statuses.table.lazy(), reasons=True).collect().equals(want)
    assert statuses.column("lapsed_after_days").equals(want["lapsed_after_days"])


def test_a_slice_gets_the_constants_of_all_customers():
    # T alone (one purchase, no gap) has no population of its own: its IPT is all customers' (10 days), its
    # thresholds 1.5 x 10 = 15 and 3 x 10 = 30, as in the whole table; P keeps its own (10, 3 gaps)
    customers, activity = inputs()
    statuses = narrow(customers, activity)
    assert statuses.constants == module.IptConstants(10.0, None, None)
    table = statuses.table
    for name, want in {"T": ("population", 10.0, 15.0, 30.0), "P": ("own", 10.0, 15.0, 30.0)}.items():
        row = table.filter(pl.col("customer_id") == name)
        got = statuses.complete(row.lazy()).select("ipt_source", "ipt_days", "lapsing_after_days", "lapsed_after_days")
        assert got.collect().row(0) == want
    whole = statuses.complete(table.lazy(), reasons=True).collect()
    slices = pl.concat(statuses.complete(table.slice(s, 3).lazy(), reasons=True).collect() for s in (0, 3, 6))
    assert slices.equals(whole)
    # columns: only those asked for (in the status's order), other columns last
    extra = table.with_columns(pl.lit(1).alias("value_rank"))
    some = statuses.complete(extra.lazy(), columns=("customer_id", "status", "net_spend", "ipt_days"))
    assert some.collect_schema().names() == ["customer_id", "status", "ipt_days", "net_spend", "value_rank"]


def test_percentile_constants_are_those_of_all_customers():
    # own IPTs of the customers with a gap: 5, 6, 10, 20, 40 (S: 40, its one gap); p50 = 10, p75 = 20
    customers, activity = inputs()
    statuses = narrow(customers, activity, RULE_SETS["percentile"])
    assert statuses.constants == module.IptConstants(10.0, 10.0, 20.0)


def test_own_ipt_set_in_the_customers_rows():
    # rows 0..3; the parts give rows 2 and 0 (0 has one purchase day: null), then row 3; row 1 none: null
    parts = [
        pl.DataFrame({"_i": [2, 0], "own_ipt_days": [5.0, None]}, schema_overrides={"_i": pl.UInt32}),
        pl.DataFrame({"_i": [3], "own_ipt_days": [7.5]}, schema_overrides={"_i": pl.UInt32}),
    ]
    assert aligned_own(4, parts).to_list() == [None, None, 5.0, 7.5]
    assert aligned_own(0, []).to_list() == []


def cut_differently() -> pl.DataFrame:
    """Columns in chunks of 2, 3, 2 rows beside one in a single chunk (as stage 1 in passes gives ``as_of``)."""
    pieces = [
        pl.DataFrame({"customer_id": ids, "status": st, "net_spend": ns})
        for ids, st, ns in (
            (["a", "b"], ["active", "lapsed"], [5.0, 1.0]),
            (["c", "d", "e"], ["lapsing", "lapsed", "active"], [None, 7.0, 5.0]),
            (["f", "g"], ["lapsing", "lapsing"], [2.0, 9.0]),
        )
    ]
    frame = pl.concat(pieces, rechunk=False).with_columns(pl.col("status").cast(module.STATUS))
    return frame.hstack([pl.Series("as_of", [AS_OF] * 7)])


def test_aligned_cuts_every_column_as_the_first():
    frame = cut_differently()
    assert frame["customer_id"].chunk_lengths() == [2, 3, 2] and frame["as_of"].chunk_lengths() == [7]
    cut = aligned(frame)
    assert [cut[c].chunk_lengths() for c in cut.columns] == [[2, 3, 2]] * 4
    assert cut.equals(frame)


def test_rank_in_place_of_columns_cut_differently_is_the_same():
    frame = cut_differently()
    ranked, order = rank_in_place(frame, rules=RULES)
    again, same = rank_in_place(frame.rechunk(), rules=RULES)
    assert ranked.equals(again) and order.equals(same)
    assert len({tuple(ranked[c].chunk_lengths()) for c in ranked.columns}) == 1  # cut alike: no copy when used
    # b, d lapsed (d first: 7 > 1); c, f, g lapsing (g 9, f 2, c none last); a, e active (5 = 5: a before e)
    assert ranked[order]["customer_id"].to_list() == ["a", "e", "g", "f", "c", "d", "b"]
    assert ranked[order].equals(rank_by_value(frame.lazy(), rules=RULES).collect().select(ranked.columns))


def test_status_and_rates_of_a_table_are_churn_tables():
    customers, activity = inputs()
    statuses, rates = status_and_rates(customers, activity, rules=RULES, period="week")
    status, same = churn_tables(customers, activity, rules=RULES, period="week", reasons=False)
    assert rates.equals(same) and statuses.complete(statuses.table.lazy()).collect().equals(status)


@pytest.mark.parametrize("summaries_only", [False, True])
def test_churns_list_in_slices_is_the_status_table_ranked(monkeypatch, tmp_path: Path, summaries_only: bool):
    # the list as written, 3 rows at a time (reasons 2 at a time), against the status computed whole, ranked and
    # sorted (rank_by_value), its reasons added: the same columns, in the same order, the same bytes
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_date,amount\n"
        + "".join(f"{c},{d.isoformat()},{a}\n" for c, d, a in SHOP)
        + "X,2024-06-30,-5\nX,2024-05-01,40\n"
    )
    loaded = load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))
    monkeypatch.setattr(writers, "CHUNK_ROWS", 3)
    monkeypatch.setattr(writers, "WHOLE_ROWS", 3)
    monkeypatch.setattr(module, "REASON_ROWS", 2)
    result = churn(loaded, ChurnConfig(top=2), summaries_only=summaries_only)
    write_table(result.rows, tmp_path / "slices.csv")
    status, _ = churn_tables(loaded.customers, loaded.activity, rules=RULES, reasons=False)
    ranked = rank_by_value(status.lazy(), rules=RULES).collect()
    if summaries_only:
        want = ranked.select(
            "customer_id", "status", "value_tier", "value_rank", "worth_costly_offer", "ipt_days", "net_spend"
        )
    else:
        lead = ["customer_id", "status", "value_tier", "value_rank", "worth_costly_offer", "reason"]
        want = with_reasons(ranked, RULES).select(*lead, pl.exclude(*lead))
    write_table(want, tmp_path / "whole.csv")
    assert (tmp_path / "slices.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert result.ranked.equals(want)
    # the at-risk lists carry the IPT made for their rows
    lapsed = want.filter(pl.col("status") == "lapsed").head(2)
    assert result.at_risk["lapsed"]["ipt_days"].equals(lapsed["ipt_days"])


def test_rank_in_place_replaces_a_ranking_where_it_is():
    # ranked twice: the second ranking's columns replace the first's, in their places (as with_columns did)
    frame = cut_differently()
    ranked, order = rank_in_place(frame, rules=RULES)
    again, same = rank_in_place(ranked.select("value_rank", *frame.columns, "value_tier"), rules=RULES)
    assert again.columns == ["value_rank", *frame.columns, "value_tier", "worth_costly_offer"]
    assert order.equals(same) and again.select(ranked.columns).equals(ranked)
