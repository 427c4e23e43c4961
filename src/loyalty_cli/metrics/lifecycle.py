"""Lifecycle stages: one stage and one action per customer (and per contact who never bought), from ordered
rules kept as TOML in ``rules/lifecycle.toml`` (read and checked by :mod:`loyalty_cli.rules.lifecycle`), so the
output is a to-do list.

Stage 2: everything starts from the per-customer summary and the customer x day activity table, and reuses
the other metrics rather than redefining them:

- churn status (active/lapsing/lapsed) and value tier: :func:`~loyalty_cli.metrics.churn.churn_status` and
  :func:`~loyalty_cli.metrics.churn.rank_by_value` with the churn rules;
- the second-purchase window (per first-order category when there is one):
  :func:`~loyalty_cli.metrics.second_purchase.timing_summary`; a one-time buyer's window is *closed* when the
  days since the first purchase exceed its last day (as in the nudge list);
- the latest NPS answer: :func:`~loyalty_cli.metrics.nps_lists.customer_scores`;
- prospects: contacts with no purchase before the as-of date;
- a previous lifecycle snapshot (the ``previous`` setting): the stage each customer had then, and whether they bought
  since its as-of date (for ``reactivated`` and the transition matrix).

:func:`lifecycle_inputs` gives every customer the columns the rules' conditions read
(:data:`~loyalty_cli.rules.lifecycle.INPUTS`); the rules, tried in order, give the stage, action and theme
(the first that holds), and the flags (independent of the stage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, setting
from loyalty_cli.metrics.churn import churn_status, rank_by_value
from loyalty_cli.metrics.second_purchase import ALL, SecondPurchaseConfig, group_column, second_purchase_windows
from loyalty_cli.rules.churn import ChurnRules
from loyalty_cli.rules.lifecycle import TEXT_INPUTS, LifecycleRules
from loyalty_cli.stage1.activity_parts import Activity

NOT_BEFORE = "(not in previous)"  # transition matrix: customer absent from the previous snapshot
NOT_NOW = "(not in this snapshot)"


# -------------------------------------------------------------------------------------------------- inputs
def known_contacts(contacts: pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """The contact rows known on ``as_of``: signed up before it, or with no signup date."""
    if "signed_up_at" not in contacts.collect_schema().names():
        return contacts
    return contacts.filter(pl.col("signed_up_at").is_null() | (pl.col("signed_up_at") < as_of))


def contacts_left_out(contacts: pl.DataFrame, customers: pl.DataFrame, *, as_of: date) -> int:
    """People of the contacts left out because they signed up on or after ``as_of`` (every row of theirs),
    and did not buy before it (a customer is in the table either way)."""
    known = known_contacts(contacts.lazy(), as_of=as_of).select("customer_id")
    return (
        contacts.lazy()
        .select(pl.col("customer_id").unique())
        .join(known, on="customer_id", how="anti")
        .join(customers.lazy().select("customer_id"), on="customer_id", how="anti")
        .collect()
        .height
    )


def lifecycle_inputs(
    customers: pl.LazyFrame,
    activity: Activity,
    *,
    as_of: date,
    churn_rules: ChurnRules,
    window: SecondPurchaseConfig,
    scores: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
    ranked: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """One row per customer (and per prospect: a contact with no purchase before ``as_of``) with every
    column of :data:`INPUTS`, plus ``customer_id, [email], first_purchase, last_purchase, window_source,
    nps_responded_at, previous_as_of, as_of``.

    ``window.by`` groups the second-purchase window (e.g. ``first_category``); ``scores`` is
    :func:`~loyalty_cli.metrics.nps_lists.customer_scores`; ``contacts`` has ``customer_id`` (+ ``email``,
    ``signed_up_at``: contacts who signed up on or after ``as_of`` are left out); ``previous`` has
    ``customer_id, previous_stage, previous_as_of``; ``ranked``: the churn status already ranked by net spend
    with ``churn_rules`` (:func:`rank_by_value` of :func:`churn_status`, e.g. ``loyalty churn``'s table without
    a model; only ``customer_id, status, value_tier, ipt_days`` are read), else computed here."""
    names = customers.collect_schema().names()
    if ranked is None:
        ranked = rank_by_value(churn_status(customers, activity, rules=churn_rules), rules=churn_rules)
    status = ranked.select(
        "customer_id",
        pl.col("status").cast(pl.String).alias("churn_status"),
        pl.col("value_tier").cast(pl.String),
        "ipt_days",
    )
    windows = second_purchase_windows(customers, config=window)
    if window.by is not None:
        windows = windows.filter(pl.col("group") != ALL)
    since = (pl.col("as_of") - pl.col("first_purchase")).dt.total_days().cast(pl.Int32)
    closed = (
        pl.when(pl.col("window_to_days").is_null())
        .then(pl.col("churn_status") != "active")
        .otherwise(pl.col("days_since_first") > pl.col("window_to_days"))
    )
    base = (
        customers.join(status, on="customer_id", how="left")
        .with_columns(group_column(window.by))
        .join(windows, on="group", how="left")
        .with_columns(
            pl.lit(False).alias("prospect"),
            (pl.col("purchase_days") == 1).alias("one_time"),
            since.alias("days_since_first"),
        )
        .with_columns(closed.alias("window_closed"), pl.col("window_source").fill_null("none: churn status decides"))
        .drop("group")
    )
    frames = [base]
    if contacts is not None:
        have = contacts.collect_schema().names()
        people = (
            known_contacts(contacts, as_of=as_of)
            .group_by("customer_id")
            .agg(*([pl.col("email").drop_nulls().max().alias("email")] if "email" in have else []))
        )
        prospects = people.join(customers.select("customer_id"), on="customer_id", how="anti").with_columns(
            pl.lit(True).alias("prospect"), pl.lit(as_of, dtype=pl.Date).alias("as_of")
        )
        frames.append(prospects)
        if "email" in have:  # customers without an email in the orders get the contact's
            contact_email = people.select("customer_id", pl.col("email").alias("_contact_email"))
            email = pl.coalesce("email", "_contact_email") if "email" in names else pl.col("_contact_email")
            frames[0] = (
                base.join(contact_email, on="customer_id", how="left")
                .with_columns(email.alias("email"))
                .drop("_contact_email")
            )
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    if scores is not None:
        frame = frame.join(
            scores.select(
                "customer_id",
                pl.col("latest_score").cast(pl.Int16).alias("latest_nps"),
                pl.col("nps_category").cast(pl.String),
                pl.col("responded_at").alias("nps_responded_at"),
            ),
            on="customer_id",
            how="left",
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Int16).alias("latest_nps"),
            pl.lit(None, dtype=pl.String).alias("nps_category"),
            pl.lit(None, dtype=pl.Date).alias("nps_responded_at"),
        )
    if previous is not None:
        frame = frame.join(
            previous.select("customer_id", "previous_stage", "previous_as_of"), on="customer_id", how="left"
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("previous_stage"), pl.lit(None, dtype=pl.Date).alias("previous_as_of")
        )
    frame = frame.with_columns(
        (pl.col("last_purchase") >= pl.col("previous_as_of")).fill_null(False).alias("bought_since_previous")
    )
    have = frame.collect_schema().names()
    missing = [pl.lit(None, dtype=pl.String).alias(c) for c in TEXT_INPUTS if c not in have]
    return frame.with_columns(missing) if missing else frame


# ------------------------------------------------------------------------------------------------- outputs
OUTPUT_COLUMNS = (
    "stage",
    "action",
    "theme",
    "flags",
    "flag_actions",
    "churn_status",
    "value_tier",
    "recency_days",
    "orders",
    "purchase_days",
    "net_spend",
    "days_since_first",
    "window_from_days",
    "window_to_days",
    "window_closed",
    "window_source",
    "latest_nps",
    "nps_category",
    "nps_responded_at",
    "previous_stage",
    "bought_since_previous",
    "first_purchase",
    "last_purchase",
    "first_category",
    "ipt_days",
    "rule_number",
    "rule",
    "as_of",
)


def lifecycle_table(inputs: pl.LazyFrame, *, rules: LifecycleRules) -> pl.LazyFrame:
    """The to-do list: one row per customer and prospect with ``customer_id, [email]``, the stage, its action
    and theme, the flags and their actions, and the inputs that decided (:data:`OUTPUT_COLUMNS`). Sorted by
    stage (rule order), net spend (largest first), customer id."""
    staged = rules.assign(inputs)
    names = staged.collect_schema().names()
    leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
    return staged.select(*leading, *(c for c in OUTPUT_COLUMNS if c in names)).sort(
        "stage", "net_spend", "customer_id", descending=[False, True, False], nulls_last=True
    )


def lifecycle_window(customers: pl.LazyFrame | pl.DataFrame, window: SecondPurchaseConfig) -> SecondPurchaseConfig:
    """The second-purchase window the lifecycle uses: per first-order category when the summary has one."""
    names = customers.collect_schema().names()
    return replace(window, by="first_category" if "first_category" in names else None)


def lifecycle_stages(
    customers: pl.LazyFrame,
    activity: Activity,
    *,
    as_of: date,
    rules: LifecycleRules,
    churn_rules: ChurnRules,
    window: SecondPurchaseConfig,
    scores: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
    ranked: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The to-do list as ``loyalty lifecycle`` gives it (:func:`lifecycle_table` of :func:`lifecycle_inputs`),
    with the window of :func:`lifecycle_window`; the command, NPS by stage and the report all use it (``ranked``:
    the churn status ranked by value when computed already, see :func:`lifecycle_inputs`)."""
    inputs = lifecycle_inputs(
        customers,
        activity,
        as_of=as_of,
        churn_rules=churn_rules,
        window=lifecycle_window(customers, window),
        scores=scores,
        contacts=contacts,
        previous=previous,
        ranked=ranked,
    )
    return lifecycle_table(inputs, rules=rules)


