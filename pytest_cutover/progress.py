"""Progress of long gates (a load run, a big table, a monitor window) for the person waiting.

A terminal gets one line redrawn in place, a few times a second at most; a CI log, which keeps
every byte, gets a line when a task starts, one every `interval` seconds, and one when it ends.
Gates call `update`; what reaches the screen is decided here, so gates never import pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

REDRAW_SECONDS = 0.25


class Progress(Protocol):
    def update(
        self, task: str, done: float | None = None, total: float | None = None, note: str = ""
    ) -> None: ...

    def finish(self, task: str, note: str = "") -> None: ...


class Silent:
    """Where nobody watches (an xdist worker, a library call): progress costs nothing."""

    def update(
        self, task: str, done: float | None = None, total: float | None = None, note: str = ""
    ) -> None:
        return None

    def finish(self, task: str, note: str = "") -> None:
        return None


SILENT = Silent()


@dataclass
class _Task:
    started: float
    last_shown: float


@dataclass
class TerminalProgress:
    """`show(line, final)` prints; with `interactive` the line is redrawn until `final`."""

    show: Callable[[str, bool], None]
    interactive: bool
    interval: float = 30.0
    clock: Callable[[], float] = time.monotonic
    tasks: dict[str, _Task] = field(default_factory=dict)
    # The integrity gate hashes tables in threads: lines must not interleave.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(
        self, task: str, done: float | None = None, total: float | None = None, note: str = ""
    ) -> None:
        with self.lock:
            self._update(task, done, total, note)

    def _update(self, task: str, done: float | None, total: float | None, note: str) -> None:
        now = self.clock()
        state = self.tasks.get(task)
        if state is None:
            state = self.tasks[task] = _Task(now, now)
            self.show(describe(task, done, total, note, 0.0), not self.interactive)
            return
        wait = REDRAW_SECONDS if self.interactive else self.interval
        if now - state.last_shown < wait:
            return
        state.last_shown = now
        line = describe(task, done, total, note, now - state.started)
        self.show(line, not self.interactive)

    def finish(self, task: str, note: str = "") -> None:
        with self.lock:
            state = self.tasks.pop(task, None)
            if state is None:
                return
            took = self.clock() - state.started
            line = f"cutover {task}: done in {took:.0f} s" + (f", {note}" if note else "")
            self.show(line, True)


def describe(task: str, done: float | None, total: float | None, note: str, elapsed: float) -> str:
    """'cutover load new: 12 of 30 (40%), ~18 s left, 2,340 requests'."""
    parts = [f"cutover {task}:"]
    if done is not None and total:
        share = min(1.0, max(0.0, round(done) / total))
        parts.append(f"{done:,.0f} of {total:,.0f} ({share:.0%})")
        if 0 < share < 1 and elapsed > 0:
            parts.append(f"~{elapsed * (1 - share) / share:.0f} s left")
    elif done is not None:
        parts.append(f"{done:,.0f}")
    if note:
        parts.append(note)
    return " ".join(parts[:1]) + " " + ", ".join(parts[1:]) if len(parts) > 1 else parts[0]
