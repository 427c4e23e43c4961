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
from loyalty_cli.io import destinations, writers

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
    assert treat.columns == [  # the id, email, tag and the fields a template uses, not the whole RFM table
        "Email Address",
        "customer_id",
        "loyalty_segment",
        "loyalty_segment_action",
        "last_purchase",
        "orders",
        "net_spend",
    ]
    assert treat["last_purchase"].str.contains(r"^\d{4}-\d\d-\d\d 12:00:00$").all()
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
        "Columns: Email Address, customer_id, loyalty_segment, loyalty_segment_action, last_purchase, orders, "
        "net_spend (more with --columns)\n" in result.stderr
    )
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


ESP_STATUSES = ["subscribed", "pending", "Cleaned", "unsubscribed", "bounced", "non-subscribed", "opted_in", "maybe"]


def test_esp_consent_statuses_are_drops_with_their_status_not_an_abort(small: Path):
    """Mailchimp, Klaviyo and Shopify statuses that are not a yes leave the row out with the status as the reason;
    a value we do not know is left out with the value shown. Neither aborts the command."""
    lines = ["customer_id,email,email_consent"]
    lines += [f"c{i:02d},c{i:02d}@crm.example.com,{s}" for i, s in enumerate(ESP_STATUSES)]
    lines += [f"c{i:02d},c{i:02d}@crm.example.com,yes" for i in range(len(ESP_STATUSES), 60)]
    Path("crm.csv").write_text("\n".join(lines) + "\n")
    result = run(
        "segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "--target", "mailchimp", "--contacts", "crm.csv",
        "-o", "list.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    dropped = dict(pl.read_csv("list.dropped.csv").select("customer_id", "drop_reason").rows())
    assert dropped == {
        "c01": "no email consent (pending)",
        "c02": "no email consent (cleaned)",
        "c03": "no email consent (unsubscribed)",
        "c04": "no email consent (bounced)",
        "c05": "no email consent (non subscribed)",
        "c07": "unreadable consent value 'maybe'",
    }
    assert "c00" in set(pl.read_csv("list.csv")["customer_id"]) and "c06" in set(pl.read_csv("list.csv")["customer_id"])
    assert "1 no email consent (pending)" in result.stderr and "1 unreadable consent value 'maybe'" in result.stderr
    manifest = json.loads(Path("list.manifest.json").read_text())
    assert manifest["dropped"]["no email consent (cleaned)"] == 1


def test_many_unknown_consent_values_keep_the_note_short(small: Path):
    lines = ["customer_id,email,email_consent"] + [f"c{i:02d},c{i:02d}@crm.example.com,v{i:02d}" for i in range(15)]
    lines += [f"c{i:02d},c{i:02d}@crm.example.com,yes" for i in range(15, 60)]
    Path("crm.csv").write_text("\n".join(lines) + "\n")
    result = run(
        "segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "--target", "klaviyo", "--contacts", "crm.csv",
        "-o", "list.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    note = next(line for line in result.stderr.splitlines() if line.startswith("Left out"))
    assert note.startswith("Left out 15 of 60 rows (list.dropped.csv): 1 unreadable consent value 'v00', ")
    assert note.endswith("1 unreadable consent value 'v09', 5 for 5 other reasons")
    assert pl.read_csv("list.dropped.csv").height == 15  # the file has every row and value


def test_on_bad_rows_skip_applies_to_the_contacts_file(small: Path):
    """A contacts row that cannot be read (no id, a date typo) is rejected like any bad row: --on-bad-rows skip
    goes on without it and writes it to a rejects file; without the option the error names file and rows."""
    text = (small / "contacts.csv").read_text().replace("email_consent\n", "email_consent,signed_up_at\n", 1)
    rows = text.splitlines()
    rows = [rows[0]] + [f"{r},2023-01-01" for r in rows[1:]] + [",nobody@crm.example.com,yes,2023-01-01"]
    rows[3] = rows[3].replace("2023-01-01", "2023-13-45")  # c02: a date typo
    Path("crm.csv").write_text("\n".join(rows) + "\n")
    args = ("segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "--target", "hubspot", "--contacts", "crm.csv")
    result = run(*args, "-o", "list.csv")
    assert result.exit_code == 1
    assert "Error: 2 bad rows in the contacts" in result.stderr and "crm.csv" in result.stderr
    assert not Path("list.csv").exists()
    result = run(*args, "-o", "list.csv", "--on-bad-rows", "skip")
    assert result.exit_code == 0, result.stderr
    rejects = pl.read_csv("list.rejects.contacts.csv", infer_schema=False)
    assert sorted(rejects["reject_reason"].to_list()) == ["missing customer id", "unparseable signed up at"]
    assert "2 rejected rows written to list.rejects.contacts.csv" in result.stderr
    # c02's contact row is gone: c02 is not in the contacts; the others as before
    assert "7 no email consent" not in result.stderr
    assert "Left out 12 of 60 rows (list.dropped.csv): 6 no email consent, 6 not in the contacts file" in (
        result.stderr
    )


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
        (["--columns", "orders", "-o", "l.csv"], "--columns needs --target"),
        (["--target", "generic", "--columns", ",", "-o", "l.csv"], "--columns ',' names no column"),
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
    """A list with its own `reason` column (churn, asked for with --columns) goes through screening: the drop
    reason is `drop_reason`."""
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
        "--columns",
        "reason",
        "-q",
    )
    assert result.exit_code == 0, result.output
    sent, control = pl.read_csv("winback.csv"), pl.read_csv("winback.control.csv")
    dropped = pl.read_csv("winback.dropped.csv")
    assert "Email Address" in sent.columns and "reason" in sent.columns and "loyalty_status" in sent.columns
    assert set(sent["loyalty_status"]) == {"lapsed"}
    assert "drop_reason" in dropped.columns and "reason" in dropped.columns
    assert sent.height + control.height + dropped.height == 1837  # every lapsed customer accounted for


# --- the columns of a list for an email tool (--columns) ------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "header"),
    [
        (
            ["churn", str(SAMPLE)],
            "customer_id,email,status,value_tier,worth_costly_offer,last_purchase,orders,net_spend",
        ),
        (
            ["cltv", str(SAMPLE), "--top", "0"],
            "customer_id,value_tier,predicted_clv_12m,p_alive,last_purchase,orders,historical_value",
        ),
        (
            ["lifecycle", str(SAMPLE)],
            "customer_id,email,stage,action,flags,value_tier,last_purchase,orders,net_spend,as_of",
        ),
        (
            ["nps", str(ROOT / "sample_data" / "surveys.csv"), "--transactions", str(SAMPLE), "--list", "promoters"],
            "customer_id,email,nps_category,latest_score,responded_at,segment,last_purchase,net_spend",
        ),
        (
            ["second-purchase", str(SAMPLE)],
            "customer_id,email,action,first_purchase,first_category,nudge_date,window_closes,net_spend",
        ),
    ],
)
def test_each_commands_list_carries_the_fields_a_template_uses(command: list[str], header: str):
    """The default columns of the README's table, on the sample shop (the generic target keeps our names)."""
    result = run(*command, "--target", "generic", "-o", "list.csv", "-q")
    assert result.exit_code == 0, result.stderr
    text = Path("list.csv").read_text()
    assert text.splitlines()[0] == header
    money = pl.read_csv("list.csv").select(
        pl.col(c for c in header.split(",") if c in ("net_spend", "predicted_clv_12m"))
    )
    for name in money.columns:  # in cents: no float noise
        assert (money[name] * 100 - (money[name] * 100).round()).abs().max() < 1e-6, name


def test_columns_adds_fields_in_its_order(small: Path):
    """c03: orders of 13.00 and 8.50 (mean 10.75); c04: 14.00 and 9.50; --columns repeatable and comma-separated."""
    args = ("segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "--target", "hubspot", "-o", "l.csv", "-q")
    result = run(*args, "--columns", "mean_order_value,first_purchase", "--columns", "recency_days,orders")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("l.csv").filter(pl.col("customer_id").is_in(["c03", "c04"])).sort("customer_id")
    assert out.columns == [
        "Email",
        "customer_id",
        "loyalty_segment",
        "loyalty_segment_action",
        "last_purchase",
        "orders",
        "net_spend",
        "mean_order_value",
        "first_purchase",
        "recency_days",
    ]
    assert out.select("net_spend", "mean_order_value", "first_purchase", "recency_days").rows() == [
        (21.5, 10.75, "2024-01-04", 26),  # last purchase 2024-02-04, as of 2024-03-01 (29 February)
        (23.5, 11.75, "2024-01-05", 25),
    ]


def test_a_column_the_list_does_not_have_stops_before_any_file_is_written(small: Path):
    args = ("churn", str(small / "tx.csv"), "--as-of", "2024-03-01", "--target", "klaviyo", "-o", "l.csv")
    result = run(*args, "--columns", "reason,comment")
    assert result.exit_code == 2
    assert "Error: --columns: the list has no column 'comment'\nHint: Its columns: customer_id, email, status, " in (
        result.stderr
    )
    assert "; or --columns all.\n" in result.stderr
    assert list(Path().iterdir()) == []


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


def test_files_only_named_like_a_list_set_are_never_removed(small: Path):
    tx = str(small / "tx.csv")
    mine = {"vip.part7.csv": "user data\n", "vip.changes.csv": "my changes\n"}
    for name, text in mine.items():
        Path(name).write_text(text)
    holdout = ("--holdout-share", "0.1", "--seed", "1", "-o", "vip.csv")
    result = run("segment", tx, "--as-of", "2024-03-01", *holdout)
    assert result.exit_code == 0, result.stderr
    assert {name: Path(name).read_text() for name in mine} == mine
    assert "Removed files" not in result.stderr
    assert (
        "Left vip.changes.csv, vip.part7.csv as they are: named like files of this list's set, but no manifest of "
        "an earlier run (vip.manifest.json) lists them. Delete them if an earlier run left them: they would not "
        "belong to this list.\n" in result.stderr
    )
    # a plain list over that set: its control group and manifest go (the manifest lists them), the user's files stay
    result = run("segment", tx, "--as-of", "2024-03-01", "-o", "vip.csv")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["vip.changes.csv", "vip.csv", "vip.part7.csv"]
    assert "Removed files of an earlier run that do not belong to this list: vip.control.csv, vip.manifest.json\n" in (
        result.stderr
    )
    assert (
        "Left vip.changes.csv, vip.part7.csv as they are: named like files of this list's set, but the earlier "
        "run's manifest (vip.manifest.json) does not list them. Delete them if an earlier run left them: they would "
        "not belong to this list.\n" in result.stderr
    )
    # a manifest of the user's own is not removed by a plain list either
    Path("vip.manifest.json").write_text('{"mine": true}\n')
    result = run("segment", tx, "--as-of", "2024-03-01", "-o", "vip.csv")
    assert result.exit_code == 0, result.stderr
    assert Path("vip.manifest.json").read_text() == '{"mine": true}\n'
    assert "Removed files" not in result.stderr
    assert "but vip.manifest.json was not written by loyalty for vip.csv. Delete them" in result.stderr


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


def test_a_handoff_where_the_old_files_cannot_be_kept_aside_changes_nothing(
    small: Path, monkeypatch: pytest.MonkeyPatch
):
    tx = str(small / "tx.csv")
    assert run("segment", tx, "--as-of", "2024-03-01", *TARGETED).exit_code == 0
    before = {p.name: p.read_bytes() for p in Path().iterdir()}

    def no_link(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise PermissionError(errno.EPERM, "Operation not permitted")  # fs.protected_hardlinks, SMB

    def no_space(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.os, "link", no_link)
    monkeypatch.setattr(destinations.shutil, "copyfileobj", no_space)
    result = run("segment", tx, "--as-of", "2024-02-15", *TARGETED, "-q")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not write list.dropped.csv: the file there could not be kept aside to put back if the set of "
        "files fails part-way (no hard link, and a copy failed: No space left on device)\n"
        "Hint: Nothing was changed. Free some space (the copy needs as much as the old file), or write to another "
        "folder.\n"
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


@pytest.mark.parametrize(
    ("target", "first"),
    [
        ("klaviyo", ["Email Address", "customer_id", "loyalty_segment", "loyalty_segment_action"]),
        ("braze", ["external_id", "email", "loyalty_segment", "loyalty_segment_action"]),
        ("hubspot", ["Email", "customer_id", "loyalty_segment", "loyalty_segment_action"]),
        ("mailchimp", ["Email Address", "customer_id", "Tags", "segment_action"]),
        ("generic", ["customer_id", "email", "segment", "segment_action"]),
    ],
)
def test_segment_lists_carry_the_action_beside_the_tag_for_every_target(small: Path, target: str, first: list[str]):
    Path("hand.toml").write_text(
        'bins = 5\n[[segment]]\nname = "Recent"\nwhen = "r >= 3"\naction = "Thank them: early access"\n'
        '[[segment]]\nname = "Old"\nwhen = "r <= 2"\naction = "+10% off to come back"\n'
    )
    args = ("segment", str(small / "tx.csv"), "--as-of", "2024-03-01", "--rules", "hand.toml", "-q")
    result = run(*args, "--target", target, "-o", "list.csv")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("list.csv")
    assert out.columns[:4] == first
    tag, action = first[2], first[3]
    assert sorted(set(out.select(tag, action).rows())) == (
        [("Old", "'+10% off to come back"), ("Recent", "Thank them: early access")]
        if target == "generic"  # the spreadsheet CSV keeps the text, formula-safe with its apostrophe
        else [("Old", "10% off to come back"), ("Recent", "Thank them: early access")]
    )
    if target != "generic":  # importers get the formula-like action cleaned, and the change logged
        changes = pl.read_csv("list.changes.csv")
        assert set(changes["column"]) == {action} and set(changes["cleaned"]) == {"10% off to come back"}


# --- found in review: consent that real exports write ------------------------------------------------------------


def _contacts_as(header: str, *, as_float: bool = False) -> Path:
    contacts = pl.read_csv(CONTACTS, infer_schema=False).rename({"email_consent": header})
    if as_float:
        contacts = contacts.with_columns((pl.col(header) == "yes").cast(pl.Float64))
        contacts.write_parquet("contacts.parquet")
        return Path("contacts.parquet")
    contacts.write_csv("contacts.csv")
    return Path("contacts.csv")


@pytest.mark.parametrize("header", ["Accepts Email Marketing", "Email Marketing Consent", "email_consent"])
def test_shopify_and_klaviyo_consent_headers_screen_the_list(header: str):
    expected = run("segment", str(SAMPLE), "--target", "mailchimp", "--contacts", str(CONTACTS), "-o", "ref.csv")
    assert expected.exit_code == 0, expected.output
    contacts = _contacts_as(header)
    result = run("segment", str(SAMPLE), "--target", "mailchimp", "--contacts", str(contacts), "-o", "list.csv")
    assert result.exit_code == 0, result.output
    assert "Consent from column 'email_consent'" in result.stderr
    assert Path("list.csv").read_bytes() == Path("ref.csv").read_bytes()


def test_consent_as_float_ones_and_zeros_is_read():
    expected = run("segment", str(SAMPLE), "--target", "klaviyo", "--contacts", str(CONTACTS), "-o", "ref.csv")
    contacts = _contacts_as("email_consent", as_float=True)
    result = run("segment", str(SAMPLE), "--target", "klaviyo", "--contacts", str(contacts), "-o", "list.csv")
    assert result.exit_code == 0, result.output
    assert "unreadable consent value" not in result.stderr
    assert Path("list.csv").read_bytes() == Path("ref.csv").read_bytes() and expected.exit_code == 0


def test_an_unrecognised_consent_like_column_is_named():
    contacts = _contacts_as("Accepts SMS or Email Permission")
    result = run("segment", str(SAMPLE), "--target", "mailchimp", "--contacts", str(contacts), "-o", "list.csv")
    assert result.exit_code == 0, result.output
    assert (
        "No email consent column recognised in contacts.csv, but 'Accepts SMS or Email Permission' looks like one"
        in " ".join(result.stderr.split())
    )
