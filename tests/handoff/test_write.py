"""Writing a list: size splitting, control group, dropped rows, changes, manifest; the files as one set; the
manifest checked against the files it records."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, LoyaltyError, UsageError
from loyalty_cli.handoff.readback import check_manifest
from loyalty_cli.handoff.screening import MISSING_EMAIL
from loyalty_cli.handoff.targets import TARGETS
from loyalty_cli.handoff.write import ListSpec, split_csv, write_list, write_plain_list
from loyalty_cli.io import writers

# --- size splitting ------------------------------------------------------------------------------------


def test_split_csv_at_row_boundaries_with_the_header_in_each_part():
    df = pl.DataFrame({"id": [f"c{i:03d}" for i in range(100)], "text": ["line one\nline two", 'x, "quoted"'] * 50})
    data = df.write_csv().encode()
    parts = split_csv(data, 400)
    assert len(parts) > 3 and all(len(p) <= 400 for p, _ in parts)
    assert sum(rows for _, rows in parts) == 100
    header = data.split(b"\n")[0] + b"\n"
    assert all(p.startswith(header) for p, _ in parts)
    back = pl.concat([pl.read_csv(io.BytesIO(p)) for p, _ in parts])
    assert back.equals(df)  # quoted newlines and quotes survive; no row lost or split
    assert [rows for _, rows in parts] == [pl.read_csv(io.BytesIO(p)).height for p, _ in parts]
    assert split_csv(data, None) == [(data, 100)] and split_csv(data, len(data)) == [(data, 100)]
    with pytest.raises(UsageError, match="too small"):
        split_csv(data, 30)


def test_write_list_splits_over_the_limit_and_lists_the_parts(tmp_path: Path):
    n = 300
    table = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"customer{i}@example.com" for i in range(n)],
            "segment": ["At Risk"] * n,
        }
    )
    out = tmp_path / "big.csv"
    out.write_text("stale")  # an unsplit file of an earlier run (the -o file) must not stay beside the parts
    (tmp_path / "big.part09.csv").write_text("user data")  # no manifest of ours lists it: left, and said
    report = write_list(table, out, ListSpec(target="klaviyo", tag="segment", max_file_mb=0.004))
    names = sorted(p.name for p in tmp_path.iterdir())
    parts = [f"big.part{i:02d}.csv" for i in range(1, len(report.treatment) + 1)]
    assert len(parts) >= 3 and names == sorted([*parts, "big.manifest.json", "big.part09.csv"])
    assert [p.name for p in report.removed] == ["big.csv"]
    assert (tmp_path / "big.part09.csv").read_text() == "user data"
    assert report.notes[-1].startswith(f"Left {tmp_path / 'big.part09.csv'} as it is: named like a file")
    (tmp_path / "big.part09.csv").unlink()
    sizes = [(tmp_path / p).stat().st_size for p in parts]
    assert max(sizes) <= 4000
    back = pl.concat([pl.read_csv(tmp_path / p) for p in parts])
    assert back["customer_id"].to_list() == table["customer_id"].to_list()
    manifest = json.loads((tmp_path / "big.manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]["treatment"]] == parts
    assert [f["bytes"] for f in manifest["files"]["treatment"]] == sizes
    assert sum(f["rows"] for f in manifest["files"]["treatment"]) == n
    assert manifest["max_file_bytes"] == 4000 and manifest["target"] == "klaviyo"
    # a second run that fits one file removes the parts
    report = write_list(table.head(5), out, ListSpec(target="klaviyo", tag="segment"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "big.manifest.json"]
    assert len(report.removed) == len(parts)


def test_klaviyo_limit_is_50_mb_and_overridable():
    assert ListSpec(target="klaviyo").max_bytes(TARGETS["klaviyo"]) == 50_000_000
    assert ListSpec(target="klaviyo", max_file_mb=1.5).max_bytes(TARGETS["klaviyo"]) == 1_500_000
    assert ListSpec(target="mailchimp").max_bytes(TARGETS["mailchimp"]) is None


# --- write_list: everything together ---------------------------------------------------------------------


def test_write_list_with_control_group_dropped_rows_changes_and_manifest(tmp_path: Path):
    n = 400
    table = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"p{i}@shop.com" if i % 50 else None for i in range(n)],
            "segment": ["=bad" if i == 7 else "Loyal" for i in range(n)],
            "net_spend": [float(i) for i in range(n)],
            "first_purchase": [date(2024, 1, 1)] * n,
        }
    )
    spec = ListSpec(target="klaviyo", holdout_share=0.25, seed="spring", tag="segment", value="net_spend")
    report = write_list(table, tmp_path / "loyal.csv", spec)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["loyal.changes.csv", "loyal.control.csv", "loyal.csv", "loyal.dropped.csv", "loyal.manifest.json"]
    treat, control = pl.read_csv(tmp_path / "loyal.csv"), pl.read_csv(tmp_path / "loyal.control.csv")
    assert treat.columns[:3] == control.columns[:3] == ["Email Address", "customer_id", "loyalty_segment"]
    assert treat.height + control.height == n - 8 and not set(treat["customer_id"]) & set(control["customer_id"])
    assert 0.15 < control.height / (n - 8) < 0.35
    assert report.dropped == {MISSING_EMAIL: 8} and report.changes == 1
    assert pl.read_csv(tmp_path / "loyal.dropped.csv")["drop_reason"].to_list() == [MISSING_EMAIL] * 8
    assert pl.read_csv(tmp_path / "loyal.changes.csv").row(0) == ("c0007", "loyalty_segment", "'=bad", "bad")
    manifest = json.loads((tmp_path / "loyal.manifest.json").read_text())
    assert manifest["holdout"]["seed"] == "spring" and manifest["holdout"]["share"] == 0.25
    assert manifest["holdout"]["control"] == control.height and manifest["holdout"]["treatment"] == treat.height
    assert manifest["rows_in"] == n and manifest["rows_written"] == n - 8
    assert manifest["dropped"] == {MISSING_EMAIL: 8} and manifest["files"]["dropped"] == "loyal.dropped.csv"
    assert manifest["format"]["date_format"] == "%Y-%m-%d 12:00:00"
    # deterministic: a second run writes the same bytes
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write_list(table, tmp_path / "loyal.csv", spec)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_holdout_without_target_keeps_the_format(tmp_path: Path):
    table = pl.DataFrame({"customer_id": [f"c{i}" for i in range(50)], "x": list(range(50))})
    report = write_list(table, tmp_path / "l.parquet", ListSpec(holdout_share=0.2, seed="1"))
    t, c = pl.read_parquet(tmp_path / "l.parquet"), pl.read_parquet(tmp_path / "l.control.parquet")
    assert t.columns == c.columns == ["customer_id", "x"] and t.height + c.height == 50
    assert report.split is not None and report.split.control == c.height
    # a later run without a holdout removes that control group: it does not belong to the new list
    report = write_list(table, tmp_path / "l.parquet", ListSpec())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.manifest.json", "l.parquet"]
    assert [p.name for p in report.removed] == ["l.control.parquet"]


@pytest.mark.parametrize(
    ("spec", "output", "message"),
    [
        (ListSpec(holdout_share=0.1), "l.csv", "--holdout-share needs --seed"),
        (ListSpec(seed="x"), "l.csv", "--seed needs --target or --holdout-share"),
        (ListSpec(target="klaviyo", seed="x"), "l.csv", "--seed needs --holdout-share"),
        (ListSpec(target="klaviyo"), "-", "need -o FILE"),
        (ListSpec(target="klaviyo"), "l.parquet", "Klaviyo imports CSV files, not parquet"),
        (ListSpec(holdout_share=1.5, seed="x"), "l.csv", "between 0 and 1"),
        (ListSpec(target="generic", max_file_mb=0), "l.csv", "must be > 0"),
        (ListSpec(target="generic", max_file_mb=1), "l.json", "splits CSV files only"),
        (ListSpec(max_file_mb=1), "l.csv", "--max-file-mb needs --target"),
        (ListSpec(holdout_share=0.1, seed="x", columns=("orders",)), "l.csv", "--columns needs --target"),
    ],
)
def test_spec_checks(spec, output, message):
    with pytest.raises(UsageError) as info:
        spec.check(output)
    assert re.search(message, render(str(info.value)))


# --- the columns of a list for a target, its numbers rounded -----------------------------------------------


def churn_table() -> pl.DataFrame:
    """A churn list as the command makes it (fewer columns): two customers, a shared email, noisy money."""
    return pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "email": ["a@shop.com", "b@shop.com", "B@shop.com"],
            "status": ["lapsing", "lapsed", "lapsed"],
            "value_tier": ["high", "low", "high"],
            "worth_costly_offer": [True, False, None],
            "reason": ["40 days since ...", "90 days since ...", "95 days since ..."],
            "ipt_days": [16.333333333333332, 6.5, 30.0],
            "orders": [3, 1, 2],
            "net_spend": [185.91199999999998, -0.125, 200.005],
            "mean_order_value": [61.97066666666666, -0.125, 100.0025],
            "last_purchase": [date(2024, 11, 21), date(2024, 9, 1), date(2024, 8, 30)],
            "as_of": [date(2025, 1, 1)] * 3,
        }
    )


def test_a_list_for_a_target_carries_the_columns_a_campaign_needs(tmp_path: Path):
    out = tmp_path / "winback.csv"
    report = write_list(churn_table(), out, ListSpec(target="klaviyo", tag="status", value="net_spend"))
    # c3 and c2 share an email: c3 has the higher net spend and stays; money in cents, half away from zero
    assert out.read_text() == (
        "Email Address,customer_id,loyalty_status,value_tier,worth_costly_offer,last_purchase,orders,net_spend\n"
        "a@shop.com,c1,lapsing,high,true,2024-11-21 12:00:00,3,185.91\n"
        "b@shop.com,c3,lapsed,high,,2024-08-30 12:00:00,2,200.01\n"
    )
    assert report.columns == out.read_text().splitlines()[0].split(",")
    dropped = pl.read_csv(tmp_path / "winback.dropped.csv")  # every column of the table, money in cents
    assert dropped.columns == ["drop_reason", "kept_customer_id", *churn_table().columns]
    assert dropped.select("customer_id", "net_spend", "ipt_days").row(0) == ("c2", -0.13, 6.5)


def test_more_columns_when_asked_or_all_of_them(tmp_path: Path):
    spec = ListSpec(target="generic", tag="status", value="net_spend", columns=("mean_order_value", "ipt_days"))
    write_list(churn_table().head(1), tmp_path / "l.csv", spec)
    assert (tmp_path / "l.csv").read_text() == (
        "customer_id,email,status,value_tier,worth_costly_offer,last_purchase,orders,net_spend,mean_order_value,"
        "ipt_days\nc1,a@shop.com,lapsing,high,true,2024-11-21,3,185.91,61.97,16.3333\n"
    )
    write_list(churn_table().head(1), tmp_path / "all.csv", ListSpec(target="generic", tag="status", columns=("all",)))
    assert pl.read_csv(tmp_path / "all.csv").columns == churn_table().columns


def test_a_column_the_list_does_not_have_is_refused_before_anything_is_written(tmp_path: Path):
    spec = ListSpec(target="mailchimp", tag="status", columns=("ipt_days", "comment", "score"))
    with pytest.raises(UsageError) as info:
        write_list(churn_table(), tmp_path / "l.csv", spec)
    assert render(info.value.message) == "--columns: the list has no column 'comment', 'score'"
    assert render(info.value.hint or "").startswith("Its columns: customer_id, email, status, value_tier, ")
    assert render(info.value.hint or "").endswith(", last_purchase, as_of; or --columns all.")
    assert list(tmp_path.iterdir()) == []


def test_a_list_without_a_target_keeps_every_column_and_its_numbers(tmp_path: Path):
    """A holdout without a target writes the table as it is: every column (numbers rounded as any CSV)."""
    write_list(churn_table(), tmp_path / "l.parquet", ListSpec(holdout_share=0.5, seed="s"))
    back = pl.concat([pl.read_parquet(tmp_path / "l.parquet"), pl.read_parquet(tmp_path / "l.control.parquet")])
    assert back.sort("customer_id").equals(churn_table())


# --- a list's files as one set: all or nothing, and nothing of an earlier set left behind -----------------


def loyal_table(n: int = 400, spend: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "email": [f"p{i}@shop.com" if i % 50 else None for i in range(n)],
            "segment": ["=bad" if i == 7 else "Loyal" for i in range(n)],
            "net_spend": [float(i) + spend for i in range(n)],
        }
    )


SPEC = ListSpec(target="klaviyo", holdout_share=0.25, seed="spring", tag="segment", value="net_spend")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def earlier_set(tmp_path: Path) -> dict[str, bytes]:
    write_list(loyal_table(), tmp_path / "loyal.csv", SPEC)
    before = snapshot(tmp_path)
    assert sorted(before) == [
        "loyal.changes.csv",
        "loyal.control.csv",
        "loyal.csv",
        "loyal.dropped.csv",
        "loyal.manifest.json",
    ]
    return before


def test_a_full_disk_part_way_leaves_the_earlier_set_complete(
    tmp_path: Path, earlier_set: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = []
    fdopen = os.fdopen

    def third_file_fills_the_disk(fd: int, mode: str = "rb", *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        opened.append(fd)
        if len(opened) == 3:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(writers.os, "fdopen", third_file_fills_the_disk)
    with pytest.raises(LoyaltyError) as info:
        write_list(loyal_table(spend=1.0), tmp_path / "loyal.csv", SPEC)
    assert info.value.message == f"Could not write {tmp_path / 'loyal.control.csv'}: No space left on device"
    assert snapshot(tmp_path) == earlier_set  # every old file as it was, no temporary file left


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()])
def test_a_failure_while_renaming_rolls_the_set_back(
    tmp_path: Path, earlier_set: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    replace = os.replace
    calls = []

    def third_rename_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise failure
        replace(src, dst)

    monkeypatch.setattr(writers.os, "replace", third_rename_fails)
    with pytest.raises((LoyaltyError, KeyboardInterrupt)):
        write_list(loyal_table(spend=1.0), tmp_path / "loyal.csv", SPEC)
    assert len(calls) > 3  # two files were renamed, then put back
    assert snapshot(tmp_path) == earlier_set


def test_the_manifest_records_each_files_sha256(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    manifest = json.loads(earlier_set["loyal.manifest.json"])
    for group in ("treatment", "control"):
        (entry,) = manifest["files"][group]
        data = earlier_set[entry["path"]]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert check_manifest(tmp_path / "loyal.manifest.json") == (
        f"Checked the 2 list files against {tmp_path / 'loyal.manifest.json'}: rows and SHA-256 match"
    )


def test_a_plain_list_over_a_handoff_set_removes_the_set(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    (tmp_path / "loyal.rejects.csv").write_text("kept")  # not part of the set
    (tmp_path / "loyal.v2.csv").write_text("kept")
    (tmp_path / "loyalty.csv").write_text("kept")
    written, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert written == tmp_path / "loyal.csv" and pl.read_csv(written).height == 10 and notes == []
    assert [p.name for p in removed] == [
        "loyal.changes.csv",
        "loyal.control.csv",
        "loyal.dropped.csv",
        "loyal.manifest.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loyal.csv",
        "loyal.rejects.csv",
        "loyal.v2.csv",
        "loyalty.csv",
    ]


def test_a_plain_list_to_stdout_touches_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert write_plain_list(loyal_table(3), "-") == (None, [], [])
    assert capsys.readouterr().out.startswith("customer_id,email,segment,net_spend\n")


def left_note(names: list[Path], reason: str) -> str:
    them = "it" if len(names) == 1 else "them"
    return (
        f"Left {', '.join(str(p) for p in names)} as {'it is' if len(names) == 1 else 'they are'}: named like "
        f"{'a file' if len(names) == 1 else 'files'} of this list's set, but {reason}. Delete {them} if an earlier "
        f"run left {them}: {'it' if len(names) == 1 else 'they'} would not belong to this list."
    )


def test_files_only_named_like_a_set_are_left_without_its_manifest(tmp_path: Path) -> None:
    mine = {"loyal.part7.csv": "user data", "loyal.changes.csv": "my changes", "loyal.control.part02.csv": "mine"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    report = write_list(loyal_table(), tmp_path / "loyal.csv", ListSpec(holdout_share=0.25, seed="spring"))
    assert report.removed == []
    assert {name: (tmp_path / name).read_text() for name in mine} == mine
    names = [tmp_path / name for name in sorted(mine)]
    reason = f"no manifest of an earlier run ({tmp_path / 'loyal.manifest.json'}) lists them"
    assert report.notes == [left_note(names, reason)]


@pytest.mark.parametrize(
    "manifest",
    [
        '{"files": {"treatment": [{"path": "loyal.csv"}], "control": [{"path": "loyal.control.csv"}]}}\n',
        "my notes, not JSON\n",
        "other.csv",  # a manifest of ours, but of another list
    ],
)
def test_a_plain_list_leaves_a_manifest_not_written_for_it(
    tmp_path: Path, earlier_set: dict[str, bytes], manifest: str
) -> None:
    if manifest == "other.csv":
        data = json.loads(earlier_set["loyal.manifest.json"])
        manifest = json.dumps({**data, "output": "other.csv"})
    (tmp_path / "loyal.manifest.json").write_text(manifest)
    written, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert removed == []
    assert (tmp_path / "loyal.manifest.json").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(earlier_set)
    names = [tmp_path / n for n in sorted(earlier_set) if n != "loyal.csv"]
    where = tmp_path / "loyal.manifest.json"
    assert notes == [left_note(names, f"{where} was not written by loyalty for loyal.csv")]


def test_only_the_files_the_earlier_manifest_lists_are_removed(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    (tmp_path / "loyal.part7.csv").write_text("user data")
    data = json.loads(earlier_set["loyal.manifest.json"])
    data["files"]["control"].append({"path": "loyal.v2.csv"})  # not named like the set: never removed
    data["files"]["dropped"] = "../loyal.dropped.csv"
    (tmp_path / "loyal.manifest.json").write_text(json.dumps(data))
    (tmp_path / "loyal.v2.csv").write_text("kept")
    _, removed, notes = write_plain_list(loyal_table(10), tmp_path / "loyal.csv")
    assert [p.name for p in removed] == ["loyal.changes.csv", "loyal.control.csv", "loyal.manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loyal.csv",
        "loyal.dropped.csv",
        "loyal.part7.csv",
        "loyal.v2.csv",
    ]
    assert (tmp_path / "loyal.part7.csv").read_text() == "user data"
    reason = f"the earlier run's manifest ({tmp_path / 'loyal.manifest.json'}) does not list them"
    assert notes == [left_note([tmp_path / "loyal.dropped.csv", tmp_path / "loyal.part7.csv"], reason)]


def test_a_set_without_a_control_group_removes_the_earlier_one(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    report = write_list(loyal_table(), tmp_path / "loyal.csv", ListSpec(target="klaviyo", tag="segment"))
    assert [p.name for p in report.removed] == ["loyal.control.csv"]
    manifest = json.loads((tmp_path / "loyal.manifest.json").read_text())
    assert manifest["files"]["control"] == [] and manifest["holdout"] is None


# --- the manifest checked against the files uplift reads ---------------------------------------------------


def test_a_control_group_changed_after_the_manifest_is_refused(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    control = tmp_path / "loyal.control.csv"
    control.write_bytes(earlier_set["loyal.control.csv"].replace(b"c00", b"x00", 1))  # same size, other content
    with pytest.raises(DataError) as info:
        check_manifest(tmp_path / "loyal.manifest.json")
    assert info.value.message == (
        f"{control} has changed since the manifest {tmp_path / 'loyal.manifest.json'} was written (its content "
        "does not match the size and SHA-256 recorded there)"
    )
    assert info.value.hint and "--treatment and --control" in render(info.value.hint)
    control.unlink()
    with pytest.raises(DataError, match="loyal.control.csv, listed in the manifest .* is missing"):
        check_manifest(tmp_path / "loyal.manifest.json")


def test_an_older_manifest_without_hashes_is_checked_by_rows(tmp_path: Path, earlier_set: dict[str, bytes]) -> None:
    path = tmp_path / "loyal.manifest.json"
    manifest = json.loads(earlier_set["loyal.manifest.json"])
    for entry in manifest["files"]["treatment"] + manifest["files"]["control"]:
        del entry["sha256"]
    path.write_text(json.dumps(manifest))
    assert check_manifest(path) == (
        f"The manifest {path} records no content hashes (an older version wrote it): the hash check was skipped; "
        "row counts match"
    )
    for entry in manifest["files"]["treatment"] + manifest["files"]["control"]:
        del entry["bytes"]
    path.write_text(json.dumps(manifest))
    control = tmp_path / "loyal.control.csv"
    control.write_text("\n".join(control.read_text().splitlines()[:-2]) + "\n")  # two customers fewer
    rows = manifest["files"]["control"][0]["rows"]
    with pytest.raises(DataError) as info:
        check_manifest(path)
    assert info.value.message == (
        f"{control} has {rows - 2:,} rows, but the manifest {path} records {rows:,}: the file has changed since "
        "the list was written"
    )
