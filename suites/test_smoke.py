"""Smoke gate: health, readiness and liveness of both systems, then the declared key endpoints."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.smoke]


def test_smoke(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
