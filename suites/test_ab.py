"""A/B gate: the corpus replayed to legacy and new, one test per endpoint group plus the total.

The replay runs once per gate run (also under pytest-xdist: one worker replays, the others read
its results), so production sees the corpus once, at the configured rate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_cutover import keys
from pytest_cutover.config import CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates.ab.judge import GATE, OVERALL
from pytest_cutover.gates.ab.run import AbSetupError, make_plan, run_ab
from pytest_cutover.gates.result import GateResult
from pytest_cutover.plugin import loaded_config, run_dir
from pytest_cutover.reports.atomic import write_json_atomically
from pytest_cutover.shared import compute_once, shared_result

pytestmark = [pytest.mark.canary_gate, pytest.mark.ab]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ab_endpoint" not in metafunc.fixturenames:
        return
    config = loaded_config(metafunc.config)
    groups: list[str] = []
    if config is not None and config.ab.corpus is not None:
        try:
            groups = make_plan(config).groups
        except AbSetupError:
            groups = []  # test_ab_overall reports the error, once
    metafunc.parametrize("ab_endpoint", groups or [None], ids=groups or ["none"])


@pytest.fixture(scope="session")
def ab_results(cutover_config: CutoverConfig, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every endpoint's result dict by name, or {"error": why the gate could not run}."""
    if cutover_config.ab.corpus is None:
        not_configured("no [ab] corpus in cutover.toml")

    def replay_and_judge() -> dict[str, Any]:
        try:
            plan = make_plan(cutover_config)
            uses_legacy = not cutover_config.ab.legacy_from_baseline
            legacy = request.getfixturevalue("legacy") if uses_legacy else None
            new = request.getfixturevalue("new")
            progress = request.getfixturevalue("cutover_progress")
            results = run_ab(cutover_config, legacy, new, plan, progress=progress)
        except AbSetupError as err:
            return {"error": str(err)}
        found = {r.name: r.to_dict() for r in results}
        reports = request.config.stash[keys.SETTINGS].reports_dir.value
        write_json_atomically(reports / "ab" / "report.json", list(found.values()))
        return found

    shared: dict[str, Any] = compute_once(run_dir(request.config), GATE, replay_and_judge)
    return shared


def _result(results: dict[str, Any], name: str) -> GateResult:
    return shared_result(
        results, GATE, name, "no result for this endpoint: the corpus changed during the run"
    )


def test_ab_endpoint(
    ab_endpoint: str | None,
    ab_results: dict[str, Any],
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    if ab_endpoint is None:
        if "error" in ab_results:
            not_configured("the corpus could not be read (see test_ab_overall)")
        not_configured("the corpus has no replayable request")
        return
    record_gate(_result(ab_results, ab_endpoint))


def test_ab_overall(
    ab_results: dict[str, Any], record_gate: Callable[[GateResult], GateResult]
) -> None:
    record_gate(_result(ab_results, OVERALL))
