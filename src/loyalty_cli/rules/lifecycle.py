"""Lifecycle rules (``rules/lifecycle.toml``, or the user's copy): ordered ``[[rule]]`` tables, each a stage, an
action and a theme for the customers its condition holds for (the first rule that holds wins), and
``[[flag]]`` tables, independent of the stage. Loaded and checked here; :mod:`loyalty_cli.metrics.lifecycle`
computes the inputs of every customer and applies the rules.

Conditions are over :data:`INPUTS`. A rules file is checked when loaded, and every problem names the file and
the rule: each condition reads (the allow-listed language of
:func:`~loyalty_cli.rules.conditions.compile_condition`: never SQL, never ``eval``), uses known columns with the
right types (:data:`INPUT_SCHEMA`) and gives true/false; every kind of customer (every cell of a grid of the
categorical inputs) is covered by a rule that tests only categorical inputs, e.g. a final catch-all
``when = "true"``; every rule and flag can be reached. Numeric inputs are unknown on the grid, so a rule that
tests them "may match" (it can make a stage reachable but never covers a cell on its own), as in segment maps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import RulesError
from loyalty_cli.rules.churn import STATUSES, TIERS
from loyalty_cli.rules.conditions import TYPE_HINT, Claims, Vocabulary
from loyalty_cli.rules.files import builtin_text, check_keys, entries, header, parse_toml, rules_text
from loyalty_cli.rules.grammar import CONDITION_SYNTAX

DEFAULT_RULES = "lifecycle"
NPS_CATEGORIES = ("promoter", "passive", "detractor")
OTHER_STAGE = "(other)"  # on the validation grid: a previous stage that no rule names

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
VOCABULARY = Vocabulary(
    columns=INPUT_SCHEMA,
    exact=EXACT_INPUTS,
    syntax_hint=f"e.g. \"churn_status = 'active' and orders >= 5\". {CONDITION_SYNTAX}",
    columns_hint=f"Columns: {', '.join(INPUTS)}.",
    grid_hint=TYPE_HINT,
)


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
        claims = Claims(grid.height)
        found = [rule.stage for rule in self.rules if claims.add(*_evaluate(grid, self.source, rule))]
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


def _evaluate(grid: pl.DataFrame, source: str, rule: Rule | Flag) -> tuple[list[bool], list[bool]]:
    """(may hold, surely holds) per grid cell."""
    return VOCABULARY.on_grid(grid, rule.expr, where=f"{source}: {rule.label}", when=rule.when, partial=rule.partial)


def _rules(source: str, data: dict[str, Any]) -> list[Rule]:
    """The [[rule]] tables, compiled, in file order."""
    raw_rules = entries(source, data, "rule")
    if not raw_rules:
        raise RulesError(f"{source}: no rules", hint="Add [[rule]] tables with stage, when and action.")
    rules = []
    for i, raw in enumerate(raw_rules, start=1):
        stage = raw.get("stage")
        label = f"rule #{i}" + (f" (stage {stage!r})" if isinstance(stage, str) and stage.strip() else "")
        check_keys(raw, _RULE_KEYS, where=f"{source}: {label} has", has="A rule has")
        stage = _text(source, label, raw, "stage", required=True)
        expr, partial = VOCABULARY.compile(
            raw.get("when"), where=f"{source}: {label}", example="churn_status = 'active'"
        )
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
    return rules


def _flags(source: str, data: dict[str, Any]) -> list[Flag]:
    """The [[flag]] tables, compiled, each with its own name."""
    flags: list[Flag] = []
    for i, raw in enumerate(entries(source, data, "flag"), start=1):
        name = raw.get("name")
        label = f"flag {name!r}" if isinstance(name, str) and name.strip() else f"flag #{i}"
        check_keys(raw, _FLAG_KEYS, where=f"{source}: {label} has", has="A flag has")
        name = _text(source, label, raw, "name", required=True)
        if ";" in name:
            raise RulesError(f"{source}: {label}: a flag name cannot hold ';' (it separates flags)")
        if any(f.name == name for f in flags):
            raise RulesError(f"{source}: flag {name!r} is defined twice", hint="Give each flag its own name.")
        expr, partial = VOCABULARY.compile(
            raw.get("when"), where=f"{source}: {label}", example="nps_category = 'promoter'"
        )
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
    return flags


def _check_grid(source: str, rules: list[Rule], flags: list[Flag]) -> None:
    """Every rule reachable, every kind of customer covered, every flag can be set."""
    grid = _grid(list(dict.fromkeys(r.stage for r in rules)))
    claims = Claims(grid.height)
    for rule in rules:
        may, sure = _evaluate(grid, source, rule)
        if not claims.add(may, sure):
            why = "earlier rules take every customer it matches" if any(may) else "no kind of customer matches it"
            raise RulesError(
                f"{source}: {rule.label} can never be reached: {why}",
                hint="Move it up, narrow the rules before it, or remove it.",
            )
    uncovered = claims.uncovered
    if uncovered:
        example = _describe_cell(grid.row(uncovered[0], named=True))
        raise RulesError(
            f"{source}: no rule covers {words.count(len(uncovered), 'kind')} of customer, e.g. {example}",
            hint='End the rules with a catch-all: [[rule]] with when = "true" (rules that test numbers such as '
            "orders cannot cover a kind of customer on their own).",
        )
    for flag in flags:
        may, _ = _evaluate(grid, source, flag)
        if not any(may):
            raise RulesError(
                f"{source}: {flag.label} can never be set: no kind of customer matches it",
                hint="Check the values it compares with, e.g. nps_category = 'detractor'.",
            )


def parse_lifecycle_rules(text: str, *, source: str) -> LifecycleRules:
    """Parse and check lifecycle rules (see the module docstring for the checks)."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="Lifecycle rules have")
    rules, flags = _rules(source, data), _flags(source, data)
    head = header(source, data)
    _check_grid(source, rules, flags)
    return LifecycleRules(source=source, **head, rules=tuple(rules), flags=tuple(flags))


def builtin_lifecycle_text() -> str:
    return builtin_text(DEFAULT_RULES)


def load_lifecycle_rules(spec: str | Path | None = None) -> LifecycleRules:
    """The built-in rules (``None`` or ``"lifecycle"``) or a TOML file."""
    text, source = rules_text(spec, default=DEFAULT_RULES, what="Lifecycle rules")
    return parse_lifecycle_rules(text, source=source)
