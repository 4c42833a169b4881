"""From what the gate tests did to one answer: GO, NO-GO or INCONCLUSIVE.

Fail closed: GO needs positive evidence (at least one gate test ran and passed, and nothing else
happened). Anything that could not run, or was not run, is INCONCLUSIVE; a failure is NO-GO.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pytest_cutover.gates.result import GateResult

SCHEMA_VERSION = 1
MAX_REASONS = 20


class Verdict(Enum):
    GO = "GO"
    NO_GO = "NO-GO"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self]


# 0 only for GO; NO-GO matches pytest's "tests failed"; INCONCLUSIVE is its own code so a
# pipeline can tell "the new system is bad" from "we could not tell".
EXIT_STATUS = {Verdict.GO: 0, Verdict.NO_GO: 1, Verdict.INCONCLUSIVE: 10}
# When the action a decision called for did not happen, that outranks the verdict: a rollback
# that failed (the new system is bad and still serving) is the loudest outcome there is.
ROLLBACK_FAILED_EXIT = 11
ACTION_FAILED_EXIT = 12
# A GO whose gates reported a warning-level breach (a metrics rule's `warning`): the step is
# held, not promoted (runbook 003), so a pipeline must not go on to the next step either.
HOLD_EXIT = 14


class TestStatus(Enum):
    """One gate test's fate, worst first (the order decides which phase's status wins)."""

    FAILED = "failed"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    NOT_CONFIGURED = "not_configured"
    PASSED = "passed"

    @property
    def severity(self) -> int:
        return list(TestStatus).index(self)


@dataclass
class TestRecord:
    nodeid: str
    gate: str
    status: TestStatus
    reasons: list[str] = field(default_factory=list)
    results: list[GateResult] = field(default_factory=list)
    duration: float = 0.0

    def merge(self, status: TestStatus, reasons: Iterable[str], duration: float) -> None:
        """Fold in another phase (setup, call, teardown): the worst status wins."""
        if status.severity < self.status.severity:
            self.status = status
            self.reasons = list(reasons)
        self.duration += duration


@dataclass(frozen=True)
class ActionsReport:
    """What the acting hooks did about the decision (pytest_cutover.actions_plugin)."""

    outcomes: tuple[dict[str, Any], ...]
    failure: str | None = None
    exit_status: int | None = None

    def lines(self) -> list[str]:
        return [str(o["line"]) for o in self.outcomes]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[str, ...]
    step: float | None
    started_at: datetime
    finished_at: datetime
    tests: tuple[TestRecord, ...]
    systems: Mapping[str, Any]
    config_path: str | None
    interrupted: bool
    left_out: tuple[str, ...] = ()
    actions: ActionsReport | None = None
    warnings: tuple[str, ...] = ()
    # [actions] on_warning: "hold" and "rollback" hold the step on a warning, "promote" not.
    on_warning: str = "hold"

    @property
    def held(self) -> bool:
        """A GO that does not promote: a gate reported a warning-level breach."""
        return self.verdict is Verdict.GO and bool(self.warnings) and self.on_warning != "promote"

    @property
    def outcome(self) -> str:
        """What the step should do, as runbook 003 says it: PROMOTE, HOLD or ROLLBACK (NO-GO),
        or INCONCLUSIVE."""
        if self.verdict is Verdict.GO:
            return "HOLD" if self.held else "PROMOTE"
        return "ROLLBACK" if self.verdict is Verdict.NO_GO else "INCONCLUSIVE"

    def failed_gates(self) -> frozenset[str]:
        """The gates whose tests failed (NO-GO) or could not tell (INCONCLUSIVE), by marker
        and by the GateResults they recorded (a team's own gate is "custom" and its own name):
        what a rollback helper's `gates` rule is matched against."""
        bad = (TestStatus.FAILED,) if self.verdict is Verdict.NO_GO else _UNSURE
        tests = [t for t in self.tests if t.status in bad]
        named = {result.gate for t in tests for result in t.results if not result.passed}
        return frozenset({t.gate for t in tests} | named)

    @property
    def partial(self) -> bool:
        """A run that left out gates cutover.toml configures (`-m smoke`, `-k`): its NO-GO
        stands, but it cannot promote."""
        return bool(self.left_out)

    @property
    def exit_status(self) -> int:
        if self.actions is not None and self.actions.exit_status is not None:
            return self.actions.exit_status
        return HOLD_EXIT if self.held else self.verdict.exit_status

    def _judged(self) -> list[TestRecord]:
        """The tests of gates this run judged: a gate cutover.toml does not configure has only
        not-configured tests, and no verdict of its own."""
        configured = {t.gate for t in self.tests if t.status is not TestStatus.NOT_CONFIGURED}
        return [t for t in self.tests if t.gate in configured]

    def gate_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter[str]] = {}
        for test in self._judged():
            counts.setdefault(test.gate, Counter())[test.status.value] += 1
        return {gate: dict(sorted(c.items())) for gate, c in sorted(counts.items())}

    def gate_verdicts(self) -> dict[str, Verdict]:
        by_gate: dict[str, list[TestRecord]] = {}
        for test in self._judged():
            by_gate.setdefault(test.gate, []).append(test)
        return {gate: _verdict(tests, False)[0] for gate, tests in sorted(by_gate.items())}

    def to_dict(self) -> dict[str, Any]:
        verdicts = self.gate_verdicts()
        failure = self.actions.failure if self.actions else None
        return {
            "schema_version": SCHEMA_VERSION,
            **({"action_failure": failure} if failure else {}),
            "decision": self.verdict.value,
            "outcome": self.outcome,
            "exit_status": self.exit_status,
            "step": self.step,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round((self.finished_at - self.started_at).total_seconds(), 3),
            "interrupted": self.interrupted,
            "partial": self.partial,
            "left_out": list(self.left_out),
            "config": self.config_path,
            "systems": dict(self.systems),
            "gates": {
                gate: {"decision": verdicts[gate].value, "counts": counts}
                for gate, counts in self.gate_counts().items()
            },
            "tests": [
                {
                    "nodeid": t.nodeid,
                    "gate": t.gate,
                    "status": t.status.value,
                    "reasons": t.reasons,
                    "duration_s": round(t.duration, 3),
                    "results": [result.to_dict() for result in t.results],
                }
                for t in self.tests
            ],
            **({"actions": list(self.actions.outcomes)} if self.actions else {}),
        }


