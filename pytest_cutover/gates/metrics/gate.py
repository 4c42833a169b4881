"""The metrics gate: watch every rule over its window and judge each one.

With direct scraping the gate watches in real time for the rate window plus the longest `for`
window; with a Prometheus server the history is already there, so the gate asks for the window
that just passed and answers at once. Monitor mode (monitor.py) keeps the same watch running.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.gates.metrics.rules import RuleWatch
from pytest_cutover.gates.metrics.sources import PrometheusSource, ScrapeSource, Source
from pytest_cutover.gates.result import GateResult
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig


def every(interval: float, count: int) -> Iterator[float]:
    """Yield `count` times, `interval` seconds apart on a fixed schedule, each time the moment
    (wall clock) it was scheduled for: a `for` window counts evaluations, not scheduler jitter."""
    start, wall = time.monotonic(), time.time()
    for index in range(count):
        delay = start + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield wall + index * interval


class SyntheticTraffic:
    """GETs to the configured paths at a steady rate, one thread per system, while watching."""

    def __init__(self, systems: Mapping[str, System], paths: list[str], rate: float) -> None:
        self.systems, self.paths, self.rate = systems, paths, rate
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(s,), daemon=True) for s in systems.values()
        ]
        self.sent = dict.fromkeys(systems, 0)

    def _send(self, system: System) -> None:
        with system.http_client() as client:
            started = time.monotonic()
            for index, path in enumerate(itertools.cycle(self.paths)):
                if self.stop.wait(max(0.0, started + index / self.rate - time.monotonic())):
                    return
                # What the system answered is for its metrics to show, not for us to judge.
                with contextlib.suppress(httpx.HTTPError):
                    client.get(path)
                self.sent[system.name] += 1

    def __enter__(self) -> SyntheticTraffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


class MetricsWatch:
    """Every rule of [metrics] fed from one source; use as a context manager."""

    def __init__(
        self,
        config: MetricsConfig,
        systems: Mapping[str, System],
        interval: float | None = None,
    ) -> None:
        if interval is not None:
            config = config.model_copy(update={"interval": interval})
        self.config = config
        self.watches = [RuleWatch(rule) for rule in config.rules]
        names = ["new", "legacy"] if config.uses_legacy else ["new"]
        # A Prometheus source without synthetic traffic never talks to the systems themselves.
        self.systems = {name: systems[name] for name in names if name in systems}
        signals = {s for watch in self.watches for s in watch.signals.values()}
        self.source: Source
        if config.source == "prometheus":
            self.source = PrometheusSource(config, names, signals, config.longest_window)
            self.polls_before_first_tick = 0
        else:
            scrape = ScrapeSource(config, self.systems, signals)
            self.source = scrape
            self.polls_before_first_tick = scrape.polls_before_first_tick
        self.traffic: SyntheticTraffic | None = None
        synthetic = config.synthetic
        if synthetic is not None:
            self.traffic = SyntheticTraffic(self.systems, synthetic.paths, synthetic.rate)

    def __enter__(self) -> MetricsWatch:
        if self.traffic is not None:
            self.traffic.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.traffic is not None:
            self.traffic.__exit__()
        self.source.close()

    def gate_polls(self) -> int:
        """How many polls the gate needs: one Prometheus query, or live scrapes over the rate
        window and the longest `for` window."""
        if self.config.source == "prometheus":
            return 1
        windows = math.ceil(self.config.longest_window / self.config.interval - 1e-9)
        return self.polls_before_first_tick + windows + 1

    def poll(self, now: float) -> None:
        for tick in self.source.poll(now):
            for watch in self.watches:
                watch.feed(tick, bool(self._problems(watch)))

    def _problems(self, watch: RuleWatch) -> list[str]:
        return [
            problem
            for system in watch.systems
            for signal in watch.signals.values()
            if (problem := self.source.problem(system, signal)) is not None
        ]

    @property
    def breached(self) -> list[str]:
        return [watch.rule.label for watch in self.watches if watch.breached]

    def results(self, redactor: Redactor) -> list[GateResult]:
        found = []
        for watch in self.watches:
            describe = {
                f"{system}.{key}": self.source.describe(system, signal)
                for system in watch.systems
                for key, signal in watch.signals.items()
            }
            extra = {} if self.traffic is None else {"synthetic_requests": dict(self.traffic.sent)}
            result = watch.result(describe, extra, self._problems(watch))
            found.append(redact_result(result, redactor))
        return found


def redact_result(result: GateResult, redactor: Redactor) -> GateResult:
    return GateResult(
        result.gate,
        result.name,
        result.outcome,
        tuple(redactor.text(reason) for reason in result.reasons),
        result.measurements,
        redactor.value(dict(result.evidence)),  # type: ignore[arg-type]
    )


def run_gate(
    config: MetricsConfig, systems: Mapping[str, System], redactor: Redactor
) -> list[GateResult]:
    """Watch the rules for their window and return one GateResult per rule."""
    with MetricsWatch(config, systems) as watch:
        for now in every(config.interval, watch.gate_polls()):
            watch.poll(now)
    return watch.results(redactor)


class MetricsGate(Gate[MetricsConfig]):
    name = "metrics"

    def section(self, config: CutoverConfig) -> MetricsConfig | None:
        return config.metrics if config.metrics.rules else None

    def cases(self, section: MetricsConfig, setup: Setup) -> list[str]:
        return [rule.label for rule in section.rules]

    def not_configured(self) -> str:
        return "no [[metrics.rules]] in cutover.toml"

    def run(
        self, section: MetricsConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        """Every rule is watched over the same window whichever were selected: one watch
        scrapes the systems (or asks Prometheus) once per interval for all of them."""
        systems = {name: context.system(name) for name in section.systems}
        return {r.name: r for r in run_gate(section, systems, context.redactor)}
