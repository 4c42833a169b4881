"""The `[metrics]` section: where the metrics come from, and the rules they must keep.

A rule names a preset (the usual cutover panels) or, with a Prometheus server, a PromQL query,
and says with `critical` (and optionally `warning`) what must hold, in the shared threshold
language. A rule is breached when its threshold has failed at every evaluation for its `for`
window, as a Prometheus alerting rule fires. Every threshold is checked here, while the config
loads, against the measurements its rule produces.
"""

from __future__ import annotations

import re
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from pytest_cutover.gates.metrics.presets import PRESETS, Preset
from pytest_cutover.section import Duration, Section
from pytest_cutover.thresholds import (
    LEGACY_PREFIX,
    Threshold,
    Thresholds,
    check_names,
    reads_legacy,
)

Level = Literal["critical", "warning"]
LEVELS: tuple[Level, Level] = ("critical", "warning")
PresetName = Literal[
    "request_rate",
    "error_rate",
    "latency",
    "db_connections",
    "cache_memory",
    "process_memory",
    "gauge",
    "rate",
]
Unit = Literal["number", "ratio", "duration"]
_T = TypeVar("_T", dict[str, str], dict[str, dict[str, str]])
_MEASURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _label_matchers(labels: dict[str, str]) -> dict[str, str]:
    for name, value in labels.items():
        if not _MEASURE_NAME.match(name):
            raise ValueError(f"{name!r} is not a Prometheus label name")
        if value.startswith("re:"):
            try:
                re.compile(value[3:])
            except re.error as err:
                raise ValueError(f"{value!r} is not a valid regular expression: {err}") from None
    return labels


class Rule(Section):
    """One check: a preset (with its metric names) or a PromQL query, and its thresholds."""

    name: str | None = None
    preset: PresetName | None = None
    query: str | None = None
    measure: str | None = None
    unit: Unit = "number"
    metric: str | None = None
    max_metric: str | None = None
    labels: dict[str, str] = {}
    error_labels: dict[str, str] = {}
    quantile: float | None = Field(default=None, gt=0.0, lt=1.0)
    aggregate: Literal["sum", "max", "min", "avg"] = "sum"
    critical: Thresholds = Field(min_length=1)
    warning: Thresholds = []
    for_: Duration = Field(default=0.0, alias="for")
    no_data: Literal["inconclusive", "pass", "fail"] = "inconclusive"

    @field_validator("labels", "error_labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        return _label_matchers(labels)

    @field_validator("measure")
    @classmethod
    def _measure(cls, value: str | None) -> str | None:
        if value is not None and not _MEASURE_NAME.match(value):
            raise ValueError("expected a measurement name such as 'queue_depth'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.preset is None) == (self.query is None):
            raise ValueError(
                "give either preset = (one of " + ", ".join(sorted(PRESETS)) + ") or, with "
                "source = 'prometheus', query = 'a PromQL expression' (and measure = 'its name')"
            )
        if self.query is not None:
            if self.measure is None:
                raise ValueError("a rule with a query needs measure = 'the name thresholds use'")
            if "$selector" not in self.query:
                # Without it the same series is read for new and for legacy.
                raise ValueError(
                    "a query must select the system's series with $selector, such as "
                    "'sum(rate(http_requests_total{$selector}[$window]))'"
                )
            wrong = [k for k in _PRESET_KEYS if k in self.model_fields_set and k != "measure"]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} only go with a preset, not with a query")
        else:
            preset = self.preset_spec
            wrong = [
                key
                for key in _PRESET_KEYS
                if key in self.model_fields_set and key not in preset.parameters
            ]
            if "unit" in self.model_fields_set and "unit" not in preset.parameters:
                wrong.append("unit")
            if wrong:
                raise ValueError(
                    f"preset {self.preset!r} takes no {', '.join(wrong)} "
                    f"(its parameters: {', '.join(preset.parameters) or 'none'})"
                )
            if not preset.metric_names(self)["metric"]:
                raise ValueError(f"preset {self.preset!r} needs metric = 'the metric to read'")
            if preset.needs_measure and self.measure is None:
                raise ValueError(
                    f"preset {self.preset!r} needs measure = 'the name thresholds use'"
                )
        known = self.measurements
        check_names([*self.critical, *self.warning], [*known, *(LEGACY_PREFIX + n for n in known)])
        return self

    @property
    def preset_spec(self) -> Preset:
        assert self.preset is not None
        return PRESETS[self.preset]

    @property
    def measurements(self) -> tuple[str, ...]:
        """The names this rule's thresholds may use (and `legacy.` + each of them)."""
        if self.query is not None:
            assert self.measure is not None
            return (self.measure,)
        return self.preset_spec.measurement_names(self)

    @property
    def label(self) -> str:
        return self.name or self.measure or str(self.preset)

    def thresholds(self, level: Level) -> list[Threshold]:
        found: list[Threshold] = getattr(self, level)
        return found

    @property
    def uses_legacy(self) -> bool:
        return reads_legacy([*self.critical, *self.warning])


_PRESET_KEYS = (
    "metric",
    "max_metric",
    "labels",
    "error_labels",
    "quantile",
    "aggregate",
    "measure",
)


class ScrapeSource(Section):
    """Direct scraping of each system's Prometheus text endpoint."""

    path: str = "/metrics"
    secret_urls = ("urls",)
    secret_mappings = ("headers",)

    urls: dict[str, str] = {}
    headers: dict[str, str] = {}

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path that starts with '/', such as '/metrics'")
        return value

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: dict[str, str]) -> dict[str, str]:
        for url in urls.values():
            _check_url(url)
        return _per_system(urls)


