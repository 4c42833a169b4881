"""The metrics block proposed for the repo's cutover.toml, shared by the metrics tests."""

from __future__ import annotations

import tomllib

from pytest_cutover.gates.metrics.config import MetricsConfig

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
