"""Monitor mode (--cutover-monitor 5m --cutover-interval 15s): after a traffic step, keep running
the smoke checks and the metrics rules for a while, and fail as soon as one breaks."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.monitor]


def test_monitor(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