def stage_summary(table: pl.LazyFrame, *, rules: LifecycleRules) -> pl.LazyFrame:
    """One row per rule (a stage and its action), in rule order, also when it holds nobody: ``stage, action,
    customers, share_customers, net_spend, share_net_spend`` (prospects count with no spend)."""
    stats = table.group_by("rule_number").agg(
        pl.len().cast(pl.UInt32).alias("customers"),
        pl.col("net_spend").sum().round(2).alias("net_spend"),
    )
    listed = pl.LazyFrame(
        {
            "rule_number": [r.position for r in rules.rules],
            "stage": [r.stage for r in rules.rules],
            "action": [r.action for r in rules.rules],
        },
        schema={"rule_number": pl.Int32, "stage": pl.String, "action": pl.String},
    )
    return (
        listed.join(stats, on="rule_number", how="left", maintain_order="left")
        .with_columns(pl.col("customers").fill_null(0), pl.col("net_spend").fill_null(0.0))
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum()).alias("share_customers"),
            pl.when(pl.col("net_spend").sum() != 0)
            .then(pl.col("net_spend") / pl.col("net_spend").sum())
            .alias("share_net_spend"),
        )
        .select("stage", "action", "customers", "share_customers", "net_spend", "share_net_spend")
    )


def flag_summary(table: pl.LazyFrame, *, rules: LifecycleRules) -> pl.LazyFrame:
    """One row per flag: ``flag, action, customers, net_spend``."""
    parts = []
    for f in rules.flags:
        hit = pl.col("flags").str.split("; ").list.contains(f.name).fill_null(False)
        parts.append(
            table.select(
                pl.lit(f.name).alias("flag"),
                pl.lit(f.action).alias("action"),
                hit.sum().cast(pl.UInt32).alias("customers"),
                pl.col("net_spend").filter(hit).sum().round(2).alias("net_spend"),
            )
        )
    if not parts:
        return pl.LazyFrame(
            schema={"flag": pl.String, "action": pl.String, "customers": pl.UInt32, "net_spend": pl.Float64}
        )
    return pl.concat(parts)


