"""Loaded into locust next to the load profile (`-f profile.py,live_locustfile.py`): appends a
snapshot of the running totals of each system under load to a JSON Lines file every second.

locust's own CSV history is flushed only every five seconds and has no per-system totals when
one run loads both systems (request names are tagged `[legacy] GET /ping`); the gate's
abort-on-fail check and latency chart want each second, per system. Runs in locust's process
(gevent), never in pytest's; on a distributed master, the entries are the workers' merged.
"""

import json
import os
import time
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import (
    CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW,
    StatsEntry,
    calculate_response_time_percentile,
    diff_response_time_dicts,
)

LIVE_FILE = os.environ.get("CUTOVER_LOAD_LIVE")
UNTAGGED = "new"
Totals = dict[str, Any]


def system_of(name: str) -> str:
    """As stats.split_name (this file cannot import the gate: locust's workers may not have
    it installed)."""
    if name.startswith("[") and "] " in name:
        return name[1 : name.index("] ")]
    return UNTAGGED


def recent(entry: StatsEntry, now: int) -> tuple[dict[int, int], int]:
    """The entry's response times of about the last ten seconds, as locust's "current"
    percentiles take them (its cache of cumulative histograms, one per second)."""
    cache: dict[int, Any] = entry.response_times_cache or {}
    window = CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW
    for offset in (0, *(step for i in range(1, 9) for step in (-i, i))):
        cached = cache.get(now - window + offset)
        if cached is not None:
            delta = diff_response_time_dicts(entry.response_times, cached.response_times)
            return delta, entry.num_requests - cached.num_requests
    return dict(entry.response_times), entry.num_requests


def snapshot(environment: Environment) -> Totals:
    now = int(time.time())
    systems: dict[str, Totals] = {}
    for entry in environment.stats.entries.values():
        totals = systems.setdefault(
            system_of(entry.name),
            {"requests": 0, "failures": 0, "rps": 0.0, "max": 0, "times": {}, "recent": 0},
        )
        totals["requests"] += entry.num_requests
        totals["failures"] += entry.num_failures
        totals["rps"] += entry.current_rps
        totals["max"] = max(totals["max"], entry.max_response_time or 0)
        times, count = recent(entry, now)
        for value, seen in times.items():
            totals["times"][value] = totals["times"].get(value, 0) + seen
        totals["recent"] += count
    for totals in systems.values():
        times, count = totals.pop("times"), totals.pop("recent")
        for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            totals[name] = (
                calculate_response_time_percentile(times, count, share) if count else None
            )
    users = environment.runner.user_count if environment.runner else 0
    return {"time": time.time(), "users": users, "systems": systems}


def start_snapshots(environment: Environment, **_kwargs: object) -> None:
    if not LIVE_FILE or isinstance(environment.runner, WorkerRunner):
        return

    def snapshot_every_second() -> None:
        assert LIVE_FILE is not None
        with open(LIVE_FILE, "a", encoding="utf-8") as out:
            while True:
                out.write(json.dumps(snapshot(environment)) + "\n")
                out.flush()
                gevent.sleep(1.0)

    gevent.spawn(snapshot_every_second)


events.init.add_listener(start_snapshots)  # type: ignore[no-untyped-call]  # locust is untyped here
