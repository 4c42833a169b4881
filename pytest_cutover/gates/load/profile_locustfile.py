"""The locustfile of the generated profile. locust runs it in its own process; pytest never
imports it (importing locust monkey-patches the whole process with gevent).

Every system under load is loaded by the same users: each iteration picks one request of the
profile and sends it to every system, in a random order, so the machine's and the network's
noise hit them alike and each system gets the same requests. A request's name carries its
system (`[legacy] GET /ping`) so locust's statistics come out per system.

A request fails when it gets no answer or a 5xx: a 4xx is the application's answer to what the
corpus asked, and the A/B gate, not the load gate, judges whether it is the right one.

The gate writes this file with its settings in place of the line that reads them from the
environment (see profile.py), so a distributed master hands workers started with
`locust --worker -f -` everything they need.
"""

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, task

SETTINGS = json.loads(Path(os.environ["CUTOVER_LOAD_SETTINGS"]).read_text(encoding="utf-8"))
PROFILES: dict[str, list[dict[str, Any]]] = SETTINGS["profiles"]
TAGGED = list(PROFILES) != ["new"]
ITERATION_RATE = SETTINGS["iteration_rate"]
INDICES = range(min(len(entries) for entries in PROFILES.values()))


class ProfileUser(FastHttpUser):
    host = next(iter(SETTINGS["hosts"].values()))
    wait_time = constant_throughput(ITERATION_RATE) if ITERATION_RATE else constant(0)
    network_timeout = SETTINGS["timeout"]
    connection_timeout = SETTINGS["timeout"]

    @task
    def replay(self) -> None:
        index = random.choice(INDICES)
        systems = list(PROFILES)
        random.shuffle(systems)
        for system in systems:
            entry = PROFILES[system][index]
            name = f"[{system}] {entry['name']}" if TAGGED else entry["name"]
            with self.client.request(
                entry["method"],
                entry["url"],
                headers=entry["headers"],
                data=entry["body"],
                name=name,
                catch_response=True,
            ) as response:
                if response.status_code == 0 or response.status_code >= 500:
                    response.failure(f"{response.status_code or 'no answer'}: {response.error}")
                else:
                    response.success()