def decide(
    tests: Iterable[TestRecord],
    *,
    interrupted: bool,
    step: float | None,
    started_at: datetime,
    finished_at: datetime,
    systems: Mapping[str, Any],
    config_path: str | None,
    left_out: tuple[str, ...] = (),
    on_warning: str = "hold",
) -> Decision:
    records = tuple(tests)
    verdict, reasons = _verdict(records, interrupted)
    warnings = tuple(warnings_of(records))[:MAX_REASONS]
    if verdict is Verdict.GO and warnings and on_warning != "promote":
        reasons = [f"held on a warning: {warning}" for warning in warnings]
    return Decision(
        verdict=verdict,
        reasons=tuple(reasons[:MAX_REASONS]),
        step=step,
        started_at=started_at,
        finished_at=finished_at,
        tests=records,
        systems=systems,
        config_path=config_path,
        interrupted=interrupted,
        left_out=left_out,
        warnings=warnings,
        on_warning=on_warning,
    )


def warnings_of(records: Iterable[TestRecord]) -> Iterable[str]:
    """Warning-level breaches the gates reported: a GateResult's `evidence["warnings"]` (the
    metrics gate's `warning` thresholds; a team's own gate may report its own the same way)."""
    for record in records:
        for result in record.results:
            found = result.evidence.get("warnings") or ()
            for warning in found if isinstance(found, list | tuple) else (found,):
                yield f"{result.gate}: {result.name}: {warning}"


def _verdict(records: Iterable[TestRecord], interrupted: bool) -> tuple[Verdict, list[str]]:
    records = list(records)
    failed = [r for r in records if r.status is TestStatus.FAILED]
    if failed:
        return Verdict.NO_GO, [_reason(r) for r in failed]
    unsure = [r for r in records if r.status in _UNSURE]
    reasons = [_reason(r) for r in unsure]
    if interrupted:
        reasons.append("the run was interrupted before every gate finished")
    if not any(r.status is TestStatus.PASSED for r in records):
        if not records:
            reasons.append("no canary_gate test was selected")
        elif not unsure:
            reasons.append("no gate test ran: every selected one was skipped as not configured")
    if reasons:
        return Verdict.INCONCLUSIVE, reasons
    return Verdict.GO, []


_UNSURE = (TestStatus.ERROR, TestStatus.INCONCLUSIVE, TestStatus.SKIPPED)


def _reason(record: TestRecord) -> str:
    detail = "; ".join(record.reasons) if record.reasons else "no detail"
    label = {TestStatus.ERROR: "could not run", TestStatus.SKIPPED: "skipped"}.get(
        record.status, record.status.value
    )
    return f"{record.gate}: {record.nodeid}: {label}: {detail}"
