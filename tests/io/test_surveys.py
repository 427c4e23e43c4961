"""Survey exports: score labels, non-responses, other scales, survey types, extra columns for --by, and a
messy real-world-like export (latin-1, an unnamed index column, NA scores, comments with quotes, newlines,
HTML and formulas) read with a documented mapping file.

``MESSY`` and ``MAPPING`` are also used by tests/cli/test_nps.py."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import DataError
from loyalty_cli.io.parse import parse_score, parse_survey_type
from loyalty_cli.io.readers import ReadOptions, read_surveys
from loyalty_cli.io.table_plans import REJECT_COLUMNS
from loyalty_cli.io.validate import collect_checked

QUESTION = "How likely are you to recommend us to a friend or colleague?"
# A survey tool's export as Excel saves it: latin-1, the row index as a first column without a name, the
# question as the score header, day-first dates, labels on some scores, NA for skipped questions.
MESSY = (
    f'"",Respondent ID,Date Submitted,"{QUESTION}",Why?,Survey,Region\n'
    '0,C1,03/01/2024 09:15,10 - Extremely likely,"Great, ""really"" great",Relationship NPS,Nord\n'  # row 2
    '1,C2,03/01/2024 10:00,NA,"line one\nline two",Relationship NPS,Süd\n'  # row 3 (two lines)
    "2,C3,04/01/2024 11:30,9/10,<script>alert('x')</script>,tNPS,Nord\n"  # row 4
    '3,C4,05/01/2024 12:00,8,"Café crème, trop cher",tNPS,Süd\n'  # row 5
    "4,,05/01/2024 12:30,N/A,,Relationship NPS,Nord\n"  # row 6, anonymous
    "5,C6,06/01/2024 08:00,11,too high,Relationship NPS,Nord\n"  # row 7: out of range
    "6,C7,06/01/2024 09:00,4/5,other scale,tNPS,Süd\n"  # row 8: another scale
    '7,C8,07/01/2024 10:00,6.0,"=HYPERLINK(""http://x"")",Relationship NPS,Süd\n'  # row 9
    "8,C1,20/02/2024 10:00,3,Now: [bold]worse[/bold],Relationship NPS,Nord\n"  # row 10
    "9,C9,21/02/2024 10:00,0 - Not at all likely,,Relationship NPS,Süd\n"  # row 11
)
# The mapping documented in rules/columns.toml: headers auto-detection cannot guess, and the file settings.
MAPPING = f"""[surveys]
customer_id = "Respondent ID"
responded_at = "Date Submitted"
score = "{QUESTION}"
comment = "Why?"
survey_type = "Survey"
encoding = "latin-1"
date_format = "%d/%m/%Y %H:%M"
"""


def write_messy(folder: Path) -> tuple[Path, Path]:
    data = folder / "nps_export.csv"
    data.write_bytes(MESSY.encode("latin-1"))
    mapping = folder / "columns.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def collect(scan):
    (rows,), (rejects,) = collect_checked([scan], [scan.rows], on_bad_rows="skip")
    return rows, rejects


def score_of(raw: str | None) -> tuple[int | None, bool]:
    score, non_response = parse_score("x", pl.String)
    frame = pl.DataFrame({"x": pl.Series([raw], dtype=pl.String)})
    return frame.select(score.alias("s"), non_response.alias("nr")).row(0)


# ---------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10 (Extremely likely)", (10, False)),
        ("0 (Not at all likely)", (0, False)),
        ("10 — Extremely likely", (10, False)),
        ("9 out of 10", (9, False)),
        ("9,0", (9, False)),
        ("9.00/10", (9, False)),
        ("NPS score: 8", (8, False)),
        ("#N/A", (None, True)),
        ("(blank)", (None, True)),
        ("Declined", (None, True)),
        ("100", (100, False)),  # read, then rejected as outside 0-10, never clipped to 10
        ("4 out of 5", (None, False)),  # another scale: unparseable, never converted
        ("7 - out of 5", (None, False)),  # a label with a number in it is not unambiguous
        ("10 (top 2 box)", (None, False)),
        ("9,5", (None, False)),
        ("Extremely likely", (None, False)),
        ("5 stars", (None, False)),
    ],
)
def test_score_labels(raw, expected):
    assert score_of(raw) == expected


def test_integer_and_float_scores_keep_out_of_range_values_for_validation():
    s, nr = parse_score("x", pl.Int64)
    out = pl.DataFrame({"x": [10, 100_000, -1, None]}).select(s.alias("s"), nr.alias("nr"))
    assert out.rows() == [(10, False), (100_000, False), (-1, False), (None, True)]
    s, nr = parse_score("x", pl.Float64)
    out = pl.DataFrame({"x": [10.0, 1e10, 9.5, float("inf")]}).select(s.alias("s"), nr.alias("nr"))
    assert out.rows() == [(10, False), (10_000_000_000, False), (None, False), (None, False)]


def test_out_of_range_numbers_in_parquet_are_rejected_not_clipped_or_crashing(tmp_path):
    path = tmp_path / "nps.parquet"
    pl.DataFrame({"responded_at": [date(2024, 3, 1)] * 4, "score": [10.0, 1e10, -3.0, float("nan")]}).write_parquet(
        path
    )
    rows, rejects = collect(read_surveys([path]))
    assert rows["score"].to_list() == [10, None]  # NaN is a non-response
    assert rows.schema["score"] == pl.Int16
    assert rejects.select("source_row", "reject_reason", "reject_value").rows() == [
        (2, "score outside 0-10", "10000000000.0"),
        (3, "score outside 0-10", "-3.0"),
    ]


def test_survey_types_are_normalised_and_others_kept_apart():
    raw = ["Relationship NPS", "rNPS", "relational", "Transactional", "tNPS", "Onboarding", " ", None]
    out = pl.DataFrame({"t": raw}).select(parse_survey_type("t")).to_series().to_list()
    assert out == ["relational", "relational", "relational", "transactional", "transactional", "onboarding", None, None]


# ---------------------------------------------------------------------------- columns


def test_survey_tool_headers_are_detected(tmp_path):
    path = tmp_path / "delighted.csv"
    path.write_text("Response ID,Email,Score,Comment,Response Timestamp\n1,a@x.com,9,ok,2024-03-01 10:00\n")
    scan = read_surveys([path])
    assert scan.mapping.columns == {
        "responded_at": "Response Timestamp",
        "score": "Score",
        "comment": "Comment",
        "email": "Email",
    }
    path = tmp_path / "qualtrics.csv"
    path.write_text("ResponseId,RecordedDate,NPS_Group,Q1_NPS_GROUP,LTR\nR1,2024-03-01,Promoter,x,9\n")
    assert read_surveys([path]).mapping.columns == {"responded_at": "RecordedDate", "score": "LTR"}


def test_extra_columns_are_kept_for_breakdowns(tmp_path):
    data, mapping = write_messy(tmp_path)
    scan = read_surveys([data], ReadOptions(mapping_file=mapping, keep=("region", "survey_type")))
    rows, _ = collect(scan)
    assert rows.columns[-1] == "region"  # matched to 'Region' ignoring case; survey_type is mapped already
    assert rows["region"].to_list()[:2] == ["Nord", "Süd"]
    with pytest.raises(DataError) as err:
        read_surveys([data], ReadOptions(mapping_file=mapping, keep=("country",)))
    assert err.value.message == f"No column 'country' in the surveys file {data}"
    assert err.value.hint.startswith("Columns in the file: '', 'Respondent ID', 'Date Submitted'")


# ---------------------------------------------------------------------------- the messy export


def test_messy_latin1_export_with_the_documented_mapping(tmp_path):
    data, mapping = write_messy(tmp_path)
    scan = read_surveys([data], ReadOptions(mapping_file=mapping))
    assert scan.mapping.how == dict.fromkeys(
        ["customer_id", "responded_at", "score", "comment", "survey_type"], "mapping file"
    )
    rows, rejects = collect(scan)
    assert rows.columns == ["customer_id", "responded_at", "score", "comment", "survey_type"]
    assert rows.select("customer_id", "score", "comment", "survey_type").rows() == [
        ("C1", 10, 'Great, "really" great', "relational"),
        ("C2", None, "line one\nline two", "relational"),  # NA: a non-response, kept and counted
        ("C3", 9, "<script>alert('x')</script>", "transactional"),
        ("C4", 8, "Café crème, trop cher", "transactional"),
        (None, None, None, "relational"),
        ("C8", 6, '=HYPERLINK("http://x")', "relational"),
        ("C1", 3, "Now: [bold]worse[/bold]", "relational"),
        ("C9", 0, None, "relational"),
    ]
    assert rows["responded_at"].to_list()[0] == datetime(2024, 1, 3, 9, 15)  # day first, from the mapping
    assert rejects.sort("source_row").select(REJECT_COLUMNS).rows() == [
        (str(data), 7, "score outside 0-10", QUESTION, "11"),
        (str(data), 8, "unparseable score (expected 0-10)", QUESTION, "4/5"),
    ]
    assert rejects.columns[len(REJECT_COLUMNS)] == ""  # the unnamed index column comes back with the raw row


# ---------------------------------------------------------------------------- no date column, comment placeholders


def test_a_survey_without_a_date_column_is_read_with_empty_dates(tmp_path):
    """Single-wave exports often have no date: the answers are read (``responded_at`` null, never a guessed
    date), and an as-of date leaves none of them out (there is nothing to compare it with)."""
    path = tmp_path / "wave.csv"
    path.write_text("customer_id,score,comment\nA,9,great\nB,NA,\nC,3,slow\n")
    scan = read_surveys([path], as_of=date(2000, 1, 1))
    assert scan.mapping.columns == {"customer_id": "customer_id", "score": "score", "comment": "comment"}
    rows, rejects = collect(scan)
    assert rows.columns == ["customer_id", "responded_at", "score", "comment"]
    assert rows.schema["responded_at"] == pl.Datetime("us")
    assert rows.select("customer_id", "responded_at", "score").rows() == [
        ("A", None, 9),
        ("B", None, None),
        ("C", None, 3),
    ]
    assert rejects.is_empty()
    assert scan.left_out in ([], [0])


PLACEHOLDERS = ["NA", "N/A", "n/a", "null", "NULL", "None", "-", "", "   ", " na ", "#N/A", "nan"]


def test_comment_and_touchpoint_placeholders_are_missing(tmp_path):
    """What exports write for "no comment" is no comment (the one placeholder list of ids), not the text 'NA';
    text that merely contains such a word stays as it is."""
    kept = ["N/A for me", "None of it worked", "-- fine --", "Nothing"]
    comments = [*PLACEHOLDERS, *kept]
    frame = pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(comments))],
            "responded_at": ["2024-03-01"] * len(comments),
            "score": ["9"] * len(comments),
            "comment": comments,
            "touchpoint": comments,
        }
    )
    path = tmp_path / "s.csv"
    frame.write_csv(path)
    rows, _ = collect(read_surveys([path]))
    expected = [None] * len(PLACEHOLDERS) + kept
    assert rows["comment"].to_list() == expected
    assert rows["touchpoint"].to_list() == expected
    frame.write_parquet(tmp_path / "s.parquet")  # the same from a Parquet export
    rows, _ = collect(read_surveys([tmp_path / "s.parquet"]))
    assert rows["comment"].to_list() == expected
