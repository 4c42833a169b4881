"""One small threshold language for every gate: `p95 < 200ms`, `rps >= 1.5 * legacy.rps`.

Thresholds are data in cutover.toml, so a malformed one must fail while the config loads (naming
the key), and evaluating one against a measurement that does not exist must never pass: a gate
with no samples has proved nothing (the k6 bug where an empty metric passed its threshold).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from pydantic import BeforeValidator, InstanceOf, PlainSerializer

from pytest_cutover.units import Kind, Quantity, format_quantity, parse_literal

# Thresholds read legacy's measurement of the same name as `legacy.p95`.
LEGACY_PREFIX = "legacy."
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:\s*(?:us|ms|min|s|m|h|%))?(?![A-Za-z_]))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op><=|>=|==|!=|<|>|[-+*/()])"
    r")"
)


class ThresholdError(ValueError):
    """The expression cannot be parsed or its units do not fit together."""


class Verdict(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO DATA"


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    explanation: str


@dataclass(frozen=True)
class _Node:
    """A parsed arithmetic expression: a literal, a measurement name, or an operation."""

    source: str
    literal: Quantity | None = None
    name: str | None = None
    op: str | None = None
    operands: tuple[_Node, ...] = ()

    def names(self) -> Iterable[str]:
        if self.name is not None:
            yield self.name
        for operand in self.operands:
            yield from operand.names()

    def value(self, measurements: Mapping[str, Quantity]) -> Quantity:
        if self.literal is not None:
            return self.literal
        if self.name is not None:
            found = measurements.get(self.name)
            return found if found is not None else Quantity(math.nan, Kind.NUMBER)
        assert self.op is not None
        if self.op == "neg":
            inner = self.operands[0].value(measurements)
            return Quantity(-inner.value, inner.kind)
        left, right = (operand.value(measurements) for operand in self.operands)
        return _arithmetic(self.op, left, right, self.source)


def _arithmetic(op: str, left: Quantity, right: Quantity, source: str) -> Quantity:
    if op in "+-":
        if not left.kind.compatible(right.kind):
            raise ThresholdError(f"cannot add or subtract a duration and a number in {source!r}")
        kind = left.kind if left.kind is not Kind.NUMBER else right.kind
        return Quantity(left.value + right.value if op == "+" else left.value - right.value, kind)
    if op == "*":
        if left.kind is Kind.DURATION and right.kind is Kind.DURATION:
            raise ThresholdError(f"cannot multiply two durations in {source!r}")
        kind = left.kind if left.kind is not Kind.NUMBER else right.kind
        return Quantity(left.value * right.value, kind)
    if left.kind is Kind.DURATION and right.kind is Kind.DURATION:
        kind = Kind.NUMBER
    elif right.kind is Kind.DURATION:
        raise ThresholdError(f"cannot divide by a duration in {source!r}")
    else:
        kind = left.kind
    quotient = left.value / right.value if right.value != 0 else math.nan
    return Quantity(quotient, kind)


@dataclass(frozen=True)
class Threshold:
    """A parsed `left OP right` comparison; `str()` gives back what the user wrote."""

    source: str
    left: _Node
    comparator: str
    right: _Node

    @property
    def names(self) -> frozenset[str]:
        """Every measurement it reads, so a gate can check them against its vocabulary."""
        return frozenset([*self.left.names(), *self.right.names()])

    def __str__(self) -> str:
        return self.source

    def evaluate(self, measurements: Mapping[str, Quantity]) -> Evaluation:
        """Compare, and say why, in words a person reads in a report."""
        missing = sorted(n for n in self.names if _is_missing(measurements.get(n)))
        if missing:
            return Evaluation(
                Verdict.NO_DATA,
                f"{self.source}: no data for {', '.join(missing)}: cannot judge, not a pass",
            )
        try:
            left = self.left.value(measurements)
            right = self.right.value(measurements)
        except ThresholdError as err:
            return Evaluation(Verdict.NO_DATA, f"{self.source}: {err}")
        if not left.kind.compatible(right.kind):
            return Evaluation(
                Verdict.NO_DATA,
                f"{self.source}: {self.left.source} is a {left.kind.value} but the limit is a "
                f"{right.kind.value}: write the limit with a unit such as 200ms",
            )
        if left.is_missing() or right.is_missing():
            return Evaluation(Verdict.NO_DATA, f"{self.source}: not computable (division by zero)")
        passed = _COMPARATORS[self.comparator](left.value, right.value)
        verdict = Verdict.PASS if passed else Verdict.FAIL
        return Evaluation(verdict, f"{self._describe(left, right)}: {verdict.value}")

    def excess(self, measurements: Mapping[str, Quantity]) -> Quantity:
        """How far the measured side lies beyond its limit, in the failing direction: above it
        for `<`/`<=`, below it for `>`/`>=` (negative: the room left). A gate judging with
        confidence intervals moves this one number; NaN for `==`/`!=`, which have no side,
        and when a value is missing."""
        try:
            left = self.left.value(measurements)
            right = self.right.value(measurements)
        except ThresholdError:
            return Quantity(math.nan)
        kind = left.kind if left.kind is not Kind.NUMBER else right.kind
        if self.comparator in ("<", "<="):
            return Quantity(left.value - right.value, kind)
        if self.comparator in (">", ">="):
            return Quantity(right.value - left.value, kind)
        return Quantity(math.nan, kind)

    def _describe(self, left: Quantity, right: Quantity) -> str:
        display_kind = left.kind if left.kind is not Kind.NUMBER else right.kind
        shown_left = format_quantity(left.value, display_kind)
        shown_right = format_quantity(right.value, display_kind)
        if self.right.literal is not None:
            limit = shown_right
        else:
            limit = f"{self.right.source} = {shown_right}"
        return f"{self.left.source} = {shown_left}, limit {self.comparator} {limit}"


def _is_missing(quantity: Quantity | None) -> bool:
    return quantity is None or quantity.is_missing()


def parse_threshold(source: str, known_names: Iterable[str] | None = None) -> Threshold:
    """Parse `expr OP expr`; with known_names, an unknown measurement is an error too."""
    if not isinstance(source, str) or not source.strip():
        raise ThresholdError("expected a threshold such as 'p95 < 200ms'")
    tokens = _tokenize(source)
    parser = _Parser(source, tokens)
    left = parser.expression()
    comparator = parser.take_comparator()
    right = parser.expression()
    parser.expect_end()
    threshold = Threshold(source.strip(), left, comparator, right)
    if known_names is not None:
        known = set(known_names)
        unknown = sorted(threshold.names - known)
        if unknown:
            raise ThresholdError(
                f"unknown measurement {', '.join(unknown)} in {source!r} "
                f"(known: {', '.join(sorted(known))})"
            )
    return threshold


def _parsed(value: object) -> object:
    """For a config field: one threshold or a list of them, parsed as the file is read."""
    values = [value] if isinstance(value, str | Threshold) else value
    if not isinstance(values, list):
        raise ValueError("expected a threshold such as 'p95 < 200ms', or a list of them")
    return [v if isinstance(v, Threshold) else parse_threshold(v) for v in values]


# A config field of thresholds: written as text, held parsed, shown (and dumped) as written.
Thresholds = Annotated[
    list[InstanceOf[Threshold]],
    BeforeValidator(_parsed),
    PlainSerializer(lambda found: [str(t) for t in found], return_type=list[str]),
]


def check_names(thresholds: Iterable[Threshold], known_names: Iterable[str]) -> None:
    """For a config validator: every threshold names only the gate's measurements (a
    ValueError, so pydantic reports it under the config key)."""
    known = set(known_names)
    for threshold in thresholds:
        unknown = sorted(threshold.names - known)
        if unknown:
            raise ValueError(
                f"unknown measurement {', '.join(unknown)} in {threshold.source!r} "
                f"(known: {', '.join(sorted(known))})"
            )


def reads_legacy(thresholds: Iterable[Threshold]) -> bool:
    """Whether any threshold compares with legacy (`legacy.p95`): then legacy is measured too."""
    return any(name.startswith(LEGACY_PREFIX) for t in thresholds for name in t.names)


@dataclass(frozen=True)
class Folded:
    """Thresholds judged together: a failure fails, missing data is never a pass."""

    failed: tuple[str, ...]
    unsure: tuple[str, ...]
    checked: tuple[dict[str, str], ...]

    @property
    def verdict(self) -> Verdict:
        if self.failed:
            return Verdict.FAIL
        return Verdict.NO_DATA if self.unsure else Verdict.PASS


def fold(thresholds: Iterable[Threshold], measurements: Mapping[str, Quantity]) -> Folded:
    """Evaluate every threshold and sort the explanations by what they mean for the verdict."""
    failed, unsure, checked = [], [], []
    for threshold in thresholds:
        found = threshold.evaluate(measurements)
        checked.append(
            {"threshold": threshold.source, "verdict": found.verdict.value,
             "explanation": found.explanation}
        )  # fmt: skip
        if found.verdict is Verdict.FAIL:
            failed.append(found.explanation)
        elif found.verdict is Verdict.NO_DATA:
            unsure.append(found.explanation)
    return Folded(tuple(failed), tuple(unsure), tuple(checked))


def _tokenize(source: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = source.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ThresholdError(f"unexpected {text[position:].strip()[:12]!r} in {source!r}")
        tokens.append(match.group().strip())
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over: expr := term (+|- term)*, term := factor (*|/ factor)*."""

    def __init__(self, source: str, tokens: list[str]) -> None:
        self.source = source
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ThresholdError(f"{self.source!r} ends too early")
        self.position += 1
        return token

    def take_comparator(self) -> str:
        token = self.peek()
        if token not in _COMPARATORS:
            found = "the end" if token is None else repr(token)
            raise ThresholdError(
                f"expected a comparison (<, <=, >, >=, ==, !=) in {self.source!r}, found {found}"
            )
        self.position += 1
        return token

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise ThresholdError(f"unexpected {self.peek()!r} after the limit in {self.source!r}")

    def expression(self) -> _Node:
        start = self.position
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            node = _Node(self._span(start), op=op, operands=(node, right))
        return node

    def term(self) -> _Node:
        start = self.position
        node = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.factor()
            node = _Node(self._span(start), op=op, operands=(node, right))
        return node

    def factor(self) -> _Node:
        start = self.position
        token = self.take()
        if token == "(":
            inner = self.expression()
            if self.peek() != ")":
                raise ThresholdError(f"missing ')' in {self.source!r}")
            self.position += 1
            return _Node(
                self._span(start),
                op=inner.op,
                operands=inner.operands,
                literal=inner.literal,
                name=inner.name,
            )
        if token == "-":
            operand = self.factor()
            return _Node(self._span(start), op="neg", operands=(operand,))
        if token[0].isdigit() or token[0] == ".":
            try:
                return _Node(token, literal=parse_literal(token))
            except ValueError as err:
                raise ThresholdError(str(err)) from None
        if token[0].isalpha() or token[0] == "_":
            return _Node(token, name=token)
        raise ThresholdError(f"unexpected {token!r} in {self.source!r}")

    def _span(self, start: int) -> str:
        return " ".join(self.tokens[start : self.position])
