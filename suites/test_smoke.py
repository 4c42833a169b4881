"""Smoke gate: health, readiness and liveness of both systems, and the declared key endpoints."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_cutover.config import SYSTEM_NAMES, CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates import smoke
from pytest_cutover.gates.result import GateResult
from pytest_cutover.plugin import loaded_config

pytestmark = [pytest.mark.canary_gate, pytest.mark.smoke]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = loaded_config(metafunc.config)
    for argname, make in (
        ("health_check", smoke.health_checks),
        ("endpoint_check", smoke.endpoint_checks),
    ):
        if argname in metafunc.fixturenames:
            checks = [c for s in SYSTEM_NAMES for c in make(config, s)] if config else []
            metafunc.parametrize(argname, checks or [None], ids=[c.id for c in checks] or ["none"])


def _run(
    check: smoke.SmokeCheck | None,
    request: pytest.FixtureRequest,
    cutover_config: CutoverConfig,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    if check is None:
        not_configured("no [[smoke.endpoints]] declared in cutover.toml")
        return
    client = request.getfixturevalue(f"{check.system}_http")
    record_gate(
        smoke.run_check(client, check, cutover_config.smoke.retry_deadline, cutover_config.redactor)
    )


def test_health(
    health_check: smoke.SmokeCheck | None,
    request: pytest.FixtureRequest,
    cutover_config: CutoverConfig,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    _run(health_check, request, cutover_config, record_gate)


def test_endpoint(
    endpoint_check: smoke.SmokeCheck | None,
    request: pytest.FixtureRequest,
    cutover_config: CutoverConfig,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    _run(endpoint_check, request, cutover_config, record_gate)
