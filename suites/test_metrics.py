"""Metrics gate: each [[metrics.rules]] rule judged over its window, one test per rule, the
systems scraped (or Prometheus asked) once per interval for all of them."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.metrics]


def test_metrics(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
