"""Hooks pytest-cutover calls, for a team's conftest.py to act on the decision.

Each fires exactly once per session, on the process that owns the session (the xdist controller
under `-n N`, never a worker), after decision.json is written. All are broadcast hooks: every
implementation is called and return values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_cutover.decision import Decision

hookspec = pytest.hookspec


@hookspec
def pytest_cutover_decision(decision: Decision, config: pytest.Config) -> None:
    """Called once the decision is made, whatever it is, before the verdict-specific hook.

    :param decision: the `pytest_cutover.decision.Decision` (verdict, reasons, step, tests).
    :param config: the pytest config.

    Example, in conftest.py::

        def pytest_cutover_decision(decision, config):
            print(f"cutover step {decision.step}: {decision.verdict.value}")
    """


@hookspec
def pytest_cutover_go(decision: Decision, config: pytest.Config) -> None:
    """Called once when the decision is GO: every selected gate test ran and passed.

    Example, in conftest.py::

        def pytest_cutover_go(decision, config):
            notify_chat(f"gate passed for step {decision.step}%: ready to shift")
    """


@hookspec
def pytest_cutover_no_go(decision: Decision, config: pytest.Config) -> None:
    """Called once when the decision is NO-GO: at least one gate test failed.

    This is where traffic goes back to legacy. ``decision.reasons`` says why.

    Example, in conftest.py::

        def pytest_cutover_no_go(decision, config):
            subprocess.run(["./configure-traffic-split.sh", "0"], check=True, timeout=60)
    """


@hookspec
def pytest_cutover_inconclusive(decision: Decision, config: pytest.Config) -> None:
    """Called once when the decision is INCONCLUSIVE: some gate could not run or proved nothing.

    Hold the current step; do not promote. ``decision.reasons`` says what could not be judged.

    Example, in conftest.py::

        def pytest_cutover_inconclusive(decision, config):
            page_on_call("cutover gate inconclusive: " + "; ".join(decision.reasons[:3]))
    """
