"""App Context filter expressions (``filter=`` on lists of users, channels and memberships).

The language PubNub documents: comparisons ``field op value`` with ``==``, ``!=``, ``<``,
``<=``, ``>``, ``>=`` and ``like`` (``*`` as a wildcard, any case of the keyword), joined with
``&&`` and ``||``, negated with ``!``, grouped in parentheses. Fields are dotted paths into the
object (``id``, ``name``, ``custom.plan``, ``channel.id``, ``uuid.custom.tier``); values are
quoted strings, numbers, ``true``, ``false`` or ``null``. An expression that cannot be read is a
``FilterError`` whose message says where.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "like")
_CONSTANTS = {"true": True, "false": False, "null": None}


class FilterError(ValueError):
    """The filter expression cannot be read."""


def parse(expression: str) -> Predicate:
    """A predicate over one object for ``expression``; raises :class:`FilterError`."""
    parser = _Parser(_tokens(expression), expression)
    predicate = parser.disjunction()
    if parser.position != len(parser.tokens):
        raise FilterError(f"Unexpected {parser.tokens[parser.position][1]!r} in the filter")
    return predicate


def _tokens(expression: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise FilterError(f"Cannot read the filter at {text[position : position + 20]!r}")
        position = found.end()
        kind = found.lastgroup
        value = found.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value.lower() == "like":
            kind, value = "op", "like"
        elif kind == "word" and value.lower() in _CONSTANTS:
            kind, value = "constant", _CONSTANTS[value.lower()]
        tokens.append((kind, value))
    if not tokens:
        raise FilterError("The filter is empty")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], expression: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.expression = expression

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, Any]:
        token = self._peek()
        if token is None:
            raise FilterError(f"The filter {self.expression!r} ends too early")
        self.position += 1
        return token

    def _at(self, op: str) -> bool:
        return self._peek() == ("op", op)

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self._at("||"):
            self.position += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda obj: any(p(obj) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self._at("&&"):
            self.position += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda obj: all(p(obj) for p in parts))

    def unary(self) -> Predicate:
        if self._at("!"):
            self.position += 1
            inner = self.unary()
            return lambda obj: not inner(obj)
        if self._at("("):
            self.position += 1
            inner = self.disjunction()
            if self._take() != ("op", ")"):
                raise FilterError(f"A parenthesis is not closed in {self.expression!r}")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, field = self._take()
        if kind != "word":
            raise FilterError(f"Expected a field name, found {field!r} in the filter")
        kind, op = self._take()
        if kind != "op" or op not in _COMPARISONS:
            raise FilterError(f"Expected a comparison after {field!r}, found {op!r}")
        kind, value = self._take()
        if kind not in ("string", "number", "constant"):
            raise FilterError(f"Expected a value after {field} {op}, found {value!r}")
        path = field.split(".")
        return lambda obj: _compare(_lookup(obj, path), op, value)


def _lookup(obj: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _like(actual: Any, pattern: Any) -> bool:
    if not isinstance(actual, str) or not isinstance(pattern, str):
        return False
    translated = fnmatch.translate(pattern.replace("[", "[[]").replace("?", "[?]"))
    return re.match(translated, actual, re.IGNORECASE) is not None


def _ordered(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """An order comparison: false when either side is missing or they cannot be compared."""

    def compare(actual: Any, expected: Any) -> bool:
        if actual is None or expected is None:
            return False
        try:
            return check(actual, expected)
        except TypeError:
            return False

    return compare


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "like": _like,
    "<": _ordered(operator.lt),
    "<=": _ordered(operator.le),
    ">": _ordered(operator.gt),
    ">=": _ordered(operator.ge),
}


def _compare(actual: Any, op: str, expected: Any) -> bool:
    return _OPERATORS[op](actual, expected)
