"""Running a team's script or calling an admin API, bounded in time, with the result kept.

Both the command/http traffic drivers and the rollback helper go through here, so "what ran,
how it ended, what it printed and how long it took" is recorded the same way for every action.
A script that hangs is killed with its whole process group: a rollback helper that never
returns must not hold the gate (or the lock) forever.

A script started while an action lock is held inherits it (see lock.py), so if this process is
killed the lock stays held until the script is done too. Its output goes to a file, not a pipe:
a script that outlives a killed run must be able to go on writing (a shell script writing to a
pipe nobody reads is killed by SIGPIPE halfway through a rollback).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from pytest_cutover.actions.lock import held_locks

OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class CallResult:
    """How one call (with its retries) ended; `output` is the tail of what it printed."""

    ok: bool
    summary: str
    output: str
    duration_s: float
    attempts: int = 1
    exit_status: int | None = None
    http_status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill(template: str, percent: float) -> str:
    """Put the weights into a command argument, URL or body (no str.format: bodies are JSON)."""
    return template.replace("{percent}", f"{percent:g}").replace(
        "{legacy_percent}", f"{100 - percent:g}"
    )


def run_command(
    argv: list[str], *, timeout: float, cwd: Path, env: Mapping[str, str] | None = None
) -> CallResult:
    """Run once; a timeout kills the process group, so children the script started die too."""
    started = time.monotonic()
    locks = held_locks()
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=[lock.fd for lock in locks],
            )
        except OSError as err:
            return CallResult(False, f"could not start {argv[0]!r}: {err}", "", _since(started))
        for lock in locks:
            lock.child_started(process.pid, argv[0])
        try:
            status = _wait(process, timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
            return CallResult(
                False, f"timed out after {timeout:g}s (killed)", _read_tail(output), _since(started)
            )
        summary = "exit status 0" if status == 0 else f"failed with exit status {status}"
        return CallResult(
            status == 0, summary, _read_tail(output), _since(started), exit_status=status
        )


def _wait(process: subprocess.Popen[bytes], timeout: float) -> int:
    """Its exit status, noticed the moment it exits: Popen.wait(timeout) polls with sleeps of
    up to 50 ms, which a rollback would spend doing nothing. A pidfd becomes readable when the
    process ends (Linux 5.3 and later); elsewhere Popen.wait it is."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return process.wait(timeout=timeout)
    try:
        watch = select.poll()
        watch.register(pidfd, select.POLLIN)
        if not watch.poll(max(0, math.ceil(timeout * 1000))):
            raise subprocess.TimeoutExpired(process.args, timeout)
    finally:
        os.close(pidfd)
    return process.wait()


def _kill_group(pid: int) -> None:
    # ProcessLookupError: it ended, with all it started, just as the timeout passed.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _read_tail(output: IO[bytes]) -> str:
    size = output.seek(0, os.SEEK_END)
    start = max(0, size - 4 * OUTPUT_TAIL)  # UTF-8 is at most 4 bytes a character
    output.seek(start)
    text = output.read().decode("utf-8", "replace")
    return _tail(("..." if start else "") + text)


def call_http(
    *,
    method: str,
    url: str,
    body: str | None,
    headers: Mapping[str, str],
    expected_status: list[int],
    timeout: float,
    verify_tls: bool,
) -> CallResult:
    """One request; an unexpected status is a failure with the answer's start as the output."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, verify=verify_tls) as client:
            response = client.request(method, url, content=body, headers=dict(headers))
    except httpx.HTTPError as err:
        kind = "timed out" if isinstance(err, httpx.TimeoutException) else "failed"
        return CallResult(False, f"{method} {url} {kind}: {err}", "", _since(started))
    ok = response.status_code in expected_status
    expected = ", ".join(str(s) for s in expected_status)
    summary = f"HTTP {response.status_code}" + ("" if ok else f" (expected {expected})")
    return CallResult(
        ok, summary, _tail(response.text), _since(started), http_status=response.status_code
    )


def with_retries(attempt: Callable[[], CallResult], retries: int) -> CallResult:
    """Try up to 1 + retries times, backing off 0.5s, 1s, 2s...; the last result is returned
    with the total duration and the number of attempts."""
    started = time.monotonic()
    result = attempt()
    tries = 1
    while not result.ok and tries <= retries:
        time.sleep(min(0.5 * 2 ** (tries - 1), 4.0))
        result = attempt()
        tries += 1
    return CallResult(
        result.ok,
        result.summary + (f" (after {tries} attempts)" if tries > 1 else ""),
        result.output,
        _since(started),
        tries,
        result.exit_status,
        result.http_status,
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _tail(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]
