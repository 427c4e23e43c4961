"""Test arms read back (``loyalty uplift``): from a list with an arm column, from each arm's files, and from a
manifest that records arms (checked against its files); a customer in two arms and an arm column without the
control are errors naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError
from loyalty_cli.handoff.arms import parse_arms
from loyalty_cli.handoff.readback import check_manifest, manifest_arms, read_groups
from loyalty_cli.handoff.write import ListSpec, write_list

ABC = parse_arms("reward_a,reward_b,control", "0.4,0.4,0.2")


def test_an_arm_column_gives_each_customer_its_arm(tmp_path: Path):
    (tmp_path / "g.csv").write_text(
        "customer_id,arm,segment\nx1,reward_b,S\nx2,reward_a,S\nx3,Control,T\nx4, reward_b ,T\nx1,reward_b,S\n"
    )
    rows, repeated = read_groups(groups=[str(tmp_path / "g.csv")], group_col="arm")
    assert repeated == 1  # x1 twice, in the same arm
    assert rows.columns == ["customer_id", "group", "arm", "segment"]
    # the arms in the order they come, the control in any case
    assert rows.rows() == [
        ("x1", "treatment", "reward_b", "S"),
        ("x2", "treatment", "reward_a", "S"),
        ("x3", "control", "Control", "T"),
        ("x4", "treatment", "reward_b", "T"),
    ]
    # another column, and another control arm's name: read as arms when the control arm is named
    (tmp_path / "v.csv").write_text("customer_id,variant\nx1,A\nx2,B\nx3,holdout\n")
    rows, _ = read_groups(groups=[str(tmp_path / "v.csv")], group_col="variant", control_arm="holdout", by="none")
    assert rows.rows() == [("x1", "treatment", "A"), ("x2", "treatment", "B"), ("x3", "control", "holdout")]


def test_an_arm_column_without_the_control_or_with_empty_arms_is_an_error(tmp_path: Path):
    (tmp_path / "g.csv").write_text("customer_id,arm\nx1,reward_a\nx2,reward_b\n")
    with pytest.raises(DataError) as none:
        read_groups(groups=[str(tmp_path / "g.csv")], group_col="arm")
    assert none.value.message == (
        f"No customer of {tmp_path / 'g.csv'} is in the control arm 'control' (the 'arm' values: 'reward_a', "
        "'reward_b')"
    )
    assert render(str(none.value.hint)) == "Name the control arm with --control-arm."
    (tmp_path / "g.csv").write_text("customer_id,arm\nx1,reward_a\nx2,\nx3,control\n")
    with pytest.raises(DataError, match="1 row of .* have no 'arm'"):
        read_groups(groups=[str(tmp_path / "g.csv")], group_col="arm")
    # a group column of other words than treatment and control: the hint says how to read it as arms
    (tmp_path / "w.csv").write_text("customer_id,group\nx1,reward_a\nx2,control\n")
    with pytest.raises(DataError) as words:
        read_groups(groups=[str(tmp_path / "w.csv")])
    assert "is neither treatment nor control: 'reward_a'" in words.value.message
    assert render(str(words.value.hint)).endswith("name the control arm with --control-arm.")


def test_each_arms_files_and_a_customer_in_two_arms(tmp_path: Path):
    for name, ids in {"a": "x1\nx2\n", "b": "x3\n", "c": "x4\nx5\n"}.items():
        (tmp_path / f"{name}.csv").write_text("customer_id\n" + ids)
    arms = [("reward_a", [str(tmp_path / "a.csv")]), ("control", [str(tmp_path / "c.csv")])]
    arms.insert(1, ("reward_b", [str(tmp_path / "b.csv")]))
    rows, _ = read_groups(arms=arms)
    assert rows.rows() == [
        ("x1", "treatment", "reward_a"),
        ("x2", "treatment", "reward_a"),
        ("x3", "treatment", "reward_b"),
        ("x4", "control", "control"),
        ("x5", "control", "control"),
    ]
    with pytest.raises(DataError) as no_control:
        read_groups(arms=arms[:2])
    assert no_control.value.message == "None of the arms 'reward_a', 'reward_b' is the control arm 'control'"
    (tmp_path / "b.csv").write_text("customer_id\nx3\nx5\nx1\n")
    with pytest.raises(DataError) as two:
        read_groups(arms=arms)
    assert two.value.message == "2 customers are in more than one arm (e.g. x1: reward_a and reward_b)"
    assert two.value.hint == "A customer is in one arm only: check that the lists come from the same split."


def test_a_manifest_records_the_arms_and_their_files(tmp_path: Path):
    table = pl.DataFrame(
        {"customer_id": [f"C{i:04d}" for i in range(300)], "email": [f"{i}@x.org" for i in range(300)]}
    )
    write_list(table, tmp_path / "spring.csv", ListSpec(seed="s1", arms=ABC))
    manifest = tmp_path / "spring.manifest.json"
    arms, control = manifest_arms(manifest)  # type: ignore[misc]
    assert control == "control"
    assert [(name, [Path(f).name for f in files]) for name, files in arms] == [
        ("reward_a", ["spring.reward_a.csv"]),
        ("reward_b", ["spring.reward_b.csv"]),
        ("control", ["spring.control.csv"]),
    ]
    rows, _ = read_groups(arms=arms, control_arm=control)
    written = {arm: pl.read_csv(tmp_path / f"spring.{arm}.csv")["customer_id"].to_list() for arm in ABC.names}  # type: ignore[union-attr]
    for arm, ids in written.items():
        assert rows.filter(pl.col("arm") == arm)["customer_id"].to_list() == ids
    # an arm's file changed since: the manifest check names it
    (tmp_path / "spring.reward_b.csv").write_text(
        (tmp_path / "spring.reward_b.csv").read_text() + "X1,x@x.org,reward_b\n"
    )
    with pytest.raises(DataError, match="spring.reward_b.csv has changed since the manifest"):
        check_manifest(manifest)
    # a holdout set records no arms
    write_list(table, tmp_path / "plain.csv", ListSpec(seed="s1", holdout_share=0.2))
    assert manifest_arms(tmp_path / "plain.manifest.json") is None


def test_a_manifests_arms_must_have_a_control_and_its_files(tmp_path: Path):
    table = pl.DataFrame({"customer_id": [f"C{i:04d}" for i in range(50)]})
    write_list(table, tmp_path / "s.csv", ListSpec(seed="s1", arms=ABC))
    path = tmp_path / "s.manifest.json"
    data = json.loads(path.read_text())
    data["arms"]["arms"][0]["files"] = ["elsewhere.csv"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="name other files than its file list records"):
        manifest_arms(path)
    data["arms"]["control"] = None
    path.write_text(json.dumps(data))
    with pytest.raises(DataError) as no_control:
        manifest_arms(path)
    assert (
        no_control.value.message
        == f"The arms of {path} have no control arm: each arm is compared with the control group"
    )
    data["arms"] = {"arms": "?"}
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="cannot be read"):
        manifest_arms(path)
