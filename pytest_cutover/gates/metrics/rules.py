"""One rule watched over time, with the `for` semantics of a Prometheus alerting rule.

At every evaluation each level (critical, warning) either holds, fails, or has no data. A level
is breached once it has failed at every evaluation for the rule's `for` window: the first failing
evaluation starts the clock, anything else (a pass, or no data) stops it. A critical breach
fails the rule. A warning breach is reported but passes (a warning is for people to look at,
not a reason to roll back). No data at any evaluation, without a breach, is INCONCLUSIVE: the
rule could not be checked over the whole window (unless the rule says no_data = "pass" or
"fail", which then counts such an evaluation as that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pytest_cutover.gates.metrics.config import LEVELS, Level, Rule
from pytest_cutover.gates.metrics.presets import rule_measurements, rule_signals
from pytest_cutover.gates.metrics.sources import Tick
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.thresholds import LEGACY_PREFIX, Verdict, fold
from pytest_cutover.units import Quantity

GATE = "metrics"
MAX_ROWS = 240


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


@dataclass
class Breach:
    since: float
    at: float
    explanation: str


class LevelWatch:
    """The pending/firing state of one level's thresholds."""

    def __init__(self, rule: Rule, level: Level) -> None:
        self.rule = rule
        self.thresholds = rule.thresholds(level)
        self.pending: float | None = None
        self.last_at: float | None = None
        self.breach: Breach | None = None
        self.no_data: list[str] = []

    def judge(
        self, at: float, measurements: dict[str, Quantity], reached: bool
    ) -> tuple[str, list[str]]:
        """Evaluate at one moment; returns the verdict and the thresholds' explanations.
        `reached` is False when a source could not be read: no_data does not apply then."""
        self.last_at = at
        folded = fold(self.thresholds, measurements)
        verdict = folded.verdict
        if verdict is Verdict.NO_DATA and reached:
            # The source answered without the series: the rule says what that means. A source
            # that could not be read is never a pass.
            verdict = {"pass": Verdict.PASS, "fail": Verdict.FAIL}.get(
                self.rule.no_data, Verdict.NO_DATA
            )
        explanations = [*folded.failed, *folded.unsure]
        if verdict is Verdict.NO_DATA:
            self.no_data.append(f"{clock(at)}: " + "; ".join(explanations))
        if verdict is Verdict.FAIL:
            self.pending = at if self.pending is None else self.pending
            if self.breach is None and at - self.pending >= self.rule.for_ - 1e-6:
                self.breach = Breach(self.pending, at, "; ".join(explanations))
        else:
            self.pending = None
        return verdict.value, explanations


class RuleWatch:
    """Feeds ticks to a rule's levels and keeps what a reviewer needs to see."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.signals = rule_signals(rule)
        self.systems = ("new", "legacy") if rule.uses_legacy else ("new",)
        self.levels = {level: LevelWatch(rule, level) for level in LEVELS}
        self.rows: list[dict[str, Any]] = []
        self.evaluations = 0
        self.errors: list[str] = []
        self.latest: dict[str, Quantity] = {}

    @property
    def breached(self) -> bool:
        return self.levels["critical"].breach is not None

    def measurements(self, tick: Tick) -> dict[str, Quantity]:
        found: dict[str, Quantity] = {}
        for system in self.systems:
            values = tick.values.get(system)
            if values is None:
                continue
            measured = rule_measurements(self.rule, {k: values[s] for k, s in self.signals.items()})
            prefix = "" if system == "new" else LEGACY_PREFIX
            found.update({prefix + name: q for name, q in measured.items()})
        return found

    def feed(self, tick: Tick, misread: bool = False) -> None:
        """`misread`: the source could not select what a signal asks for (a label no series
        carries). That is a wrong rule or exporter, not a metric yet to appear, so the rule's
        no_data does not apply, as for a source that could not be read."""
        self.evaluations += 1
        failed = [tick.errors[system] for system in self.systems if system in tick.errors]
        self.errors.extend(error for error in failed if error not in self.errors)
        measurements = self.measurements(tick)
        self.latest = measurements
        row: dict[str, Any] = {
            "time": clock(tick.time),
            "values": {name: str(q) for name, q in sorted(measurements.items())},
        }
        for level, watch in self.levels.items():
            if watch.thresholds:
                verdict, explanations = watch.judge(
                    tick.time, measurements, not failed and not misread
                )
                row[level] = verdict
                if explanations:
                    row[f"{level}_explanation"] = explanations
        self.rows.append(row)
        del self.rows[:-MAX_ROWS]

    def result(
        self, describe: dict[str, str], extra: Mapping[str, Any], problems: Sequence[str] = ()
    ) -> GateResult:
        """`problems` are the source's own reasons for missing data (a label no series
        carries): an INCONCLUSIVE rule names them, so the fix is plain."""
        rule = self.rule
        critical, warning = self.levels["critical"], self.levels["warning"]
        reasons: list[str] = []
        if critical.breach is not None:
            outcome = Outcome.FAIL
            reasons.append(_breach_text("critical", rule, critical))
        elif critical.no_data or self.evaluations == 0:
            outcome = Outcome.INCONCLUSIVE
            reasons.extend(self.errors)
            if self.evaluations == 0:
                reasons.append("no evaluation happened: nothing was measured")
            else:
                reasons.append(
                    f"no data at {len(critical.no_data)} of {self.evaluations} evaluations, "
                    f"first {critical.no_data[0]}"
                )
                reasons.extend(problems)
        elif critical.pending is not None and critical.last_at is not None:
            # Failing when the watch ended, for less than `for`: neither breached nor healthy.
            outcome = Outcome.INCONCLUSIVE
            reasons.append(
                f"critical thresholds failing since {clock(critical.pending)} "
                f"({critical.last_at - critical.pending:.0f} s of the {rule.for_:g} s window) "
                "when the watch ended: watch longer to tell"
            )
        else:
            outcome = Outcome.PASS
        warnings = [_breach_text("warning", rule, warning)] if warning.breach else []
        if outcome is Outcome.PASS:
            reasons.extend(warnings)
        evidence: dict[str, Any] = {
            "rule": rule.label,
            "critical": [str(t) for t in rule.critical],
            "warning": [str(t) for t in rule.warning],
            "for_seconds": rule.for_,
            "no_data": rule.no_data,
            "signals": describe,
            "evaluations": self.evaluations,
            "warnings": warnings,
            "window": self.rows,
            **extra,
        }
        if self.errors:
            evidence["source_errors"] = self.errors
        measurements = {
            name: q.value
            for name, q in self.latest.items()
            if not name.startswith(LEGACY_PREFIX) and not math.isnan(q.value)
        }
        return GateResult(GATE, rule.label, outcome, tuple(reasons), measurements, evidence)


def _breach_text(level: str, rule: Rule, watch: LevelWatch) -> str:
    breach = watch.breach
    assert breach is not None
    if not rule.for_:
        return f"{level} breached at {clock(breach.at)}: {breach.explanation}"
    held = breach.at - breach.since
    return (
        f"{level} breached: failed at every evaluation for {held:.3g} s "
        f"({clock(breach.since)} to {clock(breach.at)}; for = {rule.for_:g} s), "
        f"last {breach.explanation}"
    )
