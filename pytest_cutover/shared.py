"""Run an expensive step once per test run, even when pytest-xdist spreads its tests.

The A/B replay (and later the load test) must hit production once per gate run, not once per
worker: the first worker to get here computes under a file lock and leaves the JSON result in
the run's folder; the others wait for the lock and read it. If the computation raises, nothing
is stored and the next caller tries again (it fails the same way, loudly, in its own test).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.reports.atomic import write_json_atomically


def compute_once(directory: Path, name: str, compute: Callable[[], Any]) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    result = directory / f"{name}.json"
    with (directory / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return json.loads(result.read_text(encoding="utf-8"))
        value = compute()
        write_json_atomically(result, value)
        return value


def shared_result(results: dict[str, Any], gate: str, name: str, missing: str) -> GateResult:
    """One test's result from a computed-once run: {"error": why} when the run could not start,
    `missing` when the run produced no result under this name; INCONCLUSIVE either way."""
    if "error" in results:
        return GateResult(gate, name, Outcome.INCONCLUSIVE, (f"cannot run: {results['error']}",))
    if name not in results:
        return GateResult(gate, name, Outcome.INCONCLUSIVE, (missing,))
    return GateResult.from_dict(results[name])
