"""Carry out an action (shift, rollback, hold) the one careful way, for the plugin and the CLI.

Every action: ask the `before` callbacks (a team's veto), take the lock, write the audit record,
act, write the closing record, tell the `after` callbacks. A dry run asks and records but
changes nothing. Failures come back as an ActionOutcome that says so; nothing is swallowed.

A rollback depends on nothing but the driver's `set` (DESIGN rule 2). A broken `before`
callback, a weight that cannot be read, an audit log that cannot be written: each is reported
in the outcome's notes and the rollback goes on. A lock file that cannot be used at all still
lets traffic go back to 0% (setting a weight twice is harmless) but not the helper, which runs
exactly once only under the lock. Only another run holding the lock stops it ("busy"), since
that run is doing the rollback already; and a team's explicit veto.

A shift is a promotion and fails closed: a raising `before` callback blocks it, and an audit log
that cannot be written stops it. A shift whose current weight cannot be read goes ahead: the
weight it sets is absolute (`cutover shift 50` means 50%, whatever it was), and refusing would
leave a person no way to move traffic while the read is broken. The read failure is in the
outcome's notes and the audit record (`from_unknown`); a team that wants no promotion from an
unknown weight vetoes it in `pytest_cutover_before_traffic_change` (`change.from_percent` is
None).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pytest_cutover.actions.audit import (
    AUDIT_FILE,
    AuditLog,
    new_action_id,
    read_audit,
    unresolved,
)
from pytest_cutover.actions.calls import CallResult
from pytest_cutover.actions.config import RollbackConfig, Trigger
from pytest_cutover.actions.driver import DriverError, NoReading, TrafficDriver
from pytest_cutover.actions.drivers import make_driver
from pytest_cutover.actions.history import last_go_below
from pytest_cutover.actions.lock import LOCK_FILE, LockBusy, LockUnavailable, action_lock
from pytest_cutover.actions.outcome import BUSY, ActionOutcome
from pytest_cutover.actions.rollback import describe_helper, helpers_for, run_helper
from pytest_cutover.actions.template import clean, step_text
from pytest_cutover.config import CutoverConfig

__all__ = ["ActionOutcome", "Actor", "Callbacks", "RollbackRequest", "TrafficChange"]


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
    to_percent: float = 0.0
    trigger: Trigger = "manual"


@dataclass(frozen=True)
class Reading:
    """The weight read before an action: `unknown` says why there is none, and `notes` carry a
    read that failed (as opposed to a driver that has no way to read) to the report."""

    percent: float | None
    unknown: str | None = None
    notes: list[str] = field(default_factory=list)


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
        self.audit = AuditLog(reports_dir / AUDIT_FILE, config.output, origin, run_id)
        self.driver: TrafficDriver | None = (
            make_driver(config.traffic, config.base_dir) if config.traffic else None
        )
        actions = config.actions
        self.helpers = actions.rollback if actions else []
        self.helper_order = actions.helpers if actions else "first_success"
        self.rollback_to = actions.rollback_to if actions else 0.0
        lock_file = actions.lock_file if actions else None
        self.lock_path = config.base_dir / lock_file if lock_file else reports_dir / LOCK_FILE

    def current(self) -> tuple[float | None, str | None]:
        """The driver's weight now, or None and why it is not known."""
        reading = self.read()
        return reading.percent, reading.unknown

    def read(self) -> Reading:
        """The driver's weight now; never raises, since a reading is for the record and the
        no-op check only, never a condition of acting."""
        if self.driver is None:
            return Reading(None, "no [traffic] driver configured")
        try:
            return Reading(self.driver.current())
        except NoReading as err:
            return Reading(None, str(err))
        except Exception as err:  # a bug in reading must not block an action either
            why = str(err) if isinstance(err, DriverError) else f"{type(err).__name__}: {err}"
            return Reading(
                None,
                why,
                [f"reading the current weight failed ({why}); the change went ahead without it"],
            )

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
                return self._traffic(
                    "shift", percent, reason, step, context, self.read(), rollback=False
                )
        except LockBusy as err:
            return self._busy("shift", err, step, context)

    def rollback(
        self,
        reason: str,
        *,
        step: float | None = None,
        trigger: Trigger = "manual",
        gates: frozenset[str] = frozenset(),
        **context: Any,
    ) -> ActionOutcome:
        """Traffic back (to 0%, or to the last GO step with `rollback_to = "last_go"`) if a
        driver is configured, then the rollback helpers that serve `trigger` and `gates`."""
        helpers = helpers_for(self.helpers, trigger, gates)
        helper = "; ".join(_described(name, h) for name, h in helpers) or None
        driver = self.driver.name if self.driver else None
        if driver is None and helper is None:
            return ActionOutcome(
                "rollback",
                "failed",
                "nothing to roll back with: no [traffic] driver and no [actions.rollback] helper"
                + (f" serving {trigger}" if self.helpers else ""),
                None,
                0.0,
            )
        request = RollbackRequest(
            reason, step, driver, helper, self.dry_run, self._rollback_target(step), trigger
        )
        veto, notes = _ask(self.callbacks.before_rollback, request, "before_rollback")
        if veto is not None:
            return self._vetoed("rollback", veto, step, context, notes)
        try:
            with self._locked("rollback"):
                outcome = self._rollback(request, helpers, context, unlocked=None)
        except LockBusy as err:
            return self._busy("rollback", err, step, context)
        except LockUnavailable as err:
            outcome = self._rollback(request, helpers, context, unlocked=str(err))
        outcome.notes[:0] = notes
        _tell(self.callbacks.after_rollback, request, outcome, "after_rollback")
        return outcome

    def _rollback_target(self, step: float | None) -> float:
        """0%, or the last GO step below `step` (0% too when the audit log knows none)."""
        if self.rollback_to != "last_go" or step is None or self.driver is None:
            return 0.0
        try:
            return last_go_below(read_audit(self.audit.path), step)
        except OSError:  # an unreadable history never blocks going back: all the way, then
            return 0.0

    def resolve(self, note: str) -> ActionOutcome:
        """Record that a person has looked at every interrupted action and what they found, so
        `cutover status` stops flagging them. Under the lock: while a killed run's helper still
        holds it, the action is not over and cannot be resolved yet."""
        try:
            with action_lock(self.lock_path, "resolve"):
                interrupted = unresolved(read_audit(self.audit.path))
                if not interrupted:
                    return ActionOutcome("resolve", "no-op", "no interrupted action to resolve")
                ids = [r.get("action_id") for r in interrupted]
                self.audit.append(
                    {"event": "resolved", "action": "resolve", "resolves": ids, "note": note}
                )
        except LockBusy as err:
            return self._busy("resolve", err, None, {})
        started = ", ".join(
            f"{r.get('action')} started {r.get('ts')} by {r.get('who')}" for r in interrupted
        )
        return ActionOutcome("resolve", "done", f"recorded for {started}: {note}")

    def _rollback(
        self,
        request: RollbackRequest,
        helpers: list[tuple[str, RollbackConfig]],
        context: dict[str, Any],
        *,
        unlocked: str | None,
    ) -> ActionOutcome:
        """`unlocked`: why the lock could not be taken; then only the traffic goes back."""
        reading = self.read() if self.driver is not None else Reading(None)
        target = request.to_percent
        fields = {
            "step": request.step,
            "reason": request.reason,
            "driver": request.driver,
            "helper": request.helper,
            "trigger": request.trigger,
            "from": reading.percent,
            "to": target,
            **context,
        }
        if reading.unknown and self.driver is not None:
            fields["from_unknown"] = reading.unknown
        if self.dry_run:
            self.audit.append({"event": "dry-run", "action": "rollback", **fields})
            plan = " and ".join(
                part
                for part in (
                    request.driver and f"set {request.driver} to {target:g}%",
                    request.helper and f"run {request.helper}",
                )
                if part
            )
            return ActionOutcome("rollback", "dry-run", f"would {plan}", reading.percent, target)
        started = time.monotonic()
        action_id = new_action_id()
        notes: list[str] = []
        self._record(
            lambda: self.audit.started("rollback", action_id, **fields), notes, rollback=True
        )
        parts: list[str] = []
        failed = False
        if self.driver is not None:
            traffic = self._traffic(
                "traffic", target, request.reason, request.step, context, reading, rollback=True
            )
            parts.append(traffic.line())
            notes += [note for note in traffic.notes if note not in notes]
            failed = not traffic.ok
        results: list[dict[str, Any]] = []
        if helpers and unlocked is not None:
            parts.append(
                f"helper {request.helper}: NOT RUN, since it runs exactly once only under the "
                f"lock ({unlocked}); run `cutover rollback` once the lock file can be made"
            )
            failed = True
        elif helpers:
            helped, results = self._helpers(request, helpers, action_id, context, notes)
            parts += [f"helper {r['name']}: {r['result']['summary']}" for r in results]
            failed = failed or not helped
        outcome = ActionOutcome(
            "rollback",
            "failed" if failed else "done",
            "; ".join(parts),
            reading.percent,
            target,
            round(time.monotonic() - started, 3),
            results[-1]["result"] if results else None,
            notes,
            results,
        )
        self._record(
            lambda: self.audit.finished(
                "rollback",
                action_id,
                result=outcome.status,
                detail=outcome.detail,
                duration_s=outcome.duration_s,
                helper_result=outcome.helper,
                notes=outcome.notes,
                **fields,
            ),
            outcome.notes,
            rollback=True,
        )
        return outcome

    def _helpers(
        self,
        request: RollbackRequest,
        helpers: list[tuple[str, RollbackConfig]],
        rollback_id: str,
        context: dict[str, Any],
        notes: list[str],
    ) -> tuple[bool, list[dict[str, Any]]]:
        """Each helper at most once, audited before and after: in order until one succeeds
        (`helpers = "first_success"`), or every one (`"all"`). True when the rollback's
        helpers did their job: one succeeded, or (with "all") every one did."""
        values = {
            "percent": f"{request.to_percent:g}",
            "step": step_text(request.step),
            "reason": clean(self.config.redactor.text(request.reason)),
            "decision": str(context.get("decision", request.trigger)),
        }
        results: list[dict[str, Any]] = []
        for name, helper in helpers:
            helper_id = new_action_id()
            record = {"helper": name, "rollback_id": rollback_id, "step": request.step}
            self._record(
                partial(self.audit.started, "helper", helper_id, **record), notes, rollback=True
            )
            started = time.monotonic()
            try:
                result = run_helper(helper, self.config.base_dir, values)
            except Exception as err:  # recorded like any failed helper, never lost
                message = f"unexpected {type(err).__name__}: {err}"
                result = CallResult(False, message, "", round(time.monotonic() - started, 3))
            self._record(
                partial(
                    self.audit.finished,
                    "helper",
                    helper_id,
                    result="done" if result.ok else "failed",
                    helper_result=result.to_dict(),
                    **record,
                ),
                notes,
                rollback=True,
            )
            results.append({"name": name, "result": result.to_dict()})
            if result.ok and self.helper_order == "first_success":
                return True, results
        if self.helper_order == "all":
            return all(r["result"]["ok"] for r in results), results
        return False, results

    def _traffic(
        self,
        action: str,
        percent: float,
        reason: str,
        step: float | None,
        context: dict[str, Any],
        reading: Reading,
        *,
        rollback: bool,
    ) -> ActionOutcome:
        assert self.driver is not None
        before = reading.percent
        change = TrafficChange(self.driver.name, before, percent, reason, step, self.dry_run)
        veto, notes = _ask(self.callbacks.before_traffic_change, change, "before_traffic_change")
        if veto is None and notes and not rollback:
            veto = notes[0]
        if veto is not None:
            return self._vetoed(action, veto, step, context, notes, before, percent)
        notes += reading.notes
        fields = {
            "step": step,
            "reason": reason,
            "driver": self.driver.name,
            "from": before,
            "to": percent,
            **context,
        }
        if reading.unknown:
            fields["from_unknown"] = reading.unknown
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
        action_id = new_action_id()
        self._record(
            lambda: self.audit.started(action, action_id, **fields), notes, rollback=rollback
        )
        try:
            change_done = self.driver.set(percent, before)
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
        self._record(
            lambda: self.audit.finished(
                action,
                action_id,
                result=status,
                detail=detail,
                duration_s=outcome.duration_s,
                **fields,
            ),
            notes,
            rollback=rollback,
        )
        _tell(self.callbacks.after_traffic_change, change, outcome, "after_traffic_change")
        return outcome

    def _locked(self, purpose: str) -> AbstractContextManager[object]:
        """A dry run changes nothing, so it needs no lock and never waits for one."""
        return nullcontext() if self.dry_run else action_lock(self.lock_path, purpose)

    def _record(self, write: Callable[[], None], notes: list[str], *, rollback: bool) -> None:
        """Write an audit record. A rollback goes on without one and says so (going back to
        legacy depends on nothing but setting the weight); anything else stops, since an
        unrecorded promotion is worse than none."""
        if not rollback:
            write()
            return
        try:
            write()
        except OSError as err:
            note = (
                f"THE AUDIT LOG COULD NOT BE WRITTEN ({type(err).__name__}: {err}): this "
                "rollback went ahead without its record there"
            )
            if note not in notes:
                notes.append(note)

    def _busy(
        self, action: str, err: LockBusy, step: float | None, context: dict[str, Any]
    ) -> ActionOutcome:
        """Another run holds the lock: this one did nothing, and the audit says it stood back."""
        notes: list[str] = []
        record = {"event": "refused", "action": action, "result": BUSY, "step": step}
        self._record(
            lambda: self.audit.append(
                {**record, "reason": str(err), "holder": err.holder, **context}
            ),
            notes,
            rollback=True,
        )
        return ActionOutcome(action, BUSY, str(err), notes=notes)

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


def _described(name: str, helper: RollbackConfig) -> str:
    described = describe_helper(helper)
    return described if name == described else f"{name} ({described})"


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
