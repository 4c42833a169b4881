"""Integrity gate: one test per [[integrity.tables]] entry; the new database must hold the legacy
rows exactly. The selected tables are compared side by side, integrity.parallel at a time."""

import pytest

from pytest_cutover import Case, Judge

pytestmark = [pytest.mark.canary_gate, pytest.mark.integrity]


def test_integrity(cutover_case: Case, cutover_judge: Judge) -> None:
    cutover_judge(cutover_case)
