"""`cutover status`, `shift`, `rollback` and `run`: the actions by hand, through the same Actor
the plugin's hooks use, so a manual change is locked and audited exactly like an automatic one.

Exit statuses match the plugin's: 0 done, 2 a usage or config mistake, 11 a rollback that did
not happen, 12 another action that did not happen; `run` also passes on a gate run's 1 and 10.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape

from pytest_cutover.actions.actor import ActionOutcome, Actor
from pytest_cutover.actions.audit import AUDIT_FILE, read_audit, unfinished
from pytest_cutover.actions.progressive import RunError, load_state, parse_steps, run_steps
from pytest_cutover.config import CutoverConfig
from pytest_cutover.decision import ACTION_FAILED_EXIT, ROLLBACK_FAILED_EXIT
from pytest_cutover.settings import parse_step
from pytest_cutover.units import parse_duration

ACTION_COMMANDS = ("status", "shift", "rollback", "run")
T = TypeVar("T")
_RECENT = 8


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status", help="current weight, last decision, last actions, interrupted actions"
    )
    status.add_argument("--json", action="store_true", help="print it as JSON")
    shift = commands.add_parser("shift", help="set the new system's traffic weight (audited)")
    shift.add_argument("percent", type=_argument(parse_step), metavar="PERCENT")
    shift.add_argument("--reason", default="manual shift", metavar="TEXT")
    rollback = commands.add_parser(
        "rollback", help="traffic back to legacy and the rollback helper (audited)"
    )
    rollback.add_argument("--reason", required=True, metavar="TEXT")
    run = commands.add_parser(
        "run", help="the whole progressive cutover: gate, shift, soak, for each step"
    )
    run.add_argument("--steps", required=True, type=_argument(parse_steps), metavar="10,50,100")
    run.add_argument(
        "--soak",
        default=0.0,
        type=_argument(parse_duration),
        metavar="DURATION",
        help="how long to watch each step after shifting (such as 5m; default: no soak)",
    )
    run.add_argument("--fresh", action="store_true", help="forget a saved run and start over")
    run.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST_ARGS",
        help="more arguments for each gate run, after --",
    )
    for command in (shift, rollback):
        command.add_argument(
            "--dry-run",
            action="store_true",
            help="show and audit what would happen, change nothing",
        )


def run_command(args: argparse.Namespace, config: CutoverConfig, reports: Path) -> int:
    console = Console(highlight=False, soft_wrap=True)  # whole lines: logs are grepped
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
            errors = Console(stderr=True, highlight=False, soft_wrap=True)
            errors.print(f"[red]error:[/red] {escape(str(err))}")
            return 2
    actor = Actor(config, reports, f"cutover {args.command}", dry_run=args.dry_run)
    failed_exit = ACTION_FAILED_EXIT if args.command == "shift" else ROLLBACK_FAILED_EXIT
    try:
        if args.command == "shift":
            outcome = actor.shift(args.percent, reason=args.reason)
        else:
            outcome = actor.rollback(args.reason)
    except OSError as err:  # the audit log or the lock could not be written
        outcome = ActionOutcome(args.command, "failed", f"{type(err).__name__}: {err}")
    return _report(outcome, console, failed_exit)


def _report(outcome: ActionOutcome, console: Console, failed_exit: int) -> int:
    if outcome.ok:
        console.print(escape(outcome.line()))
        return 0
    console.print(
        f"[bold white on red]{escape(outcome.action.upper())} FAILED[/]: {escape(outcome.line())}"
    )
    return failed_exit


def _status(config: CutoverConfig, reports: Path, console: Console, as_json: bool) -> int:
    actor = Actor(config, reports, "cutover status")
    traffic: dict[str, Any] = actor.driver.describe() if actor.driver else {"driver": None}
    if "percent" not in traffic:
        traffic["percent"], traffic["error"] = actor.current()
    records = read_audit(reports / AUDIT_FILE)
    decisions = [r for r in records if r.get("event") == "decision"]
    shown = {"finished", "hold", "vetoed", "refused", "dry-run"}
    status = {
        "config": str(config.path),
        "traffic": traffic,
        "last_decision": decisions[-1] if decisions else None,
        "recent_actions": [r for r in records if r.get("event") in shown][-_RECENT:],
        "interrupted_actions": unfinished(records),
        "run": load_state(reports),
    }
    if as_json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    for line in _status_lines(status):
        console.print(escape(line))
    return 0


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
    for record in status["interrupted_actions"]:
        lines.append(
            f"INTERRUPTED: {record['action']} to {record.get('to')}% started {record['ts']} by "
            f"{record['who']} ({record['origin']}) never finished: the weight above is what "
            "is really served; check the helper's side effects by hand"
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
    detail = str(record.get("detail") or record.get("reason") or "")[:160]
    return (
        f"{record['ts']} {record['origin']}: {record.get('action', '')}{moved}: {result}: {detail}"
    )


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """argparse shows a ValueError's message only for its own types: keep ours readable."""

    def parsed(text: str) -> T:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parsed
