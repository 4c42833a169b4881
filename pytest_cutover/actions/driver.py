"""The one interface every traffic-split driver has: set the new system's weight, say what it is.

Setting the weight a driver already has is a no-op success, so a re-run, a retry or a second
`cutover rollback` never does anything twice. A driver that cannot set the weight raises
DriverError with everything a person needs to act; it never returns half-done quietly.

Reading the weight is for the record and for that no-op check, never a condition of acting: the
caller reads once (Actor.current) and hands what it read to `set`, which acts when the reading
is unknown. So a broken `get` command or status URL can never keep a rollback from setting 0%.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_cutover.actions.calls import CallResult

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class DriverError(Exception):
    """A traffic change or a weight query failed; the message says what and what state it left."""


class NoReading(DriverError):
    """The driver has no way to read its weight (no `get`, no `status_url`): not a failure."""


@dataclass(frozen=True)
class Change:
    """What a successful set did: `changed` is False when the weight was already the target."""

    changed: bool
    detail: str
    call: CallResult | None = None


class TrafficDriver(Protocol):
    name: str

    def current(self) -> float:
        """The weight (0-100) the new system gets now; DriverError when it cannot be told."""

    def set(self, percent: float, current: float | None = None) -> Change:
        """Make the new system's weight `percent`; DriverError when it could not. `current` is
        the weight the caller has just read (None: unknown, so the change is made)."""

    def describe(self) -> dict[str, Any]:
        """What `cutover status` shows: where the weight lives and what it is."""


def parse_percent(text: str, source: str) -> float:
    match = _NUMBER.search(text)
    if match is None:
        raise DriverError(f"{source} did not print a weight (expected a number 0-100): {text!r}")
    value = float(match.group())
    if not 0 <= value <= 100:
        raise DriverError(f"{source} printed {value:g}, not a weight from 0 to 100")
    return value
