"""Direct scraping: read a system's /metrics text and compute signals from successive scrapes.

A counter says nothing on its own; its per-second rate is the increase between two scrapes over
the time between them. Increases are summed scrape to scrape, so a counter that went down (the
process restarted) counts from zero again, as Prometheus' rate() does. A histogram quantile is
interpolated from the buckets' increases over the window, as histogram_quantile() does.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pytest_cutover.gates.metrics.presets import Matchers, Signal, narrowed

SeriesKey = frozenset[tuple[str, str]]


class ScrapeError(Exception):
    """The endpoint could not be read or did not answer in Prometheus text format."""


@dataclass(frozen=True)
class Snapshot:
    """One scrape: every sample by its name, then by its label set."""

    time: float
    samples: Mapping[str, Mapping[SeriesKey, float]]


def parse_exposition(text: str, at: float) -> Snapshot:
    samples: dict[str, dict[SeriesKey, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return Snapshot(at, samples)


def scrape(client: httpx.Client, url: str) -> Snapshot:
    """GET the endpoint and parse it; every failure is a ScrapeError naming the URL and cause."""
    try:
        response = client.get(url)
    except httpx.HTTPError as err:
        raise ScrapeError(f"cannot scrape {url}: {type(err).__name__}: {err}") from None
    if response.status_code != 200:
        raise ScrapeError(f"GET {url} answered {response.status_code} (expected 200)")
    try:
        return parse_exposition(response.text, time.time())
    except (ValueError, TypeError, IndexError) as err:
        raise ScrapeError(f"{url}: not in Prometheus text format: {err}") from None


def matches(key: SeriesKey, matchers: Matchers) -> bool:
    """Exact label values, or `re:PATTERN` matched against the whole value; a missing label is
    the empty string, as in PromQL."""
    labels = dict(key)
    for name, wanted in matchers:
        value = labels.get(name, "")
        if wanted.startswith("re:"):
            if re.fullmatch(wanted[3:], value) is None:
                return False
        elif value != wanted:
            return False
    return True


def _series(snapshot: Snapshot, name: str, matchers: Matchers) -> dict[SeriesKey, float]:
    found = snapshot.samples.get(name, {})
    return {key: value for key, value in found.items() if matches(key, matchers)}


def _counter_name(snapshot: Snapshot, metric: str) -> str:
    """`http_requests` and `http_requests_total` both name the counter's samples."""
    if metric not in snapshot.samples and f"{metric}_total" in snapshot.samples:
        return f"{metric}_total"
    return metric


def increases(window: Sequence[Snapshot], name: str, matchers: Matchers) -> dict[SeriesKey, float]:
    """Each matching series' increase from the first scrape to the last, resets included. A
    series that appears during the window started from zero (a labelled counter is only
    exported once it is first incremented)."""
    totals: dict[SeriesKey, float] = {}
    for before, after in itertools.pairwise(window):
        previous = _series(before, name, matchers)
        for key, value in _series(after, name, matchers).items():
            start = previous.get(key, 0.0)
            totals[key] = totals.get(key, 0.0) + (value - start if value >= start else value)
    return totals


def resolve(window: Sequence[Snapshot], signal: Signal) -> Signal | str:
    """The signal narrowed by labels that the window's series really carry (with a non-empty
    value), or why it cannot be (see presets.narrowed)."""
    if not signal.extra:
        return signal
    name = _counter_name(window[-1], signal.metric)
    carried = {
        label
        for snapshot in window
        for key in _series(snapshot, name, signal.labels)
        for label, value in key
        if value
    }
    return narrowed(signal, carried)


def counter_rate(window: Sequence[Snapshot], signal: Signal) -> float:
    last = window[-1]
    name = _counter_name(last, signal.metric)
    elapsed = last.time - window[0].time
    resolved = resolve(window, signal)
    if elapsed <= 0 or not _series(last, name, signal.labels) or isinstance(resolved, str):
        return math.nan
    grown = increases(window, name, (*resolved.labels, *resolved.extra))
    return sum(grown.values()) / elapsed


def gauge(snapshot: Snapshot, signal: Signal) -> float:
    values = list(_series(snapshot, signal.metric, signal.labels).values())
    if not values:
        return math.nan
    if signal.aggregate == "max":
        return max(values)
    if signal.aggregate == "min":
        return min(values)
    total = math.fsum(values)
    return total / len(values) if signal.aggregate == "avg" else total


def histogram_quantile(quantile: float, buckets: Iterable[tuple[float, float]]) -> float:
    """Interpolate the quantile from cumulative (upper bound, count) buckets, as Prometheus does:
    linearly inside the bucket the rank falls in, the highest finite bound when it falls in +Inf,
    no data when there is no +Inf bucket or no observation."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    cumulative: list[tuple[float, float]] = []
    highest = 0.0
    for bound, count in ordered:  # a reset mid-window can break monotonicity: repair it
        highest = max(highest, count)
        cumulative.append((bound, highest))
    total = cumulative[-1][1]
    if total <= 0:
        return math.nan
    rank = quantile * total
    index = next(i for i, (_, count) in enumerate(cumulative) if count >= rank)
    bound, count = cumulative[index]
    if math.isinf(bound):
        return cumulative[-2][0] if len(cumulative) > 1 else math.nan
    if index == 0 and bound <= 0:
        return bound
    lower, below = cumulative[index - 1] if index > 0 else (0.0, 0.0)
    return lower + (bound - lower) * (rank - below) / (count - below)


def quantile_over(window: Sequence[Snapshot], signal: Signal) -> float:
    grown = increases(window, f"{signal.metric}_bucket", signal.labels)
    buckets: dict[float, float] = {}
    for key, value in grown.items():
        bound = dict(key).get("le")
        if bound is not None:
            buckets[float(bound)] = buckets.get(float(bound), 0.0) + value
    return histogram_quantile(signal.quantile, buckets.items())


def measure(window: Sequence[Snapshot], signal: Signal) -> float:
    """One signal's value at the window's last scrape (a gauge) or over the window."""
    if signal.kind == "rate":
        return counter_rate(window, signal)
    if signal.kind == "quantile":
        return quantile_over(window, signal)
    if signal.kind == "gauge":
        return gauge(window[-1], signal)
    raise ValueError("a PromQL query needs source = 'prometheus'")
