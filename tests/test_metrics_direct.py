"""The metrics gate scraping the real demo systems' /metrics: the healthy demo passes, and each
fault fails the rule that watches it, and only that one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.metrics.gate import run_gate
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import StartedSystem, free_port
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .metrics_support import DEMO_METRICS, MEMORY_RULE, metrics_config, with_rules

Demo = Callable[[str, str], StartedSystem]


def judge(demo_system: Demo, faults: str, text: str = DEMO_METRICS) -> dict[str, GateResult]:
    systems = {"new": demo_system("new", faults).system, "legacy": demo_system("legacy", "").system}
    results = run_gate(metrics_config(text), systems, Redactor())
    return {result.name: result for result in results}


def outcomes(results: dict[str, GateResult]) -> dict[str, Outcome]:
    return {name: result.outcome for name, result in results.items()}


def test_the_healthy_demo_passes_every_rule_with_the_window_in_the_evidence(
    demo_system: Demo,
) -> None:
    results = judge(demo_system, "")
    assert set(outcomes(results).values()) == {Outcome.PASS}, results
    errors = results["error rate"]
    assert errors.measurements["error_rate"] == 0
    assert errors.measurements["request_rate"] > 5
    window = errors.evidence["window"]
    assert len(window) >= 3  # evaluated across the whole `for` window, not once
    assert all(row["critical"] == "PASS" for row in window)
    assert errors.evidence["signals"]["new.errors"].startswith(
        "per-second rate of demo_http_requests_total{route='re:/api/.*',status='re:5..'} from "
        "http://127.0.0.1:"
    )
    assert errors.evidence["synthetic_requests"]["new"] > 5
    assert results["database connections"].measurements["db_connections_max"] == 40


def test_errors_fault_fails_the_error_rate_rule_only(demo_system: Demo) -> None:
    results = judge(demo_system, "errors=20%")
    assert outcomes(results) == {
        "error rate": Outcome.FAIL,
        "p95 latency": Outcome.PASS,
        "request rate": Outcome.PASS,
        "database connections": Outcome.PASS,
    }
    reason = results["error rate"].reasons[0]
    assert reason.startswith("critical breached: failed at every evaluation for 1 s")
    assert "limit < 5 %: FAIL" in reason
    assert results["error rate"].measurements["error_rate"] > 0.05


def test_latency_fault_fails_the_p95_rule_only(demo_system: Demo) -> None:
    results = judge(demo_system, "latency=300ms")
    assert outcomes(results)["p95 latency"] is Outcome.FAIL
    assert outcomes(results)["error rate"] is Outcome.PASS
    assert "p95 = " in results["p95 latency"].reasons[0]
    assert results["p95 latency"].measurements["p95"] >= 0.25


def test_new_is_judged_against_legacy_when_a_threshold_says_so(demo_system: Demo) -> None:
    relative = with_rules(
        DEMO_METRICS,
        """
[[metrics.rules]]
name = "no worse than legacy"
preset = "error_rate"
metric = "demo_http_requests_total"
labels = { route = "re:/api/.*" }
critical = "error_rate <= legacy.error_rate + 1%"
""",
    )
    result = judge(demo_system, "errors=20%", relative)["no worse than legacy"]
    assert result.outcome is Outcome.FAIL
    assert "legacy.error_rate + 1% = 1 %" in result.reasons[0]
    assert result.evidence["window"][-1]["values"]["legacy.error_rate"] == "0 %"
    assert result.evidence["synthetic_requests"]["legacy"] > 0


def test_a_rule_on_a_metric_with_no_samples_is_inconclusive(demo_system: Demo) -> None:
    text = with_rules(DEMO_METRICS, MEMORY_RULE)
    result = judge(demo_system, "", text)["memory"]
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no data for process_memory_mb: cannot judge, not a pass" in result.reasons[0]


def test_an_unreachable_endpoint_is_inconclusive_with_the_url_and_cause(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    down = System("new", SystemConfig(base_url=url), url, tmp_path)
    config = metrics_config(interval="100ms", rate_window="100ms", synthetic=None)
    results = run_gate(config, {"new": down}, Redactor())
    assert {r.outcome for r in results} == {Outcome.INCONCLUSIVE}
    assert results[0].reasons[0].startswith(f"cannot scrape {url}/metrics: ConnectError")
