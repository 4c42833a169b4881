"""The metrics gate's arithmetic and `for` semantics, on exposition text that prometheus_client
itself writes, and its config errors as a user sees them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from pytest_cutover.config import ConfigError, load_config
from pytest_cutover.gates.metrics.config import Rule
from pytest_cutover.gates.metrics.presets import Signal
from pytest_cutover.gates.metrics.rules import RuleWatch
from pytest_cutover.gates.metrics.scrape import (
    histogram_quantile,
    measure,
    parse_exposition,
)
from pytest_cutover.gates.metrics.sources import Tick
from pytest_cutover.gates.result import Outcome

from .conftest import MINIMAL_CONFIG

INF = math.inf


def test_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    # 100 observations: 50 <= 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1]: rank 95 is halfway
    # through the last bucket.
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (INF, 100.0)]
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, [(0.1, 1.0), (0.5, 2.0), (INF, 10.0)]) == 0.5


def test_quantile_without_observations_or_inf_bucket_is_no_data() -> None:
    assert math.isnan(histogram_quantile(0.95, [(0.1, 0.0), (INF, 0.0)]))
    assert math.isnan(histogram_quantile(0.95, [(0.1, 3.0), (0.5, 4.0)]))


class App:
    """A real prometheus_client registry, scraped the way a system's /metrics is."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "app_requests_total", "requests", ["status"], registry=self.registry
        )
        self.latency = Histogram("app_latency_seconds", "latency", registry=self.registry)

    def scrape(self, at: float):  # type: ignore[no-untyped-def]
        return parse_exposition(generate_latest(self.registry).decode(), at)


def test_counter_rate_and_error_share_from_two_scrapes() -> None:
    app = App()
    app.requests.labels("200").inc(10)
    first = app.scrape(100.0)
    app.requests.labels("200").inc(30)
    app.requests.labels("500").inc(10)  # a series that did not exist at the first scrape
    second = app.scrape(110.0)
    everything = Signal("rate", "app_requests_total")
    errors = Signal("rate", "app_requests_total", (), (("status", "re:5.."),))
    assert measure([first, second], everything) == pytest.approx(4.0)
    assert measure([first, second], errors) == pytest.approx(1.0)


def test_a_counter_reset_counts_from_zero_again() -> None:
    before = App()
    before.requests.labels("200").inc(100)
    restarted = App()
    restarted.requests.labels("200").inc(5)
    later = App()
    later.requests.labels("200").inc(25)
    window = [before.scrape(0.0), restarted.scrape(5.0), later.scrape(10.0)]
    # 5 after the restart, then 20 more: never a negative rate
    assert measure(window, Signal("rate", "app_requests_total")) == pytest.approx(2.5)


def test_p95_from_bucket_increases_ignores_what_happened_before_the_window() -> None:
    app = App()
    for _ in range(1000):
        app.latency.observe(3.0)  # slow, but before the window
    first = app.scrape(0.0)
    for _ in range(100):
        app.latency.observe(0.02)
    second = app.scrape(10.0)
    p95 = measure([first, second], Signal("quantile", "app_latency_seconds", quantile=0.95))
    assert 0.01 < p95 <= 0.025


def test_no_matching_series_is_no_data_but_no_errors_is_zero() -> None:
    app = App()
    app.requests.labels("200").inc()
    window = [app.scrape(0.0), app.scrape(1.0)]
    errors = Signal("rate", "app_requests_total", (), (("status", "re:5.."),))
    assert measure(window, errors) == 0.0
    assert math.isnan(measure(window, Signal("rate", "missing_total")))
    assert math.isnan(measure(window, Signal("gauge", "missing")))


def _rule(**fields: object) -> Rule:
    return Rule.model_validate({"preset": "gauge", "metric": "queue", "measure": "queue", **fields})


def _feed(rule: Rule, values: list[float | None]) -> RuleWatch:
    """One tick a second; None is a scrape that failed."""
    watch = RuleWatch(rule)
    signal = watch.signals["value"]
    for second, value in enumerate(values):
        if value is None:
            watch.feed(Tick(1000.0 + second, {}, {"new": "cannot scrape http://x/metrics"}))
        else:
            watch.feed(Tick(1000.0 + second, {"new": {signal: value}}))
    return watch


def test_a_rule_is_breached_only_when_it_failed_for_the_whole_for_window() -> None:
    rule = _rule(critical="queue < 10", **{"for": "3s"})
    spike = _feed(rule, [1, 50, 50, 50, 1, 1]).result({}, {})
    assert spike.outcome is Outcome.PASS  # failed for 2 s only, then recovered
    held = _feed(rule, [1, 50, 50, 50, 50]).result({}, {})
    assert held.outcome is Outcome.FAIL
    assert "failed at every evaluation for 3 s" in held.reasons[0]
    assert "queue = 50, limit < 10: FAIL" in held.reasons[0]


