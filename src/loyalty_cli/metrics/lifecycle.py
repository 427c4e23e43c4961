"""Lifecycle stages: one stage and one action per customer (and per contact who never bought), from ordered
rules kept as TOML in ``rules/lifecycle.toml`` (read and checked by :mod:`loyalty_cli.rules.lifecycle`), so the
output is a to-do list.

Stage 2: everything starts from the per-customer summary and the customer x day activity table, and reuses
the other metrics rather than redefining them:

- churn status (active/lapsing/lapsed) and value tier: :func:`~loyalty_cli.metrics.churn.churn_status` and
  :func:`~loyalty_cli.metrics.churn_ranking.rank_by_value` with the churn rules;
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

Here: the inputs, the stages decided (:func:`decide`), the to-do list (:func:`lifecycle_table`) and the stage
and flag summaries. A previous snapshot checked as read back and the transitions from it:
:mod:`loyalty_cli.metrics.lifecycle_transitions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import polars as pl

from loyalty_cli.io.rows import Rows, beside, order_by
from loyalty_cli.metrics.churn import STATUS, status_of
from loyalty_cli.metrics.churn_ranking import TIER, value_tier
from loyalty_cli.metrics.second_purchase import ALL, SecondPurchaseConfig, group_column, second_purchase_windows
from loyalty_cli.rules.churn import ChurnRules
from loyalty_cli.rules.lifecycle import TEXT_INPUTS, LifecycleRules
from loyalty_cli.stage1.activity_parts import Activity

NO_WINDOW = "none: churn status decides"  # the window source of customers whose group has no window


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
    customers: pl.DataFrame,
    activity: Activity,
    *,
    as_of: date,
    churn_rules: ChurnRules,
    window: SecondPurchaseConfig,
    scores: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
    ranked: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """One row per customer (and per prospect: a contact with no purchase before ``as_of``) with every
    column of :data:`INPUTS`, plus ``customer_id, [email], first_purchase, last_purchase, window_source,
    nps_responded_at, previous_as_of, as_of``.

    The customers' rows come first, in the order of ``customers``, with its columns as they are (not copied: at
    4.8M customers a copy was ~0.5 GB) and the others beside them; without ``contacts`` that is the whole table.

    ``window.by`` groups the second-purchase window (e.g. ``first_category``); ``scores`` is
    :func:`~loyalty_cli.metrics.nps_lists.customer_scores`; ``contacts`` has ``customer_id`` (+ ``email``,
    ``signed_up_at``: contacts who signed up on or after ``as_of`` are left out); ``previous`` has
    ``customer_id, previous_stage, previous_as_of``; ``ranked``: the churn status already ranked by net spend
    with ``churn_rules`` (:func:`rank_by_value` of :func:`churn_status`, e.g. ``loyalty churn``'s table without
    a model; only ``customer_id, status, value_tier, ipt_days`` are read), else computed here (:func:`status_of`,
    part by part of ``activity``)."""
    status = _status(customers, activity, churn_rules=churn_rules, ranked=ranked)
    windows = second_purchase_windows(customers.lazy(), config=window)
    if window.by is not None:
        windows = windows.filter(pl.col("group") != ALL)
    found = windows.collect()  # one row per group: looked up by each customer's group, no join over the customers
    # the source as an Enum: the same few texts for millions of customers (4.8M: ~270 MB as text)
    sources = pl.Enum(list(dict.fromkeys([*found["window_source"].drop_nulls(), NO_WINDOW])))
    found = found.with_columns(pl.col("window_source").fill_null(NO_WINDOW).cast(sources))
    group = group_column(window.by)
    defaults = {"window_source": pl.lit(NO_WINDOW, dtype=sources)}
    window_columns = (
        group.replace_strict(found["group"], found[c], default=defaults.get(c), return_dtype=found.schema[c]).alias(c)
        for c in ("window_from_days", "window_to_days", "window_source")
    )
    since = (pl.col("as_of") - pl.col("first_purchase")).dt.total_days().cast(pl.Int32)
    closed = (
        pl.when(pl.col("window_to_days").is_null())
        .then(pl.col("churn_status") != "active")
        .otherwise(pl.col("days_since_first") > pl.col("window_to_days"))
    )
    # the customers' columns and the status side by side, not copied: only the new columns are computed and added
    base = beside(customers, status)
    added = (
        base.lazy()
        .with_columns(*window_columns, pl.lit(False).alias("prospect"))
        .with_columns((pl.col("purchase_days") == 1).alias("one_time"), since.alias("days_since_first"))
    )
    added = _answers_and_previous(added.with_columns(closed.alias("window_closed")), scores=scores, previous=previous)
    added = added.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in TEXT_INPUTS if c not in base.columns)
    kept = [c for c in added.collect_schema().names() if c not in base.columns]
    frame = beside(base, added.select(kept).collect().get_columns())
    if contacts is not None:
        frame = _with_prospects(frame, contacts, as_of=as_of, scores=scores, previous=previous)
    return frame


def _status(
    customers: pl.DataFrame, activity: Activity, *, churn_rules: ChurnRules, ranked: pl.LazyFrame | None
) -> list[pl.Series]:
    """``churn_status, value_tier, ipt_days`` in the rows of ``customers``: from ``ranked`` (joined on the id), else
    computed (:func:`status_of`: in the customers' order, no join, no sort)."""
    columns = (
        pl.col("status").cast(STATUS).alias("churn_status"),
        pl.col("value_tier").cast(TIER),
        "ipt_days",
    )
    if ranked is None:
        status = status_of(customers, activity, rules=churn_rules, reasons=False).select(
            "status", "ipt_days", "net_spend"
        )
        found = status.with_columns(value_tier(churn_rules, "net_spend")).select(columns).collect()
    else:
        found = (
            customers.lazy()
            .select("customer_id")
            .join(ranked.select("customer_id", *columns), on="customer_id", how="left", maintain_order="left")
            .drop("customer_id")
            .collect()
        )
    return found.get_columns()


def _answers_and_previous(
    frame: pl.LazyFrame, *, scores: pl.LazyFrame | None, previous: pl.LazyFrame | None
) -> pl.LazyFrame:
    """``frame`` (its rows in their order) with the latest NPS answer of each id and its previous stage."""
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
            maintain_order="left",
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Int16).alias("latest_nps"),
            pl.lit(None, dtype=pl.String).alias("nps_category"),
            pl.lit(None, dtype=pl.Date).alias("nps_responded_at"),
        )
    if previous is not None:
        frame = frame.join(
            previous.select("customer_id", "previous_stage", "previous_as_of"),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("previous_stage"), pl.lit(None, dtype=pl.Date).alias("previous_as_of")
        )
    return frame.with_columns(
        (pl.col("last_purchase") >= pl.col("previous_as_of")).fill_null(False).alias("bought_since_previous")
    )


