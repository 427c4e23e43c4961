"""Column mapping: options, then the mapping file, then detection by header name."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, RulesError
from loyalty_cli.io.columns import MappingFile, load_mapping_file, option_stem, resolve_columns
from loyalty_cli.io.readers import ReadOptions, read_surveys, read_transactions
from loyalty_cli.io.validate import collect_checked

PATH = Path("orders.csv")
NO_FILE = MappingFile(path=None)
DERIVED = {"amount": ("quantity", "unit_price")}


def resolve(headers, *, table="transactions", options=None, mapping=NO_FILE, derived_ok=DERIVED):
    return resolve_columns(
        headers, table=table, path=PATH, options=options or {}, mapping_file=mapping, derived_ok=derived_ok
    )


def collect(scan):
    (rows,), (rejects,) = collect_checked([scan], [scan.rows], on_bad_rows="skip")
    return rows, rejects


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "header", ["CustomerID", "Customer ID", "customer_id", "customer-id", "CUSTOMER_ID", "Client ID", "user_id"]
)
def test_detect_customer_id(header):
    choice = resolve([header, "order_date", "amount"])
    assert choice.columns["customer_id"] == header
    assert choice.how["customer_id"] == "detected"


@pytest.mark.parametrize("header", ["InvoiceDate", "Created at", "order_date", "Order Date", "Timestamp", "date"])
def test_detect_order_date(header):
    assert resolve(["customer_id", header, "amount"]).columns["order_date"] == header


@pytest.mark.parametrize("header", ["Total", "amount", "Order Total", "Revenue", "Sales", "Line Total"])
def test_detect_amount(header):
    assert resolve(["customer_id", "order_date", header]).columns["amount"] == header


def test_detect_online_retail_export():
    headers = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    choice = resolve(headers)
    assert choice.columns == {
        "customer_id": "CustomerID",
        "order_date": "InvoiceDate",
        "order_id": "InvoiceNo",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "product": "StockCode",
        "product_name": "Description",
    }
    assert set(choice.how.values()) == {"detected"}


def test_quantity_and_price_need_derived_ok():
    with pytest.raises(DataError, match="No amount column in orders.csv"):
        resolve(["customer_id", "order_date", "Quantity", "UnitPrice"], derived_ok={})
    with pytest.raises(DataError, match="No amount column"):
        resolve(["customer_id", "order_date", "Quantity"])  # no price: no amount


def test_amount_wins_over_quantity_and_price():
    choice = resolve(["customer_id", "order_date", "Quantity", "Price", "Total"])
    assert choice.columns["amount"] == "Total"
    assert choice.columns["quantity"] == "Quantity"


def test_email_is_the_customer_id_when_there_is_no_id_column():
    choice = resolve(["Email", "Created at", "Total"])
    assert choice.columns["customer_id"] == "Email"
    assert choice.how["customer_id"] == "email as id"
    assert choice.columns["email"] == "Email"


def test_an_id_column_wins_over_email():
    choice = resolve(["Email", "Customer ID", "Created at", "Total"])
    assert choice.columns["customer_id"] == "Customer ID"
    assert choice.how["customer_id"] == "detected"


def test_detected_columns_in_canonical_order_and_described():
    choice = resolve(["Total", "Category", "Created at", "Customer ID", "Channel"])
    assert list(choice.columns) == ["customer_id", "order_date", "amount", "category", "channel"]
    assert choice.describe() == [
        "customer_id <- 'Customer ID' (detected)",
        "order_date <- 'Created at' (detected)",
        "amount <- 'Total' (detected)",
        "category <- 'Category' (detected)",
        "channel <- 'Channel' (detected)",
    ]


def test_alias_preference_order():
    # 'order_date' is preferred over the generic 'created' for the order date; 'created' stays unused.
    choice = resolve(["customer_id", "created", "order_date", "amount"])
    assert choice.columns["order_date"] == "order_date"


def test_ambiguous_headers():
    with pytest.raises(DataError) as err:
        resolve(["Customer ID", "customer_id", "order_date", "amount"])
    assert err.value.message == "Ambiguous column for customer_id in orders.csv: 'Customer ID', 'customer_id'"
    assert render(err.value.hint) == "Choose one with --customer-col or in the mapping file."


def test_an_option_settles_an_ambiguity():
    headers = ["Customer ID", "customer_id", "order_date", "amount"]
    choice = resolve(headers, options={"customer_id": "customer_id"})
    assert choice.columns["customer_id"] == "customer_id"
    assert choice.how["customer_id"] == "option"


def test_missing_required_column():
    with pytest.raises(DataError) as err:
        resolve(["customer_id", "amount"])
    assert err.value.message == "No order_date column in orders.csv (when the order was placed)"
    assert render(err.value.hint) == (
        "Name it with --date-col COLUMN or in rules/columns.toml. Columns in the file: 'customer_id', 'amount'."
    )


def test_missing_customer_column_for_surveys_is_fine():
    choice = resolve(["Submitted At", "NPS"], table="surveys", derived_ok=None)
    assert choice.columns == {"responded_at": "Submitted At", "score": "NPS"}


# ---------------------------------------------------------------- options and mapping file


def test_explicit_options_win_over_detection():
    headers = ["customer_id", "Kunde", "order_date", "Datum", "amount", "Betrag"]
    choice = resolve(headers, options={"customer_id": "Kunde", "order_date": "Datum", "amount": None})
    assert choice.columns == {"customer_id": "Kunde", "order_date": "Datum", "amount": "amount"}
    assert choice.how == {"customer_id": "option", "order_date": "option", "amount": "detected"}


def test_option_matches_header_after_normalising():
    choice = resolve(["Kunden Nr", "order_date", "amount"], options={"customer_id": "kunden_nr"})
    assert choice.columns["customer_id"] == "Kunden Nr"


def test_option_naming_a_missing_column():
    with pytest.raises(DataError) as err:
        resolve(["Kunde", "Datum", "Betrag"], options={"customer_id": "Customer"})
    assert err.value.message == "Column 'Customer' (for customer_id, from the options) is not in orders.csv"
    assert err.value.hint == "Columns in the file: 'Kunde', 'Datum', 'Betrag'."


def test_load_mapping_file(tmp_path):
    path = write(
        tmp_path / "columns.toml",
        """
