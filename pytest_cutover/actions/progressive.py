"""`cutover run`: the whole progressive cutover, step by step, resumable, never skipping a step.

For each step the gate runs for that step with `--cutover-promote`, so the shift on GO, the
rollback on NO-GO and the hold on INCONCLUSIVE are the plugin's own locked and audited actions
(and a team's hooks and vetoes apply). Then the step soaks: the metrics gate's monitor mode
(`--cutover-monitor DURATION`) watches it, or, where that option does not exist, the run waits
and gates the step again. The state is saved after every transition; a re-run resumes at the
first step not completed, and goes back to the first step whenever traffic is below the last
completed one (after any rollback), so no step is ever skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_cutover.actions.actor import Actor
from pytest_cutover.actions.lock import LockBusy, action_lock
from pytest_cutover.actions.outcome import ACTION_BUSY_EXIT
from pytest_cutover.config import CutoverConfig
from pytest_cutover.decision import HOLD_EXIT

STATE_FILE = "cutover-run.json"
RUN_LOCK = "cutover-run.lock"
MONITOR_OPTION = "--cutover-monitor"


class RunError(Exception):
    """A run that cannot start: the message says why and what to do."""


def load_state(reports: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((reports / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state


def run_steps(
    config: CutoverConfig,
    reports: Path,
    steps: list[float],
    soak: float | Mapping[float, float],
    pytest_args: list[str],
    fresh: bool,
    say: Callable[[str], None],
) -> int:
    """The exit status of the run: 0 when every step was taken, else the gate run's status.
    `soak` is one duration for every step, or one per step (runbook 001: 12 h at 25%, 8 h at
    50%, 4 h at 75%); a step it does not name is not soaked."""
    if isinstance(soak, Mapping) and set(soak) - set(steps):
        extra = ", ".join(f"{s:g}" for s in sorted(set(soak) - set(steps)))
        raise RunError(f"--soak names step {extra}, which --steps does not take")
    if config.traffic is None or config.actions is None:
        raise RunError(
            f"{config.path}: cutover run shifts traffic and acts on decisions: it needs a "
            '[traffic] driver and an [actions] section (on_no_go = "rollback")'
        )
    try:
        with action_lock(reports / RUN_LOCK, "cutover run"):
            return _Run(config, reports, soak, pytest_args, say).through(steps, fresh)
    except LockBusy as err:
        raise RunError(str(err).replace("cutover action", "cutover run")) from None


class _Run:
    def __init__(
        self,
        config: CutoverConfig,
        reports: Path,
        soak: float | Mapping[float, float],
        pytest_args: list[str],
        say: Callable[[str], None],
    ) -> None:
        self.config = config
        self.reports = reports
        self.soak = soak
        self.pytest_args = pytest_args
        self.say = say
        self.state: dict[str, Any] = {}

    def through(self, steps: list[float], fresh: bool) -> int:
        saved = None if fresh else load_state(self.reports)
        if saved is not None and saved["steps"] != steps:
            raise RunError(
                f"a run with steps {saved['steps']} is saved in {self.reports / STATE_FILE} "
                f"({saved['status']}): give the same --steps to resume it, or --fresh"
            )
        self.state = saved or {"steps": steps, "done": [], "status": "started", "history": []}
        self._restart_if_rolled_back()
        monitor = self._has_monitor(steps)
        if any(self._soak(step) > 0 for step in steps):
            self.say(f"soak after each step: {self._describe_soak(steps, monitor)}")
        for step in steps:
            if step in self.state["done"]:
                self.say(f"step {step:g}%: completed earlier")
                continue
            self._save("gating", step)
            code = self._gate(step, "--cutover-promote")
            soak = self._soak(step)
            if code == 0 and soak > 0:
                self._save("soaking", step)
                if monitor:
                    code = self._gate(step, MONITOR_OPTION, f"{soak:g}s")
                else:
                    time.sleep(soak)
                    code = self._gate(step)
            if code != 0:
                return self._stop(step, code)
            self.state["done"].append(step)
            self._save("step done", step)
        self._save("done", steps[-1])
        self.say(f"cutover complete: the new system gets {steps[-1]:g}%")
        return 0

    def _restart_if_rolled_back(self) -> None:
        done = self.state["done"]
        if not done:
            return
        current, _unknown = Actor(self.config, self.reports, "cutover run").current()
        below = current is not None and current < done[-1]
        if self.state["status"] == "rolled back" or below:
            where = "unknown" if current is None else f"{current:g}%"
            self.say(
                f"traffic is at {where}, below the last completed step {done[-1]:g}%: "
                "starting again from the first step"
            )
            self.state["done"] = []

    def _stop(self, step: float, code: int) -> int:
        actions = self.config.actions
        assert actions is not None  # run_steps refuses a config without [actions]
        status = {
            1: "rolled back" if actions.on_no_go == "rollback" else "held after NO-GO",
            10: "rolled back" if actions.on_inconclusive == "rollback" else "held",
            11: "ROLLBACK FAILED",
            12: "action failed",
            ACTION_BUSY_EXIT: "another run is acting",
            HOLD_EXIT: "held on a warning",
        }.get(code, f"stopped (gate run exit status {code})")
        self._save(status, step)
        self.say(f"step {step:g}%: {status}; stopping (exit status {code})")
        return code

    def _gate(self, step: float, *options: str) -> int:
        argv = [
            sys.executable, "-m", "pytest", "-m", "canary_gate",
            "--cutover-config", str(self.config.path),
            "--cutover-reports", str(self.reports),
            "--cutover-step", f"{step:g}",
            *options, *self.pytest_args,
        ]  # fmt: skip
        self.say(f"step {step:g}%: {' '.join(argv[1:])}")
        return subprocess.run(argv, cwd=self.config.base_dir, check=False).returncode

    def _soak(self, step: float) -> float:
        return self.soak.get(step, 0.0) if isinstance(self.soak, Mapping) else self.soak

    def _describe_soak(self, steps: list[float], monitor: bool) -> str:
        if isinstance(self.soak, Mapping):
            each = ", ".join(f"{s:g}% {self._soak(s):g}s" for s in steps if self._soak(s) > 0)
            how = "the monitor mode" if monitor else "waiting, then gating again"
            return f"{how} ({each})"
        if monitor:
            return f"the monitor mode ({MONITOR_OPTION} {self.soak:g}s)"
        return f"waiting {self.soak:g}s, then gating again ({MONITOR_OPTION} not available)"

    def _has_monitor(self, steps: list[float]) -> bool:
        if not any(self._soak(step) > 0 for step in steps):
            return False
        shown = subprocess.run(
            [sys.executable, "-m", "pytest", "--help", "--cutover-config", str(self.config.path)],
            cwd=self.config.base_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        return MONITOR_OPTION in shown.stdout

    def _save(self, status: str, step: float) -> None:
        self.state.update(status=status, step=step, updated=datetime.now(UTC).isoformat())
        self.state["history"].append({"ts": self.state["updated"], "step": step, "status": status})
        self.config.output.write_json(self.reports / STATE_FILE, self.state)
