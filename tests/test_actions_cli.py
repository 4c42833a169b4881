"""`cutover status`, `shift`, `rollback` and `run`, as a person runs them, against real scripts
and a real nginx; including a kill in the middle of an action."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cutover.actions.commands import UNRESOLVED_EXIT
from tests.actions_support import actions_toml, audit, lines, make_project
from tests.conftest import MINIMAL_CONFIG, require_service
from tests.nginx_support import Nginx, nginx_available, who_answers
from tests.test_cli import cutover

GATE = """
import os, pytest

@pytest.mark.canary_gate
def test_gate(request):
    step = request.config.getoption("cutover_step")
    fail_at = open("fail-at.txt").read().strip() if os.path.exists("fail-at.txt") else ""
    assert f"{step:g}" != fail_at, "the new system breaks at this step"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = make_project(tmp_path, actions_toml(), weight="0")
    (folder / "test_gate.py").write_text(GATE)
    return folder


def test_shift_rollback_and_status_are_audited(project: Path) -> None:
    shifted = cutover("shift", "10", "--reason", "canary", cwd=project)
    assert shifted.returncode == 0, shifted.stdout + shifted.stderr
    assert "shift 0% -> 10%: done" in shifted.stdout
    again = cutover("shift", "10", cwd=project)
    assert "no-op: already at 10%" in again.stdout
    dry = cutover("rollback", "--reason", "drill", "--dry-run", cwd=project)
    assert "dry-run: would set command to 0% and run command" in dry.stdout
    assert (project / "weight.txt").read_text() == "10"
    rolled = cutover("rollback", "--reason", "p95 over budget", cwd=project)
    assert rolled.returncode == 0, rolled.stdout
    assert (project / "weight.txt").read_text() == "0"
    assert json.loads(lines(project / "rollbacks.log")[0])[0] == "p95 over budget"
    finished = [r for r in audit(project) if r["event"] == "finished"]
    assert [(r["action"], r["origin"], r["result"]) for r in finished] == [
        ("shift", "cutover shift", "done"),
        ("shift", "cutover shift", "no-op"),
        ("traffic", "cutover rollback", "done"),
        ("helper", "cutover rollback", "done"),
        ("rollback", "cutover rollback", "done"),
    ]
    status = cutover("status", "--json", cwd=project)
    assert status.returncode == 0
    shown = json.loads(status.stdout)
    assert shown["traffic"]["percent"] == 0
    assert shown["interrupted_actions"] == []
    assert shown["recent_actions"][-1]["action"] == "rollback"


def test_a_failed_manual_rollback_exits_11(tmp_path: Path) -> None:
    folder = make_project(tmp_path, actions_toml(helper="fail"))
    result = cutover("rollback", "--reason", "drill", cwd=folder)
    assert result.returncode == 11
    assert "ROLLBACK FAILED" in result.stdout
    assert "failed with exit status 3" in result.stdout


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    folder = make_project(tmp_path, actions_toml())
    assert "expected a traffic step in percent" in cutover("shift", "150", cwd=folder).stderr
    (folder / "cutover.toml").write_text(MINIMAL_CONFIG)
    unready = cutover("run", "--steps", "10", cwd=folder)
    assert unready.returncode == 2
    assert "needs a [traffic] driver and an [actions] section" in unready.stderr
    (folder / "cutover.toml").write_text(MINIMAL_CONFIG + '\n[traffic]\ndriver = "nginx"\n')
    result = cutover("status", cwd=folder)
    assert result.returncode == 2
    assert "driver = 'nginx' needs a [traffic.nginx] table" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_killed_in_the_middle_of_a_rollback_leaves_a_started_record(project: Path) -> None:
    (project / "weight.txt").write_text("50")
    (project / "slow-set").write_text("")  # the traffic script hangs, as if the LB were slow
    (project / "fail-at.txt").write_text("50")
    gate = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-m", "canary_gate", "--cutover-step", "50", "-q"],
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not lines(project / "traffic.log") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(gate.pid, signal.SIGKILL)
    gate.wait()
    started = [(r["event"], r["action"]) for r in audit(project) if r["event"] != "decision"]
    assert started == [("started", "rollback"), ("started", "traffic")]
    status = cutover("status", cwd=project)
    assert status.returncode == UNRESOLVED_EXIT
    assert "traffic (command): the new system gets 50%" in status.stdout
    assert "INTERRUPTED: rollback to 0.0% started" in status.stdout
    assert "INTERRUPTED: traffic to 0.0% started" in status.stdout


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    if not nginx_available():
        require_service("nginx is not installed (apt-get install nginx-light)")
    server = Nginx(tmp_path / "nginx", "weights")
    yield server
    server.stop()


