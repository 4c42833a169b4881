"""locust's machine-readable results as measurements: requests, failures, rates and exact
percentiles from its per-request response-time histograms (not its console text)."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MS = 0.001
UNTAGGED = "new"  # a request name without a system tag was sent to new
Z_95 = 1.96  # two-sided 95%: the confidence every comparison with legacy is judged at
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
_COUNTS = frozenset({"rps", "requests", "failures"})


@dataclass
class EndpointStats:
    name: str
    requests: int = 0
    failures: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    histogram: Counter[float] = field(default_factory=Counter)
    start: float = math.inf
    end: float = -math.inf
    per_second: Counter[int] = field(default_factory=Counter)

    @classmethod
    def from_locust(cls, entry: Mapping[str, Any]) -> EndpointStats:
        return cls(
            name=str(entry["name"]),
            requests=int(entry["num_requests"]),
            failures=int(entry["num_failures"]),
            total_ms=float(entry["total_response_time"]),
            max_ms=float(entry["max_response_time"] or 0.0),
            histogram=Counter({float(k): int(v) for k, v in entry["response_times"].items()}),
            start=float(entry["start_time"]),
            end=float(entry["last_request_timestamp"] or entry["start_time"]),
            per_second=Counter(
                {int(k): int(v) for k, v in (entry.get("num_reqs_per_sec") or {}).items()}
            ),
        )

    def merge(self, other: EndpointStats) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)
        self.histogram.update(other.histogram)
        self.start = min(self.start, other.start)
        self.end = max(self.end, other.end)
        self.per_second.update(other.per_second)

    def percentile(self, share: float) -> float:
        """Seconds, by locust's own definition (stats.calculate_response_time_percentile), so the
        figures agree with its HTML report even at small counts: the largest recorded time with
        at most int(share * n) requests faster than it. (locust rounds times above 100 ms to 2
        significant digits when recording.)"""
        total = sum(self.histogram.values())
        if total == 0:
            return math.nan
        allowed_below = int(total * share)
        above = 0
        for value in sorted(self.histogram, reverse=True):
            above += self.histogram[value]
            if total - above <= allowed_below:
                return value * MS
        return min(self.histogram) * MS

    def _at_rank(self, rank: int) -> float:
        """Seconds: the rank-th smallest recorded time (1-based, clipped to the samples)."""
        seen = 0
        for value in sorted(self.histogram):
            seen += self.histogram[value]
            if seen >= rank:
                return value * MS
        return max(self.histogram) * MS

    def interval(self, statistic: str) -> tuple[float, float] | None:
        """A 95% confidence interval of the statistic from this run's requests, or None when
        it has none (max: the one slowest request). Percentiles: the distribution-free
        interval between two order statistics (ranks n*q -/+ 1.96 sqrt(n q (1-q))), widened by
        half locust's recording step (1 ms below 100 ms: 3 ms may be 2.5 to 3.5), and unbounded
        above when that rank is past the slowest request (too few requests to bound a p95: the
        true one may be slower than any seen, so the figure cannot make anyone worse); error rate:
        Wilson's score interval, which holds at small counts and at 0%; requests, failures and
        rps: a Poisson count's score interval; average: the normal interval of a mean."""
        total = sum(self.histogram.values())
        if statistic in _QUANTILES and total:
            share = _QUANTILES[statistic]
            spread = Z_95 * math.sqrt(total * share * (1 - share))
            below, above = math.floor(total * share - spread), math.ceil(total * share + spread) + 1
            low = self._at_rank(below) if below >= 1 else 0.0
            high = self._at_rank(above) if above <= total else math.inf
            return max(0.0, low - _resolution(low) / 2), high + _resolution(high) / 2
        if statistic == "error_rate" and self.requests:
            n, rate = self.requests, self.failures / self.requests
            centre = (rate + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
            half = (Z_95 / (1 + Z_95**2 / n)) * math.sqrt(
                rate * (1 - rate) / n + Z_95**2 / (4 * n * n)
            )
            low = max(0.0, centre - half) if self.failures else 0.0
            return low, min(1.0, centre + half) if self.failures < n else 1.0
        if statistic == "rps" and self.requests:
            counted, seconds = self._rate_window()
            low, high = _poisson(counted)
            return (low / seconds, high / seconds) if seconds > 0 else None
        if statistic in _COUNTS and self.requests:
            return _poisson(self.requests if statistic == "requests" else self.failures)
        if statistic == "avg" and total > 1:
            mean = math.fsum(v * c for v, c in self.histogram.items()) / total
            variance = math.fsum(c * (v - mean) ** 2 for v, c in self.histogram.items())
            half = Z_95 * math.sqrt(variance / (total - 1) / total)
            return max(0.0, mean - half) * MS, (mean + half) * MS
        return None

    def _rate_window(self) -> tuple[int, float]:
        """Requests and seconds the rate is measured over: the whole seconds between the first
        and the last one (users still starting, and the run stopping mid-second, would count
        as a shortfall of the system's), or, in a run too short for two whole seconds, the
        span of its requests, and at least a second for each second they touched when that
        span is under one (a handful of requests a few milliseconds apart is not a rate of
        thousands)."""
        seconds = sorted(self.per_second)
        if len(seconds) >= 4:
            inner = seconds[1:-1]
            return sum(self.per_second[s] for s in inner), float(inner[-1] - inner[0] + 1)
        span = self.end - self.start
        return self.requests, span if span >= 1 else max(span, float(len(seconds)))

    def measurements(self) -> dict[str, float]:
        """Base units; with no requests every statistic is NaN, which thresholds read as NO DATA."""
        if self.requests == 0:
            return {"requests": 0.0, "failures": 0.0} | {
                k: math.nan for k in ("rps", "error_rate", "p50", "p90", "p95", "p99", "max", "avg")
            }
        counted, seconds = self._rate_window()
        return {
            "requests": float(self.requests),
            "failures": float(self.failures),
            "rps": counted / seconds if seconds > 0 else math.nan,
            "error_rate": self.failures / self.requests,
            "p50": self.percentile(0.50),
            "p90": self.percentile(0.90),
            "p95": self.percentile(0.95),
            "p99": self.percentile(0.99),
            "max": self.max_ms * MS,
            "avg": self.total_ms / self.requests * MS,
        }


def _poisson(count: int) -> tuple[float, float]:
    """The 95% score interval of a Poisson count: as many requests could have gone through
    in the same time by chance (a paced load varies less: this errs wide, never narrow)."""
    half = Z_95 * math.sqrt(count + Z_95**2 / 4)
    centre = count + Z_95**2 / 2
    return max(0.0, centre - half), centre + half


def _resolution(seconds: float) -> float:
    """The step locust rounds a response time to when recording it: whole milliseconds below
    100 ms, then 2 significant digits (10 ms steps below 1 s, 100 ms below 10 s, ...)."""
    if math.isinf(seconds):
        return 0.0
    milliseconds = round(seconds / MS)
    if milliseconds < 100:
        return MS
    step: float = 10.0 ** (len(str(milliseconds)) - 2) * MS
    return step


def read_stats(path: Path) -> dict[str, dict[str, EndpointStats]]:
    """Per system (a run loading several tags each request name: `[legacy] GET /ping`; an
    untagged name is new's), per endpoint name (one name may carry several methods; they are
    merged), plus each system's aggregate under "" (locust's JSON has no aggregated entry)."""
    found: dict[str, dict[str, EndpointStats]] = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        system, name = split_name(str(entry["name"]))
        stats = EndpointStats.from_locust({**entry, "name": name})
        by_name = found.setdefault(system, {"": EndpointStats("")})
        by_name[""].merge(stats)
        if name in by_name:
            by_name[name].merge(stats)
        else:
            by_name[name] = stats
    return found


def split_name(name: str) -> tuple[str, str]:
    """The system a request name was tagged with, and the name without the tag."""
    if name.startswith("[") and "] " in name:
        system, _, rest = name[1:].partition("] ")
        return system, rest
    return UNTAGGED, name


def read_failures(path: Path, limit: int = 20) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:limit]


@dataclass(frozen=True)
class LiveSample:
    """One row of locust's stats history: what the run looks like right now."""

    elapsed: float
    users: int
    measurements: dict[str, float]


def read_live(path: Path, started: float) -> dict[str, list[LiveSample]]:
    """Per system, the per-second snapshots live_locustfile.py appends (percentiles cover
    locust's recent window, counts are cumulative); a line still being written is skipped."""
    if not path.exists():
        return {}
    found: dict[str, list[LiveSample]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        for system, totals in row["systems"].items():
            requests, failures = float(totals["requests"]), float(totals["failures"])
            measured = {
                "rps": float(totals["rps"]),
                "requests": requests,
                "failures": failures,
                "error_rate": failures / requests if requests else math.nan,
                **{k: _seconds(totals[k]) for k in ("p50", "p95", "p99", "max")},
            }
            sample = LiveSample(float(row["time"]) - started, int(row["users"]), measured)
            found.setdefault(system, []).append(sample)
    return found


def _seconds(milliseconds: float | None) -> float:
    return math.nan if milliseconds is None else float(milliseconds) * MS
