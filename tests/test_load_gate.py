"""The load gate with a real locust process against the real demo systems on loopback: short,
bounded runs (a few seconds, at most 100 requests/s)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.config import CutoverConfig, SystemConfig
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import (
    OVERALL,
    LoadGate,
    LoadSetupError,
    Shape,
    _judge,
    run_load,
)
from pytest_cutover.gates.load.runner import LocustRun
from pytest_cutover.gates.load.stats import EndpointStats
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import StartedSystem, free_port
from pytest_cutover.systems import System

StartDemo = Callable[[str, str], StartedSystem]
# Generous latency limits where latency is not what a test is about: a loaded 2-core machine
# (load 15) gives the demo a p95 of several hundred milliseconds.
BUDGET = ["p95 < 3s", "error_rate < 1%", "rps >= 0.8 * target_rps"]
TIGHT = ["p95 < 250ms", "error_rate < 1%"]  # a 300 ms fault exceeds it on any machine


def held(result: GateResult) -> None:
    """A healthy system is GO; on a machine too loaded to deliver the asked rate, or to tell
    with confidence, INCONCLUSIVE saying which, never NO-GO."""
    if result.outcome is not Outcome.PASS:
        assert result.outcome is Outcome.INCONCLUSIVE, result.reasons
        for reason in result.reasons:
            assert reason.startswith("the load was not delivered: ") or reason.endswith(
                "too noisy or too short to tell"
            ), reason


def configured(demo_config: CutoverConfig, **load: Any) -> CutoverConfig:
    settings = {"users": 8, "rate": 20, "duration": "3s", "thresholds": BUDGET, **load}
    return demo_config.model_copy(update={"load": LoadConfig.model_validate(settings)})


def gate(
    config: CutoverConfig,
    demo_system: StartDemo,
    tmp_path: Path,
    faults: str = "",
    step: float | None = None,
) -> dict[str, GateResult]:
    legacy = demo_system("legacy", "").system
    plan = LoadGate().section(config)
    assert plan is not None
    new = demo_system("new", faults).system
    results = run_load(plan, config.base_dir, config.redactor, new, legacy, step, tmp_path)
    return {r.name: r for r in results}


def test_a_healthy_system_stays_in_budget_with_legacy_as_baseline(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(demo_config, thresholds=[*BUDGET, "p95 <= 3 * legacy.p95 + 500ms"])
    overall = gate(config, demo_system, tmp_path)[OVERALL]
    held(overall)
    measured = overall.measurements
    assert measured["requests"] >= 10  # 3 s at 20/s, less on a busy machine
    # The same users asked both: as many requests each, give or take one per user.
    assert abs(measured["requests"] - measured["legacy.requests"]) <= 16
    assert overall.measurements["target_rps"] == 20
    rows = {row["endpoint"]: row for row in overall.evidence["endpoints"]}
    assert set(rows[OVERALL]) == {"endpoint", "new", "legacy"}
    assert "GET /api/users/{id}" in rows  # the profile is the A/B corpus, grouped alike
    assert overall.evidence["latency_chart_svg"].startswith("<svg")
    assert (tmp_path / "load" / "new+legacy" / "report.html").exists()
    assert overall.evidence["systems_loaded"] == ["new", "legacy"]


def test_legacy_is_not_loaded_when_no_threshold_needs_it(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    overall = gate(configured(demo_config), demo_system, tmp_path)[OVERALL]
    held(overall)
    assert set(overall.evidence["runs"]) == {"new"}
    assert "legacy.requests" not in overall.measurements


@pytest.mark.parametrize(
    ("faults", "failing"),
    [("latency=300ms", "p95 = "), ("errors=20%", "error_rate = ")],
)
def test_a_fault_fails_the_threshold_it_breaks(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path, faults: str, failing: str
) -> None:
    config = configured(demo_config, thresholds=TIGHT)
    overall = gate(config, demo_system, tmp_path, faults)[OVERALL]
    assert overall.outcome is Outcome.FAIL
    assert any(reason.startswith(failing) for reason in overall.reasons), overall.reasons


def test_a_clear_breach_aborts_the_run_early(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(
        demo_config, duration="30s", abort_delay="1s", abort_on_fail=["error_rate < 50%"]
    )
    overall = gate(config, demo_system, tmp_path, "errors=100%")[OVERALL]
    assert overall.outcome is Outcome.FAIL
    assert overall.reasons[0].startswith("aborted after ")
    assert overall.reasons[0].endswith("error_rate = 100 %, limit < 50 %: FAIL")
    assert overall.evidence["runs"]["new"]["wall_seconds"] < 20


def test_a_threshold_on_an_endpoint_without_traffic_is_inconclusive(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(
        demo_config,
        endpoint_thresholds={"GET /nowhere": ["p95 < 1s"], "GET /api/users": ["p95 < 1s"]},
    )
    results = gate(config, demo_system, tmp_path)
    held(results["GET /api/users"])
    assert results["GET /api/users"].measurements["requests"] > 0
    nowhere = results["GET /nowhere"]
    assert nowhere.outcome is Outcome.INCONCLUSIVE
    assert nowhere.reasons[-1] == "p95 < 1s: no data for p95: cannot judge, not a pass"


def test_a_crashing_locustfile_is_inconclusive_with_its_stderr(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text("raise RuntimeError('the locustfile is broken')\n")
    config = configured(demo_config, locustfile=str(locustfile), rate=0, thresholds=["p95 < 1s"])
    overall = gate(config, demo_system, tmp_path)[OVERALL]
    assert overall.outcome is Outcome.INCONCLUSIVE  # the load tool failed, not the new system
    assert overall.reasons[0].startswith("locust failed (exit status 1, no results written)")
    assert "the locustfile is broken" in overall.reasons[0]


def test_locust_missing_or_not_found_is_named(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    bare = Path(sys.base_prefix) / "bin" / "python3"
    if subprocess.run([bare, "-c", "import locust"], capture_output=True).returncode == 0:
        pytest.skip(f"{bare} has locust installed; no interpreter without it to test with")
    overall = gate(
        configured(demo_config, locust_command=[str(bare), "-m", "locust"]), demo_system, tmp_path
    )[OVERALL]
    assert overall.outcome is Outcome.INCONCLUSIVE
    assert overall.reasons == (f"locust is not installed for {bare} (set load.locust_command)",)
    with pytest.raises(LoadSetupError, match=r"cannot start '/nonexistent/locust': No such file"):
        gate(configured(demo_config, locust_command="/nonexistent/locust"), demo_system, tmp_path)


def test_the_step_scales_users_and_rate() -> None:
    load = LoadConfig.model_validate({"users": 20, "rate": 200, "thresholds": ["p95 < 1s"]})
    assert Shape.for_step(load, 10) == Shape(2, 20.0, 0.1)
    assert Shape.for_step(load, None) == Shape(20, 200.0, 1.0)
    fixed = load.model_copy(update={"scale_with_step": False})
    assert Shape.for_step(fixed, 50) == Shape(20, 200.0, 1.0)


def test_an_unreachable_target_rate_is_inconclusive_naming_what_limited_it(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    # 2 users waiting 50 ms for each answer can send at most 40 requests/s, on any machine.
    config = configured(demo_config, users=2, rate=2000, duration="2s")
    overall = gate(config, demo_system, tmp_path, "latency=50ms")[OVERALL]
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    reason = overall.reasons[0]
    assert reason.startswith("the load was not delivered: "), reason
    assert " of 2,000 requests/s (" in reason
    assert "2 users each waiting for its answer" in reason
    assert reason.endswith("the system was not tested at the target rate")
    assert len(overall.reasons) == 1  # `rps >= 0.8 * target_rps` does not blame new
    assert overall.evidence["shortfall"] == reason


def test_new_too_slow_to_take_the_load_is_no_go_for_its_latency(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(demo_config, users=2, rate=200, duration="2s", thresholds=TIGHT)
    overall = gate(config, demo_system, tmp_path, "latency=300ms")[OVERALL]
    assert overall.outcome is Outcome.FAIL
    assert overall.reasons[0].startswith("p95 = "), overall.reasons
    assert overall.measurements["p95"] >= 0.3  # 300 ms added, more on a loaded machine
    assert overall.reasons[-1].startswith("which explains why the load was not delivered: ")


def test_a_broken_legacy_run_is_named_not_reported_as_missing_data(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(demo_config, thresholds=["p95 < 3s", "p95 <= 1.2 * legacy.p95"])
    plan = LoadGate().section(config)
    assert plan is not None
    new = demo_system("new", "").system
    closed = f"http://127.0.0.1:{free_port()}"
    legacy = System("legacy", SystemConfig(base_url=closed), closed, tmp_path)
    overall = run_load(plan, config.base_dir, config.redactor, new, legacy, None, tmp_path)[0]
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    assert overall.reasons[0].startswith(
        "legacy's side of the load is broken, so thresholds on legacy.* cannot be judged: all "
    )
    assert "no data for legacy" not in " ".join(overall.reasons)


def test_percentiles_are_the_ones_locusts_own_report_shows(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    """A small run (tens of requests), where two quantile definitions differ by a whole sample."""
    overall = gate(configured(demo_config, users=2, rate=20, duration="2s"), demo_system, tmp_path)[
        OVERALL
    ]
    html = (tmp_path / "load" / "new" / "report.html").read_text(encoding="utf-8")
    found = re.search(r"window\.templateArgs = (\{.*?\})\n", html, re.DOTALL)
    assert found is not None
    rows = json.loads(found.group(1))["response_time_statistics"]
    aggregated = next(row for row in rows if row["name"] == "Aggregated")
    for name, share in (("p50", "0.5"), ("p90", "0.9"), ("p95", "0.95"), ("p99", "0.99")):
        assert overall.measurements[name] * 1000 == pytest.approx(aggregated[share]), name


def test_p95_of_200_requests_with_10_slow_ones_is_the_slow_time_as_in_locusts_report() -> None:
    """190 requests at or under 32 ms and 10 at 69 ms: locust reports p95 = 69 ms (at most
    int(0.95 * 200) = 190 requests faster), where "the first time reaching 95%" would say 32."""
    stats = EndpointStats("x", requests=200, histogram=Counter({10.0: 100, 32.0: 90, 69.0: 10}))
    assert stats.percentile(0.95) == pytest.approx(0.069)
    assert stats.percentile(0.5) == pytest.approx(0.032)  # 100 requests faster: locust says 32
    assert stats.percentile(0.9) == pytest.approx(0.032)
    one = EndpointStats("x", requests=1, histogram=Counter({5.0: 1}))
    assert one.percentile(0.99) == pytest.approx(0.005)


def test_a_legacy_run_that_completed_no_request_is_named_broken(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    """Legacy accepts connections and never answers (as a distributed master whose workers
    left): its run completes 0 requests, and that is what the reason says."""
    config = configured(
        demo_config, duration="2s", timeout="30s", thresholds=["p95 <= 1.2 * legacy.p95"]
    )
    plan = LoadGate().section(config)
    assert plan is not None
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        legacy = System("legacy", SystemConfig(base_url=url), url, tmp_path)
        new = demo_system("new", "").system
        overall = run_load(plan, config.base_dir, config.redactor, new, legacy, None, tmp_path)[0]
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    assert overall.reasons[0].startswith(
        "legacy's side of the load is broken, so thresholds on legacy.* cannot be judged: "
        "it completed 0 requests"
    ), overall.reasons


def test_a_cpu_bound_locust_is_inconclusive_even_when_its_latencies_fail(tmp_path: Path) -> None:
    """Latencies measured by a starved generator are its own: with locust's CPU warning in its
    stderr, a failed p95 is not blamed on new (locust's JSON written as locust writes it)."""
    folder = tmp_path / "new"
    folder.mkdir()
    entry = {
        "name": "GET /ping", "method": "GET", "num_requests": 1000, "num_failures": 0,
        "total_response_time": 900_000.0, "max_response_time": 1500.0,
        "response_times": {"900": 900, "1500": 100}, "start_time": 100.0,
        "last_request_timestamp": 110.0,
    }  # fmt: skip
    (folder / "stats.json").write_text(json.dumps([entry]))
    run = LocustRun(
        folder, ("locust",), 0, 10.0, 9.8, "WARNING/root: CPU usage above 90%!", None, {}
    )
    load = LoadConfig.model_validate(
        {"users": 50, "rate": 1000, "thresholds": ["p95 < 1s", "rps >= 0.9 * target_rps"]}
    )
    overall = _judge(load, Shape.for_step(load, None), None, run, ["new"])[0]
    assert overall.outcome is Outcome.INCONCLUSIVE, overall.reasons
    assert overall.reasons == (
        "the load was not delivered: 100 of 1,000 requests/s (locust was CPU bound (98% of a "
        "core): add load.processes; 50 users each waiting for its answer (900 ms on average) "
        "can send at most 56 requests/s: add users): the system was not tested at the target "
        "rate",
    )


def test_thresholds_on_legacy_with_a_locustfile_of_ones_own_are_a_config_error() -> None:
    """A locustfile loads one host: legacy could only be a second run at another moment."""
    with pytest.raises(ValueError, match=r"thresholds on legacy\.\* need the generated profile"):
        LoadConfig.model_validate(
            {"locustfile": "mine.py", "thresholds": ["p95 <= 1.2 * legacy.p95"]}
        )
