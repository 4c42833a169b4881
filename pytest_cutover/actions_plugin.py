"""The pytest glue for actions: the plugin's own `pytest_cutover_act`, the session's one step
between deciding and writing the decision.

On NO-GO it rolls back (or holds), on INCONCLUSIVE it holds (or rolls back), on GO it promotes to
the step's weight when `--cutover-promote` is given and the run was complete, as `[actions]`
says. The policy for runs that left gates out (`-m smoke`, `-k`): a NO-GO or INCONCLUSIVE acts as
configured, since any gate that failed shows the new system is bad or unjudged; a promotion needs
every configured gate. A team replaces this by unregistering "cutover-actions". The hook is only
called on the process that owns the session; the worker check makes that a guarantee of this
module too, not only of its caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_cutover import keys
from pytest_cutover.decision import (
    ActionsReport,
    Decision,
    Verdict,
)

if TYPE_CHECKING:
    from pytest_cutover.actions.actor import ActionOutcome, Callbacks
    from pytest_cutover.config import CutoverConfig


def pytest_cutover_act(decision: Decision, config: pytest.Config) -> ActionsReport | None:
    """Audit the decision, then roll back, hold or promote as [actions] says."""
    from pytest_cutover.actions.audit import AUDIT_FILE, AuditLog
    from pytest_cutover.plugin import loaded_config

    if hasattr(config, "workerinput"):
        return None
    cutover_config = loaded_config(config)
    if cutover_config is None:
        return None
    audit = AuditLog(_reports(config) / AUDIT_FILE, cutover_config.output, "pytest", _run(config))
    audit.append(
        {
            "event": "decision",
            "decision": decision.verdict.value,
            "step": decision.step,
            "reasons": list(decision.reasons[:5]),
            "left_out": list(decision.left_out),
        }
    )
    return _act(decision, config, cutover_config)


def _act(
    decision: Decision, config: pytest.Config, cutover_config: CutoverConfig
) -> ActionsReport | None:
    from pytest_cutover.actions.actor import ActionOutcome, Actor

    action = _action_for(decision.verdict, cutover_config, config.option.cutover_promote)
    if action is None:
        return None
    if action == "shift" and decision.partial:
        left_out = ", ".join(decision.left_out)
        outcome = ActionOutcome(
            "shift", "refused", f"a promotion needs a complete gate run; left out: {left_out}"
        )
        return report_of(outcome)
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
    return report_of(outcome)


def _action_for(verdict: Verdict, cutover_config: CutoverConfig, promote: bool) -> str | None:
    actions = cutover_config.actions
    if verdict is Verdict.GO:
        return "shift" if promote else None
    if actions is None:
        return None
    return actions.on_no_go if verdict is Verdict.NO_GO else actions.on_inconclusive


def report_of(outcome: ActionOutcome) -> ActionsReport:
    """The outcome as the decision carries it; an action that did not happen is a failure."""
    from pytest_cutover.actions.outcome import exit_status_for, failure_headline

    entry = {**outcome.to_dict(), "line": outcome.line()}
    return ActionsReport((entry,), failure_headline(outcome), exit_status_for(outcome))


def _callbacks(config: pytest.Config) -> Callbacks:
    from pytest_cutover.actions.actor import Callbacks

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
