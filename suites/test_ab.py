"""A/B gate: the corpus replayed to legacy and new, one test per endpoint group and one for all.

The replay runs once per gate run (also under pytest-xdist), so production sees the corpus once,
at the configured rate."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.ab]


def test_ab(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
