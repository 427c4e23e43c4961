"""Drawn tables fit the terminal. Every command's default output on the sample shop, drawn at 80 and 120 columns,
cuts no number, header or word (no ``…`` anywhere), keeps its key numbers whole, stays within the width and says
what it left out; notes on a terminal wrap between words; booleans read the same drawn and piped."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from loyalty_cli.cli import app, console

SAMPLE = Path(__file__).parents[2] / "sample_data"
TX = str(SAMPLE / "transactions.csv")
SURVEYS, CONTACTS = str(SAMPLE / "surveys.csv"), str(SAMPLE / "contacts.csv")
PROGRAMME = ["--members", str(SAMPLE / "members.csv"), "--points", str(SAMPLE / "points.csv")]

#: each command's default output on the sample (uplift: the segment lists of 2024-10-01 with a 20% control group),
#: and numbers it shows whole at both widths (the README's where it quotes them)
COMMANDS = {
    "segment": (["segment", TX], ["162,946.96", "131,556.60", "30.7%", "23.5%", "3,053.82", "Hibernating"]),
    "churn": (["churn", TX], ["187,110.74", "261,195.84", "61.2%", "49.1%", "18.0%", "3,053.82", "true"]),
    "retention": (["retention", TX], ["22.6", "19.5", "13.7", "40.3", "3,000", "2024-12"]),
    "cltv": (["cltv", TX], ["531,633.46", "4,944.08", "2,358.26", "0.2915", "68.05"]),
    "second-purchase": (["second-purchase", TX], ["24.0%", "34.5%", "40.3%", "67.9", "11-85", "410.36", "61.92"]),
    "nps": (["nps", SURVEYS, "--transactions", TX], ["12.4", "6.3", "18.4", "15.4", "23.7", "38.2%", "49.2"]),
    "lifecycle": (
        ["lifecycle", TX, "--surveys", SURVEYS, "--contacts", CONTACTS],
        ["218,700.72", "41.1%", "1,043", "88,148.99", "second-purchase"],
    ),
    "program": (
        ["program", TX, *PROGRAMME, "--surveys", SURVEYS, "--point-value", "0.01"],
        ["39.2%", "2,360.50", "1,396.72", "244,459", "201.03", "94.14", "+25.1", "+12.6 to +37.7", "33.1% to 43.5%"],
    ),
    "validate": (["validate", TX], ["531633.46", "16815", "2024-12-31"]),
    "uplift": (
        ["uplift", TX, "--treatment", "camp.csv", "--control", "camp.control.csv", "--start", "2024-10-01"],
        ["12.4%", "12.8%", "-0.4%", "-3.8%", "2.7%", "44.2%", "-23.69"],
    ),
}
#: what a drawn table leaves out at a width (the rest of each command's tables fit whole)
LEFT_OUT = {
    (80, "segment"): "Not shown, to fit 80 columns: mean orders; a wider terminal shows it",
    (80, "retention"): "Not shown, to fit 80 columns: periods m6-m23; -o FILE or --wide FILE writes the whole matrix.",
    (120, "retention"): "Not shown, to fit 120 columns: periods m12-m23; -o FILE or --wide FILE writes the whole",
    (80, "uplift"): "Not shown, to fit 80 columns: n treated, n control, p-value; -o FILE writes every column.",
    (120, "program"): "Not shown, to fit 120 columns: n members, n non-members; -o FILE writes every figure.",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the campaign lists uplift reads: the segment lists as of 2024-10-01, 20% held out."""
    folder = tmp_path_factory.mktemp("shop")
    args = ["segment", TX, "--as-of", "2024-10-01", "--holdout-share", "0.2", "--seed", "w", "-o", "camp.csv", "-q"]
    result = CliRunner().invoke(app, [a.replace("camp.csv", str(folder / "camp.csv")) for a in args])
    assert result.exit_code == 0, result.stderr
    return folder


