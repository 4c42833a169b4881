"""The resources gate: sample new's (and, when a threshold reads it, legacy's) processes over
one window, at the same moments, and judge memory, CPU and memory growth against thresholds.

Fail closed: processes that cannot be found prove nothing (INCONCLUSIVE, naming where the gate
looked); new's processes ending inside the window is new failing (FAIL); legacy's ending makes
the thresholds that read it INCONCLUSIVE. Fewer than three samples measure no growth.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_cutover.gates.base import Gate, GateSetupError, RunContext, Setup
from pytest_cutover.gates.resources.config import Processes, ResourcesConfig
from pytest_cutover.gates.resources.sampler import (
    ProcessNotFound,
    Series,
    cgroup_pids,
    is_local,
    listening_pids,
    processes,
    watch,
)
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.thresholds import LEGACY_PREFIX, Verdict, fold
from pytest_cutover.units import Kind, Quantity

if TYPE_CHECKING:
    import psutil

    from pytest_cutover.config import CutoverConfig

GATE = "resources"
CASE = "memory and cpu"
_HOUR = 3600.0


class ResourcesGate(Gate[ResourcesConfig]):
    name = GATE

    def section(self, config: CutoverConfig) -> ResourcesConfig | None:
        return config.resources

    def cases(self, section: ResourcesConfig, setup: Setup) -> list[str]:
        return [CASE]

    def run(
        self, section: ResourcesConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        names = ["new", "legacy"] if section.reads_legacy else ["new"]
        where = {name: _where(name, getattr(section, name), context) for name in names}
        roots: dict[str, list[psutil.Process]] = {}
        for name, (pids, looked) in where.items():
            try:
                roots[name] = processes(pids)
            except ProcessNotFound as err:
                raise GateSetupError(f"{name}: {err} ({looked})") from None
        task = f"resources: sampling {', '.join(names)}"
        total = section.duration
        series = watch(
            roots,
            section.duration,
            section.interval,
            lambda elapsed: context.progress.update(task, min(elapsed, total), total, "s"),
        )
        context.progress.finish(task)
        return {CASE: judge(section, series, {n: [p.pid for p in r] for n, r in roots.items()})}


def _where(name: str, processes_config: Processes, context: RunContext) -> tuple[list[int], str]:
    """The pids to sample and, for an error, where they came from."""
    if processes_config.pids:
        return processes_config.pids, f"[resources.{name}] pids"
    if processes_config.cgroup is not None:
        cgroup = context.base_dir / processes_config.cgroup
        try:
            return cgroup_pids(cgroup), f"the cgroup {cgroup}"
        except ProcessNotFound as err:
            raise GateSetupError(f"{name}: {err}") from None
    url = urlsplit(context.system(name).base_url)
    port = processes_config.port or url.port or (443 if url.scheme == "https" else 80)
    if processes_config.port is None and not is_local(url.hostname):
        raise GateSetupError(
            f"{name} runs on {url.hostname}, not on this machine: name its processes with "
            f"[resources.{name}] pids = [...] on the machine it runs on, or port = N"
        )
    return listening_pids(port), f"nothing listens on port {port} on this machine"


def judge(
    section: ResourcesConfig, series: Mapping[str, Series], pids: Mapping[str, list[int]]
) -> GateResult:
    measured: dict[str, Quantity] = {}
    evidence: dict[str, Any] = {"window_s": section.duration, "interval_s": section.interval}
    for name, found in series.items():
        values = measurements(found)
        prefix = "" if name == "new" else LEGACY_PREFIX
        measured.update({prefix + key: value for key, value in values.items()})
        evidence[name] = {
            "pids": pids[name],
            "samples": len(found.samples),
            **({"ended": found.gone} if found.gone else {}),
            **{key: round(q.value, 4) for key, q in values.items()},
            "memory_mb": [round(mb, 2) for mb in found.memory_mb()][-120:],
        }
    folded = fold(section.thresholds, measured)
    evidence["thresholds"] = list(folded.checked)
    new_gone = series["new"].gone
    if new_gone:
        outcome, reasons = Outcome.FAIL, (f"new: {new_gone}", *folded.failed)
    elif folded.verdict is Verdict.FAIL:
        outcome, reasons = Outcome.FAIL, folded.failed
    elif folded.verdict is Verdict.NO_DATA:
        gone = [f"{n}: {s.gone}" for n, s in series.items() if s.gone]
        outcome, reasons = Outcome.INCONCLUSIVE, (*gone, *folded.unsure)
    else:
        outcome, reasons = Outcome.PASS, ()
    numbers = {k: q.value for k, q in measured.items() if not k.startswith(LEGACY_PREFIX)}
    return GateResult(GATE, CASE, outcome, tuple(reasons), numbers, evidence)


def measurements(series: Series) -> dict[str, Quantity]:
    """What a series measured; a measurement with too few samples is left out (no data)."""
    memory = series.memory_mb()
    cpu = series.cpu_shares()
    found: dict[str, Quantity] = {}
    if memory:
        found["memory"] = Quantity(max(memory))
        found["memory_avg"] = Quantity(statistics.fmean(memory))
    if len(memory) >= 3:
        hours = [t / _HOUR for t, _, _ in series.samples]
        found["memory_growth"] = Quantity(statistics.linear_regression(hours, memory).slope)
    if cpu:
        found["cpu"] = Quantity(statistics.fmean(cpu), Kind.RATIO)
        found["cpu_max"] = Quantity(max(cpu), Kind.RATIO)
    return found
