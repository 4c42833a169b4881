"""The `cutover` action commands' arguments: status, shift, rollback, resolve and run.

Kept apart from what runs them (pytest_cutover.actions.commands), so that building the command
line, and `cutover --version`, imports none of the actions.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from pytest_cutover.settings import parse_step, parse_steps
from pytest_cutover.units import parse_duration

T = TypeVar("T")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status", help="current weight, last decision, last actions, interrupted actions"
    )
    status.add_argument("--json", action="store_true", help="print it as JSON")
    shift = commands.add_parser("shift", help="set the new system's traffic weight (audited)")
    shift.add_argument(
        "percent",
        type=_argument(parse_step),
        metavar="PERCENT",
        help="the new system's share of traffic, 0-100 (such as 50 or 12.5%%)",
    )
    shift.add_argument(
        "--reason",
        default="manual shift",
        metavar="TEXT",
        help="why, for the audit log (default: manual shift)",
    )
    rollback = commands.add_parser(
        "rollback", help="traffic back to legacy and the rollback helper (audited)"
    )
    rollback.add_argument(
        "--reason", required=True, metavar="TEXT", help="why, for the audit log (required)"
    )
    resolve = commands.add_parser(
        "resolve",
        help="record what you found about interrupted actions (audited); status exits 0 again",
    )
    resolve.add_argument(
        "--note",
        required=True,
        metavar="TEXT",
        help="what you checked and found, such as 'helper finished, traffic on legacy'",
    )
    run = commands.add_parser(
        "run", help="the whole progressive cutover: gate, shift, soak, for each step"
    )
    run.add_argument(
        "--steps",
        required=True,
        type=_argument(parse_steps),
        metavar="10,50,100",
        help="the traffic steps in percent, rising, comma-separated; each is gated, shifted to "
        "and soaked in turn",
    )
    run.add_argument(
        "--soak",
        default=0.0,
        type=_argument(parse_soak),
        metavar="DURATION",
        help="how long to watch each step after shifting: one for all (such as 5m), or one per "
        "step (25=12h,50=8h,75=4h; a step not named is not soaked); default: no soak",
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


def parse_soak(text: str) -> float | dict[float, float]:
    """ "5m" for every step, or "25=12h,50=8h" per step."""
    if "=" not in text:
        return parse_duration(text)
    soaks: dict[float, float] = {}
    for part in text.split(","):
        step, _, duration = part.partition("=")
        if not duration:
            raise ValueError(f"expected STEP=DURATION such as 25=12h, got {part!r}")
        soaks[parse_step(step)] = parse_duration(duration.strip())
    return soaks


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """argparse shows a ValueError's message only for its own types: keep ours readable."""

    def parsed(text: str) -> T:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parsed
