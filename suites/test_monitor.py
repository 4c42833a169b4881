"""Monitor mode (--cutover-monitor 5m --cutover-interval 15s): after a traffic step, keep running
the smoke checks and the metrics rules for a while, and fail as soon as one breaks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_cutover.config import SYSTEM_NAMES, CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates.metrics.monitor import monitor
from pytest_cutover.gates.result import GateResult

pytestmark = [pytest.mark.canary_gate, pytest.mark.metrics]


def test_monitor(
    request: pytest.FixtureRequest,
    cutover_config: CutoverConfig,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    duration: float | None = request.config.getoption("cutover_monitor")
    if duration is None:
        not_configured("monitor mode is off (give --cutover-monitor DURATION to watch)")
        return
    interval: float = request.config.getoption("cutover_interval") or (
        cutover_config.metrics.interval
    )
    systems = {name: request.getfixturevalue(name) for name in SYSTEM_NAMES}
    clients = {name: request.getfixturevalue(f"{name}_http") for name in SYSTEM_NAMES}
    progress = request.getfixturevalue("cutover_progress")
    record_gate(monitor(cutover_config, systems, clients, duration, interval, progress))