def check_previous(previous: pl.DataFrame, *, source: str, as_of: date | None) -> pl.DataFrame:
    """A previous lifecycle output as ``customer_id, previous_stage, previous_as_of``: one row per customer,
    with a stage and an as-of date not after ``as_of``. Problems raise :class:`DataError` naming ``source``.
    ``customer_id`` and ``stage`` come as read back (:func:`loyalty_cli.io.snapshots.read_snapshot`: trimmed
    text, the CSV writer's formula guard taken off)."""
    missing = [c for c in ("customer_id", "stage", "as_of") if c not in previous.columns]
    if missing:
        raise DataError(
            f"The previous snapshot {source} has no column {', '.join(map(repr, missing))}",
            hint="Pass a file written by `loyalty lifecycle -o` (it has customer_id, stage and as_of).",
        )
    as_of_col = pl.col("as_of")
    if previous.schema["as_of"] != pl.Date:
        as_of_col = as_of_col.cast(pl.String).str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    frame = previous.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("stage").cast(pl.String).alias("previous_stage"),
        as_of_col.alias("previous_as_of"),
    )
    bad = frame.with_row_index("row", offset=2).filter(
        pl.col("customer_id").is_null() | pl.col("previous_stage").is_null() | pl.col("previous_as_of").is_null()
    )
    if bad.height:
        raise DataError(
            f"The previous snapshot {source} has {words.count(bad.height, 'row')} without a customer id, stage or "
            f"readable as_of date (YYYY-MM-DD), e.g. row {bad['row'][0]}",
            hint="Pass a file written by `loyalty lifecycle -o`.",
        )
    dupes = frame.filter(pl.col("customer_id").is_duplicated())
    if dupes.height:
        raise DataError(
            f"The previous snapshot {source} has customer {dupes['customer_id'][0]!r} more than once",
            hint=f"Pass the full output of one `loyalty lifecycle` run (no {setting('stages')} filter needed, "
            "but one row per customer).",
        )
    latest = frame["previous_as_of"].max()
    if latest is not None and as_of is not None and latest > as_of:  # type: ignore[operator]
        raise DataError(
            f"The previous snapshot {source} is as of {latest}, after this run's as-of date {as_of}",
            hint=f"Pass an older snapshot, or {setting('as_of')} a later date.",
        )
    return frame


