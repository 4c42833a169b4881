"""Load gate: locust, in its own processes, against new (and legacy when a budget is relative to
it); one test for the whole budget and one per endpoint with its own thresholds.

The load runs once per gate run, also under pytest-xdist: two workers loading production at once
would measure each other."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.load]


def test_load(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
