"""Systems the plugin starts: a failed start explains itself, and nothing outlives the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_cutover.config import StartSpec, SystemConfig
from pytest_cutover.launcher import StartError, start_system
from pytest_cutover.output import Output


def config_for(command: list[str], timeout: str = "5s") -> SystemConfig:
    return SystemConfig(
        base_url="http://127.0.0.1:{port}", start=StartSpec(command=command, timeout=timeout)
    )


def test_a_command_that_exits_shows_its_output(tmp_path: Path) -> None:
    config = config_for(["{python}", "-c", "import sys; print('boom: bad flag'); sys.exit(3)"])
    with pytest.raises(StartError) as caught:
        start_system("new", config, tmp_path, tmp_path / "logs", Output())
    message = str(caught.value)
    assert "new: start command exited with status 3 before http://127.0.0.1:" in message
    assert "boom: bad flag" in message


def test_a_missing_program_names_the_config_key(tmp_path: Path) -> None:
    with pytest.raises(
        StartError,
        match=r"cannot run 'no-such-binary-x' \(from "
        r"\[systems.legacy.start\] command\)",
    ):
        start_system("legacy", config_for(["no-such-binary-x"]), tmp_path, tmp_path, Output())


def test_never_ready_times_out_and_the_process_group_is_gone(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
        f"'import time; time.sleep(60)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); "
        f"time.sleep(60)"
    )
    config = config_for(["{python}", "-c", script], "1s")
    with pytest.raises(
        StartError,
        # No ready path and no readiness or health declared: serving means answering at all.
        match=r"not ready after 1 s: http://127.0.0.1:\d+/ \(ConnectError",
    ):
        start_system("new", config, tmp_path, tmp_path, Output())
    assert not is_running(int(pid_file.read_text())), "a grandchild outlived the failed start"


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for pid 1, which may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_started_system_serves_and_stops(tmp_path: Path) -> None:
    server = (
        "import http.server, sys; http.server.ThreadingHTTPServer(('127.0.0.1', "
        "int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()"
    )
    config = SystemConfig(
        base_url="http://127.0.0.1:{port}",
        start=StartSpec(command=[sys.executable, "-c", server, "{port}"], ready="/"),
    )
    started = start_system("legacy", config, tmp_path, tmp_path / "logs", Output())
    assert started.system.base_url.startswith("http://127.0.0.1:")
    assert "{port}" not in started.system.base_url
    assert started.log_path.parent == tmp_path / "logs"
    started.stop()
    assert started.process.returncode is not None
