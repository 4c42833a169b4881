"""Load gate: locust, in its own process, against new (and legacy when a budget is relative to
it); one test for the whole budget and one per endpoint with its own thresholds.

The load runs once per gate run, also under pytest-xdist (one worker runs it, the others read
its results): two workers loading production at once would measure each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_cutover import keys
from pytest_cutover.config import CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates.load.config import needs_legacy
from pytest_cutover.gates.load.gate import (
    GATE,
    OVERALL,
    LoadSetupError,
    endpoints_to_judge,
    run_load,
)
from pytest_cutover.gates.result import GateResult
from pytest_cutover.plugin import loaded_config, run_dir
from pytest_cutover.shared import compute_once, shared_result

pytestmark = [pytest.mark.canary_gate, pytest.mark.load]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "load_endpoint" in metafunc.fixturenames:
        config = loaded_config(metafunc.config)
        names = endpoints_to_judge(config) if config else []
        metafunc.parametrize("load_endpoint", names or [None], ids=names or ["none"])


@pytest.fixture(scope="session")
def load_results(
    cutover_config: CutoverConfig, cutover_step: float | None, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """Each result dict by name, or {"error": why the gate could not run}."""
    load = cutover_config.load
    if load is None:
        not_configured("no [load] section in cutover.toml")
        return {}

    def run() -> dict[str, Any]:
        new = request.getfixturevalue("new")
        legacy = request.getfixturevalue("legacy") if needs_legacy(load.all_thresholds) else None
        reports = request.config.stash[keys.SETTINGS].reports_dir.value
        try:
            progress = request.getfixturevalue("cutover_progress")
            results = run_load(cutover_config, new, legacy, cutover_step, reports, progress)
        except LoadSetupError as err:
            return {"error": str(err)}
        return {r.name: r.to_dict() for r in results}

    found: dict[str, Any] = compute_once(run_dir(request.config), GATE, run)
    return found


def _result(results: dict[str, Any], name: str) -> GateResult:
    return shared_result(
        results, GATE, name, "the load run produced no result (see test_load_budget)"
    )


def test_load_budget(
    load_results: dict[str, Any], record_gate: Callable[[GateResult], GateResult]
) -> None:
    record_gate(_result(load_results, OVERALL))


def test_load_endpoint(
    load_endpoint: str | None,
    request: pytest.FixtureRequest,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    if load_endpoint is None:
        not_configured("no [load] endpoint_thresholds")
        return
    record_gate(_result(request.getfixturevalue("load_results"), load_endpoint))
