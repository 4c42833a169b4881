"""Relative load thresholds, judged as the README says: legacy and new loaded at the same time
by real locust processes, each threshold against legacy judged with 95% confidence intervals.
Two loopback servers with a fault switch stand in for the systems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cutover.gates.load.gate import OVERALL
from pytest_cutover.gates.load.stats import EndpointStats
from pytest_cutover.gates.result import GateResult, Outcome

from .load_support import FaultServer, judge_relative


@pytest.fixture
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, FaultServer]]:
    """Legacy healthy; new with the fault the test's parameter names."""
    faults: dict[str, int] = getattr(request, "param", {})
    found = {
        "legacy": FaultServer("legacy", tmp_path),
        "new": FaultServer("new", tmp_path, **faults),
    }
    yield found
    for server in found.values():
        server.close()


def judge(servers: dict[str, FaultServer], tmp_path: Path) -> GateResult:
    return judge_relative(servers["new"].system, servers["legacy"].system, tmp_path)


def test_identical_systems_are_never_no_go_on_relative_thresholds(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    """GO on a quiet machine; on a loaded one a p95 of a few ms can differ by more than 20% by
    chance, which is too noisy to tell, never new's fault."""
    overall = judge(servers, tmp_path)
    assert overall.name == OVERALL
    assert overall.outcome is not Outcome.FAIL, overall.reasons
    assert all(reason.endswith("too noisy to tell") for reason in overall.reasons)
    assert set(overall.evidence["runs"]) == {"new", "legacy"}
    assert all("confidence" in row for row in overall.evidence["thresholds"])


@pytest.mark.parametrize("servers", [{"fail_every": 10}], indirect=True)
def test_a_tenth_of_new_requests_failing_is_no_go_by_the_error_rate_alone(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    overall = judge(servers, tmp_path)
    assert overall.outcome is Outcome.FAIL, overall.reasons
    assert overall.reasons[0].startswith("error_rate = "), overall.reasons
    assert "new is worse with 95% confidence: error_rate " in overall.reasons[0]
    # The latency is not blamed (on a loaded machine it may be too noisy to tell).
    assert all(reason.endswith("too noisy to tell") for reason in overall.reasons[1:])


@pytest.mark.parametrize("servers", [{"slow_every": 5}], indirect=True)
def test_100ms_more_on_a_fifth_of_new_requests_is_no_go_naming_latency(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    overall = judge(servers, tmp_path)
    assert overall.outcome is Outcome.FAIL, overall.reasons
    assert overall.reasons[0].startswith("p95 = 1"), overall.reasons
    assert "new is worse with 95% confidence: legacy.p95 " in overall.reasons[0]
    assert len(overall.reasons) == 1  # the error rate is not blamed (0 failures on both)


def test_intervals_say_how_sure_each_statistic_is() -> None:
    """1,000 requests: the p95 interval brackets the measured p95 within a few ranks; Wilson's
    interval of 30 failures in 1,000 excludes 0, and of 0 failures is not just 0."""
    stats = EndpointStats(
        "x", requests=1000, failures=30, histogram=Counter({float(v): 1 for v in range(1000)})
    )
    low, high = stats.interval("p95") or (0.0, 0.0)
    assert 0.925 <= low < stats.percentile(0.95) < high <= 0.975  # with half a 10 ms step
    errors = stats.interval("error_rate")
    assert errors is not None
    assert 0.02 < errors[0] < 0.03 < errors[1] < 0.045
    clean = EndpointStats("x", requests=1000, histogram=Counter({1.0: 1000}))
    assert clean.interval("error_rate") == pytest.approx((0.0, 0.0038), abs=1e-4)
    assert stats.interval("rps") is None
    few = EndpointStats("x", requests=20, histogram=Counter({3.0: 20}))
    assert few.interval("p95") == pytest.approx((0.0025, 0.0035))  # 3 ms recorded: 2.5 to 3.5
