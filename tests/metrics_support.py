"""The metrics block proposed for the repo's cutover.toml, shared by the metrics tests."""

from __future__ import annotations

import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from prometheus_client import CollectorRegistry, Counter, generate_latest

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.systems import System

# Direct scraping of the demo systems, with presets: passes on the healthy demo in about 2 s and
# fails with CUTOVER_DEMO_FAULTS=errors=20% (error rate) or latency=300ms (p95).
DEMO_METRICS = """
[metrics]
source = "scrape"
interval = "500ms"
rate_window = "1s"

# The demo has no users: a little read-only traffic gives its rates something to count.
[metrics.synthetic]
paths = ["/api/users?limit=5", "/api/users/1", "/api/orders/42"]
rate = 40

[[metrics.rules]]
name = "error rate"
preset = "error_rate"
metric = "demo_http_requests_total"
labels = { route = "re:/api/.*" }
critical = "error_rate < 5%"
warning = "error_rate < 1%"
for = "1s"

[[metrics.rules]]
name = "p95 latency"
preset = "latency"
metric = "demo_http_request_duration_seconds"
labels = { route = "re:/api/.*" }
critical = "p95 < 250ms"
warning = "p95 < 100ms"
for = "1s"

[[metrics.rules]]
name = "request rate"
preset = "request_rate"
metric = "demo_http_requests_total"
labels = { route = "re:/api/.*" }
critical = "request_rate > 0"

[[metrics.rules]]
name = "database connections"
preset = "db_connections"
metric = "demo_db_connections_in_use"
max_metric = "demo_db_connections_max"
critical = "db_connections_usage < 95%"
warning = "db_connections_usage < 80%"
"""

# The demo does not export process_* metrics: a rule on them has nothing to judge.
MEMORY_RULE = """
[[metrics.rules]]
name = "memory"
preset = "process_memory"
critical = "process_memory_mb < 500"
"""


def metrics_config(text: str = DEMO_METRICS, **changes: object) -> MetricsConfig:
    data = tomllib.loads(text)["metrics"]
    return MetricsConfig.model_validate({**data, **changes})


def with_rules(text: str, rules: str) -> str:
    """The same [metrics] settings with other rules."""
    return text.split("[[metrics.rules]]")[0] + rules


class CodeExporter:
    """A real HTTP app on loopback that exports `http_requests_total{code, method}` as Go's
    promhttp does (the status label is `code`, not `status`) and answers every tenth request
    with 503: an error rate of 10% that a preset reading `status` would not see."""

    def __init__(self, base_dir: Path) -> None:
        self.registry = CollectorRegistry()
        requests = Counter(
            "http_requests", "Requests by code.", ["code", "method"], registry=self.registry
        )
        served = [0]
        lock = threading.Lock()
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body, status = generate_latest(registry), 200
                else:
                    with lock:
                        served[0] += 1
                        status = 503 if served[0] % 10 == 0 else 200
                    requests.labels(code=str(status), method="get").inc()
                    body = b"ok\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test output is for the gate's results."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.system = System("new", SystemConfig(base_url=self.url), self.url, base_dir)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CodeExporter:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
