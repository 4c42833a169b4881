"""Monitor mode: after a traffic step, keep running the smoke checks and the metrics rules every
interval for a while, and stop with a verdict as soon as something breaks.

A failing smoke check on the new system, or a metrics rule whose critical threshold has failed
for its whole `for` window, ends the watch at once as FAIL. A failing legacy check makes the
answer INCONCLUSIVE (as in the smoke gate) but the watch goes on. Watching the full duration
with nothing wrong is a PASS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.gates.metrics.gate import MetricsWatch, every
from pytest_cutover.gates.result import GateResult, Outcome, worst
from pytest_cutover.gates.smoke import gate as smoke
from pytest_cutover.gates.smoke.config import SmokeConfig
from pytest_cutover.progress import SILENT, Progress
from pytest_cutover.redact import Redactor
from pytest_cutover.section import SYSTEM_NAMES
from pytest_cutover.systems import System

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

GATE = "monitor"
CASE = "watch"


@dataclass(frozen=True)
class MonitorPlan:
    """What monitor mode watches: the smoke checks and the metrics rules, round after round."""

    smoke: SmokeConfig
    metrics: MetricsConfig


class MonitorGate(Gate[MonitorPlan]):
    name = GATE

    def section(self, config: CutoverConfig) -> MonitorPlan:
        return MonitorPlan(config.smoke, config.metrics)

    def cases(self, section: MonitorPlan, setup: Setup) -> list[str]:
        return [CASE] if setup.monitor is not None else []

    def not_configured(self) -> str:
        return "monitor mode is off (give --cutover-monitor DURATION to watch)"

    def run(
        self, section: MonitorPlan, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        assert context.monitor is not None  # cases() offers no case without it
        systems: dict[str, System] = {name: context.system(name) for name in SYSTEM_NAMES}
        interval = context.interval or section.metrics.interval
        result = monitor(
            section, systems, context.http, context.base_dir, context.monitor, interval,
            context.redactor, context.progress,
        )  # fmt: skip
        return {CASE: result}


def monitor(
    plan: MonitorPlan,
    systems: Mapping[str, System],
    http: Callable[[str], httpx.Client],
    base_dir: Path,
    duration: float,
    interval: float,
    redactor: Redactor,
    progress: Progress = SILENT,
) -> GateResult:
    """Watch for `duration` seconds, one round every `interval` seconds; one GateResult."""
    configs = {name: system.config for name, system in systems.items()}
    checks = smoke.all_checks(plan.smoke, configs, base_dir, redactor)
    retry = min(plan.smoke.retry_deadline, interval)
    smoke_problems: dict[str, GateResult] = {}
    rounds = int(duration // interval) + 1
    metrics = plan.metrics
    watch = MetricsWatch(metrics, systems, interval) if metrics.rules else None
    stopped: str | None = None
    done = 0
    with (
        smoke.Clients([(c.system, c.service) for c in checks], systems, http) as clients,
        watch if watch is not None else contextlib.nullcontext(),
    ):
        for now in every(interval, rounds):
            done += 1
            for check in checks:
                result = smoke.run_check(
                    clients(check.system, check.service), check, retry, redactor
                )
                if not result.passed:
                    smoke_problems.setdefault(result.name, result)
            if watch is not None:
                watch.poll(now)
            failed = [r.name for r in smoke_problems.values() if r.outcome is Outcome.FAIL]
            breached = watch.breached if watch is not None else []
            progress.update("monitor", done, rounds, "rounds")
            if failed or breached:
                stopped = f"stopped after {done} of {rounds} rounds: " + ", ".join(
                    [*failed, *(f"rule {name!r}" for name in breached)]
                )
                break
    progress.finish("monitor", stopped or f"{done} rounds")
    parts = list(smoke_problems.values())
    if watch is not None:
        parts += watch.results(redactor)
    outcome = worst(p.outcome for p in parts)
    reasons = [f"{p.name}: {reason}" for p in parts if not p.passed for reason in p.reasons]
    evidence: dict[str, Any] = {
        "duration_seconds": duration,
        "interval_seconds": interval,
        "rounds": done,
        "planned_rounds": rounds,
        "stopped": stopped,
        "smoke_checks": [check.id for check in checks],
        "smoke_problems": [p.to_dict() for p in smoke_problems.values()],
        "rules": [p.to_dict() for p in parts if p.gate != smoke.GATE],
    }
    if stopped:
        reasons.append(stopped)
    name = f"watched {duration:g} s, every {interval:g} s"
    return GateResult(GATE, name, outcome, tuple(reasons), {"rounds": done}, evidence)
