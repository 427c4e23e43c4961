"""The columns a list for an email tool carries (:func:`list_columns`).

A command's customer list has some twenty columns, most of them the workings of its analysis (scores, cut
points, rule numbers). An email tool needs a key, an address, the tag the campaign selects on and the few fields
a template fills in, so a list written for a target carries, in this order:

- ``customer_id`` and ``email`` (when the list has one);
- the tag: the list's segment/stage/tier column and its ``<tag>_action`` (the fixed tag of a list without one,
  ``action``, is added later by :mod:`loyalty_cli.handoff.formatting`);
- the template fields of that kind of list (:data:`TEMPLATE_FIELDS`, by its tag: one per command), those the
  list has (:data:`VALUE` stands for the column whose highest value wins among duplicate emails: cltv's
  ``predicted_clv_12m``, named for its horizon);
- the next-order date and contact window (:data:`NEXT_ORDER_FIELDS`), those the list has: ``next-order``'s
  list, and ``churn``'s and ``lifecycle``'s when asked for them;
- the columns asked for (the ``columns`` setting), in the order given; ``all``: every column, as the command
  wrote them. A name the list does not have is a :class:`UsageError` listing those it has.

A list whose tag is not one of :data:`TEMPLATE_FIELDS` (a library caller's own) keeps every column. Lists
written without a target keep every column too: they are the command's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from loyalty_cli.errors import UsageError, setting

ALL = "all"  # the columns setting: every column
VALUE = "<value>"  # in TEMPLATE_FIELDS: the list's value column (ListSpec.value)

#: the fields a template of each kind of list uses, by the list's tag column (the command that writes it)
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    # loyalty segment
    "segment": ("last_purchase", "orders", "net_spend"),
    # loyalty churn (the tag is the status: active, lapsing, lapsed)
    "status": ("value_tier", "worth_costly_offer", "last_purchase", "orders", "net_spend"),
    # loyalty cltv (its value column: predicted_clv_12m, or the horizon's)
    "value_tier": (VALUE, "p_alive", "last_purchase", "orders", "historical_value"),
    # loyalty lifecycle (as_of: the list still reads back as a --previous snapshot)
    "stage": ("action", "flags", "value_tier", "last_purchase", "orders", "net_spend", "as_of"),
    # loyalty nps --list
    "nps_category": ("latest_score", "responded_at", "segment", "last_purchase", "net_spend"),
    # loyalty second-purchase and loyalty next-order (fixed tags, in the column action)
    "action": ("first_purchase", "first_category", "nudge_date", "window_closes", "net_spend"),
    # loyalty products, its list of next best products (the tag is the product's code; its name is a field)
    "next_product": ("next_product_name", "last_product", "last_product_name", "last_purchase", "orders", "net_spend"),
    # the same list by category (the tag is the next best category)
    "next_category": ("last_category", "last_purchase", "orders", "net_spend"),
}
#: the next-order date and the window to contact, after the template fields of any kind of list that has them
#: (:data:`loyalty_cli.metrics.next_order.DATE_COLUMNS`)
NEXT_ORDER_FIELDS = ("next_order_date", "contact_from", "contact_to")


def parse_columns(given: Iterable[str] | None) -> tuple[str, ...]:
    """The columns setting as names: each value may hold several, comma-separated (``a,b``); blanks and repeats
    left out. A :class:`UsageError` when nothing is left of a value given."""
    names: list[str] = []
    for value in given or ():
        parts = [p.strip() for p in str(value).split(",")]
        if not any(parts):
            raise UsageError(
                f"{setting('columns')} {value!r} names no column",
                hint=f"e.g. {setting('columns')} first_category,email_consent",
            )
        names += [p for p in parts if p and p not in names]
    return tuple(names)


def list_columns(
    columns: Sequence[str],
    *,
    tag: str | None,
    tag_value: str | None = None,
    value: str | None = None,
    asked: Sequence[str] = (),
) -> list[str]:
    """The columns of ``columns`` (a list's, in its order) that the list for an email tool carries, in the order
    of the module docstring. ``tag``: the list's tag column (None with a fixed ``tag_value``); ``value``: the
    column whose highest value wins among duplicate emails; ``asked``: the columns setting (names)."""
    check_asked(asked, columns)
    key = tag if tag is not None else ("action" if tag_value is not None else None)
    if ALL in asked or key not in TEMPLATE_FIELDS:
        return list(columns)
    wanted = ["customer_id", "email"]
    if tag is not None:
        wanted += [tag, f"{tag}_action"]
    for name in TEMPLATE_FIELDS[key]:
        if name != VALUE:
            wanted.append(name)
        elif value is not None:
            wanted.append(value)
    wanted += [*NEXT_ORDER_FIELDS, *asked]
    chosen: list[str] = []
    for name in wanted:
        if name in columns and name not in chosen:
            chosen.append(name)
    return chosen


def check_asked(asked: Sequence[str], columns: Sequence[str]) -> None:
    """A :class:`UsageError` naming the asked columns the list does not have, and listing those it has."""
    missing = [name for name in asked if name != ALL and name not in columns]
    if missing:
        raise UsageError(
            f"{setting('columns')}: the list has no column {', '.join(repr(m) for m in missing)}",
            hint=f"Its columns: {', '.join(columns)}; or {setting('columns')} {ALL}.",
        )
