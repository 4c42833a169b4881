"""Security gate: authentication, authorisation, CORS, injection probes and security headers on
both systems, one test per declared check; new must never be more open than legacy."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.security]


def test_security(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
