"""Canonical columns of each input table, the names exports use for them, and their types.

Header names are compared after *normalising*: lower case, letters and digits only, so ``Customer ID``,
``customer_id`` and ``CustomerID`` are all ``customerid``. Aliases are listed in order of preference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "date", "number", "text", "score"]
TableName = Literal["transactions", "surveys", "contacts", "members", "points"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    aliases: tuple[str, ...]
    required: bool = False
    description: str = ""


def normalise_header(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


TRANSACTIONS: tuple[Field, ...] = (
    Field(
        "customer_id",
        "id",
        (
            "customerid",
            "customer",
            "customerno",
            "customernumber",
            "clientid",
            "client",
            "memberid",
            "userid",
            "contactid",
            "buyerid",
            "shopperid",
            "accountid",
            "masterid",
        ),
        required=True,
        description="who bought (falls back to the email column when there is no id column)",
    ),
    Field(
        "order_date",
        "date",
        (
            "orderdate",
            "invoicedate",
            "purchasedate",
            "transactiondate",
            "orderdatetime",
            "createdat",
            "orderedat",
            "purchasedat",
            "paidat",
            "processedat",
            "orderplaced",
            "date",
            "datetime",
            "timestamp",
            "created",
        ),
        required=True,
        description="when the order was placed",
    ),
    Field(
        "amount",
        "number",
        (
            "amount",
            "total",
            "ordertotal",
            "totalamount",
            "totalprice",
            "grandtotal",
            "revenue",
            "sales",
            "netsales",
            "netamount",
            "ordervalue",
            "value",
            "spend",
            "monetary",
            "dollarvalue",
            "lineamount",
            "linetotal",
        ),
        required=True,
        description="net value of the line or order (or quantity x unit price)",
    ),
    Field(
        "order_id",
        "text",
        (
            "orderid",
            "invoiceno",
            "invoicenumber",
            "invoiceid",
            "invoice",
            "ordernumber",
            "orderno",
            "transactionid",
            "receiptid",
            "receiptno",
        ),
        description="groups lines into orders",
    ),
    Field(
        "quantity",
        "number",
        ("quantity", "qty", "units", "lineitemquantity", "itemquantity"),
        description="line quantity, used with unit price when there is no amount",
    ),
    Field(
        "unit_price",
        "number",
        ("unitprice", "price", "itemprice", "lineitemprice", "priceeach"),
        description="line unit price, used with quantity when there is no amount",
    ),
    Field(
        "category",
        "text",
        ("category", "productcategory", "productline", "department", "productgroup"),
        description="product category (first-order category is kept per customer)",
    ),
    Field(
        "product",
        "text",
        (
            "sku",
            "stockcode",
            "productsku",
            "variantsku",
            "lineitemsku",
            "itemsku",
            "productcode",
            "productid",
            "itemcode",
            "itemid",
            "itemnumber",
            "articlenumber",
            "product",
        ),
        description="the product of each line, a SKU or product code; loyalty products needs it",
    ),
    Field(
        "product_name",
        "text",
        ("productname", "description", "productdescription", "itemname", "lineitemname", "producttitle"),
        description="the product's name, shown beside its code by loyalty products",
    ),
    Field(
        "channel",
        "text",
        ("channel", "saleschannel", "orderchannel", "source", "ordersource"),
        description="sales channel",
    ),
    Field("email", "text", ("email", "emailaddress", "customeremail", "mail"), description="contact email"),
)

SURVEYS: tuple[Field, ...] = (
    Field(
        "customer_id",
        "id",
        (*TRANSACTIONS[0].aliases, "respondentid", "respondent"),
        description="respondent (optional: anonymous)",
    ),
    Field(
        "responded_at",
        "date",
        (
            "respondedat",
            "responsedate",
            "responsetimestamp",
            "submittedat",
            "submitdate",
            "submitdateutc",
            "surveydate",
            "completedat",
            "recordeddate",
            "datecreated",
            "createdat",
            "date",
            "timestamp",
        ),
        description="when the answer was given (optional: without it, no trend)",
    ),
    Field(
        "score",
        "score",
        ("score", "npsscore", "nps", "npsrating", "likelihoodtorecommend", "recommend", "ltr", "rating", "answer"),
        required=True,
        description="0-10 answer to the recommend question",
    ),
    Field(
        "comment",
        "text",
        ("comment", "comments", "feedback", "reason", "verbatim", "text"),
        description="free-text answer",
    ),
    Field(
        "survey_type",
        "text",
        ("surveytype", "npstype", "type"),
        description="relational or transactional (rNPS/tNPS); never mixed in one headline",
    ),
    Field(
        "touchpoint", "text", ("touchpoint", "surveytrigger", "trigger"), description="where the survey was triggered"
    ),
    Field("email", "text", ("email", "emailaddress"), description="respondent email"),
)

CONTACTS: tuple[Field, ...] = (
    Field("customer_id", "id", TRANSACTIONS[0].aliases, required=True, description="contact id"),
    Field("email", "text", ("email", "emailaddress", "mail"), description="contact email"),
    Field(
        "signed_up_at",
        "date",
        ("signedupat", "signupdate", "createdat", "registeredat", "joinedat"),
        description="when the contact signed up",
    ),
    Field("birthday", "date", ("birthday", "dateofbirth", "dob", "birthdate"), description="birthday"),
    Field(
        "email_consent",
        "text",
        (
            "emailconsent",
            "acceptsmarketing",
            "acceptsemailmarketing",  # Shopify's customer export
            "emailmarketingconsent",  # Klaviyo's profile export
            "emailmarketingstatus",
            "emailsubscriptionstatus",
            "subscriptionstatus",
            "marketingstatus",
            "marketingconsent",
            "optin",
            "subscribed",
            "consent",
        ),
        description="may we email them (true/false, yes/no, 1/0)",
    ),
)

MEMBERS: tuple[Field, ...] = (
    Field(
        "customer_id",
        "id",
        (
            *TRANSACTIONS[0].aliases,
            "loyaltyid",
            "loyaltynumber",
            "membershipid",
            "membershipnumber",
            "membernumber",
            "memberno",
            "cardnumber",
        ),
        required=True,
        description="the member (the same id as in the transactions)",
    ),
    Field(
        "enrolled_at",
        "date",
        (
            "enrolledat",
            "enrolleddate",
            "enrollmentdate",
            "enrolmentdate",
            "enrolled",
            "enrolledon",
            "joinedat",
            "joindate",
            "joined",
            "joinedon",
            "membersince",
            "memberssince",
            "membershipstart",
            "memberfrom",
            "optinat",
            "optindate",
            "signedupat",
            "signupdate",
            "registeredat",
            "createdat",
            "date",
        ),
        required=True,
        description="when the customer joined the programme",
    ),
    Field(
        "tier",
        "text",
        (
            "tier",
            "tiername",
            "loyaltytier",
            "membershiptier",
            "membertier",
            "level",
            "memberlevel",
            "loyaltylevel",
            "status",
            "memberstatus",
        ),
        description="programme tier (Bronze, Silver, Gold, ...)",
    ),
    Field(
        "tier_since",
        "date",
        (
            "tiersince",
            "tierdate",
            "tierstart",
            "tierstartdate",
            "tierfrom",
            "tierchangedat",
            "tierupdatedat",
            "leveldate",
            "levelsince",
        ),
        description="when the member reached this tier: several rows per member make a tier history",
    ),
    Field(
        "channel",
        "text",
        ("channel", "enrolmentchannel", "enrollmentchannel", "signupchannel", "joinchannel", "source"),
        description="where the member enrolled (store, web, app, ...)",
    ),
)

POINTS: tuple[Field, ...] = (
    Field("customer_id", "id", MEMBERS[0].aliases, required=True, description="whose points"),
    Field(
        "at",
        "date",
        (
            "at",
            "postedat",
            "occurredat",
            "eventdate",
            "eventtime",
            "pointsdate",
            "transactiondate",
            "createdat",
            "datetime",
            "timestamp",
            "date",
        ),
        required=True,
        description="when the points were earned, redeemed, expired or adjusted",
    ),
    Field(
        "points",
        "number",
        ("points", "pointsamount", "pointsdelta", "pointschange", "delta", "change", "quantity", "amount", "value"),
        required=True,
        description="number of points (the sign of redeem and expire rows does not matter)",
    ),
    Field(
        "type",
        "text",
        ("type", "pointstype", "eventtype", "transactiontype", "entrytype", "kind", "action"),
        required=True,
        description="earn, redeem, expire or adjust",
    ),
    Field("order_id", "text", TRANSACTIONS[3].aliases, description="the order the points belong to"),
)

TABLES: dict[str, tuple[Field, ...]] = {
    "transactions": TRANSACTIONS,
    "surveys": SURVEYS,
    "contacts": CONTACTS,
    "members": MEMBERS,
    "points": POINTS,
}

# Canonical transaction lines, as the readers hand them to metrics/.
LINE_COLUMNS = ("customer_id", "order_date", "amount_cents", "order_key")
OPTIONAL_LINE_COLUMNS = ("category", "product", "product_name", "channel", "email")