def _with_prospects(
    frame: pl.DataFrame,
    contacts: pl.LazyFrame,
    *,
    as_of: date,
    scores: pl.LazyFrame | None,
    previous: pl.LazyFrame | None,
) -> pl.DataFrame:
    """The customers' ``frame`` with the contacts' email where theirs is missing, then the prospects (contacts known
    on ``as_of`` who did not buy) with their answers and previous stage."""
    have = contacts.collect_schema().names()
    people = (
        known_contacts(contacts, as_of=as_of)
        .group_by("customer_id")
        .agg(*([pl.col("email").drop_nulls().max().alias("email")] if "email" in have else []))
    )
    prospects = people.join(frame.lazy().select("customer_id"), on="customer_id", how="anti").with_columns(
        pl.lit(True).alias("prospect"),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"),
        pl.lit(None, dtype=pl.Date).alias("last_purchase"),
    )
    prospects = _answers_and_previous(prospects, scores=scores, previous=previous).drop("last_purchase")
    customers = frame.lazy()
    if "email" in have:  # customers without an email in the orders get the contact's
        contact_email = people.select("customer_id", pl.col("email").alias("_contact_email"))
        email = pl.coalesce("email", "_contact_email") if "email" in frame.columns else pl.col("_contact_email")
        customers = (
            customers.join(contact_email, on="customer_id", how="left", maintain_order="left")
            .with_columns(email.alias("email"))
            .drop("_contact_email")
        )
    return pl.concat([customers, prospects], how="diagonal_relaxed").collect()


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


