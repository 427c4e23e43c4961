"""Email hand-off on the list-writing commands (--target, --holdout-share, --seed, --max-file-mb, --contacts), and
the round trip: a segment list to Klaviyo with a 10% control group, then ``loyalty uplift`` after the campaign."""

from __future__ import annotations

import errno
import io
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from loyalty_cli.cli import app
from loyalty_cli.io import writers

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"
CONTACTS = ROOT / "sample_data" / "contacts.csv"


def run(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """60 customers with two orders each (emails, one shared in different case, one missing), a contacts file."""
    folder = tmp_path_factory.mktemp("small")
    lines = ["customer_id,order_date,amount,email"]
    for i in range(60):
        email = (
            ""
            if i == 5
            else ("Shared@Example.com" if i == 7 else "shared@example.com" if i == 8 else f"c{i:02d}@example.com")
        )
        lines.append(f"c{i:02d},2024-01-{1 + i % 28:02d},{10 + i}.00,{email}")
        lines.append(f"c{i:02d},2024-02-{1 + i % 28:02d},{5 + i % 7}.50,{email}")
    (folder / "tx.csv").write_text("\n".join(lines) + "\n")
    contacts = ["customer_id,email,email_consent"]
    contacts += [f"c{i:02d},c{i:02d}@crm.example.com,{'no' if i % 10 == 0 else 'yes'}" for i in range(55)]
    (folder / "contacts.csv").write_text("\n".join(contacts) + "\n")
    return folder


def test_without_the_new_options_nothing_changes(small: Path):
    result = run("segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "-o", "plain.csv")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["plain.csv"]
    assert "Wrote 60 customers to plain.csv" in result.stderr
    assert pl.read_csv("plain.csv").columns[:3] == ["customer_id", "email", "segment"]


def test_segment_to_klaviyo_with_a_control_group(small: Path):
    args = (
        "segment",
        str(small / "tx.csv"),
        "--as-of",
        "2024-03-01",
        "--target",
        "klaviyo",
        "--holdout-share",
        "0.2",
        "--seed",
        "spring",
        "-o",
        "list.csv",
    )
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in Path().iterdir()) == [
        "list.control.csv",
        "list.csv",
        "list.dropped.csv",
        "list.manifest.json",
    ]
    treat, control = pl.read_csv("list.csv"), pl.read_csv("list.control.csv")
    assert treat.columns[:3] == ["Email Address", "customer_id", "loyalty_segment"]
    assert treat["first_purchase"].str.contains(r"^\d{4}-\d\d-\d\d 12:00:00$").all()
    assert treat.height + control.height == 58  # c05 has no email; c07 and c08 share one
    dropped = pl.read_csv("list.dropped.csv")
    assert dropped.select("drop_reason", "customer_id", "kept_customer_id").rows() == [
        ("missing email", "c05", None),
        ("duplicate email", "c07", "c08"),
    ]  # c08 spent more
    manifest = json.loads(Path("list.manifest.json").read_text())
    assert manifest["holdout"]["control"] == control.height and manifest["holdout"]["seed"] == "spring"
    assert f"Klaviyo list: wrote {treat.height} customers to list.csv" in result.stderr
    assert (
        f"Control group: {control.height} customers ({control.height / 58:.1%} of 58; --holdout-share 0.2, "
        "--seed spring) held out in list.control.csv" in result.stderr
    )
    assert "Left out 2 of 60 rows (list.dropped.csv): 1 duplicate email, 1 missing email" in result.stderr
    # the same run writes the same files, byte for byte
    before = {p.name: p.read_bytes() for p in Path().iterdir()}
    assert run(*args).exit_code == 0
    assert {p.name: p.read_bytes() for p in Path().iterdir()} == before


def test_contacts_bring_emails_and_consent(small: Path):
    result = run(
        "segment",
        str(small / "tx.csv"),
        "--as-of",
        "2024-03-01",
        "--target",
        "hubspot",
        "--contacts",
        str(small / "contacts.csv"),
        "-o",
        "list.csv",
    )
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("list.csv")
    assert out.columns[:2] == ["Email", "customer_id"] and "email_consent" not in out.columns
    assert out["Email"].str.ends_with("@crm.example.com").all()
    # 6 said no (c00, c10, ... c50), 5 are not in the contacts (c55-c59)
    assert "Left out 11 of 60 rows (list.dropped.csv): 6 no email consent, 5 not in the contacts file" in result.stderr
    assert out.height == 49


def test_contacts_are_read_with_the_commands_column_mapping(small: Path):
    """A consent column named only in --mapping still counts: missing it would email people who said no."""
    text = (small / "contacts.csv").read_text().replace("email_consent", "Newsletter OK", 1)
    Path("crm.csv").write_text(text)
    Path("map.toml").write_text('[contacts]\nemail_consent = "Newsletter OK"\n')
    result = run(
        "segment",
        str(small / "tx.csv"),
        "--as-of",
        "2024-03-01",
        "--mapping",
        "map.toml",
        "--target",
        "hubspot",
        "--contacts",
        "crm.csv",
        "-o",
        "list.csv",
    )
    assert result.exit_code == 0, result.stderr
    assert "Left out 11 of 60 rows (list.dropped.csv): 6 no email consent, 5 not in the contacts file" in result.stderr
    assert "email_consent <- 'Newsletter OK'" in result.stderr  # the contacts' columns are shown
    assert pl.read_csv("list.csv").height == 49


def test_second_purchase_to_mailchimp_tags_the_action(small: Path):
    result = run("second-purchase", str(SAMPLE), "--target", "mailchimp", "--max-file-mb", "0.01", "-o", "nudge.csv")
    assert result.exit_code == 0, result.stderr
    parts = sorted(Path().glob("nudge.part*.csv"))
    assert len(parts) >= 3 and not Path("nudge.csv").exists()
    assert all(p.stat().st_size <= 10_000 for p in parts)
    back = pl.concat([pl.read_csv(p) for p in parts])
    assert back.columns[:3] == ["Email Address", "customer_id", "Tags"]
    assert set(back["Tags"]) == {"second-purchase nudge"}
    assert (
        f"Mailchimp list: wrote {back.height} one-time buyers to nudge to {len(parts)} parts of at most "
        "0.01 MB" in result.stderr
    )
    manifest = json.loads(Path("nudge.manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]["treatment"]] == [p.name for p in parts]


def test_cltv_lists_need_emails_from_contacts_except_for_braze(small: Path):
    args = ("cltv", str(SAMPLE), "--top", "0", "-q")
    result = run(*args, "--target", "klaviyo", "-o", "clv.csv")
    assert result.exit_code == 1
    assert "Error: The list has no email column, which Klaviyo needs to identify contacts" in result.stderr
    assert "Hint: Add emails with --contacts FILE" in result.stderr
    result = run(*args, "--target", "braze", "-o", "clv.csv")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("clv.csv")
    assert out.columns[:2] == ["external_id", "loyalty_value_tier"] and out.height == 3000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--holdout-share", "0.1", "-o", "l.csv"], "--holdout-share needs --seed"),
        (["--target", "klaviyo", "-o", "-"], "--target and --holdout-share need -o FILE"),
        (["--target", "klaviyo", "-o", "l.parquet"], "Klaviyo imports CSV files, not parquet"),
        (["--target", "sendgrid", "-o", "l.csv"], "Unknown --target 'sendgrid'"),
        (["--contacts", "c.csv", "-o", "l.csv"], "--contacts needs --target"),
        (["--seed", "1", "-o", "l.csv"], "--seed needs --target or --holdout-share"),
        (["--holdout-share", "1", "--seed", "1", "-o", "l.csv"], "--holdout-share must be between 0 and 1"),
    ],
)
@pytest.mark.parametrize("command", ["segment", "second-purchase", "cltv"])
def test_usage_errors_before_any_data_is_read(command, extra, message):
    result = run(command, "missing.csv", *extra)  # the file does not exist: options are checked first
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr


def test_round_trip_segment_to_klaviyo_then_uplift():
    # 1. The list: everyone in the sample shop, for Klaviyo, 10% held out, consent from the contacts.
    result = run(
        "segment",
        str(SAMPLE),
        "--target",
        "klaviyo",
        "--contacts",
        str(CONTACTS),
        "--holdout-share",
        "0.1",
        "--seed",
        "winter-2025",
        "-o",
        "customers.csv",
    )
    assert result.exit_code == 0, result.stderr
    treated = pl.read_csv("customers.csv")["customer_id"].to_list()
    held = pl.read_csv("customers.control.csv")["customer_id"].to_list()
    share = len(held) / (len(held) + len(treated))
    assert abs(share - 0.1) < 4 * (0.1 * 0.9 / (len(held) + len(treated))) ** 0.5
    # 2. The campaign goes out on 2025-01-06 to customers.csv; over 30 days 30% of them buy vs 12% of the control.
    rng = np.random.default_rng(2025)
    ids = np.array(treated + held)
    buys = rng.random(ids.size) < np.where(np.arange(ids.size) < len(treated), 0.30, 0.12)
    start = date(2025, 1, 6)
    days = rng.integers(0, 30, ids.size)
    campaign = pl.DataFrame(
        {
            "order_id": [f"X{i}" for i in range(int(buys.sum()))],
            "customer_id": ids[buys],
            "order_date": [
                datetime.combine(start + timedelta(days=int(d)), datetime.min.time()) + timedelta(hours=10)
                for d in days[buys]
            ],
            "amount": np.round(rng.gamma(2.0, 20.0, int(buys.sum())), 2),
        }
    )
    history = pl.read_csv(
        SAMPLE,
        columns=["order_id", "customer_id", "order_date", "amount"],
        schema_overrides={"order_id": pl.String},
        try_parse_dates=True,
    )
    pl.concat([history, campaign.with_columns(pl.col("order_date").cast(history.schema["order_date"]))]).write_csv(
        "after.csv"
    )
    # 3. The uplift report, from the manifest written with the list.
    result = run(
        "uplift",
        "after.csv",
        "--manifest",
        "customers.manifest.json",
        "--start",
        "2025-01-06",
        "--window",
        "30d",
        "--as-of",
        "2025-02-05",
        "-o",
        "uplift.csv",
    )
    assert result.exit_code == 0, result.stderr
    table = pl.read_csv("uplift.csv")
    overall = table.row(0, named=True)
    assert (overall["treatment_customers"], overall["control_customers"]) == (len(treated), len(held))
    assert overall["repurchase_diff_low"] < 0.18 < overall["repurchase_diff_high"]
    assert overall["repurchase_verdict"] == "treatment higher"
    assert "Repurchase within 30 days: treatment" in result.stderr and ": treatment higher" in result.stderr
    assert table["segment"].to_list()[0] == "(all)" and table.height > 5  # per segment (loyalty_segment column)
    assert "Warning: The window has not ended" not in result.stderr
    # the same from the two files
    again = run(
        "uplift",
        "after.csv",
        "--treatment",
        "customers.csv",
        "--control",
        "customers.control.csv",
        "--start",
        "2025-01-06",
        "--as-of",
        "2025-02-05",
        "-o",
        "uplift2.csv",
        "-q",
    )
    assert again.exit_code == 0
    assert_frame_equal(pl.read_csv("uplift2.csv"), table)


def test_churn_winback_list_to_klaviyo_keeps_its_reason_column():
    """A list with its own `reason` column (churn) goes through screening: the drop reason is `drop_reason`."""
    contacts = ROOT / "sample_data" / "contacts.csv"
    result = run(
        "churn",
        str(SAMPLE),
        "--status",
        "lapsed",
        "-o",
        "winback.csv",
        "--target",
        "klaviyo",
        "--contacts",
        str(contacts),
        "--holdout-share",
        "0.1",
        "--seed",
        "spring",
        "-q",
    )
    assert result.exit_code == 0, result.output
    sent, control = pl.read_csv("winback.csv"), pl.read_csv("winback.control.csv")
    dropped = pl.read_csv("winback.dropped.csv")
    assert "Email Address" in sent.columns and "reason" in sent.columns and "loyalty_status" in sent.columns
    assert set(sent["loyalty_status"]) == {"lapsed"}
    assert "drop_reason" in dropped.columns and "reason" in dropped.columns
    assert sent.height + control.height + dropped.height == 1837  # every lapsed customer accounted for


# --- the hand-off files as one set; outputs on a full disk -------------------------------------------------

TARGETED = ("--target", "klaviyo", "--holdout-share", "0.2", "--seed", "spring", "-o", "list.csv")


def test_a_plain_list_over_a_handoff_removes_its_control_group_and_manifest(small: Path):
    tx = str(small / "tx.csv")
    assert run("segment", tx, "--as-of", "2024-03-01", *TARGETED).exit_code == 0
    result = run("segment", tx, "--as-of", "2024-03-01", "-o", "list.csv")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["list.csv"]
    assert (
        "Removed files of an earlier run that do not belong to this list: list.control.csv, list.dropped.csv, "
        "list.manifest.json\n" in result.stderr
    )
    # uplift cannot compare the new list with the old control group any more
    result = run("uplift", tx, "--manifest", "list.manifest.json", "--start", "2024-02-01")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: File not found: list.manifest.json\n")


def test_a_handoff_on_a_full_disk_leaves_the_earlier_files(small: Path, monkeypatch: pytest.MonkeyPatch):
    tx = str(small / "tx.csv")
    assert run("segment", tx, "--as-of", "2024-03-01", *TARGETED).exit_code == 0
    before = {p.name: p.read_bytes() for p in Path().iterdir()}
    fdopen, opened = os.fdopen, []

    def second_file_fills_the_disk(fd: int, mode: str = "rb", *args, **kwargs):
        opened.append(fd)
        if len(opened) == 2:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(writers.os, "fdopen", second_file_fills_the_disk)
    result = run("segment", tx, "--as-of", "2024-02-15", *TARGETED, "-q")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not write list.csv: No space left on device\n"
        "Hint: Free some space (or raise the quota), or write to another disk; the old file, if any, is unchanged.\n"
    )
    assert {p.name: p.read_bytes() for p in Path().iterdir()} == before