def test_still_failing_when_the_watch_ends_is_not_a_pass() -> None:
    rule = _rule(critical="queue < 10", **{"for": "60s"})
    result = _feed(rule, [1, 50, 50, 50]).result({}, {})
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "failing since" in result.reasons[0]
    assert "(2 s of the 60 s window) when the watch ended" in result.reasons[0]


def test_a_query_must_select_each_systems_series() -> None:
    with pytest.raises(
        ValueError, match=r"a query must select the system's series with \$selector"
    ):
        Rule.model_validate({"query": "sum(rate(x[1m]))", "measure": "x", "critical": "x > 0"})


def test_a_warning_passes_with_the_warning_in_the_evidence() -> None:
    rule = _rule(critical="queue < 100", warning="queue < 10")
    result = _feed(rule, [50, 50]).result({}, {})
    assert result.outcome is Outcome.PASS
    assert result.evidence["warnings"] == [result.reasons[0]]
    assert result.reasons[0].startswith("warning breached at ")


def test_no_data_is_inconclusive_unless_the_rule_says_otherwise() -> None:
    nan = math.nan
    result = _feed(_rule(critical="queue < 10"), [1, nan, 1]).result({}, {})
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no data at 1 of 3 evaluations" in result.reasons[0]
    passes = _feed(_rule(critical="queue < 10", no_data="pass"), [1, nan]).result({}, {})
    assert passes.outcome is Outcome.PASS
    fails = _feed(_rule(critical="queue < 10", no_data="fail"), [nan, nan]).result({}, {})
    assert fails.outcome is Outcome.FAIL


def test_a_source_that_cannot_be_read_is_inconclusive_even_when_no_data_passes() -> None:
    result = _feed(_rule(critical="queue < 10", no_data="pass"), [1, None, 1]).result({}, {})
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reasons[0] == "cannot scrape http://x/metrics"


def _load(tmp_path: Path, metrics: str) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + metrics)
    load_config(path)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (
            '[[metrics.rules]]\npreset = "error_rate"\ncritical = "p95 < 1s"\n',
            "unknown measurement p95 in 'p95 < 1s' "
            "(known: error_rate, legacy.error_rate, legacy.request_rate, request_rate)",
        ),
        (
            '[[metrics.rules]]\npreset = "error_rate"\nquantile = 0.9\n'
            'critical = "error_rate < 1%"\n',
            "preset 'error_rate' takes no quantile (its parameters: metric, labels, error_labels)",
        ),
        (
            '[[metrics.rules]]\nquery = "up{$selector}"\nmeasure = "up"\ncritical = "up == 1"\n',
            "rule 'up': a PromQL query needs source = 'prometheus'",
        ),
        (
            '[metrics]\nsource = "prometheus"\n[metrics.prometheus]\nurl = "http://127.0.0.1:9"\n'
            '[[metrics.rules]]\npreset = "request_rate"\ncritical = "request_rate > 0"\n',
            'selectors: give the labels that pick out new\'s series, such as new = { job = "new" }',
        ),
        (
            '[[metrics.rules]]\npreset = "latency"\ncritical = "p95 < 200"\nfor = "ten"\n',
            "metrics.rules[0].for = 'ten': expected a duration such as '5s' or '250ms'",
        ),
        (
            '[[metrics.rules]]\npreset = "latency"\n',
            "metrics.rules[0].critical: required key is missing",
        ),
    ],
    ids=[
        "unknown-measurement",
        "wrong-parameter",
        "query-needs-prometheus",
        "no-selector",
        "bad-for",
        "no-critical",
    ],
)
def test_config_mistakes_are_explained(tmp_path: Path, metrics: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, metrics)
    assert message in str(caught.value)


def test_a_token_in_a_scrape_url_never_reaches_a_report(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    url = "http://127.0.0.1:9/metrics?access_token=SuperSecret123"
    path.write_text(MINIMAL_CONFIG + f'[metrics.scrape]\nurls = {{ new = "{url}" }}\n')
    shown = load_config(path).redactor.text(f"cannot scrape {url}")
    assert "SuperSecret123" not in shown


def test_the_first_prometheus_poll_covers_a_for_window_that_is_not_whole_steps() -> None:
    from pytest_cutover.gates.metrics.config import MetricsConfig
    from pytest_cutover.gates.metrics.sources import PrometheusSource

    config = MetricsConfig.model_validate(
        {
            "source": "prometheus",
            "interval": "60s",
            "prometheus": {"url": "http://127.0.0.1:9", "selectors": {"new": {"job": "new"}}},
        }
    )
    source = PrometheusSource(config, ["new"], [], history=90.0)
    times = source._times(10_000.0)
    assert times[0] <= 10_000.0 - 90.0  # 90 s back is covered: 120 s at 60 s steps
    assert times[-1] == 10_000.0
