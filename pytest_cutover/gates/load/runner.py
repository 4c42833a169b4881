"""One headless locust run in its own process, watched from outside.

locust is never imported here: it monkey-patches the importing process with gevent. The run is
read back from its JSON and CSV files; while it runs, the per-second snapshots written by
live_locustfile.py are read, so a clearly breached abort-on-fail threshold stops it early
(SIGTERM: locust then stops its users and still writes its results).
"""

from __future__ import annotations

import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_cutover.gates.load.stats import LiveSample, read_live

LIVE_LOCUSTFILE = Path(__file__).with_name("live_locustfile.py")
LIVE_FILE = "live.jsonl"
POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 15.0
_TAIL_CHARACTERS = 4000


@dataclass(frozen=True)
class LocustRun:
    folder: Path
    command: tuple[str, ...]
    returncode: int | None
    wall: float
    cpu_seconds: float
    stderr_tail: str
    aborted: str | None
    history: Mapping[str, Sequence[LiveSample]]  # per system

    @property
    def stats_file(self) -> Path:
        return self.folder / "stats.json"

    @property
    def html_report(self) -> Path:
        return self.folder / "report.html"

    @property
    def failures_file(self) -> Path:
        return self.folder / "run_failures.csv"

    @property
    def saturated(self) -> bool:
        """locust warns when its CPU is the limit; the CPU it used tells the same story."""
        return "CPU usage above" in self.stderr_tail or (
            self.wall > 0 and self.cpu_seconds / self.wall >= 0.9
        )


class LocustStartError(Exception):
    """The locust command cannot be started at all (not found, not executable)."""


def run_locust(
    launcher: list[str],
    locustfile: Path,
    host: str,
    users: int,
    spawn_rate: float,
    duration: float,
    processes: int,
    folder: Path,
    should_abort: Callable[[Mapping[str, Sequence[LiveSample]]], str | None],
) -> LocustRun:
    folder.mkdir(parents=True, exist_ok=True)
    command: list[str] = [
        *(launcher or [sys.executable, "-m", "locust"]),
        "-f", f"{locustfile},{LIVE_LOCUSTFILE}", "--headless",
        "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{max(1, math.ceil(duration))}s",
        "--host", host, "--json-file", str(folder / "stats"), "--csv", str(folder / "run"),
        "--html", str(folder / "report.html"), "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", "5", "--exit-code-on-error", "0",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    stderr_path = folder / "locust.stderr.log"
    started = time.time()
    with stderr_path.open("wb") as stderr, (folder / "locust.stdout.log").open("wb") as stdout:
        try:
            process = subprocess.Popen(
                command,
                cwd=folder,
                env={**os.environ, "CUTOVER_LOAD_LIVE": str(folder / LIVE_FILE)},
                stdout=stdout,
                stderr=stderr,
            )
        except OSError as err:
            raise LocustStartError(f"cannot start {command[0]!r}: {err.strerror}") from None
        aborted, usage, status = _watch(process, folder, started, duration, should_abort)
    process.returncode = os.waitstatus_to_exitcode(status) if status is not None else None
    stderr_text = stderr_path.read_text(encoding="utf-8", errors="replace")
    return LocustRun(
        folder=folder,
        command=tuple(command),
        returncode=process.returncode,
        wall=time.time() - started,
        cpu_seconds=(usage.ru_utime + usage.ru_stime) if usage else math.nan,
        stderr_tail=stderr_text[-_TAIL_CHARACTERS:],
        aborted=aborted,
        history=read_live(folder / LIVE_FILE, started),
    )


def _watch(
    process: subprocess.Popen[bytes],
    folder: Path,
    started: float,
    duration: float,
    should_abort: Callable[[Mapping[str, Sequence[LiveSample]]], str | None],
) -> tuple[str | None, resource.struct_rusage | None, int | None]:
    """Wait for locust, reaping it with wait4 for its CPU use; show each second's snapshots
    (per system) to `should_abort` and stop locust when it names a breach; kill locust if it
    outlives its duration by far (it must never run unbounded)."""
    aborted: str | None = None
    deadline = started + duration + STOP_GRACE_SECONDS + 30.0
    terminated_at: float | None = None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return aborted, usage, status
        now = time.time()
        if terminated_at is None:
            if aborted is None:
                breached = should_abort(read_live(folder / LIVE_FILE, started))
                if breached:
                    aborted = f"aborted after {now - started:.0f} s: {breached}"
            if aborted is not None or now > deadline:
                aborted = aborted or f"locust ran {now - started:.0f} s, past its duration"
                process.send_signal(signal.SIGTERM)
                terminated_at = now
        elif now - terminated_at > STOP_GRACE_SECONDS:
            process.kill()
        time.sleep(POLL_SECONDS)
