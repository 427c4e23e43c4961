"""Segment maps: the shipped maps are valid; broken maps fail with the file, the rule and the problem."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import RulesError
from loyalty_cli.rules.files import builtin_text
from loyalty_cli.rules.segments import builtin_maps, load_segment_rules, parse_segment_map

ROOT = Path(__file__).parent.parent.parent


def test_default_map_is_the_r_by_f_grid_total_and_non_overlapping():
    seg_map = load_segment_rules()
    assert seg_map.name == "rfm_grid" and seg_map.match == "exclusive" and seg_map.dimensions == ("r", "f")
    grid = seg_map.grid()
    assert grid.height == 25 and grid["segment"].null_count() == 0
    cell = {(r, f): s for r, f, s in grid.rows()}
    assert cell[5, 5] == cell[5, 4] == "Champions"
    assert cell[5, 1] == "New" and cell[4, 1] == "Promising" and cell[3, 3] == "Need Attention"
    assert cell[1, 5] == cell[2, 5] == "Can't Lose Them"
    assert {cell[r, f] for r in (1, 2) for f in (1, 2)} == {"Hibernating"}
    assert set(grid["segment"]) == set(seg_map.names)  # every segment reachable


@pytest.mark.parametrize("name", builtin_maps())
def test_every_builtin_map_loads_and_reaches_every_segment(name):
    seg_map = load_segment_rules(name)
    assert set(seg_map.grid()["segment"]) == set(seg_map.names)


def test_shipped_rules_folder_matches_the_package():
    package = ROOT / "src" / "loyalty_cli" / "rules"
    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert shipped == sorted(p.name for p in package.glob("*.toml"))
    for name in shipped:
        assert (ROOT / "rules" / name).read_text() == (package / name).read_text(), name


def test_r_fm_map_orders_overlapping_rules():
    seg_map = load_segment_rules("rfm_r_fm")
    scored = pl.LazyFrame(
        {"r_score": [1, 1, 1, 5], "f_score": [5, 3, 2, 1], "m_score": [5, 2, 2, 1]},
        schema=dict.fromkeys(["r_score", "f_score", "m_score"], pl.Int8),
    )
    got = seg_map.assign(scored).collect()["segment"].cast(pl.String).to_list()
    assert got == ["Can't Lose Them", "At Risk", "Hibernating", "Recent Customers"]  # fm = 5, 3, 2, 1


HEAD = "bins = 5\n"


def rule(name, when):
    return f'[[segment]]\nname = "{name}"\nwhen = "{when}"\n'


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD + rule("A", "r = = 5"), "my.toml: rule 'A': cannot read condition 'r = = 5'"),
        (HEAD + rule("A", "r >= 1 and x > 2"), "my.toml: rule 'A': unknown column(s) 'x'"),
        (HEAD + rule("A", "r >= 3") + rule("B", "r <= 3"), "my.toml: rules 'A' and 'B' both match r3"),
        (HEAD + rule("A", "r >= 3") + rule("B", "r = 1"), "my.toml: no rule covers r2"),
        (
            HEAD + 'match = "first"\n' + rule("A", "r >= 1") + rule("B", "r = 5"),
            "my.toml: segment 'B' can never be reached: earlier rules take every cell it matches",
        ),
        (HEAD + rule("A", "r >= 1") + rule("B", "r = 6"), "my.toml: segment 'B' can never be reached: it matches"),
        (HEAD + rule("A", "r >= 3") + rule("A", "r <= 2"), "my.toml: segment 'A' is defined twice"),
        ("bins = 7\n" + rule("A", "true"), "my.toml: bins must be 3, 4, 5 or 10"),
        (
            "bins = 5.0\n" + rule("A", "true"),
            "my.toml: bins must be 3, 4, 5 or 10 (the scores the map is written for), got 5.0",
        ),
        ("bins = true\n" + rule("A", "true"), "got True"),
        (HEAD + "segment = [1]\n", "my.toml: segment must be a list of [[segment]] tables"),
        (HEAD + 'segment = ["a"]\n', "my.toml: segment must be a list of [[segment]] tables"),
        (HEAD + rule("A", "orders > 1") + rule("B", "true"), "tests summary columns"),
        (HEAD + 'segment = "x"\n', "my.toml: no segments"),
        (HEAD + '[[segment]]\nname = "A"\nwhen = "true"\ncolour = "red"\n', "unknown key(s) colour"),
        ("bins = 5\nfoo = 1\n", "my.toml: unknown key(s) foo"),
        ("bins = [", "my.toml is not valid TOML"),
        (HEAD + rule("A", "r + 1"), "is not true/false"),
    ],
)
def test_broken_maps_name_file_rule_and_problem(text, message):
    with pytest.raises(RulesError) as info:
        parse_segment_map(text, source="my.toml")
    assert message in str(info.value)


def test_partial_rules_need_first_match_and_a_fallback():
    text = HEAD + 'match = "first"\n' + rule("Big", "r >= 4 and net_spend > 1000") + rule("Rest", "true")
    seg_map = parse_segment_map(text, source="my.toml")
    scored = pl.LazyFrame(
        {"r_score": [5, 5, 1], "f_score": [1, 1, 1], "m_score": [1, 1, 1], "net_spend": [2000.0, 10.0, 5000.0]}
    )
    assert seg_map.assign(scored).collect()["segment"].cast(pl.String).to_list() == ["Big", "Rest", "Rest"]


def test_unknown_builtin_and_missing_file():
    with pytest.raises(RulesError, match="No segment map called 'nope'"):
        load_segment_rules("nope")
    with pytest.raises(RulesError, match="Rules file not found: missing.toml"):
        load_segment_rules("missing.toml")


def test_builtin_text_is_what_the_loader_reads():
    assert "Champions" in builtin_text("rfm_grid")


def test_condition_dtypes_are_those_of_the_scored_summary(tmp_path):
    """Conditions are type-checked against CONDITION_SCHEMA: it must hold the real dtypes of the summary
    columns and of the scores (fm is computed from f and m, so it has their dtype)."""
    from loyalty_cli.metrics.rfm import RfmConfig, rfm_scores
    from loyalty_cli.rules.segments import CONDITION_SCHEMA, SUMMARY_SCHEMA
    from loyalty_cli.stage1 import load_transactions

    loaded = load_transactions([ROOT / "sample_data" / "transactions.csv"], as_of=None)
    for method in ("quantile", "rank"):
        schema = rfm_scores(loaded.customers.lazy(), config=RfmConfig(bins=5, method=method)).collect_schema()
        assert {c: schema[c] for c in SUMMARY_SCHEMA} == SUMMARY_SCHEMA
        assert {schema[f"{d}_score"] for d in "rfm"} == {CONDITION_SCHEMA["r"]}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "CAST(first_category AS INTEGER) > 1",
            "my.toml: rule 'A': condition 'CAST(first_category AS INTEGER) > 1' is not allowed: 'CAST' is SQL, "
            "which conditions cannot use",
        ),
        (
            "first_category > 3",
            "my.toml: rule 'A': condition 'first_category > 3' cannot be evaluated: it compares first_category "
            "(text) with 3 (a number)",
        ),
        (
            "r IN (SELECT x FROM read_csv('/etc/hostname'))",
            "my.toml: rule 'A': condition \"r IN (SELECT x FROM read_csv('/etc/hostname'))\" is not allowed: "
            "'SELECT' is SQL, which conditions cannot use",
        ),
    ],
)
def test_conditions_that_would_fail_at_run_time_fail_when_loaded(when, message):
    text = HEAD + 'match = "first"\n' + rule("A", when) + rule("B", "true")
    with pytest.raises(RulesError) as info:
        parse_segment_map(text, source="my.toml")
    assert info.value.message == message


def test_small_score_dtypes_do_not_overflow_in_conditions():
    """Scores are Int8: r * 100 used to wrap around (5 * 100 = -12) and put customers in the wrong segment."""
    text = HEAD + 'match = "first"\n' + rule("Top", "r * 100 >= 500") + rule("Rest", "true")
    scored = pl.LazyFrame(
        {"r_score": [5, 4], "f_score": [1, 1], "m_score": [1, 1]},
        schema=dict.fromkeys(["r_score", "f_score", "m_score"], pl.Int8),
    )
    got = parse_segment_map(text, source="my.toml").assign(scored).collect()["segment"].cast(pl.String).to_list()
    assert got == ["Top", "Rest"]


def test_bins_outside_the_scores_says_what_is_allowed_and_why():
    with pytest.raises(RulesError) as info:
        parse_segment_map("bins = 7\n" + rule("A", "true"), source="my.toml")
    assert info.value.message == "my.toml: bins must be 3, 4, 5 or 10 (the scores the map is written for), got 7"
    assert info.value.hint == (
        "bins is the number of scores per dimension the conditions are written for (r = 5 is the best recency "
        "only with bins = 5): 5 (quintiles, the usual RFM grid), 3 (tertiles), 4 (quartiles) or 10 (deciles), "
        "the ones RFM scoring supports. Write the map for one of them."
    )


def test_a_binary_map_is_not_read(tmp_path):
    path = tmp_path / "map.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(RulesError, match=r"Could not read rules .*map.toml: it is not a text file"):
        load_segment_rules(path)


def test_a_summary_column_the_data_lacks_is_empty():
    """Without a category column there is no first_category: a rule on it never fires (it used to raise a
    ColumnNotFoundError traceback in segment, after rules check had passed)."""
    text = HEAD + 'match = "first"\n' + rule("Books", "lower(first_category) = 'books'")
    seg_map = parse_segment_map(text + rule("Rest", "true"), source="my.toml")
    scored = pl.LazyFrame({"r_score": [5], "f_score": [1], "m_score": [1]})
    assert seg_map.assign(scored).collect().to_dicts() == [
        {"r_score": 5, "f_score": 1, "m_score": 1, "segment": "Rest"}
    ]
