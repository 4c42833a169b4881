"""Running a team's script or calling an admin API, bounded in time, with the result kept.

Both the command/http traffic drivers and the rollback helper go through here, so "what ran,
how it ended, what it printed and how long it took" is recorded the same way for every action.
A script that hangs is killed with its whole process group: a rollback helper that never
returns must not hold the gate (or the lock) forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

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
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as err:
        return CallResult(False, f"could not start {argv[0]!r}: {err}", "", _since(started))
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return CallResult(
            False, f"timed out after {timeout:g}s (killed)", _tail(output), _since(started)
        )
    status = process.returncode
    summary = "exit status 0" if status == 0 else f"failed with exit status {status}"
    return CallResult(status == 0, summary, _tail(output), _since(started), exit_status=status)


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