class PrometheusSource(Section):
    """A Prometheus server (or anything with its HTTP API) that already scrapes both systems."""

    secret_urls = ("url",)
    secret_mappings = ("headers",)

    url: str
    headers: dict[str, str] = {}
    selectors: dict[str, dict[str, str]] = {}
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value).rstrip("/")

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, selectors: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for labels in selectors.values():
            _label_matchers(labels)
        return _per_system(selectors)


def _per_system(mapping: _T) -> _T:
    unknown = sorted(set(mapping) - {"legacy", "new"})
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a system: expected 'legacy' or 'new'")
    return mapping


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL such as 'http://127.0.0.1:9090'")
    return value


class Synthetic(Section):
    """Light synthetic GET traffic during the window, for systems with no users yet (a staging
    copy, the demo): rates and error shares need requests to exist."""

    paths: list[str] = Field(min_length=1)
    rate: float = Field(default=5.0, gt=0.0, le=200.0)

    @field_validator("paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"{path!r}: expected a path that starts with '/'")
        return paths


class MetricsConfig(Section):
    source: Literal["scrape", "prometheus"] = "scrape"
    interval: Duration = Field(default=15.0, gt=0.0)
    rate_window: Duration = Field(default=60.0, gt=0.0)
    timeout: Duration = Field(default=5.0, gt=0.0)
    scrape: ScrapeSource = ScrapeSource()
    prometheus: PrometheusSource | None = None
    synthetic: Synthetic | None = None
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _source_settings(self) -> MetricsConfig:
        if self.source == "prometheus":
            if self.prometheus is None:
                raise ValueError("source = 'prometheus' needs [metrics.prometheus] url = '...'")
            needed = ["new", *(["legacy"] if any(r.uses_legacy for r in self.rules) else [])]
            missing = [name for name in needed if name not in self.prometheus.selectors]
            if missing:
                raise ValueError(
                    f"[metrics.prometheus] selectors: give the labels that pick out "
                    f"{' and '.join(missing)}'s series, such as {missing[0]} = "
                    f'{{ job = "{missing[0]}" }}'
                )
        else:
            queries = [rule.label for rule in self.rules if rule.query is not None]
            if queries:
                raise ValueError(f"rule {queries[0]!r}: a PromQL query needs source = 'prometheus'")
        labels = [rule.label for rule in self.rules]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"two rules are called {repeated[0]!r}: give each a distinct name")
        return self

    @property
    def uses_legacy(self) -> bool:
        return any(rule.uses_legacy for rule in self.rules)

    @property
    def systems(self) -> list[str]:
        """The systems the gate reaches itself: to scrape them, or to send them traffic."""
        if self.source == "prometheus" and self.synthetic is None:
            return []
        return ["new", "legacy"] if self.uses_legacy else ["new"]

    @property
    def longest_window(self) -> float:
        return max((rule.for_ for rule in self.rules), default=0.0)
