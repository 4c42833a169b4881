"""`cutover init`: put a commented cutover.toml and the gate suites into a team's repository.

The suites are copied, not imported, so a team can read them, add its own gate tests beside them
and keep them under review with the rest of its code. Nothing that exists is overwritten unless
asked (--force): an init run twice must never clobber a tuned config.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pytest_cutover.config import CONFIG_FILENAME

# Beside the package in a source checkout or an editable install.
SUITES = Path(__file__).resolve().parent.parent / "suites"

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

[systems.new]
base_url = "http://127.0.0.1:8002"          # the system taking over
# database = "postgresql://gate:${NEW_DB_PASSWORD}@db.internal/app"

# Smoke: health, readiness, liveness, and the endpoints a person would check after a deploy.
[smoke]
retry_deadline = "10s"
# [[smoke.endpoints]]
# path = "/api/users?limit=5"
# json_keys = ["items", "total"]

# The other gates (ab, integrity, load, metrics) are described in README.md; each is off until
# its section is written here.

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


@dataclass
class Scaffold:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


class ScaffoldError(Exception):
    """The suites to copy are not where this installation keeps them."""


def scaffold(target: Path, *, force: bool) -> Scaffold:
    """Write cutover.toml and suites/ under `target`; existing files are kept unless `force`."""
    if not SUITES.is_dir():
        raise ScaffoldError(
            f"the gate suites are not installed with this copy of pytest-cutover (looked in "
            f"{SUITES}); install it from a source checkout (pip install -e .)"
        )
    result = Scaffold()
    files: dict[Path, Path | None] = {target / CONFIG_FILENAME: None}
    files.update({target / "suites" / s.name: s for s in sorted(SUITES.glob("test_*.py"))})
    for destination, source in files.items():
        if destination.exists() and not force:
            result.kept.append(destination)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            destination.write_text(TEMPLATE, encoding="utf-8")
        else:
            shutil.copyfile(source, destination)
        result.written.append(destination)
    return result
