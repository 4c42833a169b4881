"""The load gate: run the profile against new (and at the same time against legacy, when a
budget is relative to it), then judge the measurements against the budget, honestly.

Honest means: no samples is INCONCLUSIVE, never a pass; a load that was not delivered (the
target rate not reached, whatever limited the generator) proves nothing and is checked before
any threshold blames new; a legacy run that is broken is named as such; a locust crash or a run
with no output is a failure of the tool, with locust's stderr as the evidence.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_cutover.gates.base import Gate, GateSetupError, RunContext, Setup
from pytest_cutover.gates.load.baseline import (
    BaselineError,
    StoredBaseline,
    document,
    read_baseline,
)
from pytest_cutover.gates.load.chart import latency_chart
from pytest_cutover.gates.load.config import STATISTICS, LoadConfig
from pytest_cutover.gates.load.profile import (
    LoadPlan,
    Pacing,
    Profile,
    ProfileError,
    make_profile,
)
from pytest_cutover.gates.load.runner import LocustRun, LocustStartError, run_locust
from pytest_cutover.gates.load.stats import (
    EndpointStats,
    LiveSample,
    read_failures,
    read_stats,
    split_name,
)
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.output import Output
from pytest_cutover.progress import SILENT, Progress
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System
from pytest_cutover.thresholds import (
    LEGACY_PREFIX,
    Folded,
    Threshold,
    Verdict,
    fold,
    reads_legacy,
)
from pytest_cutover.units import Kind, Quantity, format_quantity

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

GATE = "load"
OVERALL = "all endpoints"
_DURATIONS = frozenset({"p50", "p90", "p95", "p99", "max", "avg"})
_RATIOS = frozenset({"error_rate"})
_REACHED = 0.9  # below this share of the target rate, the target was not reached


class LoadSetupError(GateSetupError):
    """The gate cannot start (no profile, no locust): INCONCLUSIVE, with this message."""


class LoadGate(Gate[LoadPlan]):
    name = GATE

    def section(self, config: CutoverConfig) -> LoadPlan | None:
        if config.load is None:
            return None
        return LoadPlan(config.load, config.ab, tuple(config.smoke.endpoints))

    def cases(self, section: LoadPlan, setup: Setup) -> list[str]:
        return [OVERALL, *endpoints_to_judge(section.load)]

    def run(
        self, section: LoadPlan, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        """One load run whichever cases were selected: every budget reads the same run."""
        new = context.system("new")
        wanted = reads_legacy(section.load.all_thresholds) and not section.load.baseline
        legacy = context.system("legacy") if wanted else None
        results = run_load(
            section, context.base_dir, context.redactor, new, legacy, context.step,
            context.reports_dir, context.progress,
        )  # fmt: skip
        return {result.name: result for result in results}


@dataclass(frozen=True)
class Shape:
    """The load actually applied, after scaling by the traffic step."""

    users: int
    rate: float
    factor: float

    @classmethod
    def for_step(cls, load: LoadConfig, step: float | None) -> Shape:
        factor = step / 100.0 if (load.scale_with_step and step) else 1.0
        return cls(max(1, round(load.users * factor)), load.rate * factor, factor)


def endpoints_to_judge(load: LoadConfig) -> list[str]:
    return sorted(load.endpoint_thresholds)


def run_load(
    plan: LoadPlan,
    base_dir: Path,
    redactor: Redactor,
    new: System,
    legacy: System | None,
    step: float | None,
    reports: Path,
    progress: Progress = SILENT,
) -> list[GateResult]:
    """Results: the overall one first, then one per endpoint with its own thresholds."""
    load = plan.load
    shape = Shape.for_step(load, step)
    stored = None
    if load.baseline and reads_legacy(load.all_thresholds):
        try:
            stored = read_baseline(base_dir / load.baseline)
        except BaselineError as err:
            raise LoadSetupError(str(err)) from None
    # One run loads both when a threshold compares them: the same users send each request to
    # both, so the machine's and the network's noise hit both alike, and a distributed master
    # carries both. A stored baseline stands in for legacy.
    systems = [new]
    if reads_legacy(load.all_thresholds) and legacy is not None and stored is None:
        systems.append(legacy)
    done, profile = _load(plan, base_dir, redactor, shape, systems, reports, progress)
    return _judge(load, shape, profile, done, [system.name for system in systems], stored)


def capture_baseline(
    plan: LoadPlan, base_dir: Path, redactor: Redactor, legacy: System, reports: Path, path: Path
) -> StoredBaseline:
    """Load legacy alone with the configured profile and shape (no step scaling: the baseline
    is legacy serving the whole load) and store its figures in `path`."""
    shape = Shape.for_step(plan.load, None)
    run, _ = _load(plan, base_dir, redactor, shape, [legacy], reports, SILENT)
    problem = _broken(run)
    stats = read_stats(run.stats_file).get("legacy", {}) if problem is None else {}
    problem = problem or _legacy_broken(run, stats.get(""))
    if problem is not None:
        raise LoadSetupError(f"no baseline stored: {problem}")
    Output(redactor).write_json(path, document(stats, shape.users, shape.rate, plan.load.duration))
    return read_baseline(path)


def _load(
    plan: LoadPlan,
    base_dir: Path,
    redactor: Redactor,
    shape: Shape,
    systems: Sequence[System],
    reports: Path,
    progress: Progress,
) -> tuple[LocustRun, Profile | None]:
    with tempfile.TemporaryDirectory(prefix="cutover-load-") as private:
        locustfile, profile = _locustfile(plan, base_dir, redactor, shape, systems, Path(private))
        run = _Run(plan, shape, locustfile, systems, reports, Path(private), progress,
                   Output(redactor))  # fmt: skip
        try:
            return run.run(), profile
        except LocustStartError as err:
            raise LoadSetupError(f"{err} (load.locust_command)") from None


def _locustfile(
    plan: LoadPlan,
    base_dir: Path,
    redactor: Redactor,
    shape: Shape,
    systems: Sequence[System],
    private: Path,
) -> tuple[Path, Profile | None]:
    load = plan.load
    if load.locustfile:
        path = base_dir / load.locustfile
        if not path.is_file():
            raise LoadSetupError(f"{path}: no such locustfile (load.locustfile)")
        return path, None
    try:
        profile = make_profile(plan, base_dir, redactor)
        # Each system gets the configured users and rate: the users are multiplied by the
        # systems, and each iteration sends one request to every system.
        iteration_rate = shape.rate / (shape.users * len(systems)) if shape.rate else 0.0
        path = private / "cutover_profile.py"
        profile.write_locustfile(systems, plan.ab, Pacing(iteration_rate, load.timeout), path)
    except ProfileError as err:
        raise LoadSetupError(str(err)) from None
    return path, profile


@dataclass(frozen=True)
class _Run:
    """One locust run loading every system in `systems`.

    locust writes into the private folder, which only this run can read; what it wrote reaches
    the reports folder through `output`, redacted (its HTML report shows the hosts it loaded,
    user info and all)."""

    plan: LoadPlan
    shape: Shape
    locustfile: Path
    systems: Sequence[System]
    reports: Path
    private: Path
    progress: Progress
    output: Output

    def run(self) -> LocustRun:
        label = "+".join(system.name for system in self.systems)
        folder = self.reports / "load" / label
        shutil.rmtree(folder, ignore_errors=True)
        load = self.plan.load

        def should_abort(samples: Mapping[str, Sequence[LiveSample]]) -> str | None:
            latest = samples.get("new")
            if not latest:
                return None
            sample = latest[-1]
            requests = sample.measurements["requests"]
            self.progress.update("load", sample.elapsed, load.duration, f"{requests:,.0f} requests")
            if sample.elapsed < load.abort_delay:
                return None
            quantities = _quantities(sample.measurements)
            for threshold in load.abort_on_fail:
                found = threshold.evaluate(quantities)
                if found.verdict is Verdict.FAIL:
                    return found.explanation
            return None

        work = self.private / label
        users = self.shape.users * len(self.systems)
        run = run_locust(
            load.locust_command, self.locustfile, self.systems[0].base_url, users,
            load.spawn_rate * len(self.systems), load.duration, load.processes, work,
            should_abort,
        )  # fmt: skip
        self.progress.finish("load", run.aborted or "")
        self.output.copy_tree(work, folder)
        return dataclasses.replace(run, folder=folder)


def _quantities(measured: Mapping[str, float]) -> dict[str, Quantity]:
    found = {}
    for name, value in measured.items():
        statistic = name.removeprefix("legacy.")
        kind = Kind.NUMBER
        if statistic in _DURATIONS:
            kind = Kind.DURATION
        elif statistic in _RATIOS:
            kind = Kind.RATIO
        found[name] = Quantity(value, kind)
    return found


def _judge(
    load: LoadConfig,
    shape: Shape,
    profile: Profile | None,
    run: LocustRun,
    systems: Sequence[str],
    stored: StoredBaseline | None = None,
) -> list[GateResult]:
    broken = _broken(run)
    stats = read_stats(run.stats_file) if run.stats_file.exists() else {}
    if stored is not None:
        stats["legacy"] = stored.stats
    label = "+".join(systems)
    evidence: dict[str, Any] = {
        "profile": profile.source if profile else f"locustfile {load.locustfile}",
        "users": shape.users,
        "systems_loaded": list(systems),
        "target_rps": shape.rate or None,
        "scaled_by_step": shape.factor,
        "duration_seconds": load.duration,
        "endpoints": _table(stats),
        "runs": {label: _describe(run)},
        "latency_chart_svg": latency_chart(run.history, load.thresholds),
    }
    if stored is not None:
        evidence["legacy_from_baseline"] = stored.describe()
    if broken:
        reasons = (broken,)
        # The load generator failed, not the new system: it proved nothing either way.
        return [GateResult(GATE, OVERALL, Outcome.INCONCLUSIVE, reasons, {}, evidence)]
    aggregates = {system: stats.get(system, {}).get("") for system in systems}
    context = _Context(
        shape=shape,
        run=run,
        shortfall=_shortfall(shape, aggregates, run),
        legacy_problem=None,
        legacy_source=(
            f"legacy from the baseline {stored.path.name} captured {stored.captured_at}"
            if stored is not None
            else "legacy in the same run"
        ),
    )
    if stored is None and reads_legacy(load.all_thresholds) and "legacy" not in systems:
        context.legacy_problem = (
            "legacy was not loaded (no legacy system): thresholds on legacy.* have no data"
        )
    elif "legacy" in systems:
        context.legacy_problem = _legacy_broken(run, aggregates["legacy"])
    if context.shortfall is not None:
        evidence["shortfall"] = context.shortfall.reason
    results = [_verdict(OVERALL, load.thresholds, stats, "", context, evidence)]
    for endpoint in sorted(load.endpoint_thresholds):
        results.append(
            _verdict(endpoint, load.endpoint_thresholds[endpoint], stats, endpoint, context,
                     {"endpoint": endpoint})
        )  # fmt: skip
    return results


def _broken(run: LocustRun) -> str | None:
    if run.returncode not in (0, None) or not run.stats_file.exists():
        status = f"exit status {run.returncode}" if run.returncode is not None else "killed"
        if "No module named locust" in run.stderr_tail:
            return f"locust is not installed for {run.command[0]} (set load.locust_command)"
        return f"locust failed ({status}, no results written): {run.stderr_tail.strip()[-600:]}"
    return None


def _legacy_broken(run: LocustRun, found: EndpointStats | None) -> str | None:
    """Why legacy's side of the run cannot be a baseline: it completed no request (it never
    answered, or a distributed run lost its workers) or every request failed. Relative
    thresholds then say so, naming legacy, instead of "no data for legacy.p95"."""
    if found is None or found.requests == 0:
        cause = "it completed 0 requests"
        if run.stderr_tail.strip():
            cause += f" (locust's stderr: {run.stderr_tail.strip()[-300:]})"
    elif found.failures == found.requests:
        first = next(
            (row for row in read_failures(run.failures_file, 100)
             if split_name(row.get("Name", ""))[0] == "legacy"),
            None,
        )  # fmt: skip
        cause = f"all {found.requests} of its requests failed" + (
            f" (first: {first.get('Error', '')})" if first else ""
        )
    else:
        return None
    return (
        f"legacy's side of the load is broken, so thresholds on legacy.* cannot be judged: {cause}"
    )


@dataclass(frozen=True)
class Shortfall:
    """The target rate was not delivered: how far off, what limited it, and whether locust's own
    CPU was among the limits (then its latencies are not the system's either)."""

    reason: str
    generator_bound: bool


def _shortfall(
    shape: Shape, aggregates: Mapping[str, EndpointStats | None], run: LocustRun
) -> Shortfall | None:
    """Checked before any threshold: a load that was not delivered tested nothing at the target
    rate, whatever limited it (locust's CPU, users waiting for answers in a closed loop, failed
    connections, a shared machine). Each system under load is to get the target rate."""
    if not shape.rate:
        return None
    measured = {
        system: found.measurements() if found is not None else {}
        for system, found in aggregates.items()
    }
    achieved = measured["new"].get("rps", math.nan)
    if achieved >= _REACHED * shape.rate:
        return None
    share = run.cpu_seconds / run.wall if run.wall > 0 else math.nan
    limits = []
    if run.saturated:
        limits.append(f"locust was CPU bound ({share:.0%} of a core): add load.processes")
    averages = {system: values.get("avg", math.nan) for system, values in measured.items()}
    # One iteration of a user waits for an answer from every system in turn.
    iteration = math.fsum(averages.values())
    most = shape.users * len(averages) / iteration if iteration > 0 else math.nan
    if most < _REACHED * shape.rate:
        if len(averages) == 1:
            waits = f"each waiting for its answer ({averages['new'] * 1000:.0f} ms on average)"
        else:
            waits = (
                "each waiting for every system's answer in turn ("
                + ", ".join(
                    f"{system} {average * 1000:.0f} ms" for system, average in averages.items()
                )
                + " on average)"
            )
        limits.append(
            f"{shape.users} users {waits} can send at most {most:,.0f} requests/s: add users"
        )
    failures = math.fsum(values.get("failures", 0.0) for values in measured.values())
    if failures:
        limits.append(f"{failures:,.0f} requests failed (no answer or 5xx)")
    if not limits:
        limits.append(
            f"not locust's CPU ({share:.0%} of a core) nor its users: the machine or the "
            "network it shares"
        )
    shown = 0.0 if math.isnan(achieved) else achieved
    reason = (
        f"the load was not delivered: {shown:,.0f} of {shape.rate:,.0f} requests/s "
        f"({'; '.join(limits)}): the system was not tested at the target rate"
    )
    return Shortfall(reason, run.saturated)


@dataclass
class _Context:
    """What every result of one load run is judged with."""

    shape: Shape
    run: LocustRun
    shortfall: Shortfall | None
    legacy_problem: str | None
    legacy_source: str


_THROUGHPUT = frozenset({"rps", "requests", "target_rps"})


def _about_throughput(threshold: Threshold) -> bool:
    """Whether the threshold judges how much load went through: a shortfall explains its
    failure, and it cannot explain a shortfall."""
    return any(name.removeprefix("legacy.") in _THROUGHPUT for name in threshold.names)


def _verdict(
    name: str,
    thresholds: Sequence[Threshold],
    stats: Mapping[str, Mapping[str, EndpointStats]],
    endpoint: str,
    context: _Context,
    evidence: dict[str, Any],
) -> GateResult:
    """In order of whose failure it is: an aborted run fails new; an undelivered load is
    INCONCLUSIVE unless new's own latency or errors failed (they explain it) and locust was not
    CPU bound; a broken legacy makes relative thresholds INCONCLUSIVE naming legacy."""
    measurements: dict[str, float] = {}
    for system, prefix in (("new", ""), ("legacy", "legacy.")):
        found = stats.get(system, {}).get(endpoint)
        values = found.measurements() if found is not None else dict.fromkeys(STATISTICS, math.nan)
        measurements.update({prefix + k: v for k, v in values.items()})
    if context.shape.rate and not endpoint:
        measurements["target_rps"] = context.shape.rate
    quantities = _quantities(measurements)
    relative = [t for t in thresholds if reads_legacy([t])]
    absolute = [t for t in thresholds if not reads_legacy([t])]
    own = fold(absolute, quantities)
    both = {system: stats.get(system, {}).get(endpoint) for system in ("new", "legacy")}
    compared = _compare(relative, both, measurements, context.legacy_source)
    failed = list(own.failed)
    unsure = list(own.unsure)
    first: list[str] = []
    if relative and context.legacy_problem is not None:
        first.append(context.legacy_problem)
    else:
        failed.extend(compared.failed)
        unsure.extend(compared.unsure)
    shortfall = context.shortfall
    if shortfall is not None:
        explaining = (
            []
            if shortfall.generator_bound
            else _explaining([*absolute, *relative], quantities, both, measurements, context)
        )
        if explaining:
            failed = [*explaining, f"which explains why {shortfall.reason}"]
        else:
            failed = []
            first.append(shortfall.reason)
    unsure = [*first, *unsure]
    if context.run.aborted and not endpoint:
        failed.insert(0, context.run.aborted)
    clean = {k: v for k, v in measurements.items() if not math.isnan(v)}
    outcome = Outcome.FAIL if failed else Outcome.INCONCLUSIVE if unsure else Outcome.PASS
    checked = [*own.checked, *compared.checked]
    shown = {**evidence, "thresholds": checked, "confidence_95": _intervals(both)}
    return GateResult(GATE, name, outcome, tuple(failed + unsure), clean, shown)


def _compare(
    relative: Sequence[Threshold],
    stats: Mapping[str, EndpointStats | None],
    measurements: Mapping[str, float],
    legacy_source: str,
) -> Folded:
    """Thresholds against legacy, judged with 95% confidence (both systems were loaded by the
    same users at the same time). Each threshold is one number, how far new lies beyond its
    limit; its interval combines each statistic's own interval (MOVER, Zou and Donner's
    recovery of the variance of a sum from its terms' intervals, as Newcombe's interval of a
    difference of two proportions does). FAIL only when the whole interval is beyond the
    limit: new is worse with confidence; PASS only when the whole interval is within it: we
    looked, and new is not worse. An interval across the limit is too noisy or too short to
    tell: INCONCLUSIVE with the interval, whichever side the measured values fell on (a
    fault hidden in a noisy legacy's tail must not pass)."""
    failed: list[str] = []
    unsure: list[str] = []
    checked: list[dict[str, str]] = []
    point = _quantities(measurements)
    counts = ", ".join(
        f"{int(found.requests):,} {system} requests"
        for system, found in stats.items()
        if found is not None
    )
    for threshold in relative:
        found = threshold.evaluate(point)
        intervals = {name: _interval(name, stats) for name in sorted(threshold.names)}
        excess = threshold.excess(point)
        low, high = _excess_interval(threshold, point, intervals)
        shown = [
            f"{name} " + " to ".join(_figure(v, point[name].kind) for v in interval)
            for name, interval in intervals.items()
            if interval is not None
        ]
        beyond = (
            f"beyond the limit by {_figure(low, excess.kind)} to {_figure(high, excess.kind)}"
            if not math.isnan(low)
            else "no interval"
        )
        confidence = f"95% confidence: {beyond} ({'; '.join([*shown, counts, legacy_source])})"
        strict = threshold.comparator in ("<", ">")
        worse = low >= 0 if strict else low > 0
        within = high < 0 if strict else high <= 0
        explanation = found.explanation
        if found.verdict is Verdict.NO_DATA:
            unsure.append(explanation)
        elif math.isnan(low) and found.verdict is Verdict.FAIL:
            failed.append(explanation)  # `==` and `!=` have no side to be sure of
        elif found.verdict is Verdict.FAIL and worse:
            explanation = f"{explanation}; new is worse with {confidence}"
            failed.append(explanation)
        elif not math.isnan(low) and not within and not worse:
            explanation = (
                f"{explanation}, but not with {confidence}: too noisy or too short to tell"
            )
            unsure.append(explanation)
        checked.append(
            {"threshold": threshold.source, "verdict": found.verdict.value,
             "explanation": explanation, "confidence": confidence}
        )  # fmt: skip
    return Folded(tuple(failed), tuple(unsure), tuple(checked))


def _figure(value: float, kind: Kind) -> str:
    """An interval's end as people read it; an end too few requests cannot bound is said so."""
    if math.isinf(value):
        return "unbounded" if value > 0 else "-unbounded"
    return format_quantity(value, kind)


def _excess_interval(
    threshold: Threshold,
    point: Mapping[str, Quantity],
    intervals: Mapping[str, tuple[float, float] | None],
) -> tuple[float, float]:
    """The 95% interval of how far new lies beyond the limit: each statistic moved to either
    end of its own interval, the others kept, and the moves combined as independent errors
    (root of the sum of squares). Both systems share the machine's noise in one run, which
    only makes this wider than it need be, never narrower."""
    centre = threshold.excess(point).value
    below = above = 0.0
    for name, interval in intervals.items():
        if interval is None:
            continue
        ends = [
            threshold.excess({**point, name: Quantity(value, point[name].kind)}).value
            for value in interval
        ]
        below += max(0.0, centre - min(ends)) ** 2
        above += max(0.0, max(ends) - centre) ** 2
    return centre - math.sqrt(below), centre + math.sqrt(above)


def _interval(name: str, stats: Mapping[str, EndpointStats | None]) -> tuple[float, float] | None:
    entry = stats.get("legacy" if name.startswith(LEGACY_PREFIX) else "new")
    return entry.interval(name.removeprefix(LEGACY_PREFIX)) if entry is not None else None


def _intervals(stats: Mapping[str, EndpointStats | None]) -> dict[str, list[float | None]]:
    """Every statistic's 95% interval, for the evidence (base units, as the measurements)."""
    found = {}
    for system, prefix in (("new", ""), ("legacy", LEGACY_PREFIX)):
        entry = stats.get(system)
        if entry is None:
            continue
        for statistic in STATISTICS:
            interval = entry.interval(statistic)
            if interval is not None and not any(map(math.isnan, interval)):
                # Strict JSON has no infinity: an end too few requests cannot bound is null.
                ends = [end if math.isfinite(end) else None for end in interval]
                found[prefix + statistic] = ends
    return found


def _explaining(
    thresholds: Sequence[Threshold],
    quantities: Mapping[str, Quantity],
    stats: Mapping[str, EndpointStats | None],
    measurements: Mapping[str, float],
    context: _Context,
) -> list[str]:
    """New's own failed latency and error limits, and those where new is worse than legacy
    with confidence (both got the same load in the same run): new being slow or failing is a
    reason the load fell short (users wait longer for each answer), so they stand as a NO-GO.
    Throughput thresholds cannot explain a shortfall: they are what fell short."""
    judged = [t for t in thresholds if not _about_throughput(t)]
    own = fold([t for t in judged if not reads_legacy([t])], quantities).failed
    relative = [t for t in judged if reads_legacy([t])]
    compared = _compare(relative, stats, measurements, context.legacy_source).failed
    return [*own, *compared]


def _table(stats: Mapping[str, Mapping[str, EndpointStats]]) -> list[dict[str, Any]]:
    """One row per endpoint with new and legacy side by side (milliseconds, as people read them)."""
    names = sorted({name for found in stats.values() for name in found})
    rows = []
    for name in names:
        row: dict[str, Any] = {"endpoint": name or OVERALL}
        for system, found in stats.items():
            if name not in found:
                continue
            values = found[name].measurements()
            row[system] = {
                "requests": int(values["requests"]),
                "failures": int(values["failures"]),
                **{f"{k}_ms": _ms(values[k]) for k in ("p50", "p95", "p99")},
                "rps": None if math.isnan(values["rps"]) else round(values["rps"], 1),
            }
        rows.append(row)
    return rows


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 1)


def _describe(run: LocustRun) -> dict[str, Any]:
    return {
        "command": " ".join(run.command),
        "exit_status": run.returncode,
        "wall_seconds": round(run.wall, 2),
        "locust_cpu_share": round(run.cpu_seconds / run.wall, 3) if run.wall else None,
        "aborted": run.aborted,
        "html_report": str(run.html_report) if run.html_report.exists() else None,
        "failures": read_failures(run.failures_file),
        "stderr_tail": run.stderr_tail[-1500:],
    }