def drawn(monkeypatch: pytest.MonkeyPatch, width: int, args: list[str]):  # noqa: ANN201 - a click Result
    """``loyalty ARGS`` on a terminal ``width`` columns wide (stdout and stderr both terminals)."""
    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    monkeypatch.delenv("CI", raising=False)
    env = {"COLUMNS": str(width), "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
    return CliRunner(env=env).invoke(app, args)


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_default_table_fits_without_cutting(
    monkeypatch: pytest.MonkeyPatch, shop: Path, width: int, name: str
) -> None:
    monkeypatch.chdir(shop)
    args, numbers = COMMANDS[name]
    result = drawn(monkeypatch, width, args)
    assert result.exit_code == 0, result.stderr
    assert "┃" in result.stdout and "\t" not in result.stdout  # drawn
    for stream in (result.stdout, result.stderr):
        assert "…" not in stream  # no number, header, word or note cut
        too_wide = [line for line in stream.splitlines() if cell_len(line) > width]
        assert not too_wide, too_wide
    for number in numbers:  # whole, on one line, in a cell of its own
        assert f" {number} " in result.stdout, number
    left_out = [line for line in result.stdout.splitlines() if line.startswith("Not shown")]
    if (width, name) in LEFT_OUT:
        assert left_out and left_out[0].startswith(LEFT_OUT[width, name].split("; ")[0])
        assert LEFT_OUT[width, name] in " ".join(line.rstrip() for line in result.stdout.splitlines())
    elif name not in ("churn", "cltv", "nps", "program"):  # those leave columns out at 80 (the test below)
        assert not left_out, left_out


def test_what_80_columns_leave_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 80 columns the NPS tables keep the score and its interval and leave out passives and the revenue-weighted
    score (the notes say it); the trend keeps the change and its test."""
    result = drawn(monkeypatch, 80, COMMANDS["nps"][0])
    assert result.exit_code == 0, result.stderr
    text = " ".join(line.rstrip() for line in result.stdout.splitlines())
    assert "Not shown, to fit 80 columns: passives, revenue weighted; -o FILE writes every column." in text
    assert "Not shown, to fit 80 columns: CI low, CI high; --trend FILE writes them." in text
    assert "┃ survey type   ┃ responses ┃ promoters ┃ detractors ┃  NPS ┃ CI low ┃ CI high ┃" in result.stdout
    assert "│ relational    │ 2023-Q3 │        46 │ 28.3 │  +26.4 │   0.096 │ not          │" in result.stdout


def test_the_retention_matrix_shows_the_most_recent_cohorts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weeks: 106 cohorts (2022-W52 to 2025-W01), of which the last 24 are drawn with the average row, and the
    periods that fit."""
    result = drawn(monkeypatch, 80, ["retention", TX, "--period", "week", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 25 and rows[0] == "2024-W30" and rows[-2:] == ["2025-W01", "average"]
    text = " ".join(line.rstrip() for line in result.stdout.splitlines())
    assert "Not shown, to fit 80 columns: periods w6-w104 and the 82 cohorts before 2024-W30;" in text


# --- the parts ------------------------------------------------------------------------------------------------


def _output(monkeypatch: pytest.MonkeyPatch, *, tty: bool, width: int = 80) -> tuple[console.Output, io.StringIO]:
    monkeypatch.setattr(console, "_is_tty", lambda stream: tty)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out = console.Output()
    buffer = io.StringIO()
    out.out.file = out.err.file = buffer
    return out, buffer


def test_fit_leaves_out_the_drop_columns_first_then_the_last() -> None:
    def column(name: str, need: int, fill: int, want: int) -> console._Column:
        return console._Column(name, name, [], True, need, fill, want)

    a, b, c, d = column("a", 10, 10, 10), column("b", 6, 6, 9), column("c", 8, 20, 20), column("d", 5, 5, 5)
    # needs 10 + 6 + 8 + 5 = 29, and 3 a column + 1: 42
    assert console.fit([a, b, c, d], 42) == ([a, b, c, d], [10, 6, 8, 5])
    # 60: room 18 goes to c's cells first (12 to fill), then 3 to b's header (its want), 3 left over
    assert console.fit([a, b, c, d], 60) == ([a, b, c, d], [10, 9, 20, 5])
    # 41: one column goes: b (drop) rather than d (the last); a, c, d need 23 + 10 = 33, the 8 left go to c
    assert console.fit([a, b, c, d], 41, drop=("b",)) == ([a, c, d], [10, 16, 5])
    assert console.fit([a, b, c, d], 41)[0] == [a, b, c]
    # a tuple goes together; the first column always stays
    assert console.fit([a, b, c, d], 30, drop=(("b", "d"),))[0] == [a, c]
    assert console.fit([a, b, c, d], 5)[0] == [a]


def test_a_narrow_table_cuts_no_number_and_says_what_it_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    out, buffer = _output(monkeypatch, tty=True, width=40)
    table = pl.DataFrame(
        {
            "segment": ["Potential Loyalist", "At Risk"],
            "net_spend": [1234567.891, 5.0],
            "share_net_spend": [0.9999, 0.0001],
            "mean_recency_days": [12.5, 300.25],
        }
    )
    out.table(
        table,
        title="Segments of a shop with a rather long title that wraps",
        formats={"share_net_spend": ".1%"},
        headers={"share_net_spend": "share"},
        drop=("mean_recency_days",),
        whole="--summary FILE writes them",
    )
    # needs: segment 9 (Potential), net spend 12 (1,234,567.89), share 6 (100.0%), mean recency days 7 (recency):
    # 34 + 3 x 4 + 1 = 47 > 40, so mean recency days goes (37); the 3 left widen segment to 12
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    assert lines == [
        "Segments of a shop with a rather long",
        "title that wraps",
        "┏━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━┓",
        "┃ segment      ┃    net spend ┃  share ┃",
        "┡━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━┩",
        "│ Potential    │ 1,234,567.89 │ 100.0% │",
        "│ Loyalist     │              │        │",
        "│ At Risk      │         5.00 │   0.0% │",
        "└──────────────┴──────────────┴────────┘",
        "Not shown, to fit 40 columns: mean",
        "recency days; --summary FILE writes",
        "them.",
    ]


@pytest.mark.parametrize("tty", [True, False])
def test_booleans_read_the_same_drawn_and_piped(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    out, buffer = _output(monkeypatch, tty=tty)
    out.table(pl.DataFrame({"customer_id": ["a", "b", "c"], "worth_costly_offer": [True, False, None]}))
    lines = buffer.getvalue().splitlines()
    if tty:
        cells = [[c.strip() for c in line.split("│")[1:3]] for line in lines if line.startswith("│")]
        assert cells == [["a", "true"], ["b", "false"], ["c", ""]]
    else:
        assert lines == ["customer_id\tworth_costly_offer", "a\ttrue", "b\tfalse", "c\t"]


def test_numbers_as_text_align_right_and_formats_take_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    out, buffer = _output(monkeypatch, tty=True)
    out.table(
        pl.DataFrame({"metric": ["rate", "spend"], "figure": ["39.2%", "-1,234.50"], "days": [3.0, 12.25]}),
        formats={"days": "{:.1f} d"},
    )
    rows = [line for line in buffer.getvalue().splitlines() if line.startswith("│")]
    assert rows == ["│ rate   │     39.2% │  3.0 d │", "│ spend  │ -1,234.50 │ 12.2 d │"]


def test_notes_wrap_between_words_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    note = "Members chose to join, so the differences between members and non-members are correlations, not effects"
    out, buffer = _output(monkeypatch, tty=True, width=40)
    out.note(note)
    out.warn("Groups too small to detect the observed repurchase difference")
    lines = buffer.getvalue().splitlines()
    assert all(cell_len(line) <= 40 for line in lines)
    assert [line.rstrip() for line in lines] == [
        "Members chose to join, so the",
        "differences between members and",
        "non-members are correlations, not",
        "effects",
        "Warning: Groups too small to detect the",
        "observed repurchase difference",
    ]
    out, buffer = _output(monkeypatch, tty=False, width=40)  # a log or a pipe: one message, one line
    out.note(note)
    assert buffer.getvalue() == note + "\n"
