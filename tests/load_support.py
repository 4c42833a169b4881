"""Two app processes with a fault switch and the relative load budget, shared by the load
comparison tests and bench/bench_load.py.

Each app is its own process (`python -m tests.load_support --slow-every 5`), so its threads
never compete with the gate's for one interpreter's lock: legacy and new are as separate as two
real deployments on one machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import run_load
from pytest_cutover.gates.load.profile import LoadPlan
from pytest_cutover.gates.result import GateResult
from pytest_cutover.gates.smoke.config import SmokeEndpoint
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

REPO = Path(__file__).resolve().parent.parent
# The README's recommended relative budget: the few milliseconds of slack keep locust's 1 ms
# recording step and a loaded machine's jitter from failing identical systems.
RELATIVE = ["p95 <= 1.2 * legacy.p95 + 5ms", "error_rate <= legacy.error_rate + 1%"]


def serve(slow_every: int, fail_every: int) -> None:
    """Answer GET /ping on a free loopback port, printed first; with `slow_every = 5` every
    fifth request waits 100 ms first (+100 ms on 20% of the requests), with `fail_every` every
    so many answer 503."""
    served = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per answer: headers and body written apart meet Nagle's algorithm and the
        # client's delayed ACK, 40 ms stalls that are the test server's, not the system's.
        wbufsize = 65536

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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


class FaultServer:
    """One app process; `close()` stops it."""

    def __init__(self, name: str, base_dir: Path, slow_every: int = 0, fail_every: int = 0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.load_support", "--slow-every", str(slow_every),
             "--fail-every", str(fail_every)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port:
            self.close()
            raise RuntimeError(f"the {name} app process did not start")
        url = f"http://127.0.0.1:{port}"
        self.system = System(name, SystemConfig(base_url=url), url, base_dir)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def judge_relative(
    new: System, legacy: System, folder: Path, seconds: int = 4, rate: int = 80, **load: Any
) -> GateResult:
    """The load gate's overall result: 8 users, 80 requests/s a system, relative thresholds."""
    settings = {"users": 8, "rate": rate, "duration": seconds, "thresholds": RELATIVE, **load}
    plan = LoadPlan(LoadConfig.model_validate(settings), AbConfig(), (SmokeEndpoint(path="/ping"),))
    return run_load(plan, folder, Redactor(), new, legacy, None, folder / "reports")[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--fail-every", type=int, default=0)
    arguments = parser.parse_args()
    serve(arguments.slow_every, arguments.fail_every)
