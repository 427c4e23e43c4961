"""Control groups: the documented hash, determinism, and the share within sampling error."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.errors import DataError, UsageError
from loyalty_cli.handoff.control import (
    CONTROL,
    TREATMENT,
    assign_groups,
    is_control,
    split_summary,
    stable_hash,
    unit_interval,
)

MASK = 0xFFFFFFFFFFFFFFFF


def reference_hash(customer_id: str, seed: str) -> int:
    """The hash exactly as the module docstring states it, one id at a time (the spec)."""
    h = 0xCBF29CE484222325
    for byte in f"{seed}:{customer_id}".encode():
        h = ((h ^ byte) * 0x100000001B3) & MASK
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    return h ^ (h >> 33)


def test_fnv1a_matches_the_published_test_vectors():
    # FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the FNV authors' test suite); "" is the offset basis.
    def fnv(text: str) -> int:
        h = 0xCBF29CE484222325
        for byte in text.encode():
            h = ((h ^ byte) * 0x100000001B3) & MASK
        return h

    assert fnv("a") == 0xAF63DC4C8601EC8C
    assert fnv("") == 0xCBF29CE484222325


@settings(max_examples=50, deadline=None)
@given(ids=st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=40), seed=st.text(max_size=10))
def test_vectorised_hash_equals_the_reference(ids, seed):
    got = stable_hash(pl.Series(ids, dtype=pl.String), seed)
    assert got.tolist() == [reference_hash(i, seed) for i in ids]


def test_pinned_values_never_change():
    # A changed hash would silently move customers between groups across runs and versions: pin a few values.
    ids = pl.Series(["C000001", "17850", "émile@example.com"])
    assert stable_hash(ids, "spring").tolist() == [0xC05C7432FB9C0569, 0x04456461EEB1B5BA, 0x12AF5BA0AAAABA8B]
    assert unit_interval(ids, "spring").round(6).tolist() == [0.751411, 0.016684, 0.072988]


def test_same_customer_same_group_whatever_else_is_in_the_list():
    ids = [f"C{i:06d}" for i in range(2000)]
    full = assign_groups(pl.DataFrame({"customer_id": ids}), share=0.1, seed="s1")
    subset = assign_groups(pl.DataFrame({"customer_id": ids[::-7]}), share=0.1, seed="s1")
    joined = subset.join(full, on="customer_id", suffix="_full")
    assert joined["group"].to_list() == joined["group_full"].to_list()
    again = assign_groups(pl.DataFrame({"customer_id": ids}), share=0.1, seed="s1")
    assert again["group"].to_list() == full["group"].to_list()


def test_share_within_sampling_error_and_seeds_differ():
    n, share = 20_000, 0.1
    table = pl.DataFrame({"customer_id": [str(100000 + i) for i in range(n)]})
    a = assign_groups(table, share=share, seed="a")
    b = assign_groups(table, share=share, seed="b")
    sd = math.sqrt(share * (1 - share) / n)
    for grouped in (a, b):
        observed = (grouped["group"] == CONTROL).mean()
        assert abs(observed - share) < 4 * sd, observed
    both = ((a["group"] == CONTROL) & (b["group"] == CONTROL)).mean()
    assert abs(both - share * share) < 0.005  # independent seeds: overlap ~ share^2
    # the unit values are uniform: each decile holds ~10%
    u = unit_interval(table["customer_id"], "a")
    counts = np.histogram(u, bins=10, range=(0, 1))[0] / n
    assert np.all(np.abs(counts - 0.1) < 4 * sd)


def test_larger_share_contains_the_smaller_one():
    table = pl.DataFrame({"customer_id": [f"x{i}" for i in range(500)]})
    small = assign_groups(table, share=0.1, seed="k")["group"] == CONTROL
    large = assign_groups(table, share=0.3, seed="k")["group"] == CONTROL
    assert not (small & ~large).any()


def test_lazy_expression_and_summary():
    lf = pl.LazyFrame({"customer_id": ["a", "b", "c", "d"]})
    flags = lf.select(is_control("customer_id", share=0.5, seed="z")).collect().to_series()
    u = unit_interval(pl.Series(["a", "b", "c", "d"]), "z")
    assert flags.to_list() == (u < 0.5).tolist()
    split = split_summary(pl.Series([TREATMENT, CONTROL, TREATMENT, TREATMENT]), share=0.25, seed="z")
    assert (split.treatment, split.control, split.control_share) == (3, 1, 0.25)
    meta = split.to_dict()
    assert meta["seed"] == "z" and meta["share"] == 0.25 and "fnv1a64" in meta["hash"]


def test_bad_share_and_missing_ids():
    with pytest.raises(UsageError, match="between 0 and 1"):
        assign_groups(pl.DataFrame({"customer_id": ["a"]}), share=1.0, seed="s")
    with pytest.raises(DataError, match="without an id"):
        stable_hash(pl.Series(["a", None]), "s")
