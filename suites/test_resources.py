"""Resources gate: the memory and CPU of the systems' own processes over a window, and the growth
of memory (a leak), judged against thresholds with units; sampled once per gate run."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.resources]


def test_resources(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
