"""`cutover status`, `shift`, `rollback`, `resolve` and `run`: the actions by hand, through the
same Actor the plugin's hooks use, so a manual change is locked and audited exactly like an
automatic one.

Exit statuses match the plugin's (outcome.exit_status_for): 0 done, 2 a usage or config mistake,
11 a rollback that did not happen, 12 another action that did not happen, 13 another run holds
the lock and is acting (so this one did nothing); `run` also passes on a gate run's 1 and 10.
`status` exits 3 while an action that started never finished (killed, or still running) and
nobody has recorded what they found with `cutover resolve --note`: a pipeline that checks
`cutover status` before its next step stops there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from pytest_cutover.actions.actor import Actor
from pytest_cutover.actions.audit import AUDIT_FILE, read_audit, unresolved
from pytest_cutover.actions.lock import acting_now, describe_holder
from pytest_cutover.actions.notify import Notifier, Sent, decision_values
from pytest_cutover.actions.outcome import (
    BUSY,
    ActionOutcome,
    exit_status_for,
    failure_headline,
)
from pytest_cutover.actions.progressive import RunError, load_state, run_steps
from pytest_cutover.config import CutoverConfig

UNRESOLVED_EXIT = 3
_RECENT = 8


def run_command(args: argparse.Namespace, config: CutoverConfig, reports: Path) -> int:
    console = config.output.console(highlight=False, soft_wrap=True)  # whole lines: grepped
    if args.command == "status":
        return _status(config, reports, console, args.json)
    if args.command == "run":
        pytest_args = [a for a in args.pytest_args if a != "--"]
        try:
            return run_steps(
                config,
                reports,
                args.steps,
                args.soak,
                pytest_args,
                args.fresh,
                lambda line: console.print(escape(line)),
            )
        except RunError as err:
            errors = config.output.console(stderr=True, highlight=False, soft_wrap=True)
            errors.print(f"[red]error:[/red] {escape(str(err))}")
            return 2
    if args.command == "resolve":
        actor = Actor(config, reports, "cutover resolve")
        return _report(_attempt("resolve", lambda: actor.resolve(args.note)), console)
    actor = Actor(config, reports, f"cutover {args.command}", dry_run=args.dry_run)
    if args.command == "shift":
        outcome = _attempt("shift", lambda: actor.shift(args.percent, reason=args.reason))
    else:
        outcome = _attempt("rollback", lambda: actor.rollback(args.reason))
    code = _report(outcome, console)
    for sent in _notify(config, actor, outcome, args.reason):
        console.print(f"  note: {escape(sent.to_dict()['line'])}")
    return code


def _notify(config: CutoverConfig, actor: Actor, outcome: ActionOutcome, reason: str) -> list[Sent]:
    """A person's action is notified like a gate run's (verdict MANUAL), after it is done."""
    if config.actions is None or not config.actions.notify:
        return []
    values = {
        **decision_values("manual", "MANUAL", None, [reason]),
        "action": outcome.line(),
        "status": outcome.status,
        "detail": outcome.detail,
        "percent": "none" if outcome.to_percent is None else f"{outcome.to_percent:g}",
    }
    notifier = Notifier(config.actions.notify, actor.audit, config.redactor)
    return notifier.send("action", "MANUAL", values)


def _attempt(action: str, act: Callable[[], ActionOutcome]) -> ActionOutcome:
    try:
        return act()
    except OSError as err:  # the audit log or the lock could not be written
        return ActionOutcome(action, "failed", f"{type(err).__name__}: {err}")


def _report(outcome: ActionOutcome, console: Console) -> int:
    headline = failure_headline(outcome)
    if headline is None:
        console.print(escape(outcome.line()))
    else:
        style = "bold black on yellow" if outcome.status == BUSY else "bold white on red"
        console.print(f"[{style}]{escape(headline)}[/]")
    for note in outcome.notes:
        console.print(f"  note: {escape(note)}")
    return exit_status_for(outcome) or 0


def _status(config: CutoverConfig, reports: Path, console: Console, as_json: bool) -> int:
    actor = Actor(config, reports, "cutover status")
    traffic: dict[str, Any] = actor.driver.describe() if actor.driver else {"driver": None}
    if "percent" not in traffic:
        traffic["percent"], traffic["error"] = actor.current()
    records = read_audit(reports / AUDIT_FILE)
    decisions = [r for r in records if r.get("event") == "decision"]
    shown = {"finished", "hold", "vetoed", "refused", "dry-run", "resolved"}
    interrupted = unresolved(records)
    holder = acting_now(actor.lock_path)
    code = UNRESOLVED_EXIT if interrupted else 0
    status = {
        "config": str(config.path),
        "traffic": traffic,
        "last_decision": decisions[-1] if decisions else None,
        "recent_actions": [r for r in records if r.get("event") in shown][-_RECENT:],
        "interrupted_actions": interrupted,
        "acting_now": None if holder is None else describe_holder(holder),
        "run": load_state(reports),
        "exit_status": code,
    }
    if as_json:
        config.output.print(config.output.json(status))
    else:
        for line in _status_lines(status):
            console.print(escape(line))
    return code


def _status_lines(status: dict[str, Any]) -> list[str]:
    traffic = status["traffic"]
    lines = [f"cutover status for {status['config']}"]
    if traffic["driver"] is None:
        lines.append("traffic: no [traffic] driver configured")
    elif traffic["percent"] is None:
        lines.append(f"traffic ({traffic['driver']}): weight unknown: {traffic.get('error')}")
    else:
        lines.append(f"traffic ({traffic['driver']}): the new system gets {traffic['percent']:g}%")
    if traffic.get("warning"):
        lines.append(f"  WARNING: {traffic['warning']}")
    decision = status["last_decision"]
    if decision:
        step = "no step" if decision.get("step") is None else f"step {decision['step']:g}%"
        lines.append(f"last decision: {decision['decision']} at {step} ({decision['ts']})")
    else:
        lines.append("last decision: none recorded")
    lines.append("last actions:" if status["recent_actions"] else "last actions: none recorded")
    lines += [f"  {_describe(r)}" for r in status["recent_actions"]]
    if status["acting_now"]:
        lines.append(f"ACTING NOW: {status['acting_now']}")
    for record in status["interrupted_actions"]:
        lines.append(
            f"INTERRUPTED: {record['action']} to {record.get('to')}% started {record['ts']} by "
            f"{record['who']} ({record['origin']}) never finished: the weight above is what "
            "is really served; check the helper's side effects by hand"
        )
    if status["interrupted_actions"]:
        lines.append(
            "once checked, record what you found: cutover resolve --note '...' "
            f"(until then this status exits {UNRESOLVED_EXIT})"
        )
    run = status["run"]
    if run:
        done = ", ".join(f"{s:g}%" for s in run["done"]) or "none"
        lines.append(f"run: steps {run['steps']}: {run['status']}; done: {done}")
    return lines


def _describe(record: dict[str, Any]) -> str:
    moved = ""
    if record.get("to") is not None:
        start = "?" if record.get("from") is None else f"{record['from']:g}"
        moved = f" {start}% -> {record['to']:g}%"
    result = record.get("result") or record["event"]
    detail = str(record.get("detail") or record.get("reason") or record.get("note") or "")[:160]
    return (
        f"{record['ts']} {record['origin']}: {record.get('action', '')}{moved}: {result}: {detail}"
    )
