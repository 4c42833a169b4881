"""Relative load thresholds, judged as the README says: one real locust run whose users send
each request to both systems, each threshold against legacy judged with 95% confidence. Two
app processes with a fault switch stand in for the systems (tests/load_support.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import OVERALL, Shape, _judge
from pytest_cutover.gates.load.runner import LocustRun
from pytest_cutover.gates.load.stats import EndpointStats
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import free_port

from .load_support import RELATIVE, FaultServer, judge_relative

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
        if not reason.startswith("the load was not delivered: "):  # a machine at load 15
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
    if overall.measurements["requests"] >= 200:  # fewer on a machine at load 15
        assert 0.025 < overall.measurements["error_rate"] < 0.035
    told_apart(overall, "error_rate = ")


@pytest.mark.parametrize("servers", [{"slow_every": 5}], indirect=True)
def test_100ms_more_on_a_fifth_of_new_requests_is_no_go_naming_latency(
    servers: dict[str, FaultServer], tmp_path: Path
) -> None:
    overall = judge(servers, tmp_path)
    told_apart(overall, "p95 = ")  # the error rate (0 on both) is never blamed


def told_apart(overall: GateResult, failing: str) -> None:
    """A fault in new is never GO: NO-GO naming the threshold it breaks first, with the
    interval; on a machine so loaded that legacy's own tail is as wide as the fault (load 15
    on 2 cores gives a trivial server a p95 near 100 ms), INCONCLUSIVE saying so with the
    interval. The statistics alone are checked without a machine below."""
    assert overall.outcome is not Outcome.PASS, overall.reasons
    if overall.outcome is Outcome.FAIL:
        assert overall.reasons[0].startswith(failing), overall.reasons
        assert "new is worse with 95% confidence: beyond the limit by " in overall.reasons[0]
        assert not any("new is worse" in reason for reason in overall.reasons[1:])
    else:
        # Each names what kept it from telling: the interval, the load, or legacy's side.
        machine = ("the load was not delivered: ", "legacy's side of the load is broken")
        for reason in overall.reasons:
            assert reason.endswith(TOO_SHORT) or reason.startswith(machine), reason


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
    told_apart(overall, "p95 = ")
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
    # Every request refused; on a heavily loaded machine the workers' last report may not
    # reach the master before it stops (0 requests completed): legacy is named either way.
    assert overall.reasons[0].startswith(
        "legacy's side of the load is broken, so thresholds on legacy.* cannot be judged: "
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
    # 20 requests cannot bound a p95 from above (the true one may be slower than any seen);
    # below, 3 ms recorded may be 2.5 ms.
    few = EndpointStats("x", requests=20, histogram=Counter({3.0: 20}))
    assert few.interval("p95") == pytest.approx((0.0025, math.inf))
    assert few.interval("p50") == pytest.approx((0.0025, 0.0035))


BASE = {2: 500, 3: 400, 4: 80, 6: 20}  # milliseconds: requests, 1,000 in all


def judged(
    tmp_path: Path, new: dict[int, int], legacy: dict[int, int], failed: int = 0
) -> GateResult:
    """The verdict on locust's JSON as locust writes it for one run of 10 s at the asked rate
    (100 requests a second a system for 1,000): the statistics alone, no machine's noise."""
    entries = []
    for system, times, failures in (("new", new, failed), ("legacy", legacy, 0)):
        total = sum(times.values())
        entries.append(
            {"name": f"[{system}] GET /ping", "method": "GET", "num_requests": total,
             "num_failures": failures, "max_response_time": float(max(times)),
             "total_response_time": float(sum(t * n for t, n in times.items())),
             "response_times": {str(t): n for t, n in times.items()},
             "num_reqs_per_sec": {str(100 + i): total // 10 for i in range(10)},
             "start_time": 100.0, "last_request_timestamp": 110.0}
        )  # fmt: skip
    (tmp_path / "stats.json").write_text(json.dumps(entries))
    run = LocustRun(tmp_path, ("locust",), 0, 10.0, 1.0, "", None, {})
    rate = sum(new.values()) / 10
    load = LoadConfig.model_validate({"users": 8, "rate": rate, "thresholds": RELATIVE})
    return _judge(load, Shape.for_step(load, None), None, run, ["new", "legacy"])[0]


def test_the_statistics_tell_identical_systems_and_each_fault_apart(tmp_path: Path) -> None:
    same = judged(tmp_path, BASE, BASE)
    assert same.outcome is Outcome.PASS, same.reasons
    slow = {
        **{t: n * 4 // 5 for t, n in BASE.items()},
        **{t + 100: n // 5 for t, n in BASE.items()},
    }
    latency = judged(tmp_path, slow, BASE)
    assert latency.outcome is Outcome.FAIL
    assert len(latency.reasons) == 1
    assert latency.reasons[0].startswith("p95 = 103 ms, limit <= 1.2 * legacy.p95 + 5ms = 9.8 ms")
    assert "new is worse with 95% confidence: beyond the limit by 8" in latency.reasons[0]
    errors = judged(tmp_path, BASE, BASE, failed=30)
    assert errors.outcome is Outcome.FAIL
    assert errors.reasons == (
        "error_rate = 3 %, limit <= legacy.error_rate + 1% = 1 %: FAIL; new is worse with 95% "
        "confidence: beyond the limit by 1.031 % to 3.25 % (error_rate 2.109 % to 4.25 %; "
        "legacy.error_rate 0 % to 0.3827 %; 1,000 new requests, 1,000 legacy requests; legacy in "
        "the same run)",
    )


def test_a_run_too_short_to_tell_says_so_with_the_interval(tmp_path: Path) -> None:
    """40 requests a side, new's p95 a few ms higher: it may be chance."""
    overall = judged(tmp_path, {2: 20, 3: 16, 12: 4}, {2: 20, 3: 17, 4: 3})
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    assert overall.reasons[0] == (
        "p95 = 12 ms, limit <= 1.2 * legacy.p95 + 5ms = 9.8 ms: FAIL, but not with 95% "
        "confidence: beyond the limit by -unbounded to unbounded (legacy.p95 2.5 ms to "
        "unbounded; p95 2.5 ms to unbounded; 40 new requests, 40 legacy requests; legacy in the "
        "same run): too noisy or too short to tell"
    )
    # No failure in 40 requests does not rule out 1% more than legacy: not a pass either.
    assert overall.reasons[1].startswith(
        "error_rate = 0 %, limit <= legacy.error_rate + 1% = 1 %: PASS, but not with 95% "
        "confidence: beyond the limit by "
    )
    assert overall.reasons[1].endswith(TOO_SHORT)
