"""Quantities with units, shared by the config loader, the threshold language and the reports.

A measurement is only comparable with a limit when both say what they measure: "p95 < 200" is
ambiguous (milliseconds? seconds?), so durations always carry a unit and are stored in seconds.
Ratios ("1%", "99.5%") are stored as fractions and compare freely with plain numbers, the way
k6 writes `rate<0.01`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    DURATION = "duration"
    RATIO = "ratio"
    NUMBER = "number"

    def compatible(self, other: Kind) -> bool:
        return (self is Kind.DURATION) == (other is Kind.DURATION)


DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}

_LITERAL = re.compile(r"^\s*(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[a-z%]*)\s*$")


@dataclass(frozen=True)
class Quantity:
    """A number and what it measures; durations are in seconds, ratios are fractions."""

    value: float
    kind: Kind = Kind.NUMBER

    def is_missing(self) -> bool:
        return math.isnan(self.value)

    def __str__(self) -> str:
        return format_quantity(self.value, self.kind)


def parse_literal(text: str) -> Quantity:
    """Read "250ms", "5s", "1%", "1.5" into a Quantity; ValueError names what was expected."""
    match = _LITERAL.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a number with an optional unit (ms, s, m, h, %)")
    number = float(match["num"])
    unit = match["unit"]
    if unit == "":
        return Quantity(number, Kind.NUMBER)
    if unit == "%":
        return Quantity(number / 100.0, Kind.RATIO)
    if unit in DURATION_UNITS:
        return Quantity(number * DURATION_UNITS[unit], Kind.DURATION)
    raise ValueError(f"unknown unit {unit!r} in {text!r} (expected one of ms, s, m, h, us, %)")


def parse_duration(value: object) -> float:
    """Seconds from "250ms", "5s", "2m" or a plain number of seconds (what config values accept)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '5s' or '250ms', not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            quantity = parse_literal(value)
        except ValueError:
            quantity = Quantity(math.nan, Kind.RATIO)
        if quantity.kind is Kind.RATIO:
            raise ValueError(f"expected a duration such as '5s' or '250ms', got {value!r}")
        seconds = quantity.value
    else:
        raise ValueError(f"expected a duration such as '5s' or '250ms', got {value!r}")
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def format_quantity(value: float, kind: Kind) -> str:
    """Render for people: 0.231 s -> "231 ms", 0.004 -> "0.4 %"."""
    if math.isnan(value):
        return "no data"
    if kind is Kind.DURATION:
        if abs(value) < 10.0:
            return f"{_trim(value * 1000.0)} ms"
        return f"{_trim(value)} s"
    if kind is Kind.RATIO:
        return f"{_trim(value * 100.0)} %"
    return _trim(value)


_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB")
_DURATION_NAME = re.compile(
    r"^(p\d+(\.\d+)?|avg|mean|min|max|median|latency.*|.*_(seconds|duration))$"
)
_RATIO_NAME = re.compile(r"^(.*_rate|.*_ratio|.*_usage|.*_share)$")
_RATE_NAME = re.compile(r"^(rps|.*_rps|.*_per_second)$")


def format_duration(seconds: float) -> str:
    """A duration for people: 0.4875 -> "487.5 ms", 12.5 -> "12.5 s"."""
    return format_quantity(seconds, Kind.DURATION)


def format_percent(fraction: float) -> str:
    """A fraction as a percentage: 0.995 -> "99.5 %"."""
    return format_quantity(fraction, Kind.RATIO)


def format_rate(per_second: float) -> str:
    """Events per second: 219.4 -> "219.4 /s"."""
    return "no data" if math.isnan(per_second) else f"{_trim(per_second)} /s"


def format_bytes(count: float) -> str:
    """A size in decimal units, the way HTTP tools print it: 1_500_000 -> "1.5 MB"."""
    if math.isnan(count):
        return "no data"
    size, unit = float(count), _BYTE_UNITS[0]
    for unit in _BYTE_UNITS:
        if abs(size) < 1000 or unit == _BYTE_UNITS[-1]:
            break
        size /= 1000
    return f"{_trim(size)} {unit}"


# Measurements whose names do not follow the suffix rules below (the resources gate's).
_UNIT_BY_NAME = {
    "memory": "MB",
    "memory_avg": "MB",
    "memory_growth": "MB/h",
    "cpu": "fraction",
    "cpu_max": "fraction",
    "request_rate": "/s",
}


def unit_of(name: str) -> str:
    """The unit of a gate measurement, from the naming every gate follows (base units: seconds,
    fractions of 1, per second), so JSON readers need not guess: "p95" -> "s", "error_rate" ->
    "fraction", "rps" -> "/s". "" for a count or a name that says nothing about its unit."""
    base = name.rsplit(".", 1)[-1]
    if base in _UNIT_BY_NAME:
        return _UNIT_BY_NAME[base]
    if base.endswith("_ms"):
        return "ms"
    if base.endswith("_bytes"):
        return "bytes"
    if _DURATION_NAME.match(base):
        return "s"
    if _RATE_NAME.match(base):
        return "/s"
    if _RATIO_NAME.match(base):
        return "fraction"
    return ""


def format_measurement(name: str, value: float) -> str:
    """A gate measurement with its unit: "p95" 0.4875 -> "487.5 ms", "error_rate" 0.004 ->
    "0.4 %", "request_rate" 39.9 -> "39.9 /s". A count stays a plain number."""
    unit = unit_of(name)
    if unit == "ms":
        return format_duration(value / 1000.0)
    if unit == "s":
        return format_duration(value)
    if unit == "bytes":
        return format_bytes(value)
    if unit == "fraction":
        return format_percent(value)
    if unit == "/s":
        return format_rate(value)
    if unit and not math.isnan(value):
        return f"{_trim(value)} {unit}"
    return format_quantity(value, Kind.NUMBER)


def _trim(number: float) -> str:
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.4g}" if abs(number) < 1000 else f"{number:.1f}"
