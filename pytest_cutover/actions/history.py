"""What the audit log says about past steps: the weight a partial rollback goes back to.

Runbook 004 rolls back to 50% or 10%, not to 0%: to the last step that was GO. The audit log
knows which promotions a GO decision made and which rollbacks undid them, so the answer is
worked out from it, not from a state file that could disagree with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_DONE = ("done", "no-op")


def go_steps(records: Iterable[dict[str, Any]]) -> set[float]:
    """The weights GO decisions promoted to and no later rollback went below."""
    steps: set[float] = set()
    for record in records:
        if record.get("event") != "finished" or record.get("result") not in _DONE:
            continue
        to = record.get("to")
        if not isinstance(to, int | float):
            continue
        if record.get("action") == "shift" and record.get("decision") == "GO":
            steps.add(float(to))
        elif record.get("action") == "traffic":  # a rollback's traffic change
            steps = {s for s in steps if s <= to}
    return steps


def last_go_below(records: Iterable[dict[str, Any]], step: float) -> float:
    """The highest GO step below `step`; 0 (all traffic on legacy) when there is none."""
    return max((s for s in go_steps(records) if s < step), default=0.0)
