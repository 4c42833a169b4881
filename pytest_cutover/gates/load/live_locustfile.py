"""Loaded into locust next to the load profile (`-f profile.py,live_locustfile.py`): appends a
snapshot of the running totals to a JSON Lines file every second.

locust's own CSV history is flushed only every five seconds; the gate's abort-on-fail check and
latency chart want each second. Runs in locust's process (gevent), never in pytest's.
"""

import json
import os
import time

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

LIVE_FILE = os.environ.get("CUTOVER_LOAD_LIVE")


def start_snapshots(environment: Environment, **_kwargs: object) -> None:
    if not LIVE_FILE or isinstance(environment.runner, WorkerRunner):
        return

    def snapshot_every_second() -> None:
        assert LIVE_FILE is not None
        with open(LIVE_FILE, "a", encoding="utf-8") as out:
            while True:
                total = environment.stats.total
                snapshot = {
                    "time": time.time(),
                    "users": environment.runner.user_count if environment.runner else 0,
                    "requests": total.num_requests,
                    "failures": total.num_failures,
                    "rps": total.current_rps,
                    "p50": total.get_current_response_time_percentile(0.50),
                    "p95": total.get_current_response_time_percentile(0.95),
                    "p99": total.get_current_response_time_percentile(0.99),
                    "max": total.max_response_time,
                }
                out.write(json.dumps(snapshot) + "\n")
                out.flush()
                gevent.sleep(1.0)

    gevent.spawn(snapshot_every_second)


events.init.add_listener(start_snapshots)  # type: ignore[no-untyped-call]  # locust is untyped here
