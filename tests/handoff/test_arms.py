"""Test arms: the names and shares checked, the split by the control group's hash (shares within sampling error,
reproducible, independent of the list's order), and the arms' files, manifest and summary."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, UsageError
from loyalty_cli.handoff.arms import ARM_COLUMN, Arms, arm_of, assign_arms, parse_arms, split_counts
from loyalty_cli.handoff.control import assign_groups, unit_interval
from loyalty_cli.handoff.readback import check_manifest, manifest_files, read_groups
from loyalty_cli.handoff.summary import list_summary
from loyalty_cli.handoff.write import ListSpec, write_list, write_plain_list

IDS = pl.Series("customer_id", [f"C{i:06d}" for i in range(10_000)])
ABC = parse_arms("reward_a,reward_b,control", "0.4,0.4,0.2")

# --- names and shares -------------------------------------------------------------------------------------


def test_names_and_shares_are_parsed():
    assert ABC == Arms(("reward_a", "reward_b", "control"), (0.4, 0.4, 0.2))
    assert ABC is not None and ABC.control == "control" and ABC.treated == ("reward_a", "reward_b")
    assert ABC.interval_order == ("control", "reward_a", "reward_b")
    assert parse_arms("a, b ,Control") == Arms(("a", "b", "control"), (1 / 3, 1 / 3, 1 / 3))  # control in any case
    assert parse_arms("2") == Arms(("treatment", "control"), (0.5, 0.5))
    assert parse_arms("4", "0.3,0.3,0.3,0.1") == Arms(("arm_1", "arm_2", "arm_3", "control"), (0.3, 0.3, 0.3, 0.1))
    assert parse_arms("a,b").control is None  # type: ignore[union-attr]
    assert parse_arms(None) is None
    assert parse_arms("a,b,c", "0.33,0.33,0.34") is not None  # within the tolerance of typing thirds


@pytest.mark.parametrize(
    ("arms", "shares", "message"),
    [
        ("a,b,control", "0.4,0.4,0.3", r"--arm-shares '0.4,0.4,0.3' sum to 1.1, not 1"),
        ("a,b,control", "0.3,0.3,0.3", r"sum to 0.9, not 1"),
        ("a,b,control", "0.5,0.5", r"--arm-shares gives 2 shares for 3 arms"),
        ("a,control", "0.5,0.3,0.2", r"gives 3 shares for 2 arms"),
        ("a,a,control", None, r"the arm 'a' is named twice"),
        ("a,A,control", None, r"'a' and 'A' differ only in case"),
        ("a,control,CONTROL", None, r"the arm 'control' is named twice"),
        ("a,,control", None, r"'' is not an arm name"),
        ("a b,control", None, r"'a b' is not an arm name"),
        ("../x,control", None, r"'\.\./x' is not an arm name"),
        ("manifest,control", None, r"'manifest' is not an arm name"),
        ("part01,control", None, r"'part01' is not an arm name"),
        ("control", None, r"at least 2 arms"),
        ("1", None, r"--arms 1: a test needs at least 2 arms"),
        ("a,control", "0.5,x", r"expected numbers separated by commas"),
        ("a,control", "1,0", r"each share must be between 0 and 1"),
        ("a,control", "1.2,-0.2", r"each share must be between 0 and 1"),
        (None, "0.5,0.5", r"--arm-shares needs --arms"),
    ],
)
def test_bad_arms_are_clear_usage_errors(arms, shares, message):
    with pytest.raises(UsageError) as info:
        parse_arms(arms, shares)
    assert re.search(message, render(str(info.value))), render(str(info.value))


# --- the split --------------------------------------------------------------------------------------------


def test_shares_are_respected_within_sampling_error_on_10k_ids():
    arms = parse_arms("reward_a,reward_b,control", "0.4,0.4,0.2")
    assert arms is not None
    split = split_counts(arm_of(IDS, arms, "spring"), arms, "spring")
    n = IDS.len()
    assert split.total == n
    for name, share in zip(arms.names, arms.shares, strict=True):
        sd = math.sqrt(share * (1 - share) / n)  # 0.0049 for 0.4, 0.0040 for 0.2
        assert abs(split.count(name) / n - share) < 4 * sd, (name, split.count(name))


def test_the_arm_is_the_interval_of_the_hash_control_first():
    """u < 0.2: control; 0.2 <= u < 0.6: reward_a; else reward_b (the intervals by hand from the hash)."""
    assert ABC is not None
    u = unit_interval(IDS, "spring")
    expected = ["control" if x < 0.2 else "reward_a" if x < 0.6 else "reward_b" for x in u]
    assert arm_of(IDS, ABC, "spring").to_list() == expected
    # the pinned values of test_control: C000001 u=0.751, 17850 u=0.0167, émile 0.0730
    pinned = pl.Series(["C000001", "17850", "émile@example.com"])
    assert arm_of(pinned, ABC, "spring").to_list() == ["reward_b", "control", "control"]


def test_the_control_arm_is_the_holdout_control_group_of_the_same_share_and_seed():
    table = pl.DataFrame({"customer_id": IDS})
    held = assign_groups(table, share=0.1, seed="s1")["group"] == "control"
    arms = parse_arms("treatment,control", "0.9,0.1")
    assert arms is not None
    assert (arm_of(IDS, arms, "s1") == "control").to_list() == held.to_list()


def test_the_split_is_reproducible_seeded_and_independent_of_order_and_company():
    assert ABC is not None
    table = pl.DataFrame({"customer_id": IDS})
    first = assign_arms(table, ABC, seed="s1")
    assert assign_arms(table, ABC, seed="s1")[ARM_COLUMN].to_list() == first[ARM_COLUMN].to_list()
    shuffled = assign_arms(table.sample(fraction=1.0, shuffle=True, seed=7), ABC, seed="s1")
    subset = assign_arms(table.filter(pl.col("customer_id").str.ends_with("7")), ABC, seed="s1")
    for other in (shuffled, subset):
        joined = other.join(first, on="customer_id", suffix="_first")
        assert joined.height == other.height
        assert joined[ARM_COLUMN].to_list() == joined[f"{ARM_COLUMN}_first"].to_list()
    other_seed = assign_arms(table, ABC, seed="s2")
    moved = (other_seed[ARM_COLUMN] != first[ARM_COLUMN]).mean()
    assert 0.5 < moved < 0.7  # independent splits: 1 - (0.4^2 + 0.4^2 + 0.2^2) = 0.64 of the customers move


def test_a_list_with_an_arm_column_is_refused():
    assert ABC is not None
    with pytest.raises(DataError, match="has a column 'arm' already"):
        assign_arms(pl.DataFrame({"customer_id": ["a"], "arm": ["x"]}), ABC, seed="s")


# --- the arms' files --------------------------------------------------------------------------------------


def table(n: int = 2000) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "email": [f"c{i}@example.com" for i in range(n)],
            "segment": ["At Risk"] * n,
            "net_spend": [float(i) for i in range(n)],
        }
    )


def test_each_arm_goes_to_its_own_file_with_the_arm_column(tmp_path: Path):
    out = tmp_path / "spring.csv"
    report = write_list(table(), out, ListSpec(seed="s1", arms=ABC))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["spring.control.csv", "spring.manifest.json", "spring.reward_a.csv", "spring.reward_b.csv"]
    expected = arm_of(table()["customer_id"], ABC, "s1")  # type: ignore[arg-type]
    for arm in ("reward_a", "reward_b", "control"):
        rows = pl.read_csv(tmp_path / f"spring.{arm}.csv")
        assert rows.columns == ["customer_id", "email", "segment", "net_spend", "arm"]
        assert set(rows["arm"]) == {arm}
        assert rows.height == (expected == arm).sum() == report.arms.count(arm)  # type: ignore[union-attr]
    manifest = json.loads((tmp_path / "spring.manifest.json").read_text())
    assert manifest["holdout"] is None
    arms = manifest["arms"]
    assert arms["seed"] == "s1" and arms["control"] == "control" and arms["column"] == "arm"
    assert arms["interval_order"] == ["control", "reward_a", "reward_b"]
    assert [(a["name"], a["share"], a["files"]) for a in arms["arms"]] == [
        ("reward_a", 0.4, ["spring.reward_a.csv"]),
        ("reward_b", 0.4, ["spring.reward_b.csv"]),
        ("control", 0.2, ["spring.control.csv"]),
    ]
    assert sum(a["customers"] for a in arms["arms"]) == manifest["rows_written"] == 2000
    # uplift reads the treated arms as the treatment and the control arm as the control, checked against the manifest
    treatment, control = manifest_files(tmp_path / "spring.manifest.json")
    assert [Path(p).name for p in treatment] == ["spring.reward_a.csv", "spring.reward_b.csv"]
    assert [Path(p).name for p in control] == ["spring.control.csv"]
    assert "rows and SHA-256 match" in check_manifest(tmp_path / "spring.manifest.json")
    groups, _ = read_groups(treatment=treatment, control=control, by="none")
    assert (groups["group"] == "control").sum() == report.arms.count("control")  # type: ignore[union-attr]


def test_the_summary_names_each_arm_and_the_control_group(tmp_path: Path):
    report = write_list(table(), tmp_path / "spring.csv", ListSpec(seed="s1", arms=ABC))
    text = [render(line.text) for line in list_summary(report, max_bytes=None)]
    assert text[0] == "List: wrote 2,000 customers in 3 arms"
    assert text[1].startswith("Arms (--arms reward_a,reward_b,control, --arm-shares 0.4,0.4,0.2, --seed s1; 2,000")
    n = report.arms.count("control")  # type: ignore[union-attr]
    assert (
        f"  control: {n:,} customers ({n / 2000:.1%}, share 0.2) in {tmp_path / 'spring.control.csv'}: the " in text[4]
    )
    assert text[4].endswith("do not send them the campaign")
    assert text[2].startswith("  reward_a: ") and "held" not in text[2]


def test_arms_for_a_target_keep_the_arm_column_and_screen_first(tmp_path: Path):
    rows = table(200).with_columns(
        pl.when(pl.col("customer_id") == "c00003").then(None).otherwise(pl.col("email")).alias("email")
    )
    report = write_list(rows, tmp_path / "l.csv", ListSpec(target="klaviyo", tag="segment", seed="s", arms=ABC))
    assert report.written == 199 and report.dropped == {"missing email": 1}
    arm_a = pl.read_csv(tmp_path / "l.reward_a.csv")
    assert "arm" in arm_a.columns and arm_a["Email Address"].null_count() == 0


def test_a_new_set_removes_the_arms_an_earlier_one_wrote(tmp_path: Path):
    out = tmp_path / "spring.csv"
    out.write_text("customer_id\nold\n")  # an earlier plain list at the -o path: an arms set writes no file there
    write_list(table(), out, ListSpec(seed="s1", arms=ABC))
    assert not out.exists()
    (tmp_path / "spring.backup.csv").write_text("mine")  # the user's, named like nothing of ours: left alone
    report = write_list(table(), out, ListSpec(seed="s1", arms=parse_arms("reward_c,control", "0.5,0.5")))
    assert sorted(p.name for p in report.removed) == ["spring.reward_a.csv", "spring.reward_b.csv"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["spring.backup.csv", "spring.control.csv", "spring.manifest.json", "spring.reward_c.csv"]
    written, removed, _ = write_plain_list(table(), out)
    assert written == out and sorted(p.name for p in removed) == [
        "spring.control.csv",
        "spring.manifest.json",
        "spring.reward_c.csv",
    ]


@pytest.mark.parametrize(
    ("spec", "output", "message"),
    [
        (
            ListSpec(holdout_share=0.1, seed="x", arms=ABC),
            "l.csv",
            "--holdout-share and --arms cannot be used together",
        ),
        (ListSpec(arms=ABC), "l.csv", "--arms needs --seed"),
        (ListSpec(arms=ABC, seed=" "), "l.csv", "--arms needs --seed"),
        (ListSpec(arms=ABC, seed="x"), "-", "--arms needs -o FILE"),
        (ListSpec(arms=ABC, seed="x"), "l.xlsx", "not as an Excel file"),
        (ListSpec(seed="x"), "l.csv", "--seed needs --target or --holdout-share (or --arms)"),
    ],
)
def test_arm_spec_checks(spec, output, message):
    with pytest.raises(UsageError) as info:
        spec.check(output)
    assert message in render(str(info.value))
