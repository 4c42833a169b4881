"""The resources gate against real processes: HTTP servers the plugin starts (one that leaks
memory as it runs, one that does not) and a process named by pid that burns CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cutover.config import ConfigError, load_config
from pytest_cutover.gates.resources.config import ResourcesConfig
from pytest_cutover.gates.resources.gate import judge
from pytest_cutover.gates.resources.sampler import (
    ProcessNotFound,
    cgroup_pids,
    processes,
    watch,
)
from pytest_cutover.gates.result import Outcome
from tests.conftest import MINIMAL_CONFIG, OWN_GATES_ONLY

# A small HTTP server on the port it is given; with "leak" it keeps 2 MB more every 0.1 s.
SERVER = """
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

kept = []
def leak():
    while True:
        kept.append(bytearray(2_000_000))
        time.sleep(0.1)
if sys.argv[2] == "leak":
    threading.Thread(target=leak, daemon=True).start()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def started_systems(new: str, legacy: str = "steady") -> str:
    def system(name: str, mode: str) -> str:
        return (
            f'[systems.{name}]\nbase_url = "http://127.0.0.1:{{port}}"\n'
            f'[systems.{name}.start]\ncommand = ["{{python}}", "server.py", "{{port}}", "{mode}"]\n'
            'ready = "/"\n'
        )

    return system("legacy", legacy) + system("new", new)


def run_gate(pytester: pytest.Pytester, toml: str) -> pytest.RunResult:
    pytester.makefile(".toml", cutover=toml)
    pytester.makeini(OWN_GATES_ONLY.replace("false", "true"))
    (pytester.path / "server.py").write_text(SERVER)
    return pytester.runpytest_subprocess("-m", "resources", "-p", "no:cacheprovider")


RESOURCES = """
[resources]
duration = "3s"
interval = "0.25s"
thresholds = ["memory < 2GB", "memory <= 3 * legacy.memory + 50MB", "memory_growth < {growth}"]
"""


def test_a_steady_system_within_its_budget_is_go(pytester: pytest.Pytester) -> None:
    result = run_gate(pytester, started_systems("steady") + RESOURCES.format(growth="500MB"))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["resources *GO*1*", "*CUTOVER DECISION: GO*"])


def test_a_leaking_system_is_no_go_on_its_memory_growth(pytester: pytest.Pytester) -> None:
    """About 20 MB a second is 72,000 MB an hour: far beyond a 500 MB-an-hour budget."""
    result = run_gate(pytester, started_systems("leak") + RESOURCES.format(growth="500MB"))
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*memory_growth*< 500*", "*CUTOVER DECISION: NO-GO*"])


def test_processes_that_cannot_be_found_make_it_inconclusive(pytester: pytest.Pytester) -> None:
    toml = (
        MINIMAL_CONFIG + '[resources]\nthresholds = "memory < 200MB"\nnew = { pids = [999999] }\n'
    )
    result = run_gate(pytester, toml)
    assert result.ret == 10, result.stdout.str()
    result.stdout.fnmatch_lines(["*new: no process with pid 999999 ([[]resources.new[]] pids)*"])


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield process
    process.kill()
    process.wait()


def test_cpu_of_a_named_process_is_a_share_of_one_core(
    busy: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    section = ResourcesConfig.model_validate(
        {
            "duration": "2s",
            "interval": "0.5s",
            "thresholds": ["cpu < 5%"],
            "new": {"pids": [busy.pid]},
        }
    )
    series = watch({"new": processes([busy.pid])}, section.duration, section.interval)
    result = judge(section, series, {"new": [busy.pid]})
    assert result.outcome is Outcome.FAIL  # a busy loop uses far more than 5% of a core
    assert 0.05 < result.measurements["cpu"] <= 1.05
    assert len(series["new"].samples) >= 4


def test_new_ending_inside_the_window_is_a_failure() -> None:
    short = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    try:
        section = ResourcesConfig.model_validate(
            {"duration": "2s", "interval": "0.2s", "thresholds": "memory < 1GB"}
        )
        series = watch({"new": processes([short.pid])}, section.duration, section.interval)
    finally:
        short.wait()
    result = judge(section, series, {"new": [short.pid]})
    assert result.outcome is Outcome.FAIL
    assert result.reasons[0].startswith("new: its processes ended")


@pytest.mark.parametrize(
    ("threshold", "shown"),
    [("memory < 200MB", "memory < 200"), ("memory < 1.5GiB", "memory < 1610.61"),
     ("memory_growth < 512KB", "memory_growth < 0.512")],
)  # fmt: skip
def test_sizes_in_thresholds_are_megabytes(threshold: str, shown: str) -> None:
    section = ResourcesConfig.model_validate({"thresholds": threshold})
    assert str(section.thresholds[0]) == shown


def test_an_unknown_measurement_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + '[resources]\nthresholds = "rss < 200MB"\n')
    with pytest.raises(ConfigError, match=r"resources.thresholds.*unknown measurement rss"):
        load_config(path, {})


def own_cgroup() -> Path:
    """This process's cgroup directory (v2, else v1's memory controller), as mounted here."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _number, controllers, path = line.split(":", 2)
        mount = {"": "/sys/fs/cgroup", "memory": "/sys/fs/cgroup/memory"}.get(controllers)
        folder = Path(f"{mount}{path}") if mount else None
        if folder is not None and (folder / "cgroup.procs").is_file():
            return folder
    pytest.skip("no readable cgroup.procs for this process (cgroups not mounted here)")


def test_a_cgroup_names_the_processes_to_sample() -> None:
    assert os.getpid() in cgroup_pids(own_cgroup())
    with pytest.raises(ProcessNotFound, match=r"cannot read /nonexistent/cgroup\.procs"):
        cgroup_pids(Path("/nonexistent"))
