"""The grammar of journey conditions: a tokenizer and a recursive-descent parser to a syntax tree.

Pure (no I/O, no eval): workflow code imports it. Types and evaluation are in `conditions`.

    condition   := or
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | comparison
    comparison  := primary (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") primary)?
    primary     := number | string | "true" | "false" | "null" | "[" literals "]"
                 | "(" or ")" | name "(" arguments ")" | name ("." name)*

Strings use single or double quotes; a backslash escapes the next character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, cast

Scalar = bool | int | Decimal | str | None
Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
ORDERING_OPERATORS: frozenset[Operator] = frozenset({"<", "<=", ">", ">="})
_SYMBOL_OPERATORS: frozenset[str] = frozenset({"==", "!=", "<", "<=", ">", ">="})
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_CONSTANT_KEYWORDS: dict[str, Scalar] = {"true": True, "false": False, "null": None}


class ConditionError(ValueError):
    """A condition that cannot be parsed or type-checked; `column` is 1-based within its text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Constant:
    value: Scalar
    source: str  # as written, so messages quote the marketer's own text
    column: int


@dataclass(frozen=True)
class ListConstant:
    items: tuple[Constant, ...]
    column: int


@dataclass(frozen=True)
class Reference:
    path: tuple[str, ...]
    columns: tuple[int, ...]  # where each part starts, so errors point at the wrong part

    @property
    def column(self) -> int:
        return self.columns[0]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Expression, ...]
    column: int


@dataclass(frozen=True)
class Not:
    operand: Expression
    column: int


@dataclass(frozen=True)
class Logical:
    operator: Literal["and", "or"]
    operands: tuple[Expression, ...]
    column: int


@dataclass(frozen=True)
class Comparison:
    operator: Operator
    left: Expression
    right: Expression
    column: int


Expression = Constant | ListConstant | Reference | Call | Not | Logical | Comparison


_TokenKind = Literal["number", "string", "name", "symbol", "end"]


@dataclass(frozen=True)
class _Token:
    kind: _TokenKind
    text: str
    column: int


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<symbol>==|!=|<=|>=|<|>|[()\[\],.])
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _bad_character(text, position)
        kind = cast(_TokenKind | Literal["space"], match.lastgroup)
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _bad_character(text: str, position: int) -> ConditionError:
    character = text[position]
    if character in "'\"":
        return ConditionError(f"this text has no closing {character}", position + 1)
    if character == "=":
        return ConditionError("use '==' to compare", position + 1)
    return ConditionError(f"unexpected character {character!r}", position + 1)


def parse_expression(text: str) -> Expression:
    """The syntax tree of `text`; raises ConditionError at the first mistake."""
    return _Parser(text).condition()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.position += 1
        return token

    def at(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind in ("name", "symbol") and token.text == text

    def expect(self, symbol: str, message: str) -> _Token:
        if not self.at(symbol):
            raise _unexpected(self.peek(), message)
        return self.advance()

    def condition(self) -> Expression:
        if self.peek().kind == "end":
            raise ConditionError("the condition is empty", 1)
        expression = self.disjunction()
        if self.peek().kind != "end":
            raise _unexpected(self.peek(), "expected 'and', 'or' or the end of the condition")
        return expression

    def disjunction(self) -> Expression:
        return self.logical("or", self.conjunction)

    def conjunction(self) -> Expression:
        return self.logical("and", self.negation)

    def logical(
        self, operator: Literal["and", "or"], operand: Callable[[], Expression]
    ) -> Expression:
        operands = [operand()]
        while self.at(operator):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        return Logical(operator, tuple(operands), _column(operands[0]))

    def negation(self) -> Expression:
        if self.at("not"):
            keyword = self.advance()
            return Not(self.negation(), keyword.column)
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.primary()
        operator = self.comparison_operator()
        if operator is None:
            return left
        right = self.primary()
        chained = self.comparison_operator()
        if chained is not None:
            raise ConditionError(
                "chained comparisons are not supported; join them with 'and'", chained[1]
            )
        return Comparison(operator[0], left, right, _column(left))

    def comparison_operator(self) -> tuple[Operator, int] | None:
        token = self.peek()
        if token.kind == "symbol" and token.text in _SYMBOL_OPERATORS:
            self.advance()
            return cast(Operator, token.text), token.column
        if self.at("in"):
            self.advance()
            return "in", token.column
        if self.at("not") and self.at("in", ahead=1):
            self.position += 2
            return "not in", token.column
        return None

    def primary(self) -> Expression:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            value = Decimal(token.text) if "." in token.text else int(token.text)
            return Constant(value, token.text, token.column)
        if token.kind == "string":
            self.advance()
            return Constant(re.sub(r"\\(.)", r"\1", token.text[1:-1]), token.text, token.column)
        if token.kind == "name" and token.text in _CONSTANT_KEYWORDS:
            self.advance()
            return Constant(_CONSTANT_KEYWORDS[token.text], token.text, token.column)
        if token.kind == "name" and token.text not in KEYWORDS:
            return self.call() if self.at("(", ahead=1) else self.reference()
        if self.at("("):
            self.advance()
            inner = self.disjunction()
            self.expect(")", f"expected ')' to close the '(' at column {token.column}")
            return inner
        if self.at("["):
            return self.list_constant()
        raise _unexpected(token, "expected a value")

    def reference(self) -> Reference:
        names = [self.advance()]
        while self.at("."):
            self.advance()
            if self.peek().kind != "name":
                raise _unexpected(self.peek(), "expected a name after '.'")
            names.append(self.advance())
        return Reference(tuple(n.text for n in names), tuple(n.column for n in names))

    def call(self) -> Call:
        name = self.advance()
        self.advance()  # the "(" seen by primary()
        arguments: list[Expression] = []
        while not self.at(")"):
            if arguments:
                self.expect(",", f"expected ',' or ')' in the call to {name.text}()")
            arguments.append(self.disjunction())
        self.advance()
        return Call(name.text, tuple(arguments), name.column)

    def list_constant(self) -> ListConstant:
        opening = self.advance()
        items: list[Constant] = []
        while not self.at("]"):
            if items:
                self.expect(",", "expected ',' or ']' in the list")
                if self.at("]"):  # a trailing comma
                    break
            item = self.primary()
            if not isinstance(item, Constant):
                raise ConditionError(
                    "a list may only hold plain values such as 'Gold' or 10", _column(item)
                )
            items.append(item)
        self.advance()
        return ListConstant(tuple(items), opening.column)


def _column(expression: Expression) -> int:
    return expression.column


def _unexpected(token: _Token, expectation: str) -> ConditionError:
    found = "the end of the condition" if token.kind == "end" else repr(token.text)
    return ConditionError(f"{expectation}, found {found}", token.column)
