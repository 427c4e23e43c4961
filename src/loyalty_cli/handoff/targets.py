"""The email tools a list can be written for (the target setting): Mailchimp, Klaviyo, Braze, HubSpot, or a generic
spreadsheet CSV.

A :class:`Target` says what one tool's importer wants: its header names for the email and the customer id, where
the segment/stage/action tag goes, the date formats it reads, its file size limit (in :data:`MB`), and whether it is
an importer (text that starts like a formula is cleaned and logged) or a spreadsheet (the OWASP apostrophe). A list
is made to look like that by :func:`loyalty_cli.handoff.formatting.format_for_target`.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty_cli.errors import UsageError, setting

MB = 1_000_000  # the unit of Target.max_mb and of the max-file-mb setting: 10^6 bytes


@dataclass(frozen=True)
class Target:
    """How one email tool's importer wants a list."""

    name: str
    label: str
    email_header: str
    id_header: str  # the customer id column (Braze identifies users by external_id)
    tag_header: str | None  # None: "loyalty_<tag column>"; "" keeps our name (generic)
    date_format: str | None  # strftime for Date columns; None keeps dates as they are (generic)
    datetime_format: str | None
    max_mb: float | None  # the importer's file size limit
    importer: bool  # True: clean formula-like text (logged); False: OWASP apostrophe (spreadsheets)
    needs_email: bool = True  # False: rows are identified by the id (Braze), so a list without emails works

    def tag_column(self, tag: str) -> str:
        if self.tag_header is None:
            return f"loyalty_{tag}"
        return self.tag_header or tag


TARGETS: dict[str, Target] = {
    # Dates without a time are written at 12:00 where the importer stores a timestamp: a date at midnight is
    # read as midnight UTC and shows (and triggers flows) a day early west of UTC; noon keeps the calendar day
    # in every time zone from UTC-11 to UTC+11.
    "mailchimp": Target(
        "mailchimp", "Mailchimp", "Email Address", "customer_id", "Tags", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", None, True
    ),
    "klaviyo": Target(
        "klaviyo", "Klaviyo", "Email Address", "customer_id", None, "%Y-%m-%d 12:00:00", "%Y-%m-%d %H:%M:%S", 50, True
    ),
    "braze": Target(
        "braze",
        "Braze",
        "email",
        "external_id",
        None,
        "%Y-%m-%dT12:00:00",
        "%Y-%m-%dT%H:%M:%S",
        500,
        True,
        needs_email=False,
    ),
    "hubspot": Target("hubspot", "HubSpot", "Email", "customer_id", None, "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", 512, True),
    "generic": Target("generic", "generic CSV", "email", "customer_id", "", None, None, None, False, needs_email=False),
}


def get_target(name: str) -> Target:
    key = name.strip().lower()
    if key not in TARGETS:
        raise UsageError(f"Unknown {setting('target')} {name!r}", hint=f"Targets: {', '.join(TARGETS)}.")
    return TARGETS[key]
