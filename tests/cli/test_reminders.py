"""``loyalty reminders`` end to end: the sample shop's lists, the files, the email hand-off with a control group,
and bad input (exit codes and messages)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(
    env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data"
SAMPLE_INPUTS = (
    "--points",
    str(SAMPLE / "points.csv"),
    "--members",
    str(SAMPLE / "members.csv"),
    "--contacts",
    str(SAMPLE / "contacts.csv"),
)
POINTS = "customer_id,at,points,type\nA,2024-01-10,480,earn\nB,2024-06-01,100,earn\n"
CONTACTS = (
    "customer_id,email,signed_up_at,birthday,email_consent\n"
    "A,a@example.com,2023-01-05,1990-01-03,yes\n"
    "B,b@example.com,2023-01-06,1988-01-04,no\n"
    "C,=cmd@example.com,2023-01-07,1970-01-05,yes\n"
)


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("points.csv").write_text(POINTS)
    Path("contacts.csv").write_text(CONTACTS)
    return tmp_path


def run(*args: str):  # noqa: ANN201
    return RUNNER.invoke(app, ["reminders", *map(str, args)])


def test_the_sample_shop() -> None:
    result = run(*SAMPLE_INPUTS)
    assert result.exit_code == 0, result.output
    assert "# Reminders as of 2025-01-01 (rules: built-in programme)\n" in result.stdout
    summary = result.stdout.split("\n# ")[0].splitlines()[2:]
    assert [line.split("\t")[:3] for line in summary] == [
        ["points-expiring", "34", "2025-01-02 to 2025-01-31, 30 days"],
        ["near-tier", "60", "near the next tier: within 20% of the next tier's threshold"],
        # with the members: members' birthdays, and their enrolment's anniversaries
        ["birthday", "24", "2025-01-02 to 2025-01-15, 14 days"],
        ["anniversary", "40", "2025-01-02 to 2025-01-15, 14 days"],
    ]
    assert "# Membership anniversaries coming up: the first 10 of 40 customers\n" in result.stdout
    assert "# Points expiring: the first 10 of 34 customers\n" in result.stdout
    # whole points shown as such (the file keeps the CSV ledger's Float64): on 2025-01-03, in the window, balance
    assert "C001212\t2025-01-03\t2\t245\t245\t245\n" in result.stdout
    assert "# Members near the next tier: the first 10 of 60 customers\n" in result.stdout
    assert "C002433\tBronze\tSilver\t494\t6\n" in result.stdout
    assert (
        "The points of 2 customers (399) expire on the as-of date 2025-01-01 itself: not listed (the window starts "
        "the day after)" in result.stderr
    )
    assert "--as-of fixes it" in result.stderr  # the library's setting worded as the option
    assert "Warning" not in result.stderr  # the sample's ledger follows the rules, its tiers too


def test_the_lists_in_one_file(work: Path) -> None:
    result = run(*SAMPLE_INPUTS, "-o", "reminders.csv", "-q")
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "")
    table = pl.read_csv("reminders.csv")
    assert table.height == 34 + 60 + 24 + 40
    assert table.columns[:5] == ["customer_id", "email", "reminder", "event_date", "days_until"]
    assert "birthday" not in table.columns
    counts = dict(table.group_by("reminder").len().iter_rows())
    assert counts == {"points-expiring": 34, "near-tier": 60, "birthday": 24, "anniversary": 40}
    # without the members: every contact's birthday and sign-up anniversary
    result = run("--contacts", str(SAMPLE / "contacts.csv"), "--as-of", "2025-01-01", "-o", "contacts.csv", "-q")
    assert result.exit_code == 0, result.output
    counts = dict(pl.read_csv("contacts.csv").group_by("reminder").len().iter_rows())
    assert counts == {"birthday": 81, "anniversary": 114}


def test_one_kind_for_an_email_tool_with_a_control_group(work: Path) -> None:
    result = run(
        "--contacts",
        "contacts.csv",
        "--kind",
        "birthday",
        "--as-of",
        "2025-01-01",
        "-o",
        "birthdays.csv",
        "--target",
        "mailchimp",
        "--holdout-share",
        "0.5",
        "--seed",
        "b",
    )
    assert result.exit_code == 0, result.output
    # B said no: dropped; A and C (a formula-like email, written as the importer needs) split by the hash
    written = pl.concat([pl.read_csv(f"birthdays{s}.csv", infer_schema=False) for s in ("", ".control")])
    assert sorted(written["customer_id"]) == ["A", "C"]
    assert written.columns == ["Email Address", "customer_id", "Tags", "event_date", "days_until"]
    assert set(written["Tags"]) == {"birthday"}
    dropped = pl.read_csv("birthdays.dropped.csv")
    assert dropped.select("drop_reason", "customer_id").rows() == [("no email consent", "B")]
    manifest = json.loads(Path("birthdays.manifest.json").read_text())
    assert manifest["rows_in"] == 3 and manifest["holdout"]["share"] == 0.5


def test_the_age_only_with_the_flag(work: Path) -> None:
    args = ("--contacts", "contacts.csv", "--kind", "birthday", "--as-of", "2025-01-01", "-q")
    assert run(*args, "-o", "plain.csv").exit_code == 0
    assert pl.read_csv("plain.csv").columns == ["customer_id", "email", "reminder", "event_date", "days_until"]
    result = run(*args, "--age", "-o", "aged.csv")
    assert result.exit_code == 0, result.output
    # A born 1990-01-03 turns 35 on 2025-01-03; B (1988-01-04) 37; C (1970-01-05) 55
    assert pl.read_csv("aged.csv").select("customer_id", "age").rows() == [("A", 35), ("B", 37), ("C", 55)]


def test_points_lists_get_emails_and_consent_from_the_contacts(work: Path) -> None:
    result = run(
        "--points",
        "points.csv",
        "--contacts",
        "contacts.csv",
        "--kind",
        "near-tier",
        "--as-of",
        "2025-01-01",
        "-o",
        "near.csv",
        "--target",
        "generic",
    )
    assert result.exit_code == 0, result.output
    near = pl.read_csv("near.csv")
    assert near["customer_id"].to_list() == ["A"]  # 480 earned: 20 to Silver
    assert near["points_to_next_tier"].to_list() == [20]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--points", "points.csv", "--contacts", "contacts.csv", "-o", "x.csv", "--target", "klaviyo"),
            2,
            "Error: A list for an email tool or with a control group holds one kind of reminder, and these inputs "
            "make 4 (points-expiring, near-tier, birthday, anniversary): choose one with --kind",
        ),
        ((), 2, "Error: Nothing to remind of: give --points"),
        (("--contacts", "contacts.csv", "--kind", "near-tier"), 2, "Error: The near-tier list needs --points"),
        (("--points", "points.csv", "--kind", "birthdays"), 2, "--kind must be one of points-expiring"),
        (("--points", "points.csv", "--within", "near-tier=5"), 2, "--within 'near-tier=5': no date window"),
        (("--points", "points.csv", "--within", "soon"), 2, "--within 'soon': expected a number of days"),
        (("--points", "points.csv", "--rules", "missing.toml"), 1, "missing.toml"),
        (("--contacts", "contacts.csv", "--holdout-share", "0.1"), 2, "--holdout-share need -o FILE"),
    ],
)
def test_usage_and_rules_errors_before_reading(args: tuple[str, ...], code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output


def test_missing_columns_name_the_file(work: Path) -> None:
    Path("bare.csv").write_text("customer_id,email\nA,a@example.com\n")
    result = run("--contacts", "bare.csv", "--kind", "birthday", "--as-of", "2025-01-01")
    assert result.exit_code == 1, result.output
    assert "Error: The birthday list needs a birthday column: the contacts in bare.csv have none" in result.stderr
    assert "Hint: Map it in a [contacts] table of the mapping file" in result.stderr
    # not asked for, and no list can be made: an error (not a header-only file)
    result = run("--contacts", "bare.csv", "--as-of", "2025-01-01", "-o", "empty.csv")
    assert result.exit_code == 1, result.output
    assert "Error: No list can be made from these inputs: the contacts in bare.csv have no birthday or " in (
        result.stderr
    )
    assert not Path("empty.csv").exists()
    # one list can: the other is left out with a warning
    Path("half.csv").write_text("customer_id,email,signed_up_at\nA,a@example.com,2023-01-05\n")
    result = run("--contacts", "half.csv", "--as-of", "2025-01-01")
    assert result.exit_code == 0, result.output
    assert "Warning: No birthday list: the contacts in half.csv have no birthday column" in result.stderr
    Path("ledger.csv").write_text("customer_id,at,points\nA,2024-01-01,5\n")
    result = run("--points", "ledger.csv")
    assert result.exit_code == 1, result.output
    assert "ledger.csv" in result.stderr and "type" in result.stderr
    assert "Traceback" not in result.output


def test_bad_rows_skipped_go_to_the_rejects_file(work: Path) -> None:
    Path("points.csv").write_text(POINTS + "C,not a date,5,earn\n")
    result = run("--points", "points.csv", "--as-of", "2025-01-01", "--on-bad-rows", "skip", "-o", "r.csv")
    assert result.exit_code == 0, result.output
    assert "1 rejected row written to r.rejects.csv" in result.stderr
    assert pl.read_csv("r.rejects.csv").height == 1
    result = run("--points", "points.csv", "--as-of", "2025-01-01")
    assert result.exit_code == 1 and "Traceback" not in result.output


# --- a reminders step of `loyalty run` -------------------------------------------------------------------------

PIPELINE = f"""
as_of = "2025-01-01"
output_dir = "out"

