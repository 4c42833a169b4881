"""The locustfile of the generated profile. locust runs it in its own process; pytest never
imports it (importing locust monkey-patches the whole process with gevent).

A request fails when it gets no answer or a 5xx: a 4xx is the application's answer to what the
corpus asked, and the A/B gate, not the load gate, judges whether it is the right one.
"""

import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, task

PROFILE = json.loads(Path(os.environ["CUTOVER_LOAD_PROFILE"]).read_text(encoding="utf-8"))
USER_RATE = float(os.environ.get("CUTOVER_LOAD_USER_RATE", "0"))
TIMEOUT = float(os.environ.get("CUTOVER_LOAD_TIMEOUT", "10"))


class ProfileUser(FastHttpUser):
    wait_time = constant_throughput(USER_RATE) if USER_RATE else constant(0)
    network_timeout = TIMEOUT
    connection_timeout = TIMEOUT

    @task
    def replay(self) -> None:
        entry = random.choice(PROFILE)
        with self.client.request(
            entry["method"],
            entry["url"],
            headers=entry["headers"],
            data=entry["body"],
            name=entry["name"],
            catch_response=True,
        ) as response:
            if response.status_code == 0 or response.status_code >= 500:
                response.failure(f"{response.status_code or 'no answer'}: {response.error}")
            else:
                response.success()