#: the columns of :func:`lifecycle_inputs` held as an Enum (a few texts for every customer) and written as text
ENUM_INPUTS = ("churn_status", "value_tier", "window_source")
#: the columns :meth:`LifecycleRules.assign` adds
ASSIGNED = ("stage", "action", "theme", "rule", "rule_number", "flags", "flag_actions")
#: the rows whose stages are decided at a time: every condition holds row by row, so slices give the stages of the
#: whole table, and the conditions' intermediate columns are held for a slice only
DECIDE_ROWS = 524_288


def as_text(inputs: pl.LazyFrame) -> pl.LazyFrame:
    """Rows of :func:`lifecycle_inputs` with the columns it holds as Enums (:data:`ENUM_INPUTS`) as text: the
    conditions' inputs (:data:`~loyalty_cli.rules.lifecycle.INPUT_SCHEMA`) and the to-do list's columns."""
    names = inputs.collect_schema().names()
    return inputs.with_columns(pl.col(c).cast(pl.String) for c in ENUM_INPUTS if c in names)


def decide(inputs: pl.DataFrame, *, rules: LifecycleRules) -> pl.DataFrame:
    """``customer_id, net_spend, stage, rule_number, flags`` of each row of :func:`lifecycle_inputs` (in its order;
    the first two are its columns): what the summaries and the to-do list's order read."""

    def part(frame: pl.LazyFrame) -> pl.DataFrame:
        return rules.assign(as_text(frame)).select("stage", "rule_number", "flags").collect()

    found = [part(inputs.lazy().slice(start, DECIDE_ROWS)) for start in range(0, inputs.height, DECIDE_ROWS)]
    columns = pl.concat(found).rechunk() if found else part(inputs.lazy().head(0))
    return beside(inputs.select("customer_id", "net_spend"), columns.get_columns())


def lifecycle_table(
    inputs: pl.DataFrame,
    *,
    rules: LifecycleRules,
    decided: pl.DataFrame | None = None,
    columns: Sequence[str] | None = None,
) -> Rows:
    """The to-do list: one row per customer and prospect with ``customer_id, [email]``, the stage (an Enum in rule
    order), its action and theme, the flags and their actions, and the inputs that decided
    (:data:`OUTPUT_COLUMNS`); ``columns``: only these. Sorted by stage (rule order), net spend (largest first),
    customer id. The rows of ``inputs`` (:func:`lifecycle_inputs`) in that order, shaped a slice at a time as they
    are written (:class:`~loyalty_cli.io.rows.Rows`: the texts of 4.8M customers were ~1 GB); ``decided``: their
    :func:`decide` when computed already (its customer_id, net_spend and stage at least)."""
    decided = decided if decided is not None else decide(inputs, rules=rules)
    names = [*inputs.columns, *ASSIGNED]
    if columns is None:
        leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
        columns = [*leading, *(c for c in OUTPUT_COLUMNS if c in names)]
    chosen = list(columns)
    order = order_by(decided, "stage", "net_spend")  # stage in rule order, net spend largest first, id
    return Rows(inputs, order, lambda part: rules.assign(as_text(part)).select(chosen))


def lifecycle_window(customers: pl.LazyFrame | pl.DataFrame, window: SecondPurchaseConfig) -> SecondPurchaseConfig:
    """The second-purchase window the lifecycle uses: per first-order category when the summary has one."""
    names = customers.collect_schema().names()
    return replace(window, by="first_category" if "first_category" in names else None)


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
