"""Run an expensive step once per test run, even when pytest-xdist spreads its tests.

A gate's replay, load or scrape must hit production once per gate run, not once per
worker: the first worker to get here computes under a file lock and leaves the JSON result in
the run's folder; the others wait for the lock and read it. If the computation raises, nothing
is stored and the next caller tries again (it fails the same way, loudly, in its own test).
The result is redacted once, before it is stored: every worker then sees the same masked value.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_cutover.output import Output


def compute_once(directory: Path, name: str, compute: Callable[[], Any], output: Output) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    result = directory / f"{name}.json"
    with (directory / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return json.loads(result.read_text(encoding="utf-8"))
        value = output.value(compute())
        output.write_json(result, value)
        return value
