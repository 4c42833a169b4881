"""Metrics gate: each [[metrics.rules]] rule judged over its window, one test per rule.

The metrics are watched once per gate run (also under pytest-xdist: one worker watches, the
others read its results), so the systems are scraped, or Prometheus asked, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_cutover.config import CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates.metrics.gate import run_gate
from pytest_cutover.gates.metrics.rules import GATE
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.plugin import loaded_config, run_dir
from pytest_cutover.shared import compute_once

pytestmark = [pytest.mark.canary_gate, pytest.mark.metrics]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "metrics_rule" not in metafunc.fixturenames:
        return
    config = loaded_config(metafunc.config)
    rules = [rule.label for rule in config.metrics.rules] if config else []
    metafunc.parametrize("metrics_rule", rules or [None], ids=rules or ["none"])


@pytest.fixture(scope="session")
def metrics_results(
    cutover_config: CutoverConfig, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """Every rule's result dict by rule name, watched once per run."""

    def watch() -> dict[str, Any]:
        metrics = cutover_config.metrics
        systems = {name: request.getfixturevalue(name) for name in metrics.systems}
        results = run_gate(metrics, systems, cutover_config.redactor)
        return {result.name: result.to_dict() for result in results}

    shared: dict[str, Any] = compute_once(run_dir(request.config), GATE, watch)
    return shared


def test_metrics_rule(
    metrics_rule: str | None,
    request: pytest.FixtureRequest,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    if metrics_rule is None:
        not_configured("no [[metrics.rules]] in cutover.toml")
        return
    results: dict[str, Any] = request.getfixturevalue("metrics_results")
    if metrics_rule not in results:
        reason = "no result for this rule: the config changed during the run"
        record_gate(GateResult(GATE, metrics_rule, Outcome.INCONCLUSIVE, (reason,)))
        return
    result = record_gate(GateResult.from_dict(results[metrics_rule]))
    for warning in result.evidence.get("warnings", []):
        print(f"{result.name}: {warning}")
