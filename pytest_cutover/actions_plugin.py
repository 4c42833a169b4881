"""The pytest glue for actions: the default implementations of the verdict hooks that act.

On NO-GO they roll back (or hold), on INCONCLUSIVE they hold (or roll back), on GO they promote
to the step's weight when `--cutover-promote` is given, as `[actions]` says. These are hooks like
any team's: a conftest.py adds its own beside them, or unregisters "cutover-actions" to replace
them. The hooks only fire on the process that owns the session (GateSession is never registered
on an xdist worker); the worker check and the once-only stash key below make that a guarantee
of this module too, not only of its caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_cutover import keys
from pytest_cutover.actions.actor import ActionOutcome, Actor, Callbacks
from pytest_cutover.actions.audit import AUDIT_FILE, AuditLog
from pytest_cutover.config import CutoverConfig
from pytest_cutover.decision import (
    ACTION_FAILED_EXIT,
    ROLLBACK_FAILED_EXIT,
    ActionsReport,
    Decision,
    Verdict,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cutover")
    group.addoption(
        "--cutover-dry-run",
        dest="cutover_dry_run",
        action="store_true",
        default=False,
        help="show (and audit) what the decision would do to traffic, and change nothing.",
    )
    group.addoption(
        "--cutover-promote",
        dest="cutover_promote",
        action="store_true",
        default=False,
        help="on GO, shift the new system's traffic to the --cutover-step weight "
        "(needs a [traffic] driver).",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Refuse a promotion that could never happen before any gate runs, not after."""
    if not config.option.cutover_promote or config.option.help:
        return
    cutover_config = config.stash.get(keys.CONFIG, None)
    if cutover_config is None or cutover_config.traffic is None:
        raise pytest.UsageError("--cutover-promote needs a [traffic] driver in cutover.toml")
    if config.stash[keys.SETTINGS].step.value is None:
        raise pytest.UsageError("--cutover-promote needs the step to promote to: --cutover-step")


def pytest_cutover_decision(decision: Decision, config: pytest.Config) -> None:
    cutover_config = config.stash.get(keys.CONFIG, None)
    if cutover_config is None or hasattr(config, "workerinput"):
        return
    audit = AuditLog(_reports(config) / AUDIT_FILE, cutover_config.redactor, "pytest", _run(config))
    audit.append(
        {
            "event": "decision",
            "decision": decision.verdict.value,
            "step": decision.step,
            "reasons": list(decision.reasons[:5]),
        }
    )


def pytest_cutover_go(decision: Decision, config: pytest.Config) -> None:
    _act(decision, config)


def pytest_cutover_no_go(decision: Decision, config: pytest.Config) -> None:
    _act(decision, config)


def pytest_cutover_inconclusive(decision: Decision, config: pytest.Config) -> None:
    _act(decision, config)


def _act(decision: Decision, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or keys.ACTIONS in config.stash:
        return
    cutover_config = config.stash.get(keys.CONFIG, None)
    if cutover_config is None:
        return
    action = _action_for(decision.verdict, cutover_config, config.option.cutover_promote)
    if action is None:
        return
    step = decision.step
    reason = f"gate decision {decision.verdict.value} at step {_step(step)}" + (
        f": {decision.reasons[0]}" if decision.reasons else ""
    )
    context: dict[str, Any] = {"decision": decision.verdict.value}
    try:
        actor = Actor(
            cutover_config,
            _reports(config),
            "pytest",
            run_id=_run(config),
            dry_run=config.option.cutover_dry_run,
            callbacks=_callbacks(config),
        )
        if action == "rollback":
            outcome = actor.rollback(reason, step=step, **context)
        elif action == "hold":
            outcome = actor.hold(reason, step=step, **context)
        else:
            assert step is not None  # pytest_configure refuses --cutover-promote without a step
            outcome = actor.shift(step, reason=reason, step=step, **context)
    except Exception as err:  # the audit log itself could not be written: still loud, not lost
        outcome = ActionOutcome(action, "failed", f"unexpected {type(err).__name__}: {err}")
    config.stash[keys.ACTIONS] = report_of(outcome)


def _action_for(verdict: Verdict, cutover_config: CutoverConfig, promote: bool) -> str | None:
    actions = cutover_config.actions
    if verdict is Verdict.GO:
        return "shift" if promote else None
    if actions is None:
        return None
    return actions.on_no_go if verdict is Verdict.NO_GO else actions.on_inconclusive


def report_of(outcome: ActionOutcome) -> ActionsReport:
    """The outcome as the decision carries it; an action that did not happen is a failure."""
    entry = {**outcome.to_dict(), "line": outcome.line()}
    if outcome.ok:
        return ActionsReport((entry,))
    if outcome.action == "rollback":
        failure = f"ROLLBACK FAILED ({outcome.status}): {outcome.detail}"
        return ActionsReport((entry,), failure, ROLLBACK_FAILED_EXIT)
    failure = f"{outcome.action.upper()} FAILED ({outcome.status}): {outcome.detail}"
    return ActionsReport((entry,), failure, ACTION_FAILED_EXIT)


def _callbacks(config: pytest.Config) -> Callbacks:
    hook = config.hook
    return Callbacks(
        before_traffic_change=lambda change: hook.pytest_cutover_before_traffic_change(
            change=change, config=config
        ),
        after_traffic_change=lambda change, outcome: hook.pytest_cutover_after_traffic_change(
            change=change, outcome=outcome, config=config
        ),
        before_rollback=lambda request: hook.pytest_cutover_before_rollback(
            request=request, config=config
        ),
        after_rollback=lambda request, outcome: hook.pytest_cutover_after_rollback(
            request=request, outcome=outcome, config=config
        ),
    )


def _reports(config: pytest.Config) -> Path:
    return config.stash[keys.SETTINGS].reports_dir.value


def _run(config: pytest.Config) -> str:
    return config.stash[keys.RUN_ID]


def _step(step: float | None) -> str:
    return "none" if step is None else f"{step:g}%"
