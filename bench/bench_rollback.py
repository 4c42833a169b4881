"""Rollback latency: from the moment the gate decides NO-GO to the moment nginx serves every new
request from legacy, measured by clients that keep sending requests the whole time.

    .venv/bin/python -m bench.bench_rollback [--runs 5] [--from-percent 50]

Each run starts a real nginx on loopback (as the tests do) in front of two backends, puts the
new system at --from-percent, then runs a real gate (`pytest -m canary_gate`) whose one test
fails; the plugin's default NO-GO hook rolls back through the nginx driver (lock, audit fsyncs,
nginx -t, atomic write, reload, verification). A conftest hook stamps the decision time. Two
clients send requests throughout: one on a keep-alive connection, one opening a new connection
per request. Latency is the decision stamp to the start of the first request after which every
answer came from legacy. Runbooks accept one to two minutes; the goal is well under a second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from pytest_cutover.actions.nginx import NginxDriver
from tests.conftest import MINIMAL_CONFIG
from tests.nginx_support import Nginx, nginx_available

GATE = "import pytest\n\n@pytest.mark.canary_gate\ndef test_new_is_broken():\n    assert False\n"
STAMP = """
import time

def pytest_cutover_decision(decision, config):
    with open("decided-at", "w") as stamp:
        stamp.write(repr(time.time()))
"""


class Client(threading.Thread):
    """Sends requests until stopped; keeps (start time, who answered) for each."""

    def __init__(self, url: str, keep_alive: bool) -> None:
        super().__init__(daemon=True)
        self.parts = urlsplit(url)
        self.keep_alive = keep_alive
        self.seen: list[tuple[float, str]] = []
        self.stopping = threading.Event()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.parts.hostname or "", self.parts.port, timeout=5)

    def run(self) -> None:
        connection = self.connect()
        while not self.stopping.is_set():
            if not self.keep_alive:
                connection.close()
                connection = self.connect()
            started = time.time()
            try:
                connection.request("GET", "/")
                answer = connection.getresponse().read().decode()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = self.connect()
                answer = "error"
            self.seen.append((started, answer))
        connection.close()

    def all_legacy_since(self) -> float:
        """Start time of the first request of the final run of legacy-only answers."""
        since = self.seen[-1][0]
        for started, answer in reversed(self.seen):
            if answer != "legacy":
                break
            since = started
        return since


def one_run(folder: Path, from_percent: float) -> dict[str, float]:
    nginx = Nginx(folder / "nginx", "weights")
    try:
        NginxDriver(nginx.driver_config(), Path("/")).set(from_percent)
        project = folder / "project"
        project.mkdir()
        settings = "".join(f"{k} = {json.dumps(v)}\n" for k, v in nginx.settings.items())
        (project / "cutover.toml").write_text(
            MINIMAL_CONFIG + '\n[traffic]\ndriver = "nginx"\n\n[traffic.nginx]\n' + settings
            + '\n[actions]\non_no_go = "rollback"\n'
        )  # fmt: skip
        (project / "test_gate.py").write_text(GATE)
        (project / "conftest.py").write_text(STAMP)
        clients = [Client(nginx.url, keep_alive=True), Client(nginx.url, keep_alive=False)]
        for client in clients:
            client.start()
        time.sleep(0.3)
        gate = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "canary_gate", "-q", "-p", "no:cacheprovider"],
            cwd=project, capture_output=True, text=True, check=False,
        )  # fmt: skip
        time.sleep(0.5)
        for client in clients:
            client.stopping.set()
            client.join()
        if gate.returncode != 1:
            raise RuntimeError(f"the gate should be NO-GO (exit 1): {gate.stdout[-2000:]}")
        decided = float((project / "decided-at").read_text())
        audit = [json.loads(line) for line in (project / "reports" / "audit.jsonl").open()]
        traffic = next(r for r in audit if r["event"] == "finished" and r["action"] == "traffic")
        keep_alive, fresh = clients
        return {
            "keep-alive client": keep_alive.all_legacy_since() - decided,
            "new connection per request": fresh.all_legacy_since() - decided,
            "nginx driver (audited)": float(traffic["duration_s"]),
            "requests seen": float(sum(len(c.seen) for c in clients)),
        }
    finally:
        nginx.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--from-percent", type=float, default=50.0)
    args = parser.parse_args()
    if not nginx_available():
        sys.exit("nginx is not installed (apt-get install nginx-light)")
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(one_run(Path(folder), args.from_percent))
        shown = ", ".join(
            f"{k} {v * 1000:.0f} ms" for k, v in runs[-1].items() if k != "requests seen"
        )
        print(f"run {index + 1}: {shown} ({runs[-1]['requests seen']:.0f} requests)")
    print(f"\nrollback latency from NO-GO at {args.from_percent:g}%, median of {args.runs} runs:")
    for key in runs[0]:
        if key != "requests seen":
            values = [run[key] * 1000 for run in runs]
            print(f"  {key:<28} median {statistics.median(values):7.0f} ms "
                  f"(min {min(values):.0f}, max {max(values):.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
