"""The metrics gate asking a real Prometheus server (Debian's `prometheus`, on loopback, scraping
the demo systems every second): range queries over `for` windows, instant queries, PromQL rules,
and the ways a server can fail."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from pytest_cutover.gates.metrics.gate import SyntheticTraffic, run_gate
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import StartedSystem, free_port
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .conftest import require_service
from .metrics_support import (
    DEMO_METRICS,
    MEMORY_RULE,
    CodeExporter,
    metrics_config,
    with_rules,
)

TRAFFIC = ["/api/users?limit=5", "/api/users/1", "/api/orders/42"]
SERVER = """
[metrics]
source = "prometheus"
interval = "1s"
rate_window = "3s"

[metrics.prometheus]
url = "URL"
selectors = { new = { job = "JOB" }, legacy = { job = "legacy" } }
"""
# The demo's own rules (as for direct scraping), over a 3 s window, and two more.
RULES = with_rules(SERVER, "[[metrics.rules]]" + DEMO_METRICS.split("[[metrics.rules]]", 1)[1])
RULES = (
    RULES.replace('for = "1s"', 'for = "3s"')
    + """
[[metrics.rules]]
name = "requests"
preset = "request_rate"
metric = "demo_http_requests_total"
critical = "request_rate >= 0.5 * legacy.request_rate"

[[metrics.rules]]
name = "scraped"
query = "sum(up{$selector})"
measure = "up"
critical = "up == 1"
"""
)


class Prometheus:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process, self.url = process, url

    def value(self, query: str) -> float:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": query}).json()
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture(scope="module")
def prometheus(
    demo_system: Callable[[str, str], StartedSystem], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping the healthy new system (job new), a new system with 20% errors (job
    new-errors), legacy, and an exporter labelling its status `code` with 10% 503s (job
    code-exporter), every second, while light traffic runs against all four."""
    binary = shutil.which("prometheus")
    if binary is None:
        require_service("the prometheus binary is not installed (apt-get install prometheus)")
    assert binary is not None
    folder = tmp_path_factory.mktemp("prometheus")
    exporter = CodeExporter(folder)
    systems = {
        "new": demo_system("new", "").system,
        "new-errors": demo_system("new", "errors=20%").system,
        "legacy": demo_system("legacy", "").system,
        "code-exporter": exporter.system,
    }
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n"
        f"      - targets: ['{system.base_url.removeprefix('http://')}']\n"
        for job, system in systems.items()
    )
    (folder / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(process, url)
    traffic = SyntheticTraffic(
        {name: _renamed(system, name) for name, system in systems.items()}, TRAFFIC, 20
    )
    try:
        with exporter, traffic:
            deadline = time.monotonic() + 60
            # Enough history for a 3 s `for` window of 3 s rates: 8 scrapes of every job.
            while time.monotonic() < deadline:
                try:
                    if server.value("min(count_over_time(up[10s]))") >= 8:
                        break
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                time.sleep(0.5)
            else:
                pytest.fail(f"Prometheus never collected 8 scrapes: {folder / 'prometheus.log'}")
            yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


def _renamed(system: System, name: str) -> System:
    return System(name, system.config, system.base_url, system.base_dir)


def judge(server_url: str, job: str, rules: str = RULES) -> dict[str, GateResult]:
    text = rules.replace("URL", server_url).replace("JOB", job)
    results = run_gate(metrics_config(text), {}, Redactor())
    return {result.name: result for result in results}


def test_range_queries_judge_the_whole_for_window(prometheus: Prometheus) -> None:
    started = time.monotonic()
    results = judge(prometheus.url, "new")
    assert time.monotonic() - started < 30  # the history is in Prometheus: no waiting
    assert {name: r.outcome for name, r in results.items()} == dict.fromkeys(
        results, Outcome.PASS
    ), {name: r.reasons for name, r in results.items()}
    errors = results["error rate"]
    assert len(errors.evidence["window"]) == 4  # every 1 s step of the 3 s window, both ends
    assert "or 0 * sum(rate(demo_http_requests_total" in errors.evidence["signals"]["new.errors"]
    assert f"on {prometheus.url}" in errors.evidence["signals"]["new.errors"]
    assert results["requests"].evidence["window"][0]["values"]["legacy.request_rate"] != "no data"


def test_errors_on_new_fail_the_error_rate_rule_over_the_window(prometheus: Prometheus) -> None:
    results = judge(prometheus.url, "new-errors")
    assert results["error rate"].outcome is Outcome.FAIL
    assert "failed at every evaluation for 3 s" in results["error rate"].reasons[0]
    assert results["p95 latency"].outcome is Outcome.PASS


def test_a_series_prometheus_does_not_have_is_inconclusive(prometheus: Prometheus) -> None:
    rules = with_rules(SERVER, MEMORY_RULE)
    result = judge(prometheus.url, "new", rules)["memory"]
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no data for process_memory_mb" in result.reasons[0]


def test_a_query_the_server_rejects_is_inconclusive_with_its_error(
    prometheus: Prometheus,
) -> None:
    rules = with_rules(
        SERVER,
        """
[[metrics.rules]]
name = "broken"
query = "sum(rate(up{$selector}[$window])"
measure = "x"
critical = "x > 0"
""",
    )
    result = judge(prometheus.url, "new", rules)["broken"]
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reasons[0].startswith(f"Prometheus at {prometheus.url} rejected the query")
    assert "parse error" in result.reasons[0]


def test_an_unreachable_server_is_inconclusive_with_the_url_and_cause() -> None:
    port = free_port()
    results = judge(f"http://gate:s3cret-word@127.0.0.1:{port}", "new")
    assert {r.outcome for r in results.values()} == {Outcome.INCONCLUSIVE}
    reason = results["error rate"].reasons[0]
    assert reason.startswith(f"cannot reach Prometheus at http://gate:***@127.0.0.1:{port}")
    assert "ConnectError" in reason
    assert "s3cret-word" not in str([r.to_dict() for r in results.values()])


CODE_RULES = with_rules(
    SERVER,
    """
[[metrics.rules]]
name = "detected"
preset = "error_rate"
critical = "error_rate < 5%"
for = "2s"

[[metrics.rules]]
name = "told status"
preset = "error_rate"
error_labels = { status = "re:5.." }
critical = "error_rate < 5%"
for = "2s"
""",
)


def test_an_exporter_labelling_code_is_judged_on_its_real_errors(prometheus: Prometheus) -> None:
    results = judge(prometheus.url, "code-exporter", CODE_RULES)
    detected = results["detected"]
    assert detected.outcome is Outcome.FAIL, detected.reasons
    assert detected.measurements["error_rate"] > 0.05
    query = detected.evidence["signals"]["new.errors"]
    assert 'code=~"5.."' in query
    assert 'or 0 * sum(rate(http_requests_total{job="code-exporter",code!=""}' in query
    told = results["told status"]
    assert told.outcome is Outcome.INCONCLUSIVE, told.reasons
    assert told.reasons[-1].startswith("new: no series of http_requests_total{} carries the label")
    assert "error_rate" not in told.measurements
