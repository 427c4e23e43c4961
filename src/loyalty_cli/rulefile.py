"""Rules files (segment maps, churn rules, lifecycle rules): the built-in ones shipped with the package, or
the user's TOML, read and parsed with the same errors everywhere (file, key, hint); and the one compiler of
their conditions (:func:`compile_condition`), an allow-listed expression language, never SQL or ``eval``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from loyalty_cli.errors import LoyaltyError, RulesError


def builtin_text(name: str) -> str:
    """The text of a built-in rules file (``src/loyalty_cli/rules/NAME.toml``)."""
    return (resources.files("loyalty_cli") / "rules" / f"{name}.toml").read_text(encoding="utf-8")


def read_text(path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError) -> str:
    """The text of a user's file (rules, column mapping, pipeline); missing, unreadable, binary or not UTF-8
    raises ``error`` with a hint."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(
            f"{what} file not found: {path}", hint=hint or "Check the file name and the folder you run loyalty from."
        ) from None
    except OSError as exc:
        raise error(
            f"Could not read {what.lower()} {path}: {exc.strerror or exc}", hint="Pass a TOML file that you can read."
        ) from None
    utf8 = "Rules, mapping and pipeline files are UTF-8 text (TOML): save it as UTF-8 in a text editor"
    if b"\x00" in raw:
        raise error(
            f"Could not read {what.lower()} {path}: it is not a text file (it contains NUL bytes)",
            hint=f"{utf8}, or pass the .toml file you meant.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"Could not read {what.lower()} {path}: it is not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
            f"{exc.start})",
            hint=f"{utf8} (Save As, encoding UTF-8).",
        ) from None


