"""The OData subset the service accepts in a send's `filter` query parameter.

Supported, as the service documents it: the fields `userId`, `connectionId` and `groups`;
string literals in single quotes (`''` escapes a quote), `null`, `true` and `false`; `eq`, `ne`,
`'<group>' in groups`, `userId in ('a', 'b')`; `not`, `and`, `or` and parentheses. `not` binds
tighter than a comparison, as in the service, which refuses `not userId eq 'a'` (write
`not (userId eq 'a')`). Anything else (the service's functions such as `length`, `gt`/`lt`) is a
FilterError, which the data plane answers with 400 so a typo never silently reaches everyone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol


class FilterSubject(Protocol):
    """What a filter can look at on a connection."""

    connection_id: str
    user_id: str | None
    groups: set[str]


Predicate = Callable[[FilterSubject], bool]
_Operand = Callable[[FilterSubject], object]


class FilterError(ValueError):
    """A filter expression outside the supported subset."""


_TOKEN = re.compile(r"(?P<space>\s+)|[(),]|'(?:[^']|'')*'|[A-Za-z_]\w*")
_FIELDS: dict[str, _Operand] = {
    "userId": lambda subject: subject.user_id,
    "connectionId": lambda subject: subject.connection_id,
}


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"Unexpected character at position {position} in filter {text!r}.")
        if match.lastgroup != "space":
            tokens.append(match.group())
        position = match.end()
    return tokens


MAX_DEPTH = 64


class _Parser:
    """Recursive descent over the tokens: or → and → not → comparison."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._position = 0
        self._depth = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise FilterError(f"Unexpected {self._peek()!r} in filter {self._text!r}.")
        return predicate

    def _peek(self) -> str | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise FilterError(f"Filter {self._text!r} ends too early.")
        self._position += 1
        return token

    # Operands of one level are kept flat (any/all over a list): a closure per term would nest
    # as deep as the filter is long, and the publisher's `'a' in groups or ...` can be long.
    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == "or":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda subject: any(p(subject) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._peek() == "and":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else lambda subject: all(p(subject) for p in parts)

    def _not(self) -> Predicate:
        # Each "not" and "(" recurses; past MAX_DEPTH the filter is refused, not a RecursionError.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise FilterError(f"Filter {self._text!r} nests deeper than {MAX_DEPTH} levels.")
            return self._negation_or_group()
        finally:
            self._depth -= 1

    def _negation_or_group(self) -> Predicate:
        if self._peek() == "not":
            self._take()
            if self._peek() not in ("(", "not", "true", "false"):
                raise FilterError(
                    f"'not' applies to a boolean or a parenthesised expression, in {self._text!r}:"
                    " write not (...)"
                )
            inner = self._not()
            return lambda subject: not inner(subject)
        if self._peek() in ("true", "false"):
            value = self._take() == "true"
            return lambda _subject: value
        if self._peek() == "(":
            self._take()
            inner = self._or()
            if self._take() != ")":
                raise FilterError(f"Missing ')' in filter {self._text!r}.")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        left = self._operand()
        operator = self._take()
        if operator == "in":
            if self._peek() == "(":
                values = self._literal_list()
                return lambda subject: left(subject) in values
            if self._take() != "groups":
                raise FilterError(f"'in' takes groups or a (list), in {self._text!r}.")
            return lambda subject: left(subject) in subject.groups
        right = self._operand()
        if operator == "eq":
            return lambda subject: left(subject) == right(subject)
        if operator == "ne":
            return lambda subject: left(subject) != right(subject)
        raise FilterError(f"Operator {operator!r} is not supported (use eq, ne, in).")

    def _literal_list(self) -> set[str | None]:
        self._take()  # "("
        values = {self._literal()}
        while (token := self._take()) == ",":
            values.add(self._literal())
        if token != ")":
            raise FilterError(f"Missing ')' after a list in filter {self._text!r}.")
        return values

    def _literal(self) -> str | None:
        token = self._take()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token == "null":
            return None
        raise FilterError(f"A list holds literals only, not {token!r}, in {self._text!r}.")

    def _operand(self) -> _Operand:
        upcoming = self._peek() or ""
        if upcoming.startswith("'") or upcoming == "null":
            literal = self._literal()
            return lambda _subject: literal
        token = self._take()
        field = _FIELDS.get(token)
        if field is None:
            raise FilterError(
                f"Unknown field {token!r} in filter {self._text!r}: use userId, connectionId, "
                "or '<group>' in groups."
            )
        return field


def parse_filter(text: str) -> Predicate:
    """Compile a filter expression into a predicate over connections."""
    return _Parser(text).parse()