def transitions(table: pl.LazyFrame, previous: pl.LazyFrame) -> pl.LazyFrame:
    """Customers per (previous stage, stage), long: ``previous_stage, stage, customers, share_of_previous``.
    ``(not in previous)``: customers the previous snapshot did not have; ``(not in this snapshot)``:
    customers it had that this one does not."""
    now = table.select("customer_id", pl.col("stage").cast(pl.String))
    before = previous.select("customer_id", "previous_stage")
    return (
        before.join(now, on="customer_id", how="full", coalesce=True)
        .with_columns(pl.col("previous_stage").fill_null(NOT_BEFORE), pl.col("stage").fill_null(NOT_NOW))
        .group_by("previous_stage", "stage")
        .agg(pl.len().cast(pl.UInt32).alias("customers"))
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("previous_stage")).alias("share_of_previous")
        )
    )


def transition_matrix(long: pl.DataFrame, *, stages: Sequence[str]) -> pl.DataFrame:
    """The long :func:`transitions` table as a matrix: one row per previous stage, one column per stage
    (rule order, then stages of neither kind alphabetically), and ``total``. Empty cells are 0."""

    def ordered(values: list[str], first: Sequence[str], last: str) -> list[str]:
        known = [s for s in first if s in values]
        extra = sorted(v for v in values if v not in first and v != last)
        return known + extra + ([last] if last in values else [])

    rows = ordered(long["previous_stage"].unique().to_list(), stages, NOT_BEFORE)
    cols = ordered(long["stage"].unique().to_list(), stages, NOT_NOW)
    wide = long.pivot(on="stage", index="previous_stage", values="customers", aggregate_function="sum")
    for col in cols:
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.UInt32).alias(col))
    order = pl.DataFrame({"previous_stage": rows, "_order": list(range(len(rows)))})
    return (
        wide.join(order, on="previous_stage")
        .sort("_order")
        .select("previous_stage", *(pl.col(c).fill_null(0).cast(pl.UInt32) for c in cols))
        .with_columns(pl.sum_horizontal(cols).cast(pl.UInt32).alias("total"))
    )
