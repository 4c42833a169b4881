"""GateResult: the one shape every gate hands to the decision and the reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pytest_cutover.units import unit_of


class Outcome(Enum):
    """PASS and FAIL are verdicts on the new system; INCONCLUSIVE means the gate proved nothing."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    @property
    def severity(self) -> int:
        """The one order of outcomes, worst highest: a failure outranks "could not tell"."""
        return _SEVERITY[self]


_SEVERITY = {Outcome.PASS: 0, Outcome.INCONCLUSIVE: 1, Outcome.FAIL: 2}


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The outcome of several checks judged as one; nothing checked passes nothing wrong."""
    return max(outcomes, key=lambda outcome: outcome.severity, default=Outcome.PASS)


@dataclass(frozen=True)
class GateResult:
    """What one gate check found.

    `measurements` are plain numbers in base units (seconds, fractions, counts) so thresholds and
    reports read them alike; `evidence` is JSON-safe detail a reviewer needs (already redacted).
    """

    gate: str
    name: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    measurements: Mapping[str, float] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    def summary(self) -> str:
        """One line for an assertion message or a console row."""
        if self.passed:
            return f"{self.gate}: {self.name}: passed"
        return f"{self.gate}: {self.name}: " + "; ".join(self.reasons or ("no reason given",))

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "name": self.name,
            "outcome": self.outcome.value,
            "reasons": list(self.reasons),
            "measurements": dict(self.measurements),
            # Measurements are in base units (seconds, fractions, per second); this says which.
            "units": {name: unit for name in self.measurements if (unit := unit_of(name))},
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(
            gate=str(data["gate"]),
            name=str(data["name"]),
            outcome=Outcome(data["outcome"]),
            reasons=tuple(data.get("reasons", ())),
            measurements=dict(data.get("measurements", {})),
            evidence=dict(data.get("evidence", {})),
        )