def read_toml(
    path: Path, *, what: str, hint: str | None = None, error: type[LoyaltyError] = RulesError
) -> dict[str, Any]:
    """A user's TOML file, parsed; missing, unreadable or invalid raises ``error`` naming the file."""
    text = read_text(path, what=what, hint=hint, error=error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None


def rules_text(spec: str | Path | None, *, default: str, what: str) -> tuple[str, str]:
    """(text, source) of the built-in rules ``default`` (``spec`` None or that name) or of the user's file."""
    if spec is None or str(spec) == default:
        return builtin_text(default), f"built-in {default}"
    hint = f"Copy rules/{default}.toml, edit it and pass its path; or leave --rules out for the built-in rules."
    return read_text(Path(spec), what=what, hint=hint), str(spec)


def parse_toml(text: str, *, source: str, keys: set[str], has: str) -> dict[str, Any]:
    """Parse a rules file and refuse unknown top-level keys (``has``: e.g. "Churn rules have")."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source} is not valid TOML: {exc}", hint="Check quotes and brackets.") from None
    unknown = set(data) - keys
    if unknown:
        raise RulesError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))}", hint=f"{has} {', '.join(sorted(keys))}."
        )
    return data


# ------------------------------------------------------------------------------------------------ conditions
# A rule's condition is a small expression language, not SQL: our own tokenizer and recursive-descent parser
# build a Polars expression directly, so a condition can only read the summary's columns (never a file, a URL
# or a table function) and every type error is found when the rules load.
FUNCTIONS = ("abs", "round", "least", "greatest", "coalesce", "lower", "upper", "trim", "length")
CONDITION_SYNTAX = (
    "Conditions use columns, numbers, 'text', true, false, = <> < <= > >=, and, or, not, + - * / %, "
    "parentheses, in (...), between ... and ..., is [not] null, and the functions " + ", ".join(FUNCTIONS) + "."
)
_KEYWORDS = {"and", "or", "not", "in", "between", "is", "null", "true", "false"}
# SQL words with no place in a condition: named in the error so that "SELECT" or "CAST" is not a puzzle
_SQL_WORDS = {
    "select", "from", "where", "cast", "try_cast", "case", "when", "then", "else", "end", "like", "ilike",
    "exists", "union", "join", "with", "as", "distinct", "group", "order", "by", "limit", "having", "over",
    "interval", "any", "all", "some", "values", "table", "similar", "escape", "collate", "filter",
}  # fmt: skip
_MAX_DEPTH = 64  # parentheses and prefix operators, while parsing
_MAX_TREE = 200  # operators on one path of the parsed condition (a chain of 'and' counts each one)
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|<>|!=|==|[=<>+\-*/%(),]))"
)
_NUMBER = {"int", "float"}
_FAMILY = {"int": "number", "float": "number", "text": "text", "bool": "true/false", "null": "null"}
_NOUN = {"number": "a number", "text": "text", "true/false": "true/false", "null": "null"}


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, name, op, end
    text: str
    pos: int  # 0-based offset in the condition

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


@dataclass(frozen=True)
class _Node:
    kind: str  # col, lit, and, or, not, cmp, arith, neg, in, between, isnull, call
    start: int
    end: int
    value: Any = None  # column or function name, literal, operator; negated for in/between/isnull
    args: tuple[_Node, ...] = ()


class _ConditionError(Exception):
    """A problem in a condition: ``kind`` is syntax, forbidden, column or type."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _tokens(text: str) -> list[_Token]:
    out, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return [*out, _Token("end", "", pos)]
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            if text[pos] == "'":
                raise _ConditionError("syntax", f"the text starting at character {pos + 1} has no closing quote")
            raise _ConditionError("syntax", f"unexpected {text[pos]!r} at character {pos + 1}")
        out.append(_Token(match.lastgroup, match[match.lastgroup], match.start(match.lastgroup)))
        pos = match.end()


class _Parser:
    """Recursive descent, lowest precedence first: or, and, not, predicate (comparison, in, between, is null),
    + -, * / %, unary minus, primary (literal, column, function call, parentheses)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, *words: str) -> _Token | None:
        tok = self.tok
        if (tok.kind == "op" and tok.text in words) or (tok.word and tok.word in words):
            return self.take()
        return None

    def fail(self, expected: str) -> _ConditionError:
        tok = self.tok
        if tok.kind == "end":
            last = self.tokens[self.i - 1].text if self.i else ""
            return _ConditionError("syntax", f"it ends after {last!r}, expected {expected}")
        if tok.word in _SQL_WORDS:
            return _ConditionError("forbidden", f"{tok.text!r} is SQL, which conditions cannot use")
        return _ConditionError("syntax", f"unexpected {tok.text!r} at character {tok.pos + 1}, expected {expected}")

    def expect(self, word: str) -> _Token:
        tok = self.accept(word)
        if tok is None:
            raise self.fail(repr(word))
        return tok

    def parse(self) -> _Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail("'and', 'or' or the end")
        depth, stack = 0, [(node, 1)]
        while stack:
            top, level = stack.pop()
            depth = max(depth, level)
            stack.extend((arg, level + 1) for arg in top.args)
        if depth > _MAX_TREE:
            raise _ConditionError("syntax", f"it has more than {_MAX_TREE} operators in a row; split it over rules")
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _ConditionError("syntax", f"it is nested more than {_MAX_DEPTH} levels deep")

    def binary(self, kind: str, words: tuple[str, ...], operand: Any) -> _Node:
        node = operand()
        while (tok := self.accept(*words)) is not None:
            right = operand()
            node = _Node(kind, node.start, right.end, tok.text.lower(), (node, right))
        return node

    def or_(self) -> _Node:
        return self.binary("or", ("or",), self.and_)

    def and_(self) -> _Node:
        return self.binary("and", ("and",), self.not_)

    def not_(self) -> _Node:
        tok = self.accept("not")
        if tok is None:
            return self.predicate()
        self.nested()
        operand = self.not_()
        self.depth -= 1
        return _Node("not", tok.pos, operand.end, None, (operand,))

    def predicate(self) -> _Node:
        left = self.additive()
        if (tok := self.accept("=", "==", "!=", "<>", "<", "<=", ">", ">=")) is not None:
            right = self.additive()
            op = {"==": "=", "!=": "<>"}.get(tok.text, tok.text)
            return _Node("cmp", left.start, right.end, op, (left, right))
        if (tok := self.accept("is")) is not None:
            negated = self.accept("not") is not None
            end = self.expect("null")
            return _Node("isnull", left.start, end.pos + len(end.text), negated, (left,))
        negated = self.accept("not") is not None
        if self.accept("in") is not None:
            self.expect("(")
            items = [self.literal()]
            while self.accept(",") is not None:
                items.append(self.literal())
            end = self.expect(")")
            return _Node("in", left.start, end.pos + 1, negated, (left, *items))
        if self.accept("between") is not None:
            low = self.literal()
            self.expect("and")
            high = self.literal()
            return _Node("between", left.start, high.end, negated, (left, low, high))
        if negated:
            raise self.fail("'in' or 'between' after 'not'")
        return left

    def literal(self) -> _Node:
        """A literal in an in-list or a between: a number (with its sign), 'text', true, false or null."""
        start = self.tok.pos
        sign = self.accept("-", "+")
        tok = self.tok
        if tok.kind == "num" or (sign is None and (tok.kind == "str" or tok.word in ("true", "false", "null"))):
            node = self.primary()
            if sign is not None and sign.text == "-":
                value, kind = node.value
                return _Node("lit", start, node.end, (-value, kind))
            return node
        raise self.fail("a number, 'text', true, false or null (a list of values, not a query)")

    def additive(self) -> _Node:
        return self.binary("arith", ("+", "-"), self.multiplicative)

    def multiplicative(self) -> _Node:
        return self.binary("arith", ("*", "/", "%"), self.unary)

    def unary(self) -> _Node:
        tok = self.accept("-", "+")
        if tok is None:
            return self.primary()
        self.nested()
        operand = self.unary()
        self.depth -= 1
        return _Node("neg" if tok.text == "-" else "pos", tok.pos, operand.end, None, (operand,))

    def primary(self) -> _Node:
        tok = self.tok
        end = tok.pos + len(tok.text)
        if tok.kind == "num":
            self.take()
            is_int = tok.text.isdigit()
            value = int(tok.text) if is_int else float(tok.text)
            if is_int and value >= 2**63:
                raise _ConditionError("syntax", f"the number {tok.text} is too large")
            return _Node("lit", tok.pos, end, (value, "int" if is_int else "float"))
        if tok.kind == "str":
            self.take()
            return _Node("lit", tok.pos, end, (tok.text[1:-1].replace("''", "'"), "text"))
        if tok.word in ("true", "false"):
            self.take()
            return _Node("lit", tok.pos, end, (tok.word == "true", "bool"))
        if tok.word == "null":
            self.take()
            return _Node("lit", tok.pos, end, (None, "null"))
        if self.accept("(") is not None:
            self.nested()
            node = self.or_()
            self.depth -= 1
            close = self.expect(")")
            return replace(node, start=tok.pos, end=close.pos + 1)
        if tok.kind == "name" and tok.word not in _KEYWORDS:
            if tok.word in _SQL_WORDS:
                raise self.fail("a value")
            self.take()
            if self.accept("(") is None:
                return _Node("col", tok.pos, end, tok.text)
            if tok.word not in FUNCTIONS:
                raise _ConditionError("forbidden", f"{tok.text!r} is not a function conditions can use")
            args = []
            self.nested()  # a call nests as parentheses do: its arguments count towards the depth limit
            if self.tok.text != ")":
                args.append(self.or_())
                while self.accept(",") is not None:
                    args.append(self.or_())
            self.depth -= 1
            close = self.expect(")")
            return _Node("call", tok.pos, close.pos + 1, tok.word, tuple(args))
        raise self.fail("a column, a number or 'text'")


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

    def show(self, node: _Node) -> str:
        return self.text[node.start : node.end]

    def type_error(self, message: str) -> _ConditionError:
        return _ConditionError("type", message)

    def want(self, node: _Node, kind: str, families: set[str], what: str) -> None:
        if kind == "null":
            raise self.type_error(f"{what} is null, which is never true or false; test for it with 'is null'")
        if _FAMILY[kind] not in families:
            needs = " or ".join(_NOUN[f] for f in sorted(families))
            raise self.type_error(f"{what} needs {needs}, but {self.show(node)} is {_NOUN[_FAMILY[kind]]}")

    def same(self, nodes: Sequence[_Node], kinds: Sequence[str], what: str) -> str:
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

    def compile(self, node: _Node) -> tuple[pl.Expr, str]:
        handler = getattr(self, f"c_{node.kind}")
        return handler(node)

    def c_lit(self, node: _Node) -> tuple[pl.Expr, str]:
        value, kind = node.value
        dtype = {"int": pl.Int64, "float": pl.Float64, "text": pl.String, "bool": pl.Boolean, "null": pl.Null}[kind]
        return pl.lit(value, dtype=dtype), kind

    def c_col(self, node: _Node) -> tuple[pl.Expr, str]:
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

    def c_and(self, node: _Node) -> tuple[pl.Expr, str]:
        (left, lk), (right, rk) = (self.compile(a) for a in node.args)
        for arg, kind in zip(node.args, (lk, rk), strict=True):
            self.want(arg, kind, {"true/false"}, f"{node.value!r}")
        return (left & right) if node.kind == "and" else (left | right), "bool"

    c_or = c_and

    def c_not(self, node: _Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"true/false"}, "'not'")
        return ~expr, "bool"

    def c_cmp(self, node: _Node) -> tuple[pl.Expr, str]:
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

    def c_arith(self, node: _Node) -> tuple[pl.Expr, str]:
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

    def c_neg(self, node: _Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"number"}, "'-'")
        return -expr, kind

    def c_pos(self, node: _Node) -> tuple[pl.Expr, str]:
        expr, kind = self.compile(node.args[0])
        self.want(node.args[0], kind, {"number"}, "'+'")
        return expr, kind

    def c_isnull(self, node: _Node) -> tuple[pl.Expr, str]:
        expr, _ = self.compile(node.args[0])
        return (expr.is_not_null() if node.value else expr.is_null()), "bool"

    def c_in(self, node: _Node) -> tuple[pl.Expr, str]:
        compiled = [self.compile(a) for a in node.args]
        kind = self.same(node.args, [k for _, k in compiled], "'in' compares")
        expr = compiled[0][0]
        values = [a.value[0] for a in node.args[1:] if a.value[0] is not None]
        if kind == "null":
            hit = pl.lit(None, dtype=pl.Boolean)
        else:
            dtype = {"int": pl.Int64, "float": pl.Float64, "text": pl.String, "bool": pl.Boolean}[kind]
            hit = expr.cast(dtype).is_in(pl.Series(values, dtype=dtype).implode())
            if len(values) < len(node.args) - 1:  # SQL: x in (1, null) is null, not false, when x is not 1
                hit = hit | pl.lit(None, dtype=pl.Boolean)
        return (~hit if node.value else hit), "bool"

    def c_between(self, node: _Node) -> tuple[pl.Expr, str]:
        (expr, kind), (low, lowk), (high, highk) = (self.compile(a) for a in node.args)
        for arg, k in zip(node.args, (kind, lowk, highk), strict=True):
            if k == "null":
                raise self.type_error(f"{self.show(arg)} in {self.show(node)} is null, which is never true")
        self.same(node.args, (kind, lowk, highk), "'between' compares")
        hit = (expr >= low) & (expr <= high)
        return (~hit if node.value else hit), "bool"

    def c_call(self, node: _Node) -> tuple[pl.Expr, str]:
        name, args = node.value, node.args
        counts = {"round": (1, 2), "least": (2, 99), "greatest": (2, 99), "coalesce": (1, 99)}
        low, high = counts.get(name, (1, 1))
        if not low <= len(args) <= high:
            many = f"{low}" if low == high else (f"{low} or {high}" if high < 99 else f"at least {low}")
            raise self.type_error(
                f"{name}() takes {many} argument{'' if high == 1 else 's'}, got {len(args)} in {self.show(node)}"
            )
        if name == "round" and len(args) == 2:
            digits = args[1]
            if digits.kind != "lit" or digits.value[1] != "int" or not 0 <= digits.value[0] <= 15:
                raise self.type_error(f"round()'s digits must be a whole number 0 to 15, got {self.show(digits)}")
            args = args[:1]
        compiled = [self.compile(a) for a in args]
        exprs, kinds = [e for e, _ in compiled], [k for _, k in compiled]
        if name in ("lower", "upper", "trim", "length"):
            self.want(args[0], kinds[0], {"text"}, f"{name}()")
            text = exprs[0].str
            if name == "length":
                return text.len_chars().cast(pl.Int64), "int"
            return {"lower": text.to_lowercase, "upper": text.to_uppercase, "trim": text.strip_chars}[name](), "text"
        if name in ("abs", "round"):
            self.want(args[0], kinds[0], {"number"}, f"{name}()")
            if name == "abs":
                return exprs[0].abs(), kinds[0]
            if kinds[0] == "int":
                return exprs[0], "int"
            digits = node.args[1].value[0] if len(node.args) == 2 else 0
            return exprs[0].round(digits, mode="half_away_from_zero"), "float"
        kind = self.same(args, kinds, f"{name}() mixes")
        if kind == "null":
            raise self.type_error(f"{self.show(node)} is always null")
        if name != "coalesce":
            for arg, k in zip(args, kinds, strict=True):
                self.want(arg, k, {"number", "text"}, f"{name}()")
        dtype = {"int": pl.Int64, "float": pl.Float64, "text": pl.String, "bool": pl.Boolean}[kind]
        exprs = [e.cast(dtype) for e in exprs]
        combine = {"least": pl.min_horizontal, "greatest": pl.max_horizontal, "coalesce": pl.coalesce}[name]
        return combine(exprs), kind


def _columns_of(node: _Node) -> list[str]:
    if node.kind == "col":
        return [node.value]
    return [c for arg in node.args for c in _columns_of(arg)]


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
    type_hint = (
        "Compare text columns with quoted text (churn_status = 'active') and numbers with numbers (orders >= 5)."
    )
    try:
        tree = _Parser(when).parse()
        roots = set(_columns_of(tree))
        bad = sorted(roots - set(columns))
        if bad:
            raise RulesError(f"{where}: unknown column(s) {', '.join(map(repr, bad))} in {when!r}", hint=columns_hint)
        expr, kind = _Compiler(when, columns).compile(tree)
    except _ConditionError as exc:
        if exc.kind == "type":
            raise RulesError(f"{where}: condition {when!r} cannot be evaluated: {exc.detail}", hint=type_hint) from None
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
            hint='Compare values, e.g. "r >= 4 and f = 1" or "churn_status = \'active\'".',
        )
    try:  # types are checked above; this catches whatever Polars still refuses on the real dtypes
        _probe(columns, roots).select(expr.alias("hit"))
    except pl.exceptions.PolarsError as exc:
        raise RulesError(
            f"{where}: condition {when!r} cannot be evaluated ({str(exc).splitlines()[0]})", hint=type_hint
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
            hint='Compare values, e.g. "r >= 4 and f = 1" or "churn_status = \'active\'".',
        )
    if out.len() == 1:
        out = pl.Series("hit", [out[0]] * grid.height, dtype=pl.Boolean)
    return out
