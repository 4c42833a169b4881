"""The pytest glue for actions: the plugin's own `pytest_cutover_act`, the session's one step
between deciding and writing the decision.

On NO-GO it rolls back (or holds), on INCONCLUSIVE it holds (or rolls back), on GO it promotes to
the step's weight when `--cutover-promote` is given and the run was complete, as `[actions]`
says; a GO with a warning-level breach holds the step (or rolls back, or promotes, as
`on_warning` says). Each decision and each action is then notified (`[[actions.notify]]`), and a
notification that fails changes nothing but its own line in the report and the audit log.

The policy for runs that left gates out (`-m smoke`, `-k`): a NO-GO or INCONCLUSIVE acts as
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
    from pytest_cutover.actions.audit import AuditLog
    from pytest_cutover.actions.config import Trigger
    from pytest_cutover.actions.notify import Notifier
    from pytest_cutover.config import CutoverConfig


def pytest_cutover_act(decision: Decision, config: pytest.Config) -> ActionsReport | None:
    """Audit the decision, then roll back, hold or promote as [actions] says."""
    from pytest_cutover.actions.audit import AUDIT_FILE, AuditLog
    from pytest_cutover.actions.notify import decision_values
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
            "outcome": decision.outcome,
            "step": decision.step,
            "reasons": list(decision.reasons[:5]),
            "warnings": list(decision.warnings[:5]),
            "left_out": list(decision.left_out),
        }
    )
    notifier = _notifier(cutover_config, audit)
    values = decision_values(
        decision.verdict.value, decision.outcome, decision.step, decision.reasons
    )
    kind = "HOLD" if decision.held else decision.verdict.value
    # Acting comes first: a receiver that is slow or down never delays a rollback.
    outcome = _act(decision, config, cutover_config)
    sent = notifier.send("decision", kind, values) if notifier else []
    if outcome is not None and notifier is not None:
        about = {
            **values,
            "action": outcome.line(),
            "status": outcome.status,
            "detail": outcome.detail,
            "percent": "none" if outcome.to_percent is None else f"{outcome.to_percent:g}",
        }
        sent += notifier.send("action", kind, about)
    if outcome is None and not sent:
        return None
    return report_of(outcome, [s.to_dict() for s in sent])


def _notifier(cutover_config: CutoverConfig, audit: AuditLog) -> Notifier | None:
    from pytest_cutover.actions.notify import Notifier

    actions = cutover_config.actions
    if actions is None or not actions.notify:
        return None
    return Notifier(actions.notify, audit, cutover_config.redactor)


def _act(
    decision: Decision, config: pytest.Config, cutover_config: CutoverConfig
) -> ActionOutcome | None:
    from pytest_cutover.actions.actor import ActionOutcome, Actor

    action = _action_for(decision, cutover_config, config.option.cutover_promote)
    if action is None:
        return None
    if action == "shift" and decision.partial:
        left_out = ", ".join(decision.left_out)
        return ActionOutcome(
            "shift", "refused", f"a promotion needs a complete gate run; left out: {left_out}"
        )
    step = decision.step
    reason = f"gate decision {decision.outcome if decision.held else decision.verdict.value}" + (
        f" at step {_step(step)}" + (f": {decision.reasons[0]}" if decision.reasons else "")
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
            trigger: Trigger = "WARNING" if decision.held else _TRIGGERS[decision.verdict]
            gates = decision.failed_gates()
            return actor.rollback(reason, step=step, trigger=trigger, gates=gates, **context)
        if action == "hold":
            return actor.hold(reason, step=step, **context)
        assert step is not None  # pytest_configure refuses --cutover-promote without a step
        return actor.shift(step, reason=reason, step=step, **context)
    except Exception as err:  # the audit log itself could not be written: still loud, not lost
        return ActionOutcome(action, "failed", f"unexpected {type(err).__name__}: {err}")


_TRIGGERS: dict[Verdict, Trigger] = {Verdict.NO_GO: "NO-GO", Verdict.INCONCLUSIVE: "INCONCLUSIVE"}


def _action_for(decision: Decision, cutover_config: CutoverConfig, promote: bool) -> str | None:
    actions = cutover_config.actions
    if decision.held:
        return actions.on_warning if actions is not None else None
    if decision.verdict is Verdict.GO:
        return "shift" if promote else None
    if actions is None:
        return None
    return actions.on_no_go if decision.verdict is Verdict.NO_GO else actions.on_inconclusive


def report_of(
    outcome: ActionOutcome | None, notifications: list[dict[str, Any]] | None = None
) -> ActionsReport:
    """The outcome as the decision carries it; an action that did not happen is a failure.
    Notifications follow it: their failures are reported, never the run's failure."""
    from pytest_cutover.actions.outcome import exit_status_for, failure_headline

    entries = [{**outcome.to_dict(), "line": outcome.line()}] if outcome else []
    entries += notifications or []
    if outcome is None:
        return ActionsReport(tuple(entries))
    return ActionsReport(tuple(entries), failure_headline(outcome), exit_status_for(outcome))


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
