"""The one compiler of rule conditions (segment maps, lifecycle rules): text -> ``pl.Expr``. A condition is parsed
by the allow-listed grammar of :mod:`loyalty_cli.rules.grammar` (never SQL, never ``eval``), typed against the
real dtypes of the columns it may read, and checked when the rules load, so that every problem is an error
naming the file and the rule. :class:`Vocabulary` holds what one kind of rules file may read and checks its
conditions on a grid of every kind of customer (coverage and reachability, :class:`Claims`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from loyalty_cli.errors import RulesError
from loyalty_cli.rules.grammar import CONDITION_SYNTAX, ConditionError, Node, columns_of, parse

_FAMILY = {"int": "number", "float": "number", "text": "text", "bool": "true/false", "null": "null"}
_NOUN = {"number": "a number", "text": "text", "true/false": "true/false", "null": "null"}
_DTYPE = {"int": pl.Int64, "float": pl.Float64, "text": pl.String, "bool": pl.Boolean}
_ARGUMENTS = {"round": (1, 2), "least": (2, 99), "greatest": (2, 99), "coalesce": (1, 99)}  # others take 1
TYPE_HINT = "Compare text columns with quoted text (churn_status = 'active') and numbers with numbers (orders >= 5)."
_NOT_BOOL_HINT = 'Compare values, e.g. "r >= 4 and f = 1" or "churn_status = \'active\'".'


def _dtype_kind(dtype: pl.DataType) -> str | None:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or dtype.is_decimal():
        return "float"
    if dtype == pl.String or isinstance(dtype, pl.Enum | pl.Categorical):
        return "text"
    return None


class _Compiler:
    """Typed AST -> ``pl.Expr``: every operator checks the kinds (number, text, true/false) it is given."""

    def __init__(self, text: str, schema: Mapping[str, pl.DataType]) -> None:
        self.text = text
        self.schema = schema

    def show(self, node: Node) -> str:
        return self.text[node.start : node.end]

    def type_error(self, message: str) -> ConditionError:
        return ConditionError("type", message)

    def want(self, node: Node, kind: str, families: set[str], what: str) -> None:
        if kind == "null":
            raise self.type_error(f"{what} is null, which is never true or false; test for it with 'is null'")
        if _FAMILY[kind] not in families:
            needs = " or ".join(_NOUN[f] for f in sorted(families))
            raise self.type_error(f"{what} needs {needs}, but {self.show(node)} is {_NOUN[_FAMILY[kind]]}")

    def same(self, nodes: Sequence[Node], kinds: Sequence[str], what: str) -> str:
        """The common kind of values that must be alike (nulls allowed), e.g. both sides of a comparison."""
        known = [(n, k) for n, k in zip(nodes, kinds, strict=True) if k != "null"]
        for node, kind in known[1:]:
            if _FAMILY[kind] != _FAMILY[known[0][1]]:
                first = known[0][0]
                raise self.type_error(
                    f"{what} {self.show(first)} ({_NOUN[_FAMILY[known[0][1]]]}) with {self.show(node)} "
                    f"({_NOUN[_FAMILY[kind]]})"
                )
        if not known:
            return "null"
        return "float" if any(k == "float" for _, k in known) else known[0][1]

    def compile(self, node: Node) -> tuple[pl.Expr, str]:
        handler = getattr(self, f"c_{node.kind}")
        return handler(node)

    def c_lit(self, node: Node) -> tuple[pl.Expr, str]:
        value, kind = node.value
        return pl.lit(value, dtype=_DTYPE.get(kind, pl.Null)), kind

    def c_col(self, node: Node) -> tuple[pl.Expr, str]:
        dtype = self.schema[node.value]
        kind = _dtype_kind(dtype)
        if kind is None:
            raise self.type_error(f"column {node.value!r} holds {dtype}, which conditions cannot use")
        expr = pl.col(node.value)
        if kind == "int" and dtype != pl.Int64:  # no overflow in arithmetic on small or unsigned integers
            expr = expr.cast(pl.Int64)
        elif kind == "text" and dtype != pl.String:
            expr = expr.cast(pl.String)
        return expr, kind

    def c_and(self, node: Node) -> tuple[pl.Expr, str]:
        (left, lk), (right, rk) = (self.compile(a) for a in node.args)
        for arg, kind in zip(node.args, (lk, rk), strict=True):
            self.want(arg, kind, {"true/false"}, f"{node.value!r}")
        return (left & right) if node.kind == "and" else (left | right), "bool"

    c_or = c_and

    def c_not(self, node: Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"true/false"}, "'not'")
        return ~expr, "bool"

    def c_cmp(self, node: Node) -> tuple[pl.Expr, str]:
        (left, lk), (right, rk) = (self.compile(a) for a in node.args)
        if "null" in (lk, rk):
            raise self.type_error(f"{self.show(node)} compares with null, which is never true; write 'x is null'")
        self.same(node.args, (lk, rk), "it compares")
        ops = {
            "=": left.eq,
            "<>": left.ne,
            "<": left.lt,
            "<=": left.le,
            ">": left.gt,
            ">=": left.ge,
        }
        return ops[node.value](right), "bool"

    def c_arith(self, node: Node) -> tuple[pl.Expr, str]:
        (left, lk), (right, rk) = (self.compile(a) for a in node.args)
        for arg, kind in zip(node.args, (lk, rk), strict=True):
            self.want(arg, kind, {"number"}, f"{node.value!r}")
        kind = "int" if lk == rk == "int" else "float"
        if node.value in ("+", "-", "*") and kind == "int":
            # Whole numbers are added and multiplied as Float64: exact below 2**53 and never wrapping around
            # (Int64 would: orders * 4611686018427387904 turned negative for some customers).
            left, right, kind = left.cast(pl.Float64), right.cast(pl.Float64), "float"
        if node.value == "+":
            return left + right, kind
        if node.value == "-":
            return left - right, kind
        if node.value == "*":
            return left * right, kind
        if node.value == "/":  # true division, as SQL in Polars did: 7 / 2 = 3.5
            return left / right, "float"
        # remainder with the sign of the dividend (SQL), empty when dividing by zero
        return pl.when(right != 0).then(left.abs() % right.abs() * left.sign()), kind

    def c_neg(self, node: Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"number"}, "'-'")
        return -expr, kind

    def c_pos(self, node: Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"number"}, "'+'")
        return expr, kind

    def c_isnull(self, node: Node) -> tuple[pl.Expr, str]:
        expr, _ = self.compile(node.args[0])
        return (expr.is_not_null() if node.value else expr.is_null()), "bool"

    def c_in(self, node: Node) -> tuple[pl.Expr, str]:
        compiled = [self.compile(a) for a in node.args]
        kind = self.same(node.args, [k for _, k in compiled], "'in' compares")
        expr = compiled[0][0]
        values = [a.value[0] for a in node.args[1:] if a.value[0] is not None]
        if kind == "null":
            hit = pl.lit(None, dtype=pl.Boolean)
        else:
            dtype = _DTYPE[kind]
            hit = expr.cast(dtype).is_in(pl.Series(values, dtype=dtype).implode())
            if len(values) < len(node.args) - 1:  # SQL: x in (1, null) is null, not false, when x is not 1
                hit = hit | pl.lit(None, dtype=pl.Boolean)
        return (~hit if node.value else hit), "bool"

    def c_between(self, node: Node) -> tuple[pl.Expr, str]:
        (expr, kind), (low, lowk), (high, highk) = (self.compile(a) for a in node.args)
        for arg, k in zip(node.args, (kind, lowk, highk), strict=True):
            if k == "null":
                raise self.type_error(f"{self.show(arg)} in {self.show(node)} is null, which is never true")
        self.same(node.args, (kind, lowk, highk), "'between' compares")
        hit = (expr >= low) & (expr <= high)
        return (~hit if node.value else hit), "bool"

    def c_call(self, node: Node) -> tuple[pl.Expr, str]:
        args = self.call_arguments(node)
        compiled = [self.compile(a) for a in args]
        if node.value in ("lower", "upper", "trim", "length"):
            return self.call_text(node.value, args, compiled)
        if node.value in ("abs", "round"):
            return self.call_number(node, args, compiled)
        return self.call_combine(node, args, compiled)

    def call_arguments(self, node: Node) -> tuple[Node, ...]:
        """The arguments of a function call to compile, once their number is checked (and round()'s digits,
        a literal that is not compiled)."""
        name, args = node.value, node.args
        low, high = _ARGUMENTS.get(name, (1, 1))
        if not low <= len(args) <= high:
            many = f"{low}" if low == high else (f"{low} or {high}" if high < 99 else f"at least {low}")
            raise self.type_error(
                f"{name}() takes {many} argument{'' if high == 1 else 's'}, got {len(args)} in {self.show(node)}"
            )
        if name == "round" and len(args) == 2:
            digits = args[1]
            if digits.kind != "lit" or digits.value[1] != "int" or not 0 <= digits.value[0] <= 15:
                raise self.type_error(f"round()'s digits must be a whole number 0 to 15, got {self.show(digits)}")
            return args[:1]
        return args

    def call_text(
        self, name: str, args: Sequence[Node], compiled: Sequence[tuple[pl.Expr, str]]
    ) -> tuple[pl.Expr, str]:
        """lower(), upper(), trim(), length() of text."""
        self.want(args[0], compiled[0][1], {"text"}, f"{name}()")
        text = compiled[0][0].str
        if name == "length":
            return text.len_chars().cast(pl.Int64), "int"
        return {"lower": text.to_lowercase, "upper": text.to_uppercase, "trim": text.strip_chars}[name](), "text"

    def call_number(
        self, node: Node, args: Sequence[Node], compiled: Sequence[tuple[pl.Expr, str]]
    ) -> tuple[pl.Expr, str]:
        """abs() and round() of a number (round half away from zero, as SQL)."""
        (expr, kind), name = compiled[0], node.value
        self.want(args[0], kind, {"number"}, f"{name}()")
        if name == "abs":
            return expr.abs(), kind
        if kind == "int":
            return expr, "int"
        digits = node.args[1].value[0] if len(node.args) == 2 else 0
        return expr.round(digits, mode="half_away_from_zero"), "float"

    def call_combine(
        self, node: Node, args: Sequence[Node], compiled: Sequence[tuple[pl.Expr, str]]
    ) -> tuple[pl.Expr, str]:
        """least(), greatest() and coalesce() of values of one kind."""
        name, kinds = node.value, [k for _, k in compiled]
        kind = self.same(args, kinds, f"{name}() mixes")
        if kind == "null":
            raise self.type_error(f"{self.show(node)} is always null")
        if name != "coalesce":
            for arg, k in zip(args, kinds, strict=True):
                self.want(arg, k, {"number", "text"}, f"{name}()")
        exprs = [e.cast(_DTYPE[kind]) for e, _ in compiled]
        combine = {"least": pl.min_horizontal, "greatest": pl.max_horizontal, "coalesce": pl.coalesce}[name]
        return combine(exprs), kind


def _probe(schema: Mapping[str, pl.DataType], columns: Collection[str]) -> pl.DataFrame:
    """Three rows with the real dtypes (empty, zero-like, one-like) to evaluate a condition on at load time."""
    data = {}
    for name in columns:
        dtype = schema[name]
        kind = _dtype_kind(dtype)
        values = {"bool": [None, False, True], "text": [None, "", "a"]}.get(kind or "", [None, 0, 1])
        data[name] = pl.Series(name, values if kind is not None else [None] * 3, dtype=dtype)
    return pl.DataFrame(data or {"_": [None] * 3})


def compile_condition(
    when: object,
    *,
    where: str,
    columns: Mapping[str, pl.DataType],
    example: str,
    syntax_hint: str,
    columns_hint: str,
) -> tuple[pl.Expr, set[str]]:
    """A rule's condition as an expression, and the columns it reads. ``columns`` maps the columns a condition
    may use to their dtypes. The condition language is allow-listed (:data:`CONDITION_SYNTAX`), parsed here
    and typed against ``columns``: never SQL, never ``eval``. ``where`` names the file and the rule in every
    error (e.g. ``my.toml: rule 'A'``)."""
    if not isinstance(when, str) or not when.strip():
        raise RulesError(f"{where} has no condition", hint=f"Add when = {example!r}.")
    try:
        tree = parse(when)
        roots = set(columns_of(tree))
        bad = sorted(roots - set(columns))
        if bad:
            raise RulesError(f"{where}: unknown column(s) {', '.join(map(repr, bad))} in {when!r}", hint=columns_hint)
        expr, kind = _Compiler(when, columns).compile(tree)
    except ConditionError as exc:
        if exc.kind == "type":
            raise RulesError(f"{where}: condition {when!r} cannot be evaluated: {exc.detail}", hint=TYPE_HINT) from None
        if exc.kind == "forbidden":
            raise RulesError(
                f"{where}: condition {when!r} is not allowed: {exc.detail}",
                hint="Conditions are not SQL: no queries, casts or file and table functions. " + CONDITION_SYNTAX,
            ) from None
        raise RulesError(f"{where}: cannot read condition {when!r} ({exc.detail})", hint=syntax_hint) from None
    except RecursionError:  # the depth limits should stop this first; never a traceback if one is missed
        raise RulesError(f"{where}: condition {when!r} is nested too deeply", hint=syntax_hint) from None
    if kind != "bool":
        raise RulesError(
            f"{where}: condition {when!r} is not true/false",
            hint=_NOT_BOOL_HINT,
        )
    try:  # types are checked above; this catches whatever Polars still refuses on the real dtypes
        _probe(columns, roots).select(expr.alias("hit"))
    except pl.exceptions.PolarsError as exc:
        raise RulesError(
            f"{where}: condition {when!r} cannot be evaluated ({str(exc).splitlines()[0]})", hint=TYPE_HINT
        ) from None
    return expr, roots


def evaluate_condition(grid: pl.DataFrame, expr: pl.Expr, *, where: str, when: str, hint: str) -> pl.Series:
    """A compiled condition on every row of a check grid: true/false/null per row (a constant is spread to
    every row); an error names the file and the rule when it cannot be evaluated or is not true/false."""
    try:
        out = grid.select(expr.alias("hit")).to_series()
    except pl.exceptions.PolarsError as exc:
        raise RulesError(
            f"{where}: condition {when!r} cannot be evaluated ({str(exc).splitlines()[0]})", hint=hint
        ) from None
    if out.dtype != pl.Boolean:
        raise RulesError(
            f"{where}: condition {when!r} is not true/false",
            hint=_NOT_BOOL_HINT,
        )
    if out.len() == 1:
        out = pl.Series("hit", [out[0]] * grid.height, dtype=pl.Boolean)
    return out


@dataclass(frozen=True)
class Vocabulary:
    """What the conditions of one kind of rules file may read, and how they are checked on its grid.

    ``columns``: the columns a condition may use, with their real dtypes (conditions are typed against them).
    ``exact``: the columns the check grid enumerates; a condition that reads any other column (a number, a
    summary column) is *partial*: unknown on the grid, it "may hold" on a cell but never surely holds.
    ``syntax_hint``, ``columns_hint`` and ``grid_hint``: the hints of a condition that does not read, reads an
    unknown column, or cannot be evaluated on the grid."""

    columns: Mapping[str, pl.DataType]
    exact: frozenset[str]
    syntax_hint: str
    columns_hint: str
    grid_hint: str

    def compile(self, when: object, *, where: str, example: str) -> tuple[pl.Expr, bool]:
        """The compiled condition (:func:`compile_condition`) and whether it is partial."""
        expr, roots = compile_condition(
            when,
            where=where,
            columns=self.columns,
            example=example,
            syntax_hint=self.syntax_hint,
            columns_hint=self.columns_hint,
        )
        return expr, bool(roots - self.exact)

    def on_grid(
        self, grid: pl.DataFrame, expr: pl.Expr, *, where: str, when: str, partial: bool
    ) -> tuple[list[bool], list[bool]]:
        """(may hold, surely holds) per cell of the check ``grid``; columns it lacks are null (unknown)."""
        missing = [c for c in self.columns if c not in grid.columns]
        if missing:
            grid = grid.with_columns(pl.lit(None, dtype=self.columns[c]).alias(c) for c in missing)
        out = evaluate_condition(grid, expr, where=where, when=when, hint=self.grid_hint)
        may = [bool(v) for v in out.fill_null(partial)]
        sure = [False] * grid.height if partial else [bool(v) for v in out.fill_null(False)]
        return may, sure


class Claims:
    """Ordered rules on a check grid, where the first rule that holds wins: the cells taken so far. Add the
    rules in order; a rule is reachable when it may hold on a cell no earlier rule surely took."""

    def __init__(self, cells: int) -> None:
        self.claimed = [False] * cells

    def add(self, may: Sequence[bool], sure: Sequence[bool]) -> bool:
        """Add the next rule (its :meth:`Vocabulary.on_grid`); whether it is reachable."""
        reachable = any(m and not c for m, c in zip(may, self.claimed, strict=True))
        self.claimed = [c or s for c, s in zip(self.claimed, sure, strict=True)]
        return reachable

    @property
    def uncovered(self) -> list[int]:
        """The cells no rule surely holds on."""
        return [i for i, c in enumerate(self.claimed) if not c]
