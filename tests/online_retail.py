"""A small folder of daily exports in the UCI Online Retail layout, with its facts computed independently.

``write_online_retail`` writes one CSV per day (``2010-12-01.csv``, ...) with the UCI columns
``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country`` and the quirks of the
real file: month-first dates with unpadded parts (``12/1/2010 8:26``), customer ids as floats
(``17850.0``), whole invoices without a customer id, ``C``-prefixed cancellation invoices with negative
quantities, multi-line invoices, a description with a comma and one that starts with ``=``.

The returned facts are computed here in plain Python (``decimal``, no Polars), so tests can check the
library's numbers against them.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
START = date(2010, 12, 1)
FIRST_INVOICE = 536365

PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55"),
    ("71053", "WHITE METAL LANTERN", "3.39"),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", "2.75"),
    ("84029G", "KNITTED UNION FLAG HOT WATER BOTTLE", "3.39"),
    ("22752", "SET 7 BABUSHKA NESTING BOXES", "7.65"),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "4.25"),
    ("22633", "HAND WARMER UNION JACK", "1.85"),
    ("22745", "POPPY'S PLAYHOUSE, BEDROOM", "2.10"),  # a comma: the CSV quotes it
    ("21755", "=LOVE BUILDING BLOCK WORD", "5.95"),  # starts with '=' (formula-like text)
    ("22960", "JAM MAKING SET WITH JARS", "4.25"),
    ("POST", "POSTAGE", "18.00"),
    ("21232", "STRAWBERRY CERAMIC TRINKET BOX", "0.85"),
)
CUSTOMERS = (
    "17850",
    "13047",
    "12583",
    "13748",
    "15100",
    "15291",
    "14688",
    "17809",
    "15311",
    "14527",
    "16098",
    "18074",
    "17420",
    "16029",
    "12431",
    "14001",
)
COUNTRIES = {"12583": "France", "12431": "Australia", "14001": "Germany"}


def invoice_date(moment: datetime) -> str:
    """``12/1/2010 8:26``: month/day/year and hour without zero padding, as in the UCI file."""
    return f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"


def write_online_retail(folder: Path, *, days: int = 40, seed: int = 3) -> dict:
    """Write ``days`` daily CSV files into ``folder``; return the facts a validator should find.

    Facts (rows with a customer id are the valid rows; the others are the rejects):
    ``files, rows, rows_without_customer, rejected_rows (file name, row number, InvoiceNo, StockCode),
    customers, invoices, cancellation_invoices, lines_with_customer, invoices_with_customer,
    cancellations_with_customer, net_revenue (Decimal, rows with a customer id; cancellations negative),
    cancelled_value (Decimal, positive: the cancellations of rows with a customer id), first_date, last_date
    (dates of rows with a customer id), first_file_date, last_file_date``.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    invoice_no = FIRST_INVOICE
    rows = 0
    rejected: list[tuple[str, int, str, str]] = []
    customers: set[str] = set()
    invoices: set[str] = set()
    cancellations: set[str] = set()
    invoices_with_customer: set[str] = set()
    cancellations_with_customer: set[str] = set()
    lines_with_customer = 0
    revenue = Decimal(0)
    cancelled = Decimal(0)
    customer_days: list[date] = []
    sold: list[tuple[str, str, int, str]] = []  # (customer, stock code, quantity, price) for cancellations
    files = []
    for offset in range(days):
        day = START + timedelta(days=offset)
        name = f"{day.isoformat()}.csv"
        lines: list[list[str]] = []
        # Two or three sales invoices with a customer, sometimes one without, sometimes a cancellation.
        plan = ["sale"] * rng.randint(2, 3)
        if offset % 3 == 1:
            plan.append("anonymous")
        if offset % 4 == 2 and sold:
            plan.append("cancel")
        moment = datetime(day.year, day.month, day.day, 8, rng.randint(0, 59))
        for kind in plan:
            moment += timedelta(minutes=rng.randint(7, 150))
            when = invoice_date(moment)
            if kind == "cancel":
                customer, code, qty, price = sold[rng.randrange(len(sold))]
                number = f"C{invoice_no}"
                items = [(code, next(p[1] for p in PRODUCTS if p[0] == code), -rng.randint(1, qty), price)]
            else:
                customer = "" if kind == "anonymous" else rng.choice(CUSTOMERS)
                number = str(invoice_no)
                items = []
                for code, desc, price in rng.sample(PRODUCTS, rng.randint(1, 5)):
                    items.append((code, desc, rng.choice((1, 2, 3, 4, 6, 12, 24)), price))
            invoice_no += 1
            invoices.add(number)
            if number.startswith("C"):
                cancellations.add(number)
            for code, desc, qty, price in items:
                country = COUNTRIES.get(customer, "United Kingdom")
                lines.append([number, code, desc, str(qty), when, price, f"{customer}.0" if customer else "", country])
                row_number = len(lines) + 1  # the header is row 1
                if not customer:
                    rejected.append((name, row_number, number, code))
                    continue
                customers.add(customer)
                invoices_with_customer.add(number)
                if number.startswith("C"):
                    cancellations_with_customer.add(number)
                    cancelled -= Decimal(qty) * Decimal(price)
                else:
                    sold.append((customer, code, qty, price))
                lines_with_customer += 1
                revenue += Decimal(qty) * Decimal(price)
                customer_days.append(day)
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)  # csv's default \r\n line ends, like the Excel-made UCI file
            writer.writerow(HEADER)
            writer.writerows(lines)
        rows += len(lines)
        files.append(name)
    return {
        "files": len(files),
        "file_names": files,
        "rows": rows,
        "rows_without_customer": len(rejected),
        "rejected_rows": rejected,
        "customers": len(customers),
        "invoices": len(invoices),
        "cancellation_invoices": len(cancellations),
        "lines_with_customer": lines_with_customer,
        "invoices_with_customer": len(invoices_with_customer),
        "cancellations_with_customer": len(cancellations_with_customer),
        "net_revenue": revenue,
        "cancelled_value": cancelled,
        "first_date": min(customer_days),
        "last_date": max(customer_days),
        "first_file_date": START,
        "last_file_date": START + timedelta(days=days - 1),
    }
