"""`cutover init`: a commented cutover.toml that names every section, and nothing else.

The gate suites ship inside the package and the plugin collects them, so a team's repository
holds only its config (and any gate tests of its own). Nothing that exists is overwritten unless
asked (--force): an init run twice must never clobber a tuned config.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """\
# cutover.toml: the go/no-go gate for moving traffic from legacy to new, step by step.
#   pytest -m canary_gate --cutover-step 10      decide on a step (GO / NO-GO / INCONCLUSIVE)
#   cutover run --steps 10,50,100 --soak 5m       the whole progressive cutover
#   cutover status                                 weight, last decision, last actions
# Values can come from the environment: "${NAME}" or "${NAME:-default}"; "$$" is a plain "$".
# Secrets (passwords in URLs, Authorization headers, *_TOKEN variables) are masked in reports.

[systems.legacy]
base_url = "http://127.0.0.1:8001"          # the system being replaced
# database = "sqlite:///legacy.db"           # read-only checks by the integrity gate
# headers = { Authorization = "Bearer ${LEGACY_TOKEN}" }
# health = { health = "/health", readiness = "/health/readiness" }   # probed only when declared

[systems.new]
base_url = "http://127.0.0.1:8002"          # the system taking over
# database = "postgresql://gate:${NEW_DB_PASSWORD}@db.internal/app"
# health = { health = "/health", readiness = "/health/readiness" }

# Smoke: the declared health paths, and the endpoints a person would check after a deploy.
[smoke]
retry_deadline = "10s"
# [[smoke.endpoints]]
# path = "/api/users?limit=5"
# json_keys = ["items", "total"]

# A/B: the same captured requests to both systems, answers compared (off until corpus is set).
# [ab]
# corpus = "traffic/corpus.jsonl"     # JSON Lines, HAR or a combined-format access log
# rate = 20                           # requests/s per system: be polite to production
# noise = true                        # ask legacy twice: what differs there is noise
# normalise = ["timestamps"]
# thresholds = ["match_rate >= 99.5%"]

# Integrity: the new database holds exactly the legacy rows (off until a table is listed).
# [integrity]
# statement_timeout = "2min"
# [[integrity.tables]]
# table = "users"
# key = "id"

# Load: locust against new, and legacy when a threshold compares with it (off until written).
# [load]
# users = 10
# rate = 100                          # target requests/s
# duration = "1m"
# thresholds = ["p95 < 250ms", "error_rate < 1%", "p95 <= 1.2 * legacy.p95 + 20ms"]

# Metrics: Prometheus rules over a window, scraped from /metrics or asked of a Prometheus server.
# [metrics]
# source = "scrape"
# [[metrics.rules]]
# name = "error rate"
# preset = "error_rate"
# metric = "http_requests_total"
# critical = "error_rate < 5%"
# warning = "error_rate < 1%"
# for = "1m"

# How traffic is split. One driver: nginx (the plugin writes one include file and reloads
# nginx), command (your own script), or http (a load balancer's admin API).
# [traffic]
# driver = "nginx"
#
# [traffic.nginx]
# include_file = "/etc/nginx/conf.d/cutover-split.conf"   # include it inside http { }
# mode = "weights"                  # or "split_clients": one client always on one side
# upstream = "cutover_backend"      # proxy_pass http://cutover_backend;  (split_clients:
#                                   # proxy_pass http://$cutover_backend;)
# legacy = ["10.0.0.5:8080"]
# new = ["10.0.0.6:8080"]
# split_key = "$remote_addr"        # split_clients only, e.g. "$cookie_session"
# status_listen = "127.0.0.1:9901"  # a loopback port: proves which config nginx serves
# nginx = ["nginx"]                 # the nginx command (add -p/-c for a non-default install)
# timeout = "10s"
#
# Or the runbook's own script ({percent}: the new system's share; {legacy_percent}: the rest):
# [traffic]
# driver = "command"
# [traffic.command]
# set = "./scripts/configure-traffic-split.sh {percent}"
# get = "./scripts/current-split.sh"          # prints the current share of new
# timeout = "60s"

# What each decision does. Without this section the gate only reports.
# [actions]
# on_no_go = "rollback"             # or "hold"
# on_inconclusive = "hold"          # or "rollback"
#
# [actions.rollback]                # runs after traffic is back on legacy
# command = "./scripts/quick-rollback.sh"
# timeout = "60s"
# retries = 1
"""


def write_config(path: Path, *, force: bool) -> bool:
    """Write the commented config to `path`; False (and nothing written) when it exists."""
    if path.exists() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE, encoding="utf-8")
    return True
