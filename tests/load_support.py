"""A loopback HTTP server with a fault switch and the relative load budget, shared by the load
comparison tests and bench/bench_load.py."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import run_load
from pytest_cutover.gates.load.profile import LoadPlan
from pytest_cutover.gates.result import GateResult
from pytest_cutover.gates.smoke.config import SmokeEndpoint
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

RELATIVE = ["p95 <= 1.2 * legacy.p95", "error_rate <= legacy.error_rate + 1%"]


class FaultServer:
    """Answers GET /ping; with `slow_every = 5` every fifth request waits `delay` first (+100 ms
    on 20% of the requests), with `fail_every` every so many answer 503."""

    def __init__(self, name: str, base_dir: Path, slow_every: int = 0, fail_every: int = 0) -> None:
        served = [0]
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with lock:
                    served[0] += 1
                    number = served[0]
                if slow_every and number % slow_every == 0:
                    time.sleep(0.1)
                status = 503 if fail_every and number % fail_every == 0 else 200
                self.send_response(status)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test output is for the gate's results."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.system = System(name, SystemConfig(base_url=url), url, base_dir)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def judge_relative(new: System, legacy: System, folder: Path, seconds: int = 4) -> GateResult:
    """The load gate's overall result: 8 users, 80 requests/s, relative thresholds only."""
    load = LoadConfig.model_validate(
        {"users": 8, "rate": 80, "duration": seconds, "thresholds": RELATIVE}
    )
    plan = LoadPlan(load, AbConfig(), (SmokeEndpoint(path="/ping"),))
    return run_load(plan, folder, Redactor(), new, legacy, None, folder / "reports")[0]
