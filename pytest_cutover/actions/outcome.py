"""How an action ended, and the one mapping from that to an exit status and a headline.

The plugin's report and the `cutover` commands both go through `exit_status_for` and
`failure_headline`, so a rollback that failed, one that another run was already doing, and a
shift that did not happen read the same (and exit the same) wherever they are seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_cutover.decision import ACTION_FAILED_EXIT, ROLLBACK_FAILED_EXIT

OK_STATUSES = ("done", "no-op", "dry-run", "held")
# Another run held the action lock, so this one did nothing: not a failure of the action (the
# other run is doing it), but not something to pass as done either. Its own status lets a
# pipeline tell "someone else is rolling back" from "the rollback failed" (11).
BUSY = "busy"
ACTION_BUSY_EXIT = 13


@dataclass
class ActionOutcome:
    """One action's result: `status` is one of OK_STATUSES, "busy", "vetoed" or "failed"."""

    action: str
    status: str
    detail: str
    from_percent: float | None = None
    to_percent: float | None = None
    duration_s: float = 0.0
    helper: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    # Every rollback helper that ran, in order: {"name": ..., "result": CallResult.to_dict()}.
    helpers: list[dict[str, Any]] = field(default_factory=list)

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


def exit_status_for(outcome: ActionOutcome) -> int | None:
    """None when the action happened (the decision's own status stands); 13 when another run
    was acting; 11 for a rollback that did not happen; 12 for any other action that did not."""
    if outcome.ok:
        return None
    if outcome.status == BUSY:
        return ACTION_BUSY_EXIT
    return ROLLBACK_FAILED_EXIT if outcome.action == "rollback" else ACTION_FAILED_EXIT


def failure_headline(outcome: ActionOutcome) -> str | None:
    """The line that tops a report when the action did not happen; None when it did."""
    if outcome.ok:
        return None
    if outcome.status == BUSY:
        return f"{outcome.action.upper()} NOT STARTED (busy): {outcome.detail}"
    return f"{outcome.action.upper()} FAILED ({outcome.status}): {outcome.detail}"
