"""Monitor mode: after a traffic step, keep running the smoke checks and the metrics rules every
interval for a while, and stop with a verdict as soon as something breaks.

A failing smoke check on the new system, or a metrics rule whose critical threshold has failed
for its whole `for` window, ends the watch at once as FAIL. A failing legacy check makes the
answer INCONCLUSIVE (as in the smoke gate) but the watch goes on. Watching the full duration
with nothing wrong is a PASS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import httpx

from pytest_cutover.config import SYSTEM_NAMES, CutoverConfig
from pytest_cutover.gates import smoke
from pytest_cutover.gates.metrics.gate import MetricsWatch, every
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.progress import SILENT, Progress
from pytest_cutover.systems import System

GATE = "monitor"
_SEVERITY = {Outcome.PASS: 0, Outcome.INCONCLUSIVE: 1, Outcome.FAIL: 2}


def monitor(
    config: CutoverConfig,
    systems: Mapping[str, System],
    clients: Mapping[str, httpx.Client],
    duration: float,
    interval: float,
    progress: Progress = SILENT,
) -> GateResult:
    """Watch for `duration` seconds, one round every `interval` seconds; one GateResult."""
    checks = [
        check
        for name in SYSTEM_NAMES
        for make in (smoke.health_checks, smoke.endpoint_checks)
        for check in make(config, name)
    ]
    retry = min(config.smoke.retry_deadline, interval)
    smoke_problems: dict[str, GateResult] = {}
    rounds = int(duration // interval) + 1
    watch = MetricsWatch(config.metrics, systems, interval) if config.metrics.rules else None
    stopped: str | None = None
    done = 0
    with watch if watch is not None else contextlib.nullcontext():
        for now in every(interval, rounds):
            done += 1
            for check in checks:
                result = smoke.run_check(clients[check.system], check, retry, config.redactor)
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
        parts += watch.results(config.redactor)
    outcome = max((p.outcome for p in parts), key=_SEVERITY.__getitem__, default=Outcome.PASS)
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
