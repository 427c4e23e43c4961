"""The language of rule conditions: tokens, syntax tree and a recursive-descent parser. A small expression
language, not SQL: our own tokenizer and parser, so a condition can only be what this grammar allows (columns,
literals, operators, a few functions), never a query, a file, a URL or a table function. The syntax tree is
typed and compiled to a Polars expression by :mod:`loyalty_cli.rules.conditions`, the one entrance."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

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


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, name, op, end
    text: str
    pos: int  # 0-based offset in the condition

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


@dataclass(frozen=True)
class Node:
    kind: str  # col, lit, and, or, not, cmp, arith, neg, in, between, isnull, call
    start: int
    end: int
    value: Any = None  # column or function name, literal, operator; negated for in/between/isnull
    args: tuple[Node, ...] = ()


class ConditionError(Exception):
    """A problem in a condition: ``kind`` is syntax, forbidden, column or type."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _tokens(text: str) -> list[Token]:
    out, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return [*out, Token("end", "", pos)]
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            if text[pos] == "'":
                raise ConditionError("syntax", f"the text starting at character {pos + 1} has no closing quote")
            raise ConditionError("syntax", f"unexpected {text[pos]!r} at character {pos + 1}")
        out.append(Token(match.lastgroup, match[match.lastgroup], match.start(match.lastgroup)))
        pos = match.end()


class Parser:
    """Recursive descent, lowest precedence first: or, and, not, predicate (comparison, in, between, is null),
    + -, * / %, unary minus, primary (literal, column, function call, parentheses)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, *words: str) -> Token | None:
        tok = self.tok
        if (tok.kind == "op" and tok.text in words) or (tok.word and tok.word in words):
            return self.take()
        return None

    def fail(self, expected: str) -> ConditionError:
        tok = self.tok
        if tok.kind == "end":
            last = self.tokens[self.i - 1].text if self.i else ""
            return ConditionError("syntax", f"it ends after {last!r}, expected {expected}")
        if tok.word in _SQL_WORDS:
            return ConditionError("forbidden", f"{tok.text!r} is SQL, which conditions cannot use")
        return ConditionError("syntax", f"unexpected {tok.text!r} at character {tok.pos + 1}, expected {expected}")

    def expect(self, word: str) -> Token:
        tok = self.accept(word)
        if tok is None:
            raise self.fail(repr(word))
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail("'and', 'or' or the end")
        depth, stack = 0, [(node, 1)]
        while stack:
            top, level = stack.pop()
            depth = max(depth, level)
            stack.extend((arg, level + 1) for arg in top.args)
        if depth > _MAX_TREE:
            raise ConditionError("syntax", f"it has more than {_MAX_TREE} operators in a row; split it over rules")
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ConditionError("syntax", f"it is nested more than {_MAX_DEPTH} levels deep")

    def binary(self, kind: str, words: tuple[str, ...], operand: Any) -> Node:
        node = operand()
        while (tok := self.accept(*words)) is not None:
            right = operand()
            node = Node(kind, node.start, right.end, tok.text.lower(), (node, right))
        return node

    def or_(self) -> Node:
        return self.binary("or", ("or",), self.and_)

    def and_(self) -> Node:
        return self.binary("and", ("and",), self.not_)

    def not_(self) -> Node:
        tok = self.accept("not")
        if tok is None:
            return self.predicate()
        self.nested()
        operand = self.not_()
        self.depth -= 1
        return Node("not", tok.pos, operand.end, None, (operand,))

    def predicate(self) -> Node:
        left = self.additive()
        if (tok := self.accept("=", "==", "!=", "<>", "<", "<=", ">", ">=")) is not None:
            right = self.additive()
            op = {"==": "=", "!=": "<>"}.get(tok.text, tok.text)
            return Node("cmp", left.start, right.end, op, (left, right))
        if (tok := self.accept("is")) is not None:
            negated = self.accept("not") is not None
            end = self.expect("null")
            return Node("isnull", left.start, end.pos + len(end.text), negated, (left,))
        negated = self.accept("not") is not None
        if self.accept("in") is not None:
            self.expect("(")
            items = [self.literal()]
            while self.accept(",") is not None:
                items.append(self.literal())
            end = self.expect(")")
            return Node("in", left.start, end.pos + 1, negated, (left, *items))
        if self.accept("between") is not None:
            low = self.literal()
            self.expect("and")
            high = self.literal()
            return Node("between", left.start, high.end, negated, (left, low, high))
        if negated:
            raise self.fail("'in' or 'between' after 'not'")
        return left

    def literal(self) -> Node:
        """A literal in an in-list or a between: a number (with its sign), 'text', true, false or null."""
        start = self.tok.pos
        sign = self.accept("-", "+")
        tok = self.tok
        if tok.kind == "num" or (sign is None and (tok.kind == "str" or tok.word in ("true", "false", "null"))):
            node = self.primary()
            if sign is not None and sign.text == "-":
                value, kind = node.value
                return Node("lit", start, node.end, (-value, kind))
            return node
        raise self.fail("a number, 'text', true, false or null (a list of values, not a query)")

    def additive(self) -> Node:
        return self.binary("arith", ("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self.binary("arith", ("*", "/", "%"), self.unary)

    def unary(self) -> Node:
        tok = self.accept("-", "+")
        if tok is None:
            return self.primary()
        self.nested()
        operand = self.unary()
        self.depth -= 1
        return Node("neg" if tok.text == "-" else "pos", tok.pos, operand.end, None, (operand,))

    def primary(self) -> Node:
        tok = self.tok
        end = tok.pos + len(tok.text)
        if tok.kind == "num":
            self.take()
            is_int = tok.text.isdigit()
            value = int(tok.text) if is_int else float(tok.text)
            if is_int and value >= 2**63:
                raise ConditionError("syntax", f"the number {tok.text} is too large")
            return Node("lit", tok.pos, end, (value, "int" if is_int else "float"))
        if tok.kind == "str":
            self.take()
            return Node("lit", tok.pos, end, (tok.text[1:-1].replace("''", "'"), "text"))
        if tok.word in ("true", "false"):
            self.take()
            return Node("lit", tok.pos, end, (tok.word == "true", "bool"))
        if tok.word == "null":
            self.take()
            return Node("lit", tok.pos, end, (None, "null"))
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
                return Node("col", tok.pos, end, tok.text)
            if tok.word not in FUNCTIONS:
                raise ConditionError("forbidden", f"{tok.text!r} is not a function conditions can use")
            args = []
            self.nested()  # a call nests as parentheses do: its arguments count towards the depth limit
            if self.tok.text != ")":
                args.append(self.or_())
                while self.accept(",") is not None:
                    args.append(self.or_())
            self.depth -= 1
            close = self.expect(")")
            return Node("call", tok.pos, close.pos + 1, tok.word, tuple(args))
        raise self.fail("a column, a number or 'text'")


def parse(text: str) -> Node:
    """The syntax tree of a condition; a problem raises :class:`ConditionError`."""
    return Parser(text).parse()


def columns_of(node: Node) -> list[str]:
    """The columns a syntax tree reads, in order of appearance (with repeats)."""
    if node.kind == "col":
        return [node.value]
    return [c for arg in node.args for c in columns_of(arg)]
