"""Lifecycle stages: one stage and one action per customer (and per contact who never bought), from ordered
rules kept as TOML in ``rules/lifecycle.toml``, so the output is a to-do list.

Stage 2: everything starts from the per-customer summary and the customer x day activity table, and reuses
the other metrics rather than redefining them:

- churn status (active/lapsing/lapsed) and value tier: :func:`~loyalty_cli.metrics.churn.churn_status` and
  :func:`~loyalty_cli.metrics.churn.rank_by_value` with the churn rules;
- the second-purchase window (per first-order category when there is one):
  :func:`~loyalty_cli.metrics.second_purchase.timing_summary`; a one-time buyer's window is *closed* when the
  days since the first purchase exceed its last day (as in the nudge list);
- the latest NPS answer: :func:`~loyalty_cli.metrics.nps.customer_scores`;
- prospects: contacts with no purchase before the as-of date;
- a previous lifecycle snapshot (``--previous``): the stage each customer had then, and whether they bought
  since its as-of date (for ``reactivated`` and the transition matrix).

Rules (see the shipped file) are conditions over :data:`INPUTS`, tried in order; the first that holds
gives the stage, action and theme. Flags are independent of the stage. A rules file is checked when loaded,
and every problem names the file and the rule: each condition reads (the allow-listed language of
:func:`~loyalty_cli.rulefile.compile_condition`: never SQL, never ``eval``), uses known columns with the
right types (:data:`INPUT_SCHEMA`) and gives true/false; every kind of customer (every cell of a grid of
the categorical inputs) is covered by a rule that tests only categorical inputs, e.g. a final catch-all
``when = "true"``; every rule and flag can be reached. Numeric inputs are unknown on the grid, so a rule that
tests them "may match" (it can make a stage reachable but never covers a cell on its own), as in segment maps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, RulesError
from loyalty_cli.io.writers import restore_neutralised
from loyalty_cli.metrics.churn import STATUSES, TIERS, ChurnRules, churn_status, rank_by_value
from loyalty_cli.metrics.second_purchase import ALL, SecondPurchaseConfig, group_column, second_purchase_windows
from loyalty_cli.rulefile import (
    CONDITION_SYNTAX,
    builtin_text,
    compile_condition,
    evaluate_condition,
    parse_toml,
    rules_text,
)

DEFAULT_RULES = "lifecycle"
NPS_CATEGORIES = ("promoter", "passive", "detractor")
OTHER_STAGE = "(other)"  # on the validation grid: a previous stage that no rule names
NOT_BEFORE = "(not in previous)"  # transition matrix: customer absent from the previous snapshot
NOT_NOW = "(not in this snapshot)"

BOOL_INPUTS = ("prospect", "one_time", "window_closed", "bought_since_previous")
CHOICE_INPUTS = ("churn_status", "value_tier", "nps_category", "previous_stage")
NUMBER_INPUTS = (
    "recency_days",
    "tenure_days",
    "days_since_first",
    "orders",
    "purchase_days",
    "net_spend",
    "repeat_spend",
    "mean_order_value",
    "returns_value",
    "ipt_days",
    "window_from_days",
    "window_to_days",
    "latest_nps",
)
TEXT_INPUTS = ("first_category", "first_channel")
INPUTS = (*BOOL_INPUTS, *CHOICE_INPUTS, *NUMBER_INPUTS, *TEXT_INPUTS)
_NUMBER_DTYPES = {"net_spend": pl.Float64(), "repeat_spend": pl.Float64(), "mean_order_value": pl.Float64()}
_NUMBER_DTYPES |= {"returns_value": pl.Float64(), "ipt_days": pl.Float64(), "latest_nps": pl.Int16()}
_NUMBER_DTYPES |= {"orders": pl.UInt32(), "purchase_days": pl.UInt32()}
# Each input's dtype in lifecycle_inputs (a test keeps them equal): conditions are type-checked against them.
INPUT_SCHEMA: dict[str, pl.DataType] = {
    **dict.fromkeys(BOOL_INPUTS, pl.Boolean()),
    **dict.fromkeys((*CHOICE_INPUTS, *TEXT_INPUTS), pl.String()),
    **{c: _NUMBER_DTYPES.get(c, pl.Int32()) for c in NUMBER_INPUTS},
}
EXACT_INPUTS = frozenset((*BOOL_INPUTS, *CHOICE_INPUTS))  # enumerated on the validation grid

_TOP_KEYS = {"name", "version", "description", "rule", "flag"}
_RULE_KEYS = {"stage", "when", "action", "theme", "description"}
_FLAG_KEYS = {"name", "when", "action", "description"}


# --------------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    position: int  # 1-based, in file order
    stage: str
    when: str
    expr: pl.Expr
    action: str
    theme: str
    description: str
    partial: bool  # tests numeric or text inputs: may or may not hold for a grid cell

    @property
    def label(self) -> str:
        return f"rule #{self.position} (stage {self.stage!r})"


@dataclass(frozen=True)
class Flag:
    name: str
    when: str
    expr: pl.Expr
    action: str
    description: str
    partial: bool

    @property
    def label(self) -> str:
        return f"flag {self.name!r}"


@dataclass(frozen=True)
class LifecycleRules:
    name: str
    source: str  # file path, or "built-in lifecycle"
    version: str
    description: str
    rules: tuple[Rule, ...]
    flags: tuple[Flag, ...]

    @property
    def stages(self) -> list[str]:
        """Stage names in the order of their first rule."""
        return list(dict.fromkeys(r.stage for r in self.rules))

    def uses(self, column: str) -> list[str]:
        """Labels of the rules and flags whose condition reads ``column``."""
        return [x.label for x in (*self.rules, *self.flags) if column in x.expr.meta.root_names()]

    def reachable(self, *, surveys: bool, contacts: bool, previous: bool) -> list[str]:
        """Stages some kind of customer can reach when some inputs are missing (no surveys: no NPS; no
        contacts: no prospects; no previous snapshot: no previous stage)."""
        grid = _grid(self.stages)
        if not surveys:
            grid = grid.filter(pl.col("nps_category").is_null())
        if not contacts:
            grid = grid.filter(~pl.col("prospect"))
        if not previous:
            grid = grid.filter(pl.col("previous_stage").is_null())
        claimed = [False] * grid.height
        found = []
        for rule in self.rules:
            may, sure = _evaluate(grid, self.source, rule.label, rule.when, rule.expr, rule.partial)
            if any(m and not c for m, c in zip(may, claimed, strict=True)):
                found.append(rule.stage)
            claimed = [c or x for c, x in zip(claimed, sure, strict=True)]
        return list(dict.fromkeys(found))

    def assign(self, inputs: pl.LazyFrame) -> pl.LazyFrame:
        """Add ``stage, action, theme, rule`` (the condition that decided) and ``flags, flag_actions``
        (``; ``-separated, null when none) to a frame with the :data:`INPUTS` columns."""
        chain = None
        for i, rule in enumerate(self.rules):
            chain = (pl.when(rule.expr) if chain is None else chain.when(rule.expr)).then(pl.lit(i, pl.Int32))
        assert chain is not None
        index = pl.col("_rule")

        def pick(values: list[str]) -> pl.Expr:
            return index.replace_strict(list(range(len(values))), values, default=None, return_dtype=pl.String)

        rules = self.rules
        flagged = [pl.when(f.expr).then(pl.lit(f.name)) for f in self.flags]
        flag_actions = [pl.when(f.expr).then(pl.lit(f.action)) for f in self.flags]

        def joined(parts: list[pl.Expr]) -> pl.Expr:
            if not parts:
                return pl.lit(None, dtype=pl.String)
            text = pl.concat_str(parts, separator="; ", ignore_nulls=True)
            return pl.when(text != "").then(text)

        return (
            inputs.with_columns(chain.otherwise(None).alias("_rule"))
            .with_columns(
                pick([r.stage for r in rules]).cast(pl.Enum(self.stages)).alias("stage"),
                pick([r.action for r in rules]).alias("action"),
                pick([r.theme for r in rules]).alias("theme"),
                pick([r.when for r in rules]).alias("rule"),
                (index + 1).alias("rule_number"),
                joined(flagged).alias("flags"),
                joined(flag_actions).alias("flag_actions"),
            )
            .drop("_rule")
        )


def _grid(stages: Sequence[str]) -> pl.DataFrame:
    """Every combination of the categorical inputs a real customer can have (prospects have no purchase
    data); numeric and text inputs are null (unknown)."""
    nps = [None, *NPS_CATEGORIES]
    previous = [None, *stages, OTHER_STAGE]
    names = (
        "prospect",
        "one_time",
        "window_closed",
        "churn_status",
        "value_tier",
        "nps_category",
        "previous_stage",
        "bought_since_previous",
    )
    rows = [
        *itertools.product([True], [None], [None], [None], [None], nps, previous, [False]),
        *itertools.product([False], [True, False], [True, False], STATUSES, TIERS, nps, previous, [True, False]),
    ]
    schema = {n: (pl.Boolean if n in BOOL_INPUTS else pl.String) for n in names}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    frame = frame.filter(~(pl.col("bought_since_previous") & pl.col("previous_stage").is_null()))  # not possible
    return frame.with_columns(pl.lit(None, dtype=INPUT_SCHEMA[c]).alias(c) for c in (*NUMBER_INPUTS, *TEXT_INPUTS))


def _describe_cell(row: dict[str, object]) -> str:
    shown = []
    for key in (
        "prospect",
        "one_time",
        "window_closed",
        "churn_status",
        "value_tier",
        "nps_category",
        "previous_stage",
        "bought_since_previous",
    ):
        value = row[key]
        if value is None:
            if row["prospect"] and key not in ("nps_category", "previous_stage"):
                continue
            shown.append(f"{key} empty")
        else:
            shown.append(f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
    return ", ".join(shown)


def _condition(source: str, label: str, when: object, example: str) -> tuple[pl.Expr, bool]:
    """The compiled condition and whether it reads inputs the check grid cannot hold exactly."""
    expr, roots = compile_condition(
        when,
        where=f"{source}: {label}",
        columns=INPUT_SCHEMA,
        example=example,
        syntax_hint=f"e.g. \"churn_status = 'active' and orders >= 5\". {CONDITION_SYNTAX}",
        columns_hint=f"Columns: {', '.join(INPUTS)}.",
    )
    return expr, bool(roots - EXACT_INPUTS)


def _text(source: str, label: str, raw: dict[str, object], key: str, *, required: bool) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RulesError(
            f"{source}: {label} needs {key} as text, got {value!r}",
            hint=f'e.g. {key} = "cross-sell".' if key == "action" else None,
        )
    return value.strip()


def _entries(source: str, data: dict[str, object], key: str) -> list[dict[str, object]]:
    raw = data.get(key, [])
    if not isinstance(raw, list) or any(not isinstance(r, dict) for r in raw):
        raise RulesError(f"{source}: {key} must be a list of [[{key}]] tables", hint=f"Write [[{key}]] sections.")
    return raw  # type: ignore[return-value]


def _evaluate(
    grid: pl.DataFrame, source: str, label: str, when: str, expr: pl.Expr, partial: bool
) -> tuple[list[bool], list[bool]]:
    """(may hold, surely holds) per grid cell."""
    out = evaluate_condition(
        grid,
        expr,
        where=f"{source}: {label}",
        when=when,
        hint="Compare text columns with quoted text (churn_status = 'active') and numbers with numbers (orders >= 5).",
    )
    may = [bool(v) for v in out.fill_null(partial)]
    sure = [bool(v) for v in out.fill_null(False)] if not partial else [False] * grid.height
    return may, sure


def parse_lifecycle_rules(text: str, *, source: str) -> LifecycleRules:
    """Parse and check lifecycle rules (see the module docstring for the checks)."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="Lifecycle rules have")
    raw_rules = _entries(source, data, "rule")
    if not raw_rules:
        raise RulesError(f"{source}: no rules", hint="Add [[rule]] tables with stage, when and action.")
    rules = []
    for i, raw in enumerate(raw_rules, start=1):
        stage = raw.get("stage")
        label = f"rule #{i}" + (f" (stage {stage!r})" if isinstance(stage, str) and stage.strip() else "")
        bad_keys = set(raw) - _RULE_KEYS
        if bad_keys:
            raise RulesError(
                f"{source}: {label} has unknown key(s) {', '.join(sorted(bad_keys))}",
                hint=f"A rule has {', '.join(sorted(_RULE_KEYS))}.",
            )
        stage = _text(source, label, raw, "stage", required=True)
        expr, partial = _condition(source, label, raw.get("when"), "churn_status = 'active'")
        rules.append(
            Rule(
                position=i,
                stage=stage,
                when=str(raw["when"]).strip(),
                expr=expr,
                action=_text(source, label, raw, "action", required=True),
                theme=_text(source, label, raw, "theme", required=False),
                description=_text(source, label, raw, "description", required=False),
                partial=partial,
            )
        )
    flags = []
    for i, raw in enumerate(_entries(source, data, "flag"), start=1):
        name = raw.get("name")
        label = f"flag {name!r}" if isinstance(name, str) and name.strip() else f"flag #{i}"
        bad_keys = set(raw) - _FLAG_KEYS
        if bad_keys:
            raise RulesError(
                f"{source}: {label} has unknown key(s) {', '.join(sorted(bad_keys))}",
                hint=f"A flag has {', '.join(sorted(_FLAG_KEYS))}.",
            )
        name = _text(source, label, raw, "name", required=True)
        if ";" in name:
            raise RulesError(f"{source}: {label}: a flag name cannot hold ';' (it separates flags)")
        if any(f.name == name for f in flags):
            raise RulesError(f"{source}: flag {name!r} is defined twice", hint="Give each flag its own name.")
        expr, partial = _condition(source, label, raw.get("when"), "nps_category = 'promoter'")
        flags.append(
            Flag(
                name=name,
                when=str(raw["when"]).strip(),
                expr=expr,
                action=_text(source, label, raw, "action", required=True),
                description=_text(source, label, raw, "description", required=False),
                partial=partial,
            )
        )
    for key in ("name", "version", "description"):
        if key in data and not isinstance(data[key], str | int | float):
            raise RulesError(f"{source}: {key} must be text, got {data[key]!r}")

    stages = list(dict.fromkeys(r.stage for r in rules))
    grid = _grid(stages)
    claimed = [False] * grid.height
    for rule in rules:
        may, sure = _evaluate(grid, source, rule.label, rule.when, rule.expr, rule.partial)
        if not any(m and not c for m, c in zip(may, claimed, strict=True)):
            why = "earlier rules take every customer it matches" if any(may) else "no kind of customer matches it"
            raise RulesError(
                f"{source}: {rule.label} can never be reached: {why}",
                hint="Move it up, narrow the rules before it, or remove it.",
            )
        claimed = [c or s for c, s in zip(claimed, sure, strict=True)]
    uncovered = [i for i, c in enumerate(claimed) if not c]
    if uncovered:
        example = _describe_cell(grid.row(uncovered[0], named=True))
        raise RulesError(
            f"{source}: no rule covers {words.count(len(uncovered), 'kind')} of customer, e.g. {example}",
            hint='End the rules with a catch-all: [[rule]] with when = "true" (rules that test numbers such as '
            "orders cannot cover a kind of customer on their own).",
        )
    for flag in flags:
        may, _ = _evaluate(grid, source, flag.label, flag.when, flag.expr, flag.partial)
        if not any(may):
            raise RulesError(
                f"{source}: {flag.label} can never be set: no kind of customer matches it",
                hint="Check the values it compares with, e.g. nps_category = 'detractor'.",
            )
    return LifecycleRules(
        name=str(data.get("name", Path(source).stem)),
        source=source,
        version=str(data.get("version", "1")),
        description=str(data.get("description", "")).strip(),
        rules=tuple(rules),
        flags=tuple(flags),
    )


