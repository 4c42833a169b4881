"""Hooks pytest-cutover calls, for a team's conftest.py to act on the decision.

Each fires exactly once per session, on the process that owns the session (the xdist controller
under `-n N`, never a worker), and only in a run that decided (never under --collect-only and
friends). The order is one direction: decide, act (`pytest_cutover_act`), write decision.json,
then notify (`pytest_cutover_decision` and the verdict hook, with the final decision, actions
included). The notification hooks are broadcast (every implementation is called, return values
are ignored); `pytest_cutover_act` and the two `before` hooks stop at the first non-None result.

The plugin's own `pytest_cutover_act` (pytest_cutover.actions_plugin, registered as
"cutover-actions") rolls back, holds or promotes as `[actions]` says. Replace it with
``config.pluginmanager.unregister(name="cutover-actions")`` in your `pytest_configure` and a
`pytest_cutover_act` of your own; notify chat or paging from the verdict hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_cutover.actions.actor import ActionOutcome, RollbackRequest, TrafficChange
    from pytest_cutover.decision import ActionsReport, Decision

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_cutover_act(decision: Decision, config: pytest.Config) -> ActionsReport | None:
    """Act on the decision (roll back, hold, promote) before it is written; stops at the first
    non-None result, which the decision file and the exit status then carry.

    :param decision: the `pytest_cutover.decision.Decision` as decided, no actions yet.
    :return: a `pytest_cutover.decision.ActionsReport`, or None when nothing was done.

    Example, in conftest.py (after unregistering "cutover-actions")::

        from pytest_cutover.decision import ActionsReport

        def pytest_cutover_act(decision, config):
            if decision.verdict.value == "NO-GO":
                subprocess.run(["./rollback.sh"], check=True, timeout=120)
                return ActionsReport(({"action": "rollback", "line": "rollback.sh ran"},))
            return None
    """


@hookspec
def pytest_cutover_decision(decision: Decision, config: pytest.Config) -> None:
    """Called once the decision is made, acted on and written, before the verdict hook.

    :param decision: the final `pytest_cutover.decision.Decision` (verdict, reasons, step,
        tests, and the actions taken).
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

    Traffic has already been sent back when `[actions]` asks for it (``decision.actions``
    says what happened); ``decision.reasons`` says why.

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


@hookspec(firstresult=True)
def pytest_cutover_before_traffic_change(
    change: TrafficChange, config: pytest.Config
) -> str | None:
    """Called before the traffic driver changes the weight (a promotion, or a rollback's move to
    0%). Return a reason to veto it; stops at the first non-None result.

    :param change: `pytest_cutover.actions.actor.TrafficChange` (driver, from_percent,
        to_percent, reason, step, dry_run).

    A vetoed promotion exits 12; a vetoed rollback exits 11 (the rollback did not happen). A hook
    that raises blocks a promotion but never a rollback.

    Example, in conftest.py::

        def pytest_cutover_before_traffic_change(change, config):
            if change.to_percent > 50 and not change_window_open():
                return "outside the change window"
    """


@hookspec
def pytest_cutover_after_traffic_change(
    change: TrafficChange, outcome: ActionOutcome, config: pytest.Config
) -> None:
    """Called after a traffic change was attempted, whatever happened.

    :param outcome: `pytest_cutover.actions.actor.ActionOutcome` (status: done, no-op, failed,
        dry-run; detail; duration_s).

    Example, in conftest.py::

        def pytest_cutover_after_traffic_change(change, outcome, config):
            notify_chat(f"traffic to new: {change.to_percent:g}%: {outcome.status}")
    """


@hookspec(firstresult=True)
def pytest_cutover_before_rollback(request: RollbackRequest, config: pytest.Config) -> str | None:
    """Called before a rollback (traffic to 0% and the rollback helper). Return a reason to veto
    it; stops at the first non-None result. A vetoed rollback exits 11, like a failed one.

    :param request: `pytest_cutover.actions.actor.RollbackRequest` (reason, step, driver,
        helper, dry_run).

    Example, in conftest.py::

        def pytest_cutover_before_rollback(request, config):
            page_on_call(f"rolling back: {request.reason}")
    """


@hookspec
def pytest_cutover_after_rollback(
    request: RollbackRequest, outcome: ActionOutcome, config: pytest.Config
) -> None:
    """Called after a rollback was attempted; ``outcome.ok`` is False when it failed.

    Example, in conftest.py::

        def pytest_cutover_after_rollback(request, outcome, config):
            if not outcome.ok:
                page_on_call("ROLLBACK FAILED: " + outcome.detail)
    """