[inputs.points]
path = "{SAMPLE / "points.csv"}"

[inputs.members]
path = "{SAMPLE / "members.csv"}"

[inputs.contacts]
path = "{SAMPLE / "contacts.csv"}"

[[steps]]
name = "all_reminders"
command = "reminders"
output = "reminders.csv"

[[steps]]
name = "expiring"
command = "reminders"
output = "expiring.csv"
options = {{ kind = ["points-expiring"], within = ["60"], target = "klaviyo", holdout_share = 0.1, seed = "x" }}

[[steps]]
name = "birthdays"
command = "reminders"
output = "birthdays.csv"
options = {{ kind = ["birthday"], rules = "rules/programme.toml" }}
"""


def test_reminders_steps_run_to_the_bytes_of_the_command(work: Path) -> None:
    Path("rules").mkdir()
    Path("rules/programme.toml").write_text((ROOT / "rules" / "programme.toml").read_text())
    Path("pipeline.toml").write_text(PIPELINE)
    dry = RUNNER.invoke(app, ["run", "pipeline.toml", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "rules/programme.toml" in dry.output
    result = RUNNER.invoke(app, ["run", "pipeline.toml"])
    assert result.exit_code == 0, result.output
    by_hand = {
        "reminders.csv": [],
        "expiring.csv": ["--kind", "points-expiring", "--within", "60", "--target", "klaviyo"]
        + ["--holdout-share", "0.1", "--seed", "x"],
        "birthdays.csv": ["--kind", "birthday"],
    }
    Path("by_hand").mkdir()
    for name, args in by_hand.items():
        done = run(*SAMPLE_INPUTS, *args, "--as-of", "2025-01-01", "-q", "-o", f"by_hand/{name}")
        assert done.exit_code == 0, done.output
        assert Path("out", name).read_bytes() == Path("by_hand", name).read_bytes(), name
    assert Path("out/expiring.control.csv").read_bytes() == Path("by_hand/expiring.control.csv").read_bytes()


def test_a_reminders_step_needs_points_or_contacts(work: Path) -> None:
    Path("pipeline.toml").write_text(
        f'[inputs.members]\npath = "{SAMPLE / "members.csv"}"\n[[steps]]\ncommand = "reminders"\n'
    )
    result = RUNNER.invoke(app, ["run", "pipeline.toml", "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "reminders needs [inputs.points] or [inputs.contacts]" in result.stderr


# --- review fixes: file options, hints, overlapping ledgers, wording ----------------------------------------------


def _options() -> set[str]:
    """Every option of ``loyalty reminders``."""
    import typer.main

    command = typer.main.get_command(app).commands["reminders"]  # type: ignore[attr-defined]
    return {name for param in command.params for name in param.opts if name.startswith("--")}


@pytest.mark.parametrize(
    "args",
    [
        # dates that read either way: the hint names --date-format
        ("--contacts", "eu.csv", "--as-of", "2025-01-01"),
        # a list for Klaviyo without the contacts' emails
        ("--points", "points.csv", "--kind", "near-tier", "--target", "klaviyo", "-o", "near.csv"),
        # contacts without an email column, for Klaviyo
        (
            "--points",
            "points.csv",
            "--contacts",
            "bare.csv",
            "--kind",
            "near-tier",
            "--target",
            "klaviyo",
            "-o",
            "n.csv",
        ),
        # the same ledger twice
        ("--points", "points.csv", "--points", "copy.csv", "--as-of", "2025-01-01"),
        # no list can be made
        ("--contacts", "bare.csv", "--as-of", "2025-01-01"),
        # bad windows, an unknown kind, a bad row
        ("--points", "points.csv", "--within", "birthday=0"),
        ("--points", "points.csv", "--kind", "birthdays"),
        ("--points", "bad.csv", "--as-of", "2025-01-01"),
        ("--contacts", "contacts.csv", "--kind", "near-tier"),
        # no customer id column
        ("--contacts", "noid.csv", "--as-of", "2025-01-01"),
    ],
)
def test_every_hint_names_an_option_reminders_has(args: tuple[str, ...]) -> None:
    Path("eu.csv").write_text("customer_id,email,signed_up_at,birthday\nA,a@x.com,01/02/2024,15/01/1990\n")
    Path("bare.csv").write_text("customer_id\nA\n")
    Path("copy.csv").write_text(POINTS)
    Path("bad.csv").write_text(POINTS + "C,not a date,5,earn\n")
    Path("noid.csv").write_text("who,birthday\nA,1990-01-03\n")
    result = run(*args)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", result.stderr))
    assert named, result.stderr
    assert named <= _options(), (named - _options(), result.stderr)


def test_the_file_options_read_every_input(work: Path) -> None:
    Path("eu.csv").write_text(
        "customer_id;email;signed_up_at;birthday\nA;a@x.com;03/01/2024;15/01/1990\nB;b@x.com;01/02/2024;13/01/1985\n"
    )
    Path("eu_points.csv").write_text("customer_id;at;points;type\nA;10/01/2024;12,0;earn\n")
    result = run(
        "--contacts", "eu.csv", "--points", "eu_points.csv", "--as-of", "2025-01-01", "--date-format", "%d/%m/%Y",
        "--delimiter", ";", "--decimal-comma", "-o", "eu_out.csv", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pl.read_csv("eu_out.csv")
    # A: signed up 3 January 2024 (day first): 2025-01-03, 1 year; B born 13 January: 2025-01-13
    assert table.filter(reminder="anniversary").select("customer_id", "event_date").rows() == [("A", "2025-01-03")]
    assert table.filter(reminder="birthday").select("customer_id", "event_date").rows() == [
        ("B", "2025-01-13"),
        ("A", "2025-01-15"),
    ]
    # A's 12 points ("12,0": a decimal comma, not 120) from 10 January 2024: expire 2025-01-09
    assert table.filter(reminder="points-expiring").select("event_date", "points_expiring").rows() == [
        ("2025-01-09", 12)
    ]


def test_the_column_options_name_the_id_and_the_email(work: Path) -> None:
    Path("crm.csv").write_text("who,mail,birthday\nA,a@x.com,1990-01-03\n")
    Path("ledger.csv").write_text("who,at,points,type\nA,2024-01-10,480,earn\n")
    args = ("--contacts", "crm.csv", "--points", "ledger.csv", "--as-of", "2025-01-01", "-q")
    result = run(*args, "--customer-col", "who", "--email-col", "mail", "-o", "out.csv")
    assert result.exit_code == 0, result.output
    table = pl.read_csv("out.csv")
    assert table.select("customer_id", "email", "reminder").rows() == [
        ("A", "a@x.com", "points-expiring"),  # 2024-01-10 + 365 = 2025-01-09
        ("A", "a@x.com", "near-tier"),  # 480 earned: 20 to Silver
        ("A", "a@x.com", "birthday"),  # 2025-01-03
    ]


def test_overlapping_ledgers_stop_or_are_read_once(work: Path) -> None:
    Path("copy.csv").write_text(POINTS)
    result = run("--points", "points.csv", "--points", "copy.csv", "--as-of", "2025-01-01", "--kind", "near-tier")
    assert result.exit_code == 1, result.output
    assert "Error: Overlapping files in the points: 2 lines in 1 file repeat lines of an earlier file" in result.stderr
    assert "points.csv repeats all 2 lines of copy.csv (the same export twice)" in result.stderr  # sorted path order
    result = run(
        "--points", "points.csv", "--points", "copy.csv", "--as-of", "2025-01-01", "--kind", "near-tier",
        "--on-overlap", "keep-first", "-o", "near.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Left out 2 lines in 1 file of the points that repeat lines of an earlier file" in result.stderr
    # A: 480 earned once (not 960): 20 to Silver
    assert pl.read_csv("near.csv").select("customer_id", "points_to_next_tier").rows() == [("A", 20.0)]


def test_the_sample_ledger_twice_does_not_double_the_balances(work: Path) -> None:
    Path("copy.csv").write_text((SAMPLE / "points.csv").read_text())
    args = ("--points", str(SAMPLE / "points.csv"), "--points", "copy.csv", "--kind", "near-tier")
    assert run(*args).exit_code == 1
    once = run(*args, "--on-overlap", "keep-first")
    assert once.exit_code == 0, once.output
    assert "# Members near the next tier: the first 10 of 60 customers\n" in once.stdout


def test_one_overdue_customer_holds(work: Path) -> None:
    # A earned 10 on 2023-06-01: expired 2024-05-31 by the rules, no expire row: overdue
    Path("late.csv").write_text("customer_id,at,points,type\nA,2023-06-01,10,earn\n")
    result = run("--points", "late.csv", "--as-of", "2025-01-01", "--kind", "points-expiring")
    assert result.exit_code == 0, result.output
    assert "Warning: 1 customer holds 10 points that expired by the rules before 2025-01-01" in " ".join(
        result.stderr.split()
    )


def test_the_first_example_is_two_lines() -> None:
    from loyalty_cli.cli import reminders

    assert "sample_data/members.csv \\\n    --contacts sample_data/contacts.csv" in reminders.EXAMPLES
    result = RUNNER.invoke(app, ["reminders", "--help"])
    assert "members.csv \\" in result.stdout
