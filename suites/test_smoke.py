"""Smoke gate: the declared health, readiness and liveness probes of both systems and their
services, then the declared key endpoints."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.smoke]


def test_smoke(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
