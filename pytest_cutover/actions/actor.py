"""Carry out an action (shift, rollback, hold) the one careful way, for the plugin and the CLI.

Every action: ask the `before` callbacks (a team's veto), take the lock, write the audit record,
act, write the closing record, tell the `after` callbacks. A dry run asks and records but
changes nothing. Failures come back as an ActionOutcome that says so; nothing is swallowed and
nothing raises past here except a failure to write the audit log itself.

A broken `before` callback blocks a shift (do not promote on doubt) but never a rollback: going
back to legacy is the safe direction, and a chat webhook being down must not keep traffic on a
failing system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_cutover.actions.audit import AUDIT_FILE, AuditLog
from pytest_cutover.actions.calls import CallResult
from pytest_cutover.actions.driver import DriverError, TrafficDriver
from pytest_cutover.actions.drivers import make_driver
from pytest_cutover.actions.lock import LOCK_FILE, LockBusy, action_lock
from pytest_cutover.actions.rollback import describe_helper, run_helper
from pytest_cutover.config import CutoverConfig

OK_STATUSES = ("done", "no-op", "dry-run", "held")


@dataclass(frozen=True)
class TrafficChange:
    """What a traffic change is about to do (given to the before/after traffic hooks)."""

    driver: str
    from_percent: float | None
    to_percent: float
    reason: str
    step: float | None
    dry_run: bool


@dataclass(frozen=True)
class RollbackRequest:
    """What a rollback is about to do (given to the before/after rollback hooks)."""

    reason: str
    step: float | None
    driver: str | None
    helper: str | None
    dry_run: bool


@dataclass
class ActionOutcome:
    action: str
    status: str
    detail: str
    from_percent: float | None = None
    to_percent: float | None = None
    duration_s: float = 0.0
    helper: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def line(self) -> str:
        moved = ""
        if self.to_percent is not None:
            start = "?" if self.from_percent is None else f"{self.from_percent:g}"
            moved = f" {start}% -> {self.to_percent:g}%"
        return f"{self.action}{moved}: {self.status}: {self.detail}"


def _no_veto(_subject: Any) -> str | None:
    return None


def _ignore(_subject: Any, _outcome: ActionOutcome) -> None:
    return None


@dataclass(frozen=True)
class Callbacks:
    """Around each action: a `before` that returns a reason vetoes it; `after` sees the outcome."""

    before_traffic_change: Callable[[TrafficChange], str | None] = _no_veto
    after_traffic_change: Callable[[TrafficChange, ActionOutcome], None] = _ignore
    before_rollback: Callable[[RollbackRequest], str | None] = _no_veto
    after_rollback: Callable[[RollbackRequest, ActionOutcome], None] = _ignore


class Actor:
    def __init__(
        self,
        config: CutoverConfig,
        reports_dir: Path,
        origin: str,
        *,
        run_id: str | None = None,
        dry_run: bool = False,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self.callbacks = callbacks or Callbacks()
        self.audit = AuditLog(reports_dir / AUDIT_FILE, config.redactor, origin, run_id)
        self.driver: TrafficDriver | None = (
            make_driver(config.traffic, config.base_dir) if config.traffic else None
        )
        actions = config.actions
        self.helper = actions.rollback if actions else None
        lock_file = actions.lock_file if actions else None
        self.lock_path = config.base_dir / lock_file if lock_file else reports_dir / LOCK_FILE

    def current(self) -> tuple[float | None, str | None]:
        """The driver's weight now, or None and why it is not known."""
        if self.driver is None:
            return None, "no [traffic] driver configured"
        try:
            return self.driver.current(), None
        except DriverError as err:
            return None, str(err)

    def hold(self, reason: str, *, step: float | None = None, **context: Any) -> ActionOutcome:
        percent, _ = self.current()
        where = "where it is" if percent is None else f"at {percent:g}%"
        outcome = ActionOutcome("hold", "held", f"traffic stays {where}: {reason}", percent)
        self.audit.append(
            {"event": "hold", "action": "hold", "step": step, "reason": reason, **context}
        )
        return outcome

    def shift(
        self, percent: float, *, reason: str, step: float | None = None, **context: Any
    ) -> ActionOutcome:
        if self.driver is None:
            return ActionOutcome("shift", "failed", "no [traffic] driver configured", None, percent)
        try:
            with self._locked(f"shift to {percent:g}%"):
                return self._traffic("shift", percent, reason, step, context, may_block=True)
        except LockBusy as err:
            return self._refused("shift", str(err), step, context)

    def rollback(self, reason: str, *, step: float | None = None, **context: Any) -> ActionOutcome:
        """Traffic back to 0% (if a driver is configured), then the rollback helper (if one is)."""
        helper = describe_helper(self.helper) if self.helper else None
        driver = self.driver.name if self.driver else None
        if driver is None and helper is None:
            return ActionOutcome(
                "rollback",
                "failed",
                "nothing to roll back with: no [traffic] driver and no [actions.rollback] helper",
                None,
                0.0,
            )
        request = RollbackRequest(reason, step, driver, helper, self.dry_run)
        veto, notes = _ask(self.callbacks.before_rollback, request, "before_rollback")
        if veto is not None:
            return self._vetoed("rollback", veto, step, context, notes)
        try:
            with self._locked("rollback"):
                outcome = self._rollback(request, context)
        except LockBusy as err:
            return self._refused("rollback", str(err), step, context)
        outcome.notes[:0] = notes
        _tell(self.callbacks.after_rollback, request, outcome, "after_rollback")
        return outcome

    def _rollback(self, request: RollbackRequest, context: dict[str, Any]) -> ActionOutcome:
        before, _ = self.current()
        fields = {
            "step": request.step,
            "reason": request.reason,
            "driver": request.driver,
            "helper": request.helper,
            "from": before,
            "to": 0.0,
            **context,
        }
        if self.dry_run:
            self.audit.append({"event": "dry-run", "action": "rollback", **fields})
            plan = " and ".join(
                part
                for part in (
                    request.driver and f"set {request.driver} to 0%",
                    request.helper and f"run {request.helper}",
                )
                if part
            )
            return ActionOutcome("rollback", "dry-run", f"would {plan}", before, 0.0)
        started = time.monotonic()
        action_id = self.audit.started("rollback", **fields)
        parts: list[str] = []
        notes: list[str] = []
        failed = False
        if self.driver is not None:
            traffic = self._traffic(
                "traffic", 0.0, request.reason, request.step, context, may_block=False
            )
            parts.append(traffic.line())
            notes += traffic.notes
            failed = not traffic.ok
        helper_result = None
        if self.helper is not None:
            try:
                helper_result = run_helper(self.helper, self.config.base_dir, request.reason)
            except Exception as err:  # recorded like any failed helper, never lost
                message = f"unexpected {type(err).__name__}: {err}"
                helper_result = CallResult(False, message, "", round(time.monotonic() - started, 3))
            parts.append(f"helper {request.helper}: {helper_result.summary}")
            failed = failed or not helper_result.ok
        outcome = ActionOutcome(
            "rollback",
            "failed" if failed else "done",
            "; ".join(parts),
            before,
            0.0,
            round(time.monotonic() - started, 3),
            helper_result.to_dict() if helper_result else None,
            notes,
        )
        self.audit.finished(
            "rollback",
            action_id,
            result=outcome.status,
            detail=outcome.detail,
            duration_s=outcome.duration_s,
            helper_result=outcome.helper,
            **fields,
        )
        return outcome

    def _traffic(
        self,
        action: str,
        percent: float,
        reason: str,
        step: float | None,
        context: dict[str, Any],
        *,
        may_block: bool,
    ) -> ActionOutcome:
        assert self.driver is not None
        before, unknown = self.current()
        change = TrafficChange(self.driver.name, before, percent, reason, step, self.dry_run)
        veto, notes = _ask(self.callbacks.before_traffic_change, change, "before_traffic_change")
        if veto is None and notes and may_block:
            veto = notes[0]
        if veto is not None:
            return self._vetoed(action, veto, step, context, notes, before, percent)
        fields = {
            "step": step,
            "reason": reason,
            "driver": self.driver.name,
            "from": before,
            "to": percent,
            **context,
        }
        if unknown:
            fields["from_unknown"] = unknown
        if self.dry_run:
            self.audit.append({"event": "dry-run", "action": action, **fields})
            return ActionOutcome(
                action,
                "dry-run",
                f"would set {self.driver.name} to {percent:g}%",
                before,
                percent,
                notes=notes,
            )
        started = time.monotonic()
        action_id = self.audit.started(action, **fields)
        try:
            change_done = self.driver.set(percent)
            status, detail = ("done" if change_done.changed else "no-op"), change_done.detail
        except DriverError as err:
            status, detail = "failed", str(err)
        except Exception as err:  # an unexpected bug must still reach the audit and the report
            status, detail = "failed", f"unexpected {type(err).__name__}: {err}"
        outcome = ActionOutcome(
            action,
            status,
            detail,
            before,
            percent,
            round(time.monotonic() - started, 3),
            notes=notes,
        )
        self.audit.finished(
            action, action_id, result=status, detail=detail, duration_s=outcome.duration_s, **fields
        )
        _tell(self.callbacks.after_traffic_change, change, outcome, "after_traffic_change")
        return outcome

    def _locked(self, purpose: str) -> AbstractContextManager[None]:
        """A dry run changes nothing, so it needs no lock and never waits for one."""
        return nullcontext() if self.dry_run else action_lock(self.lock_path, purpose)

    def _refused(
        self, action: str, why: str, step: float | None, context: dict[str, Any]
    ) -> ActionOutcome:
        self.audit.append(
            {"event": "refused", "action": action, "step": step, "reason": why, **context}
        )
        return ActionOutcome(action, "failed", why)

    def _vetoed(
        self,
        action: str,
        why: str,
        step: float | None,
        context: dict[str, Any],
        notes: list[str],
        before: float | None = None,
        to: float | None = None,
    ) -> ActionOutcome:
        self.audit.append(
            {"event": "vetoed", "action": action, "step": step, "reason": why, **context}
        )
        return ActionOutcome(action, "vetoed", f"vetoed by a hook: {why}", before, to, notes=notes)


def _ask(
    callback: Callable[[Any], str | None], subject: Any, name: str
) -> tuple[str | None, list[str]]:
    """A veto reason, or None; a callback that raises is reported as a note, not hidden."""
    try:
        veto = callback(subject)
    except Exception as err:
        return None, [f"{name} hook raised {type(err).__name__}: {err}"]
    return (None if veto is None else str(veto)), []


def _tell(
    callback: Callable[[Any, ActionOutcome], None], subject: Any, outcome: ActionOutcome, name: str
) -> None:
    try:
        callback(subject, outcome)
    except Exception as err:
        outcome.notes.append(f"{name} hook raised {type(err).__name__}: {err}")
