"""Where evaluations come from: live scrapes of each system, or a Prometheus server's history.

Each poll returns the evaluations (ticks) that became available since the last one: a scrape
source produces one per poll once it has scraped long enough to compute rates; a Prometheus
source produces, on its first poll, every step of the window from the server's history, and the
new steps on later polls.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from pytest_cutover.gates.base import GateSetupError
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.gates.metrics.presets import Signal, narrowed
from pytest_cutover.gates.metrics.prometheus import (
    PrometheusApi,
    PrometheusError,
    carries,
    promql,
)
from pytest_cutover.gates.metrics.scrape import ScrapeError, Snapshot, measure, resolve, scrape
from pytest_cutover.systems import System


@dataclass(frozen=True)
class Tick:
    """One evaluation moment: each system's signal values, or why it has none."""

    time: float
    values: Mapping[str, Mapping[Signal, float]]
    errors: Mapping[str, str] = field(default_factory=dict)


class Source(Protocol):
    def poll(self, now: float) -> list[Tick]: ...

    def close(self) -> None: ...

    def describe(self, system: str, signal: Signal) -> str: ...

    def problem(self, system: str, signal: Signal) -> str | None:
        """Why the signal had no data at the last poll, when the source can tell more than
        "no data" (a label no series carries)."""
        ...


class ScrapeSource:
    """Scrapes every system each poll; a rate is computed over the last `lookback` polls."""

    def __init__(
        self,
        config: MetricsConfig,
        systems: Mapping[str, System],
        signals: Collection[Signal],
    ) -> None:
        self.signals = list(signals)
        self.lookback = max(1, math.ceil(config.rate_window / config.interval - 1e-9))
        unreachable = [
            name
            for name, system in systems.items()
            if not system.serves_http and name not in config.scrape.urls
        ]
        if unreachable:
            name = unreachable[0]
            raise GateSetupError(
                f"systems.{name} has no base_url to scrape: give metrics.scrape.urls.{name}, "
                'or source = "prometheus" with a server that scrapes it'
            )
        self.urls = {
            name: config.scrape.urls.get(name, system.base_url + config.scrape.path)
            for name, system in systems.items()
        }
        self.clients = {
            name: httpx.Client(
                headers={**system.config.headers, **config.scrape.headers},
                timeout=config.timeout,
                verify=system.config.verify_tls,
            )
            for name, system in systems.items()
        }
        self.history: dict[str, deque[Snapshot | str]] = {
            name: deque(maxlen=self.lookback + 1) for name in systems
        }
        self.resolved: dict[tuple[str, Signal], Signal | str] = {}

    def poll(self, now: float) -> list[Tick]:
        for name, client in self.clients.items():
            try:
                self.history[name].append(scrape(client, self.urls[name]))
            except ScrapeError as err:
                self.history[name].append(str(err))
        if any(len(h) <= self.lookback for h in self.history.values()):
            return []  # still collecting the first window
        values: dict[str, dict[Signal, float]] = {}
        errors: dict[str, str] = {}
        for name, history in self.history.items():
            latest = history[-1]
            if isinstance(latest, str):
                errors[name] = latest
                continue
            window = [s for s in history if isinstance(s, Snapshot)]
            values[name] = {signal: measure(window, signal) for signal in self.signals}
            for signal in self.signals:
                if signal.extra:
                    self.resolved[name, signal] = resolve(window, signal)
        return [Tick(now, values, errors)]

    def describe(self, system: str, signal: Signal) -> str:
        """With the label actually used, once a scrape has shown which one the series carry."""
        resolved = self.resolved.get((system, signal), signal)
        used = signal if isinstance(resolved, str) else resolved
        return f"{used.describe()} from {self.urls[system]}"

    def problem(self, system: str, signal: Signal) -> str | None:
        resolved = self.resolved.get((system, signal))
        return f"{system}: {resolved}" if isinstance(resolved, str) else None

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    @property
    def polls_before_first_tick(self) -> int:
        return self.lookback


class PrometheusSource:
    """Asks the server for each signal; the first poll covers `history` seconds back."""

    def __init__(
        self,
        config: MetricsConfig,
        systems: Collection[str],
        signals: Collection[Signal],
        history: float,
    ) -> None:
        assert config.prometheus is not None
        settings = config.prometheus
        self.api = PrometheusApi(
            settings.url, settings.headers, config.timeout, settings.verify_tls
        )
        self.selectors = {name: settings.selectors.get(name, {}) for name in systems}
        self.signals = list(signals)
        self.step = config.interval
        self.window = config.rate_window
        self.history = history
        self.last: float | None = None
        self.resolved: dict[tuple[str, Signal], Signal | str] = {}

    def _times(self, now: float) -> list[float]:
        """The evaluation moments, on a whole-millisecond grid as the server computes it."""
        step, end = round(self.step * 1000), round(now * 1000)
        if self.last is None:
            # Round up: a `for` window that is not a whole number of steps must still be covered.
            first = end - math.ceil(self.history * 1000 / step - 1e-9) * step
        else:
            first = round(self.last * 1000) + step
        return [at / 1000 for at in range(first, end + 1, step)]

    def poll(self, now: float) -> list[Tick]:
        times = self._times(now)
        if not times:
            return []
        self.last = times[-1]
        values: dict[str, dict[Signal, dict[float, float]]] = {}
        errors: dict[str, str] = {}
        for name in self.selectors:
            try:
                values[name] = {signal: self._ask(name, signal, times) for signal in self.signals}
            except PrometheusError as err:
                errors[name] = str(err)
        ticks = []
        for at in times:
            key = round(at, 3)
            ticks.append(
                Tick(
                    at,
                    {
                        name: {s: series.get(key, math.nan) for s, series in by_signal.items()}
                        for name, by_signal in values.items()
                    },
                    errors,
                )
            )
        return ticks

    def _ask(self, system: str, signal: Signal, times: list[float]) -> dict[float, float]:
        resolved = self._resolve(system, signal, times)
        if isinstance(resolved, str):
            return {}  # no data at every step, and problem() says why
        query = promql(resolved, self.selectors[system], self.window)
        if len(times) == 1:
            return self.api.instant(query, times[0])
        return self.api.range(query, times[0], times[-1], self.step)

    def _resolve(self, system: str, signal: Signal, times: list[float]) -> Signal | str:
        """Which of the labels `extra` names the system's series carry over the polled span;
        once found it is kept (a label does not come and go)."""
        known = self.resolved.get((system, signal))
        if not signal.extra or isinstance(known, Signal):
            return known or signal
        span = times[-1] - times[0] + self.window
        selector = self.selectors[system]
        options = {option for name, _ in signal.extra for option in name.split("|")}
        carried = {
            option
            for option in options
            if self.api.instant(carries(signal, selector, option, span), times[-1])
        }
        self.resolved[system, signal] = found = narrowed(signal, carried)
        return found

    def query(self, system: str, signal: Signal) -> str:
        resolved = self.resolved.get((system, signal), signal)
        used = signal if isinstance(resolved, str) else resolved
        return promql(used, self.selectors[system], self.window)

    def describe(self, system: str, signal: Signal) -> str:
        return f"{self.query(system, signal)} on {self.api.url}"

    def problem(self, system: str, signal: Signal) -> str | None:
        resolved = self.resolved.get((system, signal))
        return f"{system}: {resolved}" if isinstance(resolved, str) else None

    def close(self) -> None:
        self.api.close()