def builtin_lifecycle_text() -> str:
    return builtin_text(DEFAULT_RULES)


def load_lifecycle_rules(spec: str | Path | None = None) -> LifecycleRules:
    """The built-in rules (``None`` or ``"lifecycle"``) or a TOML file."""
    text, source = rules_text(spec, default=DEFAULT_RULES, what="Lifecycle rules")
    return parse_lifecycle_rules(text, source=source)


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
    activity: pl.LazyFrame,
    *,
    as_of: date,
    churn_rules: ChurnRules,
    window: SecondPurchaseConfig,
    scores: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """One row per customer (and per prospect: a contact with no purchase before ``as_of``) with every
    column of :data:`INPUTS`, plus ``customer_id, [email], first_purchase, last_purchase, window_source,
    nps_responded_at, previous_as_of, as_of``.

    ``window.by`` groups the second-purchase window (e.g. ``first_category``); ``scores`` is
    :func:`~loyalty_cli.metrics.nps.customer_scores`; ``contacts`` has ``customer_id`` (+ ``email``,
    ``signed_up_at``: contacts who signed up on or after ``as_of`` are left out); ``previous`` has
    ``customer_id, previous_stage, previous_as_of``."""
    names = customers.collect_schema().names()
    status = rank_by_value(churn_status(customers, activity, rules=churn_rules), rules=churn_rules).select(
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
    activity: pl.LazyFrame,
    *,
    as_of: date,
    rules: LifecycleRules,
    churn_rules: ChurnRules,
    window: SecondPurchaseConfig,
    scores: pl.LazyFrame | None = None,
    contacts: pl.LazyFrame | None = None,
    previous: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The to-do list as ``loyalty lifecycle`` gives it (:func:`lifecycle_table` of :func:`lifecycle_inputs`),
    with the window of :func:`lifecycle_window`; the command, ``nps --by stage`` and the report all use it."""
    inputs = lifecycle_inputs(
        customers,
        activity,
        as_of=as_of,
        churn_rules=churn_rules,
        window=lifecycle_window(customers, window),
        scores=scores,
        contacts=contacts,
        previous=previous,
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


def check_previous(previous: pl.DataFrame, *, source: str, as_of: date) -> pl.DataFrame:
    """A previous lifecycle output as ``customer_id, previous_stage, previous_as_of``: one row per customer,
    with a stage and an as-of date not after ``as_of``. Problems raise :class:`DataError` naming ``source``."""
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
        restore_neutralised(pl.col("customer_id").cast(pl.String).str.strip_chars()).alias("customer_id"),
        restore_neutralised(pl.col("stage").cast(pl.String).str.strip_chars()).alias("previous_stage"),
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
            hint="Pass the full output of one `loyalty lifecycle` run (no --stage filter needed, "
            "but one row per customer).",
        )
    latest = frame["previous_as_of"].max()
    if latest is not None and latest > as_of:  # type: ignore[operator]
        raise DataError(
            f"The previous snapshot {source} is as of {latest}, after this run's as-of date {as_of}",
            hint="Pass an older snapshot, or --as-of a later date.",
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
