"""Rule conditions: an allow-listed expression language parsed by our own parser (never SQL, never ``eval``),
typed against the real dtypes of the columns; and the text of user files (missing, binary, not UTF-8)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import RulesError
from loyalty_cli.io.userfiles import read_text, read_toml
from loyalty_cli.rules.conditions import compile_condition
from loyalty_cli.rules.grammar import CONDITION_SYNTAX, FUNCTIONS

ROOT = Path(__file__).parent.parent
SCHEMA = {
    "r": pl.Int8(),
    "f": pl.Int8(),
    "orders": pl.UInt32(),
    "recency_days": pl.Int32(),
    "net_spend": pl.Float64(),
    "first_category": pl.String(),
    "churn_status": pl.String(),
    "prospect": pl.Boolean(),
    "one_time": pl.Boolean(),
}
# Every combination of a few values (and null) per column: enough to tell two conditions apart.
FRAME = pl.DataFrame(
    {
        "r": [1, 5, None, 3, 2, 5, 4, None],
        "f": [2, 5, 1, None, 3, 1, 4, 2],
        "orders": [1, 7, 2, 0, None, 3, 12, 5],
        "recency_days": [3, 400, None, 0, 90, 12, 30, 200],
        "net_spend": [10.5, 1000.0, None, 0.0, -20.0, 250.25, 99.99, 5.0],
        "first_category": ["Books", None, "books", "Toys", "", "It's", "Books", "Garden"],
        "churn_status": ["active", "lapsing", "lapsed", None, "active", "lapsed", "active", "lapsing"],
        "prospect": [False, True, None, False, False, True, False, None],
        "one_time": [True, False, True, None, False, True, False, False],
    },
    schema=SCHEMA,
)


def compile_(when: str) -> pl.Expr:
    expr, _ = compile_condition(
        when, where="my.toml: rule 'A'", columns=SCHEMA, example="r = 5", syntax_hint="S.", columns_hint="C."
    )
    return expr


def error(when: str) -> RulesError:
    with pytest.raises(RulesError) as info:
        compile_(when)
    return info.value


def shipped_conditions() -> list[str]:
    found = set()
    for path in (ROOT / "rules").glob("*.toml"):
        found |= set(re.findall(r'^when = "(.*)"$', path.read_text(encoding="utf-8"), flags=re.M))
    return sorted(found)


SAME_AS_SQL = [
    "r = 5 and f >= 4",
    "r between 3 and 4 and f >= 4",
    "r <= 2 and f between 3 and 4",
    "r in (1, 2) or f not in (3, 4)",
    "r not between 2 and 4",
    "churn_status = 'active' and (orders >= 5 or net_spend > 100)",
    "churn_status <> 'lapsed' and one_time",
    "not prospect and churn_status in ('active', 'lapsing')",
    "not (r = 5 or f = 5)",
    "first_category = 'It''s' or first_category is null",
    "first_category is not null and net_spend >= 0",
    "recency_days / 2 > 10 and net_spend * 2 < 500",
    "recency_days % 7 = 3 or recency_days + 1 != 4",
    "-net_spend < -50 or r == 1",
    "r in (1, null)",
    "true",
    "false or prospect",
    "TRUE AND r >= 1",
    "orders >= 1.5",
    "abs(net_spend) > 15 and lower(first_category) = 'books'",
    "coalesce(first_category, 'none') = 'none'",
    "length(first_category) = 5 and upper(churn_status) = 'ACTIVE'",
    "least(r, f) >= 2 or greatest(r, f) = 5",
    "round(net_spend) = 250 or round(net_spend, 1) = 10.5",
]


@pytest.mark.parametrize("when", [*shipped_conditions(), *SAME_AS_SQL])
def test_conditions_mean_what_they_meant_as_sql(when):
    """Same results as Polars' SQL gave before, nulls included (SQL three-valued logic: a comparison with an
    empty value is empty, and a rule whose condition is empty does not fire)."""
    frame = FRAME.with_columns(
        value_tier=pl.lit("high"), nps_category=pl.lit(None, pl.String), window_closed=pl.col("one_time")
    )
    schema = {**SCHEMA, "value_tier": pl.String(), "nps_category": pl.String(), "window_closed": pl.Boolean()}
    schema |= {"previous_stage": pl.String(), "bought_since_previous": pl.Boolean(), "fm": pl.Int8()}
    frame = frame.with_columns(previous_stage=pl.col("churn_status"), bought_since_previous=~pl.col("one_time"))
    frame = frame.with_columns(fm=pl.col("f"))
    expr, _ = compile_condition(when, where="w", columns=schema, example="", syntax_hint="", columns_hint="")
    ours = frame.select(expr.alias("x")).to_series()
    sql = frame.select(pl.sql_expr(when).alias("x")).to_series()
    if ours.len() == 1:  # a constant
        assert sql.len() == 1 and ours[0] == sql[0]
    else:
        assert ours.to_list() == sql.to_list()


def test_no_overflow_on_small_or_unsigned_integer_columns():
    """Scores are Int8 and orders UInt32: SQL on them wrapped around (5 * 100 was -12, 2 - 5 was 4294967293)."""
    frame = pl.DataFrame({"r": [5, 1], "orders": [2, 9]}, schema={"r": pl.Int8, "orders": pl.UInt32})
    assert frame.select(compile_("r * 100 > 300").alias("x"))["x"].to_list() == [True, False]
    assert frame.select(compile_("orders - 5 < 0").alias("x"))["x"].to_list() == [True, False]


def test_remainder_division_and_in_with_null_follow_sql():
    frame = pl.DataFrame({"recency_days": [-7, 7, 7, None]}, schema={"recency_days": pl.Int32})
    assert frame.select(compile_("recency_days % 2 = -1").alias("x"))["x"].to_list() == [True, False, False, None]
    assert frame.select(compile_("recency_days % 0 = 1").alias("x"))["x"].to_list() == [None] * 4
    assert frame.select(compile_("recency_days / 2 = 3.5").alias("x"))["x"].to_list() == [False, True, True, None]
    assert frame.select(compile_("recency_days in (7, null)").alias("x"))["x"].to_list() == [None, True, True, None]


def test_the_columns_read_are_returned():
    _, roots = compile_condition(
        "r = 5 and lower(first_category) = 'x'", where="w", columns=SCHEMA, example="", syntax_hint="", columns_hint=""
    )
    assert roots == {"r", "first_category"}


def test_sql_table_functions_and_subqueries_never_run(tmp_path):
    """These used to go to Polars' SQL engine when the rules loaded: read_csv read local files (its first line
    was shown in the error) and would fetch URLs."""
    secret = tmp_path / "secret.csv"
    secret.write_text("TOP-SECRET\n1\n")
    sql, function = "is SQL, which conditions cannot use", "is not a function conditions can use"
    for when, detail in [
        (f"r IN (SELECT x FROM read_csv('{secret}'))", f"'SELECT' {sql}"),
        (f"r in (1, 2) or read_csv('{secret}') = 1", f"'read_csv' {function}"),
        ("read_parquet('http://example.com/x.parquet') is null", f"'read_parquet' {function}"),
        ("CAST(first_category AS INTEGER) > 1", f"'CAST' {sql}"),
        ("TRY_CAST(first_category AS INTEGER) > 1", f"'TRY_CAST' {sql}"),
        ("r = 5 union select 1", f"'union' {sql}"),
        ("exists (select 1)", f"'exists' {sql}"),
        ("case when r = 5 then true else false end", f"'case' {sql}"),
        ("sum(r) > 1", f"'sum' {function}"),
        ("first_category like 'B%'", f"'like' {sql}"),
    ]:
        err = error(when)
        assert err.message == f"my.toml: rule 'A': condition {when!r} is not allowed: {detail}", when
        assert "TOP-SECRET" not in str(err)
        assert err.hint == "Conditions are not SQL: no queries, casts or file and table functions. " + CONDITION_SYNTAX


@pytest.mark.parametrize(
    ("when", "detail"),
    [
        ("r = = 5", "unexpected '=' at character 5, expected a column, a number or 'text'"),
        ("r >= ", "it ends after '>=', expected a column, a number or 'text'"),
        ("first_category::int > 1", "unexpected ':' at character 15"),
        ("r = 5;", "unexpected ';' at character 6"),
        ('r = "5"', "unexpected '\"' at character 5"),
        ("r = 'five", "the text starting at character 5 has no closing quote"),
        ("r in (f)", "unexpected 'f' at character 7, expected a number, 'text', true, false or null (a list of "
         "values, not a query)"),
        ("r between 1 and", "it ends after 'and', expected a number, 'text', true, false or null (a list of "
         "values, not a query)"),
        ("r = 5 r = 4", "unexpected 'r' at character 7, expected 'and', 'or' or the end"),
        ("(r = 5", "it ends after '5', expected ')'"),
        ("r not = 5", "unexpected '=' at character 7, expected 'in' or 'between' after 'not'"),
        ("r = 99999999999999999999", "the number 99999999999999999999 is too large"),
        ("(" * 70 + "r = 5" + ")" * 70, "it is nested more than 64 levels deep"),
        ("not " * 70 + "prospect", "it is nested more than 64 levels deep"),
        ("r >= 1 and " * 2000 + "r >= 1", "it has more than 200 operators in a row; split it over rules"),
    ],
)  # fmt: skip
def test_syntax_errors_name_the_token(when, detail):
    err = error(when)
    assert err.message == f"my.toml: rule 'A': cannot read condition {when!r} ({detail})"
    assert err.hint == "S."


@pytest.mark.parametrize(
    ("when", "detail"),
    [
        ("first_category > 3", "it compares first_category (text) with 3 (a number)"),
        ("churn_status = 1", "it compares churn_status (text) with 1 (a number)"),
        ("r = 'five'", "it compares r (a number) with 'five' (text)"),
        ("prospect = 1", "it compares prospect (true/false) with 1 (a number)"),
        ("r in (1, 'a')", "'in' compares r (a number) with 'a' (text)"),
        ("r between 'a' and 'b'", "'between' compares r (a number) with 'a' (text)"),
        ("lower(orders) = 'x'", "lower() needs text, but orders is a number"),
        ("length(r) > 1", "length() needs text, but r is a number"),
        ("abs(first_category) > 1", "abs() needs a number, but first_category is text"),
        ("first_category + 1 > 2", "'+' needs a number, but first_category is text"),
        ("-churn_status = 'x'", "'-' needs a number, but churn_status is text"),
        ("not r", "'not' needs true/false, but r is a number"),
        ("r and prospect", "'and' needs true/false, but r is a number"),
        ("prospect or 'x'", "'or' needs true/false, but 'x' is text"),
        ("r = null", "r = null compares with null, which is never true; write 'x is null'"),
        ("greatest(r, 'a') = 1", "greatest() mixes r (a number) with 'a' (text)"),
        ("least(r) = 1", "least() takes at least 2 arguments, got 1 in least(r)"),
        ("round(net_spend, 1.5) > 1", "round()'s digits must be a whole number 0 to 15, got 1.5"),
        ("round(net_spend, f) > 1", "round()'s digits must be a whole number 0 to 15, got f"),
        ("lower() = 'x'", "lower() takes 1 argument, got 0 in lower()"),
    ],
)
def test_type_errors_are_found_when_the_rules_load(when, detail):
    err = error(when)
    assert err.message == f"my.toml: rule 'A': condition {when!r} cannot be evaluated: {detail}"
    assert err.hint == (
        "Compare text columns with quoted text (churn_status = 'active') and numbers with numbers (orders >= 5)."
    )


@pytest.mark.parametrize("when", ["r + 1", "first_category", "lower(first_category)", "null", "5"])
def test_a_condition_must_be_true_false(when):
    assert error(when).message == f"my.toml: rule 'A': condition {when!r} is not true/false"


def test_unknown_columns_are_all_named():
    err = error("x > 1 and r = 5 and y = 'a'")
    assert err.message == "my.toml: rule 'A': unknown column(s) 'x', 'y' in \"x > 1 and r = 5 and y = 'a'\""
    assert err.hint == "C."
    assert error("R = 5").message == "my.toml: rule 'A': unknown column(s) 'R' in 'R = 5'"  # names are exact


def test_a_column_of_an_unusable_dtype_is_refused():
    with pytest.raises(RulesError, match=r"cannot be evaluated: column 'd' holds Date, which conditions cannot use"):
        compile_condition("d is null", where="w", columns={"d": pl.Date()}, example="", syntax_hint="", columns_hint="")


def test_the_syntax_lists_every_function():
    assert all(name in CONDITION_SYNTAX for name in FUNCTIONS)
    for name in FUNCTIONS:  # each one compiles on a column of the right kind
        arg = "first_category" if name in ("lower", "upper", "trim", "length") else "net_spend"
        args = f"{arg}, {arg}" if name in ("least", "greatest") else arg
        compare = "'x'" if name in ("lower", "upper", "trim") or (name == "coalesce" and arg != "net_spend") else "1"
        compile_(f"{name}({args}) = {compare}")


# ------------------------------------------------------------------------------------------- user files
def test_missing_binary_and_non_utf8_files_are_clear(tmp_path):
    with pytest.raises(RulesError) as info:
        read_text(tmp_path / "nope.toml", what="Rules")
    assert info.value.message == f"Rules file not found: {tmp_path / 'nope.toml'}"
    assert info.value.hint == "Check the file name and the folder you run loyalty from."
    binary = tmp_path / "map.toml"
    binary.write_bytes(b"bins = 5\x00\x01\x02\n")
    with pytest.raises(RulesError) as info:
        read_toml(binary, what="Rules")
    assert info.value.message == f"Could not read rules {binary}: it is not a text file (it contains NUL bytes)"
    assert info.value.hint == (
        "Rules, mapping and pipeline files are UTF-8 text (TOML): save it as UTF-8 in a text editor, or pass the "
        ".toml file you meant."
    )
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(RulesError) as info:
        read_toml(latin, what="Rules")
    assert info.value.message == f"Could not read rules {latin}: it is not UTF-8 text (byte 0xe9 at offset 11)"
    assert info.value.hint.endswith("save it as UTF-8 in a text editor (Save As, encoding UTF-8).")
    with pytest.raises(RulesError) as info:
        read_text(tmp_path, what="Rules")
    assert info.value.message == f"Could not read rules {tmp_path}: Is a directory"


# --- found in review ------------------------------------------------------------------------------------------


def test_function_calls_count_towards_the_depth_limit() -> None:
    assert "nested more than 64 levels deep" in error("abs(" * 150 + "r" + ")" * 150 + " > 3").message


def test_whole_number_arithmetic_never_wraps_around() -> None:
    hits = FRAME.select(compile_("orders * 4611686018427387904 > 0").alias("hit"))["hit"].to_list()
    assert hits == [True, True, True, False, None, True, True, True]
    hits = FRAME.select(compile_("r * 100 - 1 = 499").alias("hit"))["hit"].to_list()
    assert hits == [False, True, None, False, False, True, False, None]
    hits = FRAME.select(compile_("r + 1 in (5, 6)").alias("hit"))["hit"].to_list()
    assert hits == [False, True, None, False, False, True, True, None]
