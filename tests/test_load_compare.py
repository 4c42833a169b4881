"""Relative load thresholds, judged as the README says: one real locust run whose users send
each request to both systems, each threshold against legacy judged with 95% confidence. Two
app processes with a fault switch stand in for the systems (tests/load_support.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.gates.load.gate import OVERALL
from pytest_cutover.gates.load.stats import EndpointStats
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import free_port

from .load_support import FaultServer, judge_relative

TOO_SHORT = "too noisy or too short to tell"


@pytest.fixture
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, FaultServer]]:
    """Legacy healthy; new with the fault the test's parameter names."""
    faults: dict[str, int] = getattr(request, "param", {})
    found = {"legacy": FaultServer("legacy", tmp_path)}
    try:
        found["new"] = FaultServer("new", tmp_path, **faults)
        yield found
    finally:
        for server in found.values():
            server.close()


def judge(servers: dict[str, FaultServer], tmp_path: Path, **load: Any) -> GateResult:
    return judge_relative(servers["new"].system, servers["legacy"].system, tmp_path, **load)


def test_identical_systems_are_go_with_every_figure_s_interval_in_the_evidence(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    """GO; on a heavily loaded machine a short run may not tell, and then says so with the
    interval, never NO-GO."""
    overall = judge(servers, tmp_path)
    assert overall.name == OVERALL
    assert overall.outcome is not Outcome.FAIL, overall.reasons
    for reason in overall.reasons:
        assert reason.endswith(TOO_SHORT), reason
        assert "95% confidence: beyond the limit by " in reason
    # One run carried both systems, each with the configured load, the same requests.
    assert set(overall.evidence["runs"]) == {"new+legacy"}
    assert overall.evidence["systems_loaded"] == ["new", "legacy"]
    measured = overall.measurements
    assert abs(measured["requests"] - measured["legacy.requests"]) <= 16  # one per user at most
    assert measured["rps"] > 40  # 80/s a system asked, whatever the machine's load
    intervals = overall.evidence["confidence_95"]
    for name in ("rps", "legacy.rps", "p95", "legacy.p95", "error_rate", "requests"):
        low, high = intervals[name]
        assert low <= measured[name] <= high, name
    assert all("95% confidence: " in row["confidence"] for row in overall.evidence["thresholds"])
    rows = {row["endpoint"]: row for row in overall.evidence["endpoints"]}
    assert set(rows) == {OVERALL, "GET /ping"}
    assert set(rows["GET /ping"]) == {"endpoint", "new", "legacy"}


@pytest.mark.parametrize("servers", [{"fail_every": 33}], indirect=True)
def test_3_percent_503s_is_no_go_by_the_error_rate_alone(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    overall = judge(servers, tmp_path, seconds=6, rate=100)
    assert overall.outcome is Outcome.FAIL, overall.reasons
    assert overall.reasons[0].startswith("error_rate = "), overall.reasons
    assert 0.025 < overall.measurements["error_rate"] < 0.035
    assert "new is worse with 95% confidence: beyond the limit by " in overall.reasons[0]
    # The latency is not blamed (on a loaded machine it may be too noisy to tell).
    assert all(reason.endswith(TOO_SHORT) for reason in overall.reasons[1:])


@pytest.mark.parametrize("servers", [{"slow_every": 5}], indirect=True)
def test_100ms_more_on_a_fifth_of_new_requests_is_no_go_naming_latency(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    overall = judge(servers, tmp_path)
    assert overall.outcome is Outcome.FAIL, overall.reasons
    assert overall.reasons[0].startswith("p95 = 1"), overall.reasons
    assert "new is worse with 95% confidence: beyond the limit by " in overall.reasons[0]
    assert len(overall.reasons) == 1  # the error rate is not blamed (0 failures on both)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """Two local locust workers for a master on a free loopback port; each takes the
    master's locustfiles (`-f -`) into its own temporary folder."""
    port = free_port()
    started = []
    try:
        for number in (1, 2):
            folder = tmp_path / f"worker{number}"
            folder.mkdir()
            command = [sys.executable, "-m", "locust", "--worker", "-f", "-", "--master-host",
                       "127.0.0.1", "--master-port", str(port)]  # fmt: skip
            environment = {**os.environ, "TMPDIR": str(folder)}
            started.append(
                subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.DEVNULL)
            )
        yield port, started
    finally:
        for process in started:
            process.terminate()
            process.wait()


@pytest.mark.parametrize("servers", [{"slow_every": 5}], indirect=True)
def test_a_master_with_two_local_workers_carries_both_systems_in_one_run(
    servers: dict[str, FaultServer],
    workers: tuple[int, list[subprocess.Popen[bytes]]],
    tmp_path: Path,
) -> None:
    port, _ = workers
    master = [sys.executable, "-m", "locust", "--master", "--expect-workers", "2",
              "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]  # fmt: skip
    overall = judge(servers, tmp_path, locust_command=master)
    assert overall.outcome is Outcome.FAIL, overall.reasons
    assert overall.reasons[0].startswith("p95 = 1"), overall.reasons
    assert overall.measurements["legacy.requests"] > 0
    run = overall.evidence["runs"]["new+legacy"]
    assert "--master" in run["command"]
    stats = json.loads((tmp_path / "reports/load/new+legacy/stats.json").read_text())
    assert {entry["name"] for entry in stats} == {"[new] GET /ping", "[legacy] GET /ping"}


def test_a_distributed_run_whose_legacy_side_failed_names_legacy(
    workers: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    """Legacy down during a master/worker run: INCONCLUSIVE naming legacy, not "no data"."""
    port, _ = workers
    new = FaultServer("new", tmp_path)
    try:
        closed = FaultServer("legacy", tmp_path)
        legacy = closed.system
        closed.close()
        master = [sys.executable, "-m", "locust", "--master", "--expect-workers", "2",
                  "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]  # fmt: skip
        overall = judge_relative(new.system, legacy, tmp_path, locust_command=master)
    finally:
        new.close()
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    assert overall.reasons[0].startswith(
        "legacy's side of the load is broken, so thresholds on legacy.* cannot be judged: all "
    ), overall.reasons
    assert "no data for legacy" not in " ".join(overall.reasons)


def test_intervals_say_how_sure_each_statistic_is() -> None:
    """1,000 requests: the p95 interval brackets the measured p95 within a few ranks; Wilson's
    interval of 30 failures in 1,000 excludes 0, and of 0 failures is not just 0; a count's
    Poisson interval is about 2 sqrt(n) wide either side."""
    stats = EndpointStats(
        "x", requests=1000, failures=30, histogram=Counter({float(v): 1 for v in range(1000)}),
        start=0.0, end=10.0,
    )  # fmt: skip
    low, high = stats.interval("p95") or (0.0, 0.0)
    assert 0.925 <= low < stats.percentile(0.95) < high <= 0.975  # with half a 10 ms step
    errors = stats.interval("error_rate")
    assert errors is not None
    assert 0.02 < errors[0] < 0.03 < errors[1] < 0.045
    clean = EndpointStats("x", requests=1000, histogram=Counter({1.0: 1000}))
    assert clean.interval("error_rate") == pytest.approx((0.0, 0.0038), abs=1e-4)
    assert stats.interval("rps") == pytest.approx((94.0, 106.4), abs=0.1)
    assert clean.interval("failures") == pytest.approx((0.0, 3.84), abs=0.01)
    assert stats.interval("max") is None
    few = EndpointStats("x", requests=20, histogram=Counter({3.0: 20}))
    assert few.interval("p95") == pytest.approx((0.0025, 0.0035))  # 3 ms recorded: 2.5 to 3.5
