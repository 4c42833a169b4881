"""The usual cutover panels as presets: what each reads (signals) and what it measures.

A preset asks a source for a few signals (a counter's per-second rate, a gauge, a histogram
quantile) and turns them into measurements with units, so one rule works the same against a
scraped /metrics endpoint and against a Prometheus server. Metric names are parameters whose
defaults are the common exporters' names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from pytest_cutover.units import Kind, Quantity

if TYPE_CHECKING:
    from pytest_cutover.gates.metrics.config import Rule

SignalKind = Literal["rate", "gauge", "quantile", "query"]
Matchers = tuple[tuple[str, str], ...]
BYTES_PER_MB = 1e6
# Exporters spell the status label differently (Go's promhttp says `code`): the error_rate preset
# uses the first of these the series carry, written as one matcher on "status|code|...".
STATUS_LABELS = ("status", "code", "status_code", "http_status")


@dataclass(frozen=True)
class Signal:
    """One number a source measures per evaluation.

    `labels` pick the series; for a rate, `extra` narrows them further. A rate with no series
    matching `extra` is 0 (no errors yet) only when some series carries every label `extra`
    names: otherwise the errors cannot be told from the rest, which is no data, as is a rate with
    no series matching `labels` (the metric is not there at all). A label name in `extra` may
    list alternatives ("status|code"): the first one a series carries is used.
    """

    kind: SignalKind
    metric: str = ""
    labels: Matchers = ()
    extra: Matchers = ()
    quantile: float = 0.0
    aggregate: str = "sum"
    query: str = ""

    def describe(self) -> str:
        matchers = ",".join(f"{k}={v!r}" for k, v in (*self.labels, *self.extra))
        selected = f"{self.metric}{{{matchers}}}" if matchers else self.metric
        if self.kind == "rate":
            return f"per-second rate of {selected}"
        if self.kind == "quantile":
            return f"quantile {self.quantile:g} of histogram {selected}"
        if self.kind == "gauge":
            return f"{self.aggregate} of {selected}"
        return self.query


def narrowed(signal: Signal, carried: Collection[str]) -> Signal | str:
    """The signal with each `extra` label name resolved to one the series carry (`carried`), or
    why it cannot be: a matcher on a label no series has would select nothing, and counting
    that as "no errors" is how a 10% error rate reads as 0."""
    resolved = []
    for name, value in signal.extra:
        options = name.split("|")
        found = next((option for option in options if option in carried), None)
        if found is None:
            selected = signal.metric + "{" + ",".join(f"{k}={v!r}" for k, v in signal.labels) + "}"
            return (
                f"no series of {selected} carries the label {' or '.join(options)}: "
                f"cannot count {value!r} among them (no data, not 0)"
            )
        resolved.append((found, value))
    return replace(signal, extra=tuple(resolved))


def _matchers(labels: Mapping[str, str]) -> Matchers:
    return tuple(sorted(labels.items()))


@dataclass(frozen=True)
class Preset:
    parameters: tuple[str, ...]
    defaults: Mapping[str, str]
    signals: Callable[[Rule, Mapping[str, str]], dict[str, Signal]]
    derive: Callable[[Rule, Mapping[str, float]], dict[str, Quantity]]
    names: Callable[[Rule], tuple[str, ...]]
    needs_measure: bool = False

    def metric_names(self, rule: Rule) -> dict[str, str]:
        names = dict(self.defaults)
        if rule.metric is not None:
            names["metric"] = rule.metric
        if rule.max_metric is not None:
            names["max_metric"] = rule.max_metric
        return names

    def measurement_names(self, rule: Rule) -> tuple[str, ...]:
        return self.names(rule)

    def signals_for(self, rule: Rule) -> dict[str, Signal]:
        return self.signals(rule, self.metric_names(rule))


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 and not math.isnan(part) else math.nan


def _request_signals(rule: Rule, names: Mapping[str, str]) -> dict[str, Signal]:
    return {"requests": Signal("rate", names["metric"], _matchers(rule.labels))}


def _error_signals(rule: Rule, names: Mapping[str, str]) -> dict[str, Signal]:
    errors = rule.error_labels or {"|".join(STATUS_LABELS): "re:5.."}
    base = _matchers(rule.labels)
    return {
        "requests": Signal("rate", names["metric"], base),
        "errors": Signal("rate", names["metric"], base, _matchers(errors)),
    }


def latency_name(rule: Rule) -> str:
    """p95 for quantile 0.95, p99_9 for 0.999."""
    percent = f"{(rule.quantile or 0.95) * 100:.4g}"
    return "p" + percent.replace(".", "_")


def _usage(prefix: str) -> Preset:
    """In use vs max (database connections, cache memory): both values and their ratio."""

    def signals(rule: Rule, names: Mapping[str, str]) -> dict[str, Signal]:
        return {
            "used": Signal("gauge", names["metric"], _matchers(rule.labels)),
            "max": Signal("gauge", names["max_metric"]),
        }

    def derive(_rule: Rule, values: Mapping[str, float]) -> dict[str, Quantity]:
        used, limit = values["used"], values["max"]
        return {
            prefix: Quantity(used),
            f"{prefix}_max": Quantity(limit),
            f"{prefix}_usage": Quantity(_ratio(used, limit), Kind.RATIO),
        }

    defaults = {
        "db_connections": {
            "metric": "pg_stat_activity_count",
            "max_metric": "pg_settings_max_connections",
        },
        "cache_memory": {
            "metric": "redis_memory_used_bytes",
            "max_metric": "redis_memory_max_bytes",
        },
    }[prefix]
    return Preset(
        parameters=("metric", "max_metric", "labels"),
        defaults=defaults,
        signals=signals,
        derive=derive,
        names=lambda _rule: (prefix, f"{prefix}_max", f"{prefix}_usage"),
    )


def _unit(rule: Rule) -> Kind:
    return {"number": Kind.NUMBER, "ratio": Kind.RATIO, "duration": Kind.DURATION}[rule.unit]


def _named(rule: Rule) -> tuple[str, ...]:
    assert rule.measure is not None
    return (rule.measure,)


def _generic(kind: SignalKind) -> Preset:
    """`gauge` and `rate`: any metric, under the name the rule gives it."""

    def signals(rule: Rule, names: Mapping[str, str]) -> dict[str, Signal]:
        labels = _matchers(rule.labels)
        return {"value": Signal(kind, names["metric"], labels, aggregate=rule.aggregate)}

    def derive(rule: Rule, values: Mapping[str, float]) -> dict[str, Quantity]:
        return {_named(rule)[0]: Quantity(values["value"], _unit(rule))}

    parameters = ("metric", "labels", "measure", "unit")
    return Preset(
        parameters=(*parameters, "aggregate") if kind == "gauge" else parameters,
        defaults={"metric": ""},
        signals=signals,
        derive=derive,
        names=_named,
        needs_measure=True,
    )


PRESETS: dict[str, Preset] = {
    "request_rate": Preset(
        parameters=("metric", "labels"),
        defaults={"metric": "http_requests_total"},
        signals=_request_signals,
        derive=lambda _r, v: {"request_rate": Quantity(v["requests"])},
        names=lambda _r: ("request_rate",),
    ),
    "error_rate": Preset(
        parameters=("metric", "labels", "error_labels"),
        defaults={"metric": "http_requests_total"},
        signals=_error_signals,
        derive=lambda _r, v: {
            "error_rate": Quantity(_ratio(v["errors"], v["requests"]), Kind.RATIO),
            "request_rate": Quantity(v["requests"]),
        },
        names=lambda _r: ("error_rate", "request_rate"),
    ),
    "latency": Preset(
        parameters=("metric", "labels", "quantile"),
        defaults={"metric": "http_request_duration_seconds"},
        signals=lambda r, n: {
            "quantile": Signal("quantile", n["metric"], _matchers(r.labels), (), r.quantile or 0.95)
        },
        derive=lambda r, v: {latency_name(r): Quantity(v["quantile"], Kind.DURATION)},
        names=lambda r: (latency_name(r),),
    ),
    "db_connections": _usage("db_connections"),
    "cache_memory": _usage("cache_memory"),
    "process_memory": Preset(
        parameters=("metric", "labels"),
        defaults={"metric": "process_resident_memory_bytes"},
        signals=lambda r, n: {"bytes": Signal("gauge", n["metric"], _matchers(r.labels))},
        derive=lambda _r, v: {"process_memory_mb": Quantity(v["bytes"] / BYTES_PER_MB)},
        names=lambda _r: ("process_memory_mb",),
    ),
    "gauge": _generic("gauge"),
    "rate": _generic("rate"),
}


def rule_signals(rule: Rule) -> dict[str, Signal]:
    """The signals one rule reads, by the names its derive step expects."""
    if rule.query is not None:
        return {"value": Signal("query", query=rule.query)}
    return rule.preset_spec.signals_for(rule)


def rule_measurements(rule: Rule, values: Mapping[str, float]) -> dict[str, Quantity]:
    """Turn one evaluation's signal values into the rule's measurements (NaN = no data)."""
    if rule.query is not None:
        assert rule.measure is not None
        return {rule.measure: Quantity(values["value"], _unit(rule))}
    return rule.preset_spec.derive(rule, values)
