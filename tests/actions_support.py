"""A pytester project whose traffic driver and rollback helper are real scripts that write down
every call, so a test can count exactly what the actions did."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import MINIMAL_CONFIG, OWN_GATES_ONLY

# set: record the call and the weight; get: print the weight, or fail while a file "broken-get"
# exists (as a load balancer's API does while it is down). helper: record the call (with the
# reason and the xdist worker it ran on, if any), then succeed, fail or hang as asked; "wait"
# writes its pid to helper.pid, waits for a file "release", says so and writes helpers-done.log,
# dying on SIGPIPE as a shell script would if what it prints had nowhere to go.
SCRIPTS = {
    "weight.py": """
import os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
if sys.argv[1] == "get":
    if os.path.exists(os.path.join(here, "broken-get")):
        print("admin API down: 503", file=sys.stderr)
        sys.exit(7)
    print(open(os.path.join(here, "weight.txt")).read().strip())
    sys.exit(0)
with open(os.path.join(here, "traffic.log"), "a") as log:
    log.write(sys.argv[2] + "\\n")
if os.path.exists(os.path.join(here, "slow-set")):
    time.sleep(60)
open(os.path.join(here, "weight.txt"), "w").write(sys.argv[2])
""",
    "helper.py": """
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "rollbacks.log"), "a") as log:
    log.write(json.dumps([os.environ.get("CUTOVER_ROLLBACK_REASON"),
                          os.environ.get("PYTEST_XDIST_WORKER")]) + "\\n")
print("helper ran, token s3cret-token-value")
if sys.argv[1] == "fail":
    sys.exit(3)
if sys.argv[1] == "hang":
    time.sleep(60)
if sys.argv[1] == "wait":
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    open(os.path.join(here, "helper.pid"), "w").write(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(here, "release")) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("released: finishing the rollback", flush=True)
    with open(os.path.join(here, "helpers-done.log"), "a") as done:
        done.write(str(os.getpid()) + "\\n")
""",
}


def actions_toml(helper: str = "ok", timeout: str = "10s", extra: str = "") -> str:
    python = json.dumps(sys.executable)
    return (
        MINIMAL_CONFIG
        + f"""
[traffic]
driver = "command"

[traffic.command]
set = [{python}, "weight.py", "set", "{{percent}}"]
get = [{python}, "weight.py", "get"]
timeout = "10s"

[actions]
on_no_go = "rollback"

[actions.rollback]
command = [{python}, "helper.py", "{helper}"]
timeout = "{timeout}"
retries = 0
{extra}"""
    )


def make_project(folder: Path, toml: str, weight: str = "50") -> Path:
    (folder / "cutover.toml").write_text(toml)
    (folder / "pytest.ini").write_text(OWN_GATES_ONLY)
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text)
    (folder / "weight.txt").write_text(weight)
    return folder


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def audit(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(folder / "reports" / "audit.jsonl")]


def decision_json(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "reports" / "decision.json").read_text())
    return loaded
