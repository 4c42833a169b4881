"""The metrics suite and monitor mode as users run them: through pytest (serial and xdist),
against the real demo systems, ending in the cutover decision."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pytest_cutover.launcher import StartedSystem

from .metrics_support import DEMO_METRICS

Demo = Callable[[str, str], StartedSystem]
FAULTS = ("", "errors=20%")


@pytest.fixture(scope="module")
def demo(demo_system: Demo) -> Demo:
    """The demo systems, started before pytester's per-test snapshot of sys.modules: modules
    imported lazily during a start (httpcore's) must not be dropped between tests."""
    for faults in FAULTS:
        demo_system("new", faults)
    demo_system("legacy", "")
    return demo_system


# Smoke probes only declared health paths; monitor mode watches them.
HEALTH = '{ health = "/health", readiness = "/health/readiness", liveness = "/health/liveness" }'


def project(pytester: pytest.Pytester, demo_system: Demo, faults: str) -> pytest.Pytester:
    assert faults in FAULTS
    legacy, new = demo_system("legacy", "").system, demo_system("new", faults).system
    pytester.makefile(
        ".toml",
        cutover=f"""
[systems.legacy]
base_url = "{legacy.base_url}"
health = {HEALTH}
[systems.new]
base_url = "{new.base_url}"
health = {HEALTH}
{DEMO_METRICS}""",
    )
    return pytester


def monitor(pytester: pytest.Pytester, duration: str) -> tuple[Any, dict[str, Any]]:
    """Run monitor mode alone, every 500 ms; the run's result and the monitor test's evidence."""
    result = pytester.runpytest_subprocess(
        "-m", "canary_gate", "-k", "monitor", "--cutover-monitor", duration,
        "--cutover-interval", "500ms",
    )  # fmt: skip
    [test] = decision_of(pytester)["tests"]
    return result, test["results"][0]["evidence"]


def decision_of(pytester: pytest.Pytester) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((pytester.path / "reports/decision.json").read_text())
    return loaded


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_each_rule_is_a_gate_test_and_the_healthy_demo_is_go(
    pytester: pytest.Pytester, demo: Demo, workers: list[str]
) -> None:
    project(pytester, demo, "")
    result = pytester.runpytest_subprocess(
        "-m", "metrics or monitor", "-p", "xdist", *workers, "-v"
    )
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(["CUTOVER DECISION: GO*"])
    tests = {t["nodeid"]: t for t in decision_of(pytester)["tests"]}
    rules = ["error rate", "p95 latency", "request rate", "database connections"]
    for rule in rules:
        assert tests[f"test_metrics.py::test_metrics[{rule}]"]["status"] == "passed"
    monitor = tests["test_monitor.py::test_monitor[none]"]
    assert monitor["status"] == "not_configured"
    errors = tests["test_metrics.py::test_metrics[error rate]"]
    assert errors["gate"] == "metrics"
    assert errors["results"][0]["evidence"]["critical"] == ["error_rate < 5%"]


def test_the_errors_fault_is_no_go_naming_the_rule(pytester: pytest.Pytester, demo: Demo) -> None:
    project(pytester, demo, "errors=20%")
    result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*metrics: error rate: critical breached: failed at every evaluation for 1 s*",
            "CUTOVER DECISION: NO-GO*",
        ]
    )
    decision = decision_of(pytester)
    assert any("error rate" in reason for reason in decision["reasons"])
    assert not any("p95" in reason for reason in decision["reasons"])


def test_monitor_mode_stops_as_soon_as_a_rule_window_is_breached(
    pytester: pytest.Pytester, demo: Demo
) -> None:
    project(pytester, demo, "errors=20%")
    result, evidence = monitor(pytester, "1m")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*stopped after * of 121 rounds: rule 'error rate'*"])
    assert evidence["rounds"] < evidence["planned_rounds"] == 121
    assert evidence["smoke_checks"] == [
        "legacy-health",
        "legacy-readiness",
        "legacy-liveness",
        "new-health",
        "new-readiness",
        "new-liveness",
    ]


def test_monitor_mode_passes_after_watching_the_whole_duration(
    pytester: pytest.Pytester, demo: Demo
) -> None:
    project(pytester, demo, "")
    result, evidence = monitor(pytester, "2s")
    result.assert_outcomes(passed=1)
    assert evidence["rounds"] == evidence["planned_rounds"] == 5
    assert evidence["stopped"] is None
    assert {rule["outcome"] for rule in evidence["rules"]} == {"pass"}


def test_a_bad_monitor_duration_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--cutover-monitor", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--cutover-monitor: expected a duration such as '5s' or '250ms', got 'soon'*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_help_shows_the_monitor_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--cutover-monitor=DURATION*", "*--cutover-interval=DURATION*"])