[transactions]
customer_id = "Kunde"
order_date = "Datum"
date_format = "%d.%m.%Y"
decimal_comma = true

[surveys]
score = "How likely are you to recommend us?"
""",
    )
    mapping = load_mapping_file(path)
    assert mapping.path == path
    assert mapping.columns == {
        "transactions": {"customer_id": "Kunde", "order_date": "Datum"},
        "surveys": {"score": "How likely are you to recommend us?"},
    }
    assert mapping.settings == {"transactions": {"date_format": "%d.%m.%Y", "decimal_comma": True}}


def test_shipped_columns_toml_loads():
    shipped = resources.files("loyalty_cli") / "rules" / "columns.toml"
    with resources.as_file(shipped) as path:
        mapping = load_mapping_file(path)
    assert mapping.columns == {}
    assert mapping.settings == {}


def test_no_mapping_file():
    assert load_mapping_file(None) == MappingFile(path=None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[orders]\ncustomer_id = "Kunde"\n', "unknown table [orders]"),
        ('[transactions]\nkunde = "Kunde"\n', "[transactions] has unknown field 'kunde'"),
        ("[transactions]\ncustomer_id = 3\n", "[transactions] customer_id must be a header name in quotes"),
        ('[transactions]\ncustomer_id = ""\n', "[transactions] customer_id must be a header name in quotes"),
        ('transactions = "x"\n', '[transactions] must be a table of field = "Header" lines'),
    ],
)
def test_bad_mapping_file(tmp_path, text, message):
    path = write(tmp_path / "columns.toml", text)
    with pytest.raises(RulesError) as err:
        load_mapping_file(path)
    assert err.value.message == f"{path}: {message}"


def test_mapping_file_not_toml_or_missing(tmp_path):
    with pytest.raises(RulesError, match="is not valid TOML"):
        load_mapping_file(write(tmp_path / "columns.toml", "[transactions\n"))
    with pytest.raises(RulesError, match="Mapping file not found"):
        load_mapping_file(tmp_path / "nope.toml")


def test_mapping_file_not_utf8(tmp_path):
    path = tmp_path / "columns.toml"
    path.write_bytes('[transactions]\ncustomer_id = "N\u00famero"\n'.encode("latin-1"))
    with pytest.raises(RulesError, match="Could not read mapping .*columns.toml"):
        load_mapping_file(path)


def test_mapping_file_precedence():
    mapping = MappingFile(
        path=Path("columns.toml"), columns={"transactions": {"customer_id": "Kunde", "amount": "Betrag"}}
    )
    headers = ["customer_id", "Kunde", "Konto", "order_date", "amount", "Betrag"]
    choice = resolve(headers, mapping=mapping, options={"customer_id": "Konto"})
    assert choice.columns == {"customer_id": "Konto", "order_date": "order_date", "amount": "Betrag"}
    assert choice.how == {"customer_id": "option", "order_date": "detected", "amount": "mapping file"}


def test_mapping_file_naming_a_missing_column():
    mapping = MappingFile(path=Path("columns.toml"), columns={"transactions": {"customer_id": "Kunde"}})
    with pytest.raises(DataError) as err:
        resolve(["customer_id", "order_date", "amount"], mapping=mapping)
    assert err.value.message == (
        "Column 'Kunde' (for customer_id, from the mapping file columns.toml) is not in orders.csv"
    )


def test_a_mapped_column_is_not_detected_again():
    # 'Total' is mapped to amount; it must not also be taken by detection for another field.
    mapping = MappingFile(path=Path("m.toml"), columns={"transactions": {"amount": "Value"}})
    choice = resolve(["customer_id", "order_date", "Value", "amount"], mapping=mapping)
    assert choice.columns["amount"] == "Value"


@pytest.mark.parametrize(
    ("field", "stem"),
    [
        ("customer_id", "customer"),
        ("order_date", "date"),
        ("amount", "amount"),
        ("unit_price", "price"),
        ("order_id", "order"),
        ("responded_at", "date"),
        ("email_consent", "email-consent"),
    ],
)
def test_option_stem(field, stem):
    assert option_stem(field) == stem


# ---------------------------------------------------------------- through read_transactions


def test_read_with_mapping_file_and_its_settings(tmp_path):
    data = write(tmp_path / "orders.csv", "Kunde;Datum;Betrag\n00004;05.01.2024;12,50\n7;06.02.2024;3\n")
    mapping = write(
        tmp_path / "columns.toml",
        '[transactions]\ncustomer_id = "Kunde"\norder_date = "Datum"\n'
        'amount = "Betrag"\ndate_format = "%d.%m.%Y"\ndecimal_comma = true\n',
    )
    scan = read_transactions([data], ReadOptions(mapping_file=mapping))
    assert scan.mapping.how == {"customer_id": "mapping file", "order_date": "mapping file", "amount": "mapping file"}
    assert scan.date_formats == {"order_date": "%d.%m.%Y"}
    rows, rejects = collect(scan)
    assert rejects.height == 0
    assert rows.rows() == [("00004", datetime(2024, 1, 5), 1250), ("7", datetime(2024, 2, 6), 300)]


def test_options_win_over_mapping_file_settings(tmp_path):
    data = write(tmp_path / "orders.csv", "Kunde,Datum,Betrag\nA,01/02/2024,1\n")
    mapping = write(
        tmp_path / "columns.toml",
        '[transactions]\ncustomer_id = "Kunde"\norder_date = "Datum"\namount = "Betrag"\ndate_format = "%d/%m/%Y"\n',
    )
    scan = read_transactions([data], ReadOptions(mapping_file=mapping, date_format="%m/%d/%Y"))
    rows, _ = collect(scan)
    assert rows["order_date"].to_list() == [datetime(2024, 1, 2)]


def test_read_unknown_mapping_table_is_a_rules_error(tmp_path):
    data = write(tmp_path / "orders.csv", "customer_id,order_date,amount\nA,2024-01-05,1\n")
    mapping = write(tmp_path / "columns.toml", '[orders]\ncustomer_id = "Kunde"\n')
    with pytest.raises(RulesError, match=r"unknown table \[orders\]"):
        read_transactions([data], ReadOptions(mapping_file=mapping))


def test_read_option_naming_a_missing_column(tmp_path):
    data = write(tmp_path / "orders.csv", "Kunde,Datum,Betrag\nA,2024-01-05,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([data], ReadOptions(columns={"customer_id": "Customer"}))
    assert err.value.message == f"Column 'Customer' (for customer_id, from the options) is not in {data}"
    assert err.value.hint == "Columns in the file: 'Kunde', 'Datum', 'Betrag'."


def test_read_ambiguous_and_missing(tmp_path):
    amb = write(tmp_path / "a.csv", "Customer ID,customer_id,order_date,amount\n1,1,2024-01-01,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([amb])
    assert err.value.message == f"Ambiguous column for customer_id in {amb}: 'Customer ID', 'customer_id'"
    miss = write(tmp_path / "m.csv", "customer_id,amount\n1,1\n")
    with pytest.raises(DataError) as err:
        read_transactions([miss])
    assert err.value.message == f"No order_date column in {miss} (when the order was placed)"


def test_read_quantity_times_unit_price(tmp_path):
    data = write(tmp_path / "retail.csv", "CustomerID,InvoiceDate,Quantity,UnitPrice\n17850.0,2010-12-01,6,2.55\n")
    scan = read_transactions([data])
    assert scan.notes == ("amount = 'Quantity' x 'UnitPrice'",)
    rows, _ = collect(scan)
    assert rows.select("customer_id", "amount_cents").rows() == [("17850", 1530)]


def test_read_email_as_customer_id_is_lower_cased(tmp_path):
    data = write(
        tmp_path / "shop.csv", "Email,Created at,Total\n Ann@Shop.COM ,2024-01-05,1\nann@shop.com,2024-01-06,2\n"
    )
    scan = read_transactions([data])
    assert scan.mapping.how["customer_id"] == "email as id"
    rows, _ = collect(scan)
    assert rows["customer_id"].to_list() == ["ann@shop.com", "ann@shop.com"]
    assert rows["email"].to_list() == ["ann@shop.com", "ann@shop.com"]


def test_read_surveys_detects_columns(tmp_path):
    data = write(tmp_path / "nps.csv", "Customer ID,Submitted At,NPS Score,Why?\nC1,2024-03-01,9,ok\n")
    mapping = write(tmp_path / "columns.toml", '[surveys]\ncomment = "Why?"\n')
    scan = read_surveys([data], ReadOptions(mapping_file=mapping))
    assert scan.mapping.columns == {
        "customer_id": "Customer ID",
        "responded_at": "Submitted At",
        "score": "NPS Score",
        "comment": "Why?",
    }


SETTING_HINTS = {
    "encoding": 'e.g. encoding = "latin-1" (or "utf-8", "cp1252").',
    "separator": 'e.g. separator = ";" (or "\\t" for tab, "whitespace").',
    "date_format": 'e.g. date_format = "%d/%m/%Y %H:%M".',
    "cancel_prefix": 'e.g. cancel_prefix = "C" (or "" for none).',
    "decimal_comma": "e.g. decimal_comma = true (no quotes; for amounts written 12,50).",
    "customer_id": 'Put the column\'s header in quotes, e.g. customer_id = "CustomerId", got 5.',
    "order_date": "Put the column's header in quotes, e.g. order_date = \"OrderDate\", got ['a'].",
}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("encoding = 5", "encoding must be text in quotes, got 5"),
        ('encoding = "klingon"', "encoding: unknown encoding 'klingon'"),
        ("separator = 5", "separator must be text in quotes, got 5"),
        ('separator = ";;"', "separator must be one character or \"whitespace\", got ';;'"),
        ("date_format = 5", "date_format must be text in quotes, got 5"),
        ('date_format = "dd/mm/yyyy"', "date_format must be a strftime pattern such as %d/%m/%Y, got 'dd/mm/yyyy'"),
        ("cancel_prefix = 5", "cancel_prefix must be text in quotes, got 5"),
        ('decimal_comma = "false"', "decimal_comma must be true or false (without quotes), got 'false'"),
        ("decimal_comma = 1", "decimal_comma must be true or false (without quotes), got 1"),
        ("customer_id = 5", "customer_id must be a header name in quotes"),
        ('order_date = ["a"]', "order_date must be a header name in quotes"),
    ],
)
def test_mapping_values_of_the_wrong_type(tmp_path, text, message):
    """Each used to be taken as it was: a number crashed the reader with a traceback, "false" read as true."""
    path = write(tmp_path / "columns.toml", f"[transactions]\n{text}\n")
    with pytest.raises(RulesError) as err:
        load_mapping_file(path)
    assert err.value.message == f"{path}: [transactions] {message}"
    assert err.value.hint == SETTING_HINTS[text.split(" ")[0]]


def test_mapping_settings_of_the_right_type_load(tmp_path):
    text = '[transactions]\nseparator = "\\t"\nencoding = "cp1252"\ncancel_prefix = ""\n'
    mapping = load_mapping_file(write(tmp_path / "columns.toml", text + '[surveys]\nseparator = "whitespace"\n'))
    assert mapping.settings == {
        "transactions": {"separator": "\t", "encoding": "cp1252", "cancel_prefix": ""},
        "surveys": {"separator": "whitespace"},
    }