def test_parquet_output_on_a_full_disk_is_a_clear_error(small: Path, monkeypatch: pytest.MonkeyPatch):
    Path("out.parquet").write_bytes(b"old")

    class FullDisk(io.FileIO):
        def write(self, data) -> int:  # noqa: ANN001
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.os, "fdopen", lambda fd, mode="rb", *a, **k: FullDisk(fd, "wb"))
    result = run("segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "-o", "out.parquet", "-q")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not write out.parquet: No space left on device\n"
        "Hint: Free some space (or raise the quota), or write to another disk; the old file, if any, is unchanged.\n"
    )
    assert sorted(p.name for p in Path().iterdir()) == ["out.parquet"]
    assert Path("out.parquet").read_bytes() == b"old"


def test_uplift_refuses_a_manifest_whose_control_group_changed(small: Path):
    tx = str(small / "tx.csv")
    assert run("segment", tx, "--as-of", "2024-03-01", *TARGETED).exit_code == 0
    result = run("uplift", tx, "--manifest", "list.manifest.json", "--start", "2024-02-01", "-q")
    assert result.exit_code == 0, result.stderr
    result = run("uplift", tx, "--manifest", "list.manifest.json", "--start", "2024-02-01")
    assert "Checked the 2 list files against list.manifest.json: rows and SHA-256 match\n" in result.stderr
    # the control group is written again by another run (another seed), without the rest of the set
    control = pl.read_csv("list.control.csv")
    control.head(control.height - 1).write_csv("list.control.csv")
    result = run("uplift", tx, "--manifest", "list.manifest.json", "--start", "2024-02-01")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: list.control.csv has changed since the manifest list.manifest.json was written (its content does not "
        "match the size and SHA-256 recorded there)\n"
        "Hint: The lists and the manifest must come from one run: write the list again with --holdout-share and "
        "--seed (the same seed gives the same split), or compare the files as they are with --treatment and "
        "--control.\n"
    )
