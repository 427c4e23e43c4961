"""Parsers of raw export values: ids, numbers, money, dates, NPS scores (hand-computed expectations)."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError
from loyalty_cli.io.dates import DATE_FORMATS, detect_date_format, parse_date
from loyalty_cli.io.parse import (
    parse_id,
    parse_number,
    parse_score,
    parse_text,
    to_cents,
)


def apply(expr: pl.Expr, values: list, dtype: pl.DataType = pl.String) -> list:
    return pl.DataFrame({"x": pl.Series(values, dtype=dtype)}).select(expr.alias("out"))["out"].to_list()


# ---------------------------------------------------------------- ids and text


def test_parse_id_strings():
    values = [" 17850.0 ", "17850", "00004", "", "   ", None, "-5.00", "17850.5", "AB-12", "1e5"]
    assert apply(parse_id("x", pl.String), values) == [
        "17850",
        "17850",
        "00004",
        None,
        None,
        None,
        "-5",
        "17850.5",
        "AB-12",
        "1e5",
    ]


def test_parse_id_any_whitespace_and_only_numbers_lose_zero_decimals():
    values = ["\t17850.0\u00a0", "\u00a0 \n", "AB.00", "12.0x", " 7 "]
    assert apply(parse_id("x", pl.String), values) == ["17850", None, "AB.00", "12.0x", "7"]
    assert apply(parse_text("x"), ["\u00a0Gifts\t", "\u2003", None]) == ["Gifts", None, None]


def test_parse_id_lowercase_for_emails():
    assert apply(parse_id("x", pl.String, lowercase=True), [" Ann@Shop.COM ", ""]) == ["ann@shop.com", None]


def test_parse_id_float_column():
    # Spreadsheets and pandas turn integer ids into floats: 17850.0 is customer 17850.
    values = [17850.0, 12.5, None, -3.0]
    assert apply(parse_id("x", pl.Float64), values, pl.Float64) == ["17850", "12.5", None, "-3"]


def test_parse_id_integer_column():
    assert apply(parse_id("x", pl.Int64), [17850, None, 4], pl.Int64) == ["17850", None, "4"]


def test_parse_id_placeholders_are_missing_ids():
    # What exports write for "no id" must not pool every anonymous row into one customer called "NULL".
    values = ["NULL", "nan", "NaN", "N/A", "None", "-", "null", "#N/A", "", " n/a ", "NA", "\tNone\u00a0"]
    assert apply(parse_id("x", pl.String), values) == [None] * len(values)
    # Ids that only contain or resemble a placeholder stay ids.
    values = ["-5", "null-1", "Nancy", "--", "NAN1", "n/a/b", "Anna"]
    assert apply(parse_id("x", pl.String), values) == values
    assert apply(parse_id("x", pl.String, lowercase=True), ["N/A", "Ann@Shop.com"]) == [None, "ann@shop.com"]


def test_parse_id_float_nan_and_infinity_are_missing_ids():
    values = [float("nan"), float("inf"), 17850.0, 1e30]
    assert apply(parse_id("x", pl.Float64), values, pl.Float64) == [None, None, "17850", None]


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        (pl.Boolean, "true/false values (Boolean)"),
        (pl.Date, "dates or times (Date)"),
        (pl.Datetime("us"), "dates or times (Datetime(time_unit='us', time_zone=None))"),
        (pl.List(pl.Int64), "values of type List(Int64)"),
    ],
)
def test_parse_id_refuses_a_column_that_cannot_hold_ids(dtype, words):
    with pytest.raises(DataError) as err:
        parse_id("customer_id", dtype, where="orders.parquet")
    assert err.value.message == f"Column 'customer_id' of orders.parquet holds {words}, not ids"
    assert render(err.value.hint) == (
        "Map the column that holds the ids (--customer-col; --email-col for emails), or export them as text or "
        "whole numbers."
    )


@pytest.mark.parametrize("dtype", [pl.Int32, pl.UInt64, pl.Decimal(18, 0), pl.Categorical, pl.Null])
def test_parse_id_other_id_column_types(dtype):
    values = {pl.Null: [None], pl.Categorical: [" 17850 ", None]}.get(dtype, [17850, None])
    expected = {pl.Null: [None]}.get(dtype, ["17850", None])
    frame = pl.DataFrame({"x": pl.Series(values).cast(dtype)})
    assert frame.select(parse_id("x", dtype))["x"].to_list() == expected


def test_parse_text_trims_and_blanks_to_null():
    assert apply(parse_text("x"), ["  Shoes ", "", "  ", None, "A  B"]) == ["Shoes", None, None, None, "A  B"]


# ---------------------------------------------------------------- numbers and money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", 12.5),
        ("$12.50", 12.5),
        ("€ 3", 3.0),
        ("£7.25 ", 7.25),
        ("-12.50", -12.5),
        ("-$5", -5.0),
        ("0", 0.0),
        ("1 250", 1250.0),  # a space as thousands separator is unambiguous
        ("1,250", None),  # 1250 or 1.25? refused: null, so the row is rejected
        ("12,50", None),  # decimal comma needs the option
        ("1,250.00", None),
        ("abc", None),
        ("", None),
        (None, None),
        ("(12.50)", None),
    ],
)
def test_parse_number_plain(raw, expected):
    assert apply(parse_number("x", pl.String), [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12,50", 12.5),
        ("-3,5", -3.5),
        ("7", 7.0),
        ("€12,50", 12.5),
        ("1 250,50", 1250.5),
        ("1.250", None),  # thousands dot under a decimal comma: refused, never read as 1.25
        ("1.250,50", None),
        ("12.50", None),
    ],
)
def test_parse_number_decimal_comma(raw, expected):
    assert apply(parse_number("x", pl.String, decimal_comma=True), [raw]) == [expected]


def test_parse_number_numeric_columns_pass_through():
    assert apply(parse_number("x", pl.Int64), [3, None], pl.Int64) == [3.0, None]
    assert apply(parse_number("x", pl.Float64, decimal_comma=True), [2.5], pl.Float64) == [2.5]


def test_to_cents_is_exact_integer_money():
    frame = pl.DataFrame({"q": [6.0, 1.0, -1.0, 3.0], "p": [2.55, 0.1, 2.55, 0.1]})
    cents = frame.select(to_cents(pl.col("q") * pl.col("p")).alias("c"))["c"]
    assert cents.dtype == pl.Int64
    assert cents.to_list() == [1530, 10, -255, 30]  # 2.55 * 6 = 15.299999... -> 1530


def test_to_cents_non_finite_is_null_not_an_error():
    values = pl.Series([float("inf"), float("nan"), 1e300, -2.5])
    cents = pl.DataFrame({"a": values}).select(to_cents(pl.col("a")))["a"]
    assert cents.to_list() == [None, None, None, -250]


# ---------------------------------------------------------------- dates

# One example per format family; each value reads with its own format and with no format before it.
DATE_EXAMPLES = {
    "%Y-%m-%d %H:%M:%S%.f": (["2024-01-05 10:00:00", "2024-01-06 11:30:15.250"], datetime(2024, 1, 5, 10)),
    "%Y-%m-%dT%H:%M:%S%.f": (["2024-01-05T10:00:00", "2024-01-06T11:30:15.5"], datetime(2024, 1, 5, 10)),
    "%Y-%m-%d %H:%M": (["2024-01-05 10:00"], datetime(2024, 1, 5, 10)),
    "%Y-%m-%dT%H:%M": (["2024-01-05T10:00"], datetime(2024, 1, 5, 10)),
    "%Y-%m-%d": (["2024-01-05"], datetime(2024, 1, 5)),
    "%Y/%m/%d %H:%M:%S": (["2024/01/05 10:00:00"], datetime(2024, 1, 5, 10)),
    "%Y/%m/%d": (["2024/01/05"], datetime(2024, 1, 5)),
    "%Y%m%d": (["19970101", "19970215"], datetime(1997, 1, 1)),
    "%m/%d/%Y %H:%M:%S": (["01/25/2024 10:00:00"], datetime(2024, 1, 25, 10)),
    "%m/%d/%Y %H:%M": (["12/1/2010 8:26", "12/13/2010 8:26"], datetime(2010, 12, 1, 8, 26)),
    "%m/%d/%Y": (["01/25/2024"], datetime(2024, 1, 25)),
    "%d/%m/%Y %H:%M:%S": (["25/01/2024 10:00:00"], datetime(2024, 1, 25, 10)),
    "%d/%m/%Y %H:%M": (["25/01/2024 10:00"], datetime(2024, 1, 25, 10)),
    "%d/%m/%Y": (["25/01/2024"], datetime(2024, 1, 25)),
    "%d.%m.%Y %H:%M:%S": (["05.01.2024 10:00:00"], datetime(2024, 1, 5, 10)),
    "%d.%m.%Y %H:%M": (["05.01.2024 10:00"], datetime(2024, 1, 5, 10)),
    "%d.%m.%Y": (["05.01.2024"], datetime(2024, 1, 5)),
    "%d-%m-%Y %H:%M:%S": (["25-01-2024 10:00:00"], datetime(2024, 1, 25, 10)),
    "%d-%m-%Y": (["25-01-2024", "05-02-2024"], datetime(2024, 1, 25)),
    "%m-%d-%Y": (["01-25-2024", "02-05-2024"], datetime(2024, 1, 25)),
    "%d %b %Y": (["05 Jan 2024"], datetime(2024, 1, 5)),
    "%b %d, %Y": (["Jan 05, 2024"], datetime(2024, 1, 5)),
}


def test_every_date_format_has_an_example():
    assert set(DATE_EXAMPLES) == set(DATE_FORMATS)


@pytest.mark.parametrize("fmt", DATE_FORMATS)
def test_detect_and_parse_each_date_format(fmt):
    values, first = DATE_EXAMPLES[fmt]
    assert detect_date_format(values, column="d", where="f.csv") == fmt
    assert apply(parse_date("x", pl.String, fmt), values)[0] == first


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["01/02/2024", "01/13/2024"], "%m/%d/%Y"),  # a 13 in the second place: month first
        (["01/02/2024", "13/01/2024"], "%d/%m/%Y"),  # a 13 in the first place: day first
        (["03/04/2024 10:00", "03/25/2024 11:00"], "%m/%d/%Y %H:%M"),
        (["03/04/2024 10:00", "25/03/2024 11:00"], "%d/%m/%Y %H:%M"),
        (["03-04-2024", "25-03-2024"], "%d-%m-%Y"),
        (["03-04-2024", "03-25-2024"], "%m-%d-%Y"),
    ],
)
def test_day_first_or_month_first_from_values_above_12(values, fmt):
    assert detect_date_format(values, column="d", where="f.csv") == fmt


def test_truly_ambiguous_dates_ask_for_a_format():
    with pytest.raises(DataError) as err:
        detect_date_format(["01/02/2024", "03/04/2024", "12/12/2024"], column="Date", where="orders.csv")
    assert err.value.message == (
        "Dates in column 'Date' of orders.csv can be read day-first or month-first (e.g. '01/02/2024')"
    )
    assert render(err.value.hint) == (
        "Say which with --date-format '%m/%d/%Y' (month first) or --date-format '%d/%m/%Y' (day first)."
    )


def test_ambiguous_dash_dates_label_day_and_month_first_correctly():
    with pytest.raises(DataError) as err:
        detect_date_format(["01-02-2024", "03-04-2024"], column="Date", where="orders.csv")
    assert "--date-format" in render(err.value.hint)
    assert render(err.value.hint) == (
        "Say which with --date-format '%m-%d-%Y' (month first) or --date-format '%d-%m-%Y' (day first)."
    )


def test_unrecognised_dates():
    with pytest.raises(DataError) as err:
        detect_date_format(["yesterday", "last week"], column="When", where="orders.csv")
    assert err.value.message == (
        "Could not recognise the dates in column 'When' of orders.csv (e.g. 'yesterday', 'last week')"
    )
    assert "--date-format" in render(err.value.hint)


def test_two_formats_in_one_column_are_not_guessed():
    values = ["2024-01-05", "2024-01-06", "2024-01-07", "05/01/2024"]
    with pytest.raises(DataError, match=r"Could not recognise the dates .* \(e\.g\. '05/01/2024'\)"):
        detect_date_format(values, column="d", where="f.csv")


def test_garbage_values_do_not_block_detection():
    # 'notadate' is read by no format: it is a bad row for validation, not a reason to refuse the file.
    values = ["2024-01-05", "notadate", "2024-01-07", "2024-01-08"]
    assert detect_date_format(values, column="d", where="f.csv") == "%Y-%m-%d"


def test_mostly_garbage_is_refused():
    with pytest.raises(DataError, match="Could not recognise"):
        detect_date_format(["2024-01-05", "n/a", "?"], column="d", where="f.csv")


def test_blank_sample_gives_the_first_format():
    assert detect_date_format(["", "  "], column="d", where="f.csv") == DATE_FORMATS[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-05 23:30:00-05:00", datetime(2024, 1, 5, 23, 30)),  # keeps the shop's local date
        ("2024-01-05 23:30:00 -0500", datetime(2024, 1, 5, 23, 30)),
        ("2024-01-05 23:30:00+01:00", datetime(2024, 1, 5, 23, 30)),
        ("2024-01-05 23:30:00Z", datetime(2024, 1, 5, 23, 30)),
        ("2024-01-05 23:30:00 UTC", datetime(2024, 1, 5, 23, 30)),
        ("2024-01-05 23:30:00.123+00:00", datetime(2024, 1, 5, 23, 30, 0, 123000)),
        ("2024-01-05 23:30:00", datetime(2024, 1, 5, 23, 30)),
    ],
)
def test_time_zone_suffix_is_dropped(raw, expected):
    fmt = "%Y-%m-%d %H:%M:%S%.f"
    assert detect_date_format([raw], column="d", where="f.csv") == fmt
    assert apply(parse_date("x", pl.String, fmt), [raw]) == [expected]


def test_time_zone_suffix_with_t_separator():
    raw = ["2024-01-05T23:30:00-05:00", "2024-01-06T01:00:00Z"]
    fmt = detect_date_format(raw, column="d", where="f.csv")
    assert fmt == "%Y-%m-%dT%H:%M:%S%.f"
    parsed = apply(parse_date("x", pl.String, fmt), raw)
    assert [d.date() for d in parsed] == [date(2024, 1, 5), date(2024, 1, 6)]


def test_parse_date_unreadable_and_blank_give_null():
    got = apply(parse_date("x", pl.String, "%Y-%m-%d"), [" 2024-01-05 ", "notadate", "", None, "2024-02-30"])
    assert got == [datetime(2024, 1, 5), None, None, None, None]


def test_parse_date_native_types():
    assert apply(parse_date("x", pl.Date, None), [date(2024, 1, 5)], pl.Date) == [datetime(2024, 1, 5)]
    ms = pl.Datetime("ms")
    assert apply(parse_date("x", ms, None), [datetime(2024, 1, 5, 10)], ms) == [datetime(2024, 1, 5, 10)]
    aware = pl.DataFrame({"x": [datetime(2024, 1, 6, 4, 30)]}).with_columns(
        pl.col("x").dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York")
    )
    out = aware.select(parse_date("x", aware.schema["x"], None).alias("out"))["out"]
    assert out.dtype == pl.Datetime("us")
    assert out.to_list() == [datetime(2024, 1, 5, 23, 30)]  # wall-clock time in the stored zone


def test_parse_date_text_needs_a_format():
    with pytest.raises(ValueError, match="format"):
        parse_date("x", pl.String, None)


# ---------------------------------------------------------------- NPS scores


@pytest.mark.parametrize(
    ("raw", "score", "non_response"),
    [
        ("9", 9, False),
        (" 0 ", 0, False),
        ("9.0", 9, False),
        ("10 - Extremely likely", 10, False),
        ("0 – Not at all likely", 0, False),
        ("9/10", 9, False),
        ("Score: 7", 7, False),
        ("", None, True),
        ("NA", None, True),
        ("N/A", None, True),
        ("n/a", None, True),
        ("skipped", None, True),
        (None, None, True),
        ("11", 11, False),  # read, then rejected by validation as 'score outside 0-10'
        ("7/5", None, False),  # another scale: unparseable, never converted
        ("9.5", None, False),
        ("-1", -1, False),  # read, then rejected as outside 0-10, like -1.0 in a number column
        ("- 1", None, False),
        ("about 8", None, False),
    ],
)
def test_parse_score_text(raw, score, non_response):
    expr_score, expr_nr = parse_score("x", pl.String)
    frame = pl.DataFrame({"x": pl.Series([raw], dtype=pl.String)})
    out = frame.select(expr_score.alias("s"), expr_nr.alias("nr"))
    assert out.row(0) == (score, non_response)


def test_parse_score_integer_and_float_columns():
    s, nr = parse_score("x", pl.Int64)
    out = pl.DataFrame({"x": [9, None, 11]}).select(s.alias("s"), nr.alias("nr"))
    assert out.rows() == [(9, False), (None, True), (11, False)]
    s, nr = parse_score("x", pl.Float64)
    out = pl.DataFrame({"x": [9.0, None, 9.5, float("nan")]}).select(s.alias("s"), nr.alias("nr"))
    assert out.rows() == [(9, False), (None, True), (None, False), (None, True)]