def test_killed_in_the_middle_of_an_nginx_change_status_reports_what_nginx_serves(
    nginx: Nginx, tmp_path: Path
) -> None:
    hang = tmp_path / "nginx-slow-reload.sh"
    hang.write_text('#!/bin/sh\ncase "$*" in *reload*) sleep 60;; esac\nexec "$@"\n')
    hang.chmod(0o755)
    settings = {**nginx.settings, "nginx": [str(hang), *nginx.command]}
    (tmp_path / "cutover.toml").write_text(
        MINIMAL_CONFIG
        + '\n[traffic]\ndriver = "nginx"\n\n[traffic.nginx]\n'
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    )
    shift = subprocess.Popen(
        [sys.executable, "-m", "pytest_cutover.cli", "shift", "50"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while '"percent": 50' not in nginx.include.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # nginx -t has passed: the change now hangs in the reload
    os.killpg(shift.pid, signal.SIGKILL)
    shift.wait()
    assert [r["event"] for r in audit(tmp_path)] == ["started"]
    status = cutover("status", cwd=tmp_path)
    assert status.returncode == UNRESOLVED_EXIT
    assert "traffic (nginx): the new system gets 0%" in status.stdout
    assert "WARNING: cutover-split.conf says 50.0% but nginx serves 0.0%" in status.stdout
    assert "INTERRUPTED: shift to 50.0% started" in status.stdout
    assert who_answers(nginx.url, 100) == {"legacy": 100}


def test_run_soaks_each_step_in_monitor_mode(project: Path) -> None:
    result = cutover("run", "--steps", "25", "--soak", "1s", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak after each step: the monitor mode (--cutover-monitor 1s)" in result.stdout
    assert "--cutover-step 25 --cutover-monitor 1s" in result.stdout
    assert lines(project / "traffic.log") == ["25"]
    state = json.loads((project / "reports" / "cutover-run.json").read_text())
    assert (state["status"], state["done"]) == ("done", [25])
    assert [h["status"] for h in state["history"]] == ["gating", "soaking", "step done", "done"]


def test_run_rolls_back_on_no_go_and_a_rerun_never_skips_a_step(project: Path) -> None:
    (project / "fail-at.txt").write_text("50")
    failed = cutover("run", "--steps", "10,50", cwd=project)
    assert failed.returncode == 1
    assert "step 50%: rolled back; stopping (exit status 1)" in failed.stdout
    assert (project / "weight.txt").read_text() == "0"
    assert len(lines(project / "rollbacks.log")) == 1
    (project / "fail-at.txt").unlink()
    resumed = cutover("run", "--steps", "10,50", cwd=project)
    assert resumed.returncode == 0, resumed.stdout
    assert "starting again from the first step" in resumed.stdout
    assert lines(project / "traffic.log") == ["10", "0", "10", "50"]


def test_run_resumes_at_the_step_it_was_on(project: Path) -> None:
    (project / "weight.txt").write_text("10")
    reports = project / "reports"
    reports.mkdir()
    state = {"steps": [10, 50], "done": [10], "status": "gating", "step": 50, "history": []}
    (reports / "cutover-run.json").write_text(json.dumps(state))
    other = cutover("run", "--steps", "10,100", cwd=project)
    assert other.returncode == 2
    assert "give the same --steps to resume it, or --fresh" in other.stderr
    resumed = cutover("run", "--steps", "10,50", cwd=project)
    assert resumed.returncode == 0, resumed.stdout
    assert "step 10%: completed earlier" in resumed.stdout
    assert lines(project / "traffic.log") == ["50"]


def test_init_writes_only_a_commented_config_whose_every_section_validates(
    tmp_path: Path,
) -> None:
    written = cutover("init", "--dir", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["cutover.toml"]  # the suites ship inside
    assert cutover("check", cwd=tmp_path).returncode == 0
    template = (tmp_path / "cutover.toml").read_text()
    for section in ("[ab]", "[integrity]", "[load]", "[metrics]", "[traffic]", "[actions]"):
        assert f"# {section}" in template
    # The commented gates, nginx driver and actions, switched on, are a valid config too.
    gates = template[template.index("# [ab]\n") : template.index("# How traffic is split")]
    nginx = template[template.index('# [traffic]\n# driver = "nginx"') :]
    nginx = nginx[: nginx.index("# Or the runbook")]
    actions = template[template.index("# [actions]\n") :]
    switched_on = re.compile(r"^# (\[|[A-Za-z_][\w.]*\s*=)")  # TOML, not the prose around it
    uncommented = "\n".join(
        line.removeprefix("# ").split("  #")[0]
        for line in (gates + nginx + actions).splitlines()
        if switched_on.match(line)
    )
    assert 'include_file = "/etc/nginx/conf.d/cutover-split.conf"' in uncommented
    assert "[[integrity.tables]]" in uncommented
    (tmp_path / "cutover.toml").write_text(template + "\n" + uncommented)
    checked = cutover("check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "cutover.toml").write_text("# tuned by the team\n")
    again = cutover("init", "--dir", str(tmp_path))
    assert "kept" in again.stdout
    assert (tmp_path / "cutover.toml").read_text() == "# tuned by the team\n"


def test_without_monitor_mode_the_soak_waits_and_gates_again(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_cutover.actions import progressive
    from pytest_cutover.config import load_config

    # As on an install whose metrics gate has no --cutover-monitor.
    monkeypatch.setattr(progressive._Run, "_has_monitor", lambda _self, _steps: False)
    said: list[str] = []
    config = load_config(project / "cutover.toml")
    code = progressive.run_steps(config, project / "reports", [20], 0.2, [], False, said.append)
    assert code == 0
    assert "soak after each step: waiting 0.2s, then gating again" in said[0]
    gate_runs = [line for line in said if line.startswith("step 20%: -m pytest")]
    assert len(gate_runs) == 2
    assert "--cutover-promote" in gate_runs[0]
    assert "--cutover-promote" not in gate_runs[1]
    assert lines(project / "traffic.log") == ["20"]


def test_run_soaks_each_step_for_its_own_duration(project: Path) -> None:
    """Runbook 001: 12 h at 25%, 8 h at 50%, 4 h at 75%; here seconds, and 75% not soaked."""
    result = cutover("run", "--steps", "25,50,75", "--soak", "25=2s,50=1s", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak after each step: the monitor mode (25% 2s, 50% 1s)" in result.stdout
    assert "--cutover-step 25 --cutover-monitor 2s" in result.stdout
    assert "--cutover-step 50 --cutover-monitor 1s" in result.stdout
    assert "--cutover-step 75 --cutover-monitor" not in result.stdout
    assert lines(project / "traffic.log") == ["25", "50", "75"]
    state = json.loads((project / "reports" / "cutover-run.json").read_text())
    assert [h["status"] for h in state["history"]].count("soaking") == 2


@pytest.mark.parametrize(
    ("soak", "message"),
    [
        ("25=2s,60=1s", "--soak names step 60, which --steps does not take"),
        ("25=", "expected STEP=DURATION such as 25=12h"),
        ("25=fast", "expected a duration"),
    ],
)
def test_a_per_step_soak_that_does_not_fit_is_refused(
    project: Path, soak: str, message: str
) -> None:
    result = cutover("run", "--steps", "25,50", "--soak", soak, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (project / "traffic.log").exists()
