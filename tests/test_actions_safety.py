"""Actions that are safe with real processes: a rollback nothing but the driver's `set` can stop,
exactly once even after kill -9 (the lock lives as long as the helper), a loser that says
another run is acting, and a `cutover status` that stays non-zero until someone resolves an
interrupted action.

The helper and the traffic script are real scripts that write down every call; tests wait on
the files they write, never on the clock."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.actions.calls import run_command
from pytest_cutover.actions.commands import UNRESOLVED_EXIT
from pytest_cutover.actions.lock import LockBusy, action_lock
from pytest_cutover.actions.outcome import (
    ACTION_BUSY_EXIT,
    ActionOutcome,
    exit_status_for,
    failure_headline,
)
from pytest_cutover.decision import ACTION_FAILED_EXIT, ROLLBACK_FAILED_EXIT
from tests.actions_support import actions_toml, audit, lines, make_project
from tests.conftest import MINIMAL_CONFIG
from tests.http_support import JsonHandler, serve
from tests.test_cli import cutover

NO_GO_TESTS = """
import pytest
pytestmark = pytest.mark.canary_gate
def test_fine(): pass
def test_new_is_broken(): assert False, "new answers 500"
"""
WAIT_S = 60  # how long a test waits for a file a real process writes before it fails


def wait_for(what: str, ready: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S}s for {what}")
        time.sleep(0.05)


def lock_is_free(path: Path) -> bool:
    try:
        with action_lock(path, "test probe"):
            return True
    except LockBusy:
        return False


@pytest.fixture
def waiting_project(tmp_path: Path) -> Iterator[Path]:
    """A project whose rollback helper waits for a file "release"; always released at the end,
    so no helper outlives the test."""
    folder = make_project(tmp_path, actions_toml(helper="wait", timeout="120s"))
    (folder / "test_gate.py").write_text(NO_GO_TESTS)
    yield folder
    (folder / "release").write_text("")
    wait_for(
        "the helper to let go of the lock",
        lambda: lock_is_free(folder / "reports" / "cutover.lock"),
    )


def gate_run(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "canary_gate",
            "-q",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_during_the_helper_then_an_immediate_second_run_runs_no_second_helper(
    waiting_project: Path,
) -> None:
    folder = waiting_project
    first = gate_run(folder)
    wait_for("the rollback helper to start", (folder / "helper.pid").exists)
    helper_pid = int((folder / "helper.pid").read_text())
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = cutover("rollback", "--reason", "second run", cwd=folder)
    assert second.returncode == ACTION_BUSY_EXIT, second.stdout + second.stderr
    said = " ".join(second.stdout.split())
    assert f"another run (pid {first.pid}, started at " in said
    assert (
        f"that run has ended; what it started still runs and holds the lock: pid {helper_pid}"
        in said
    )
    assert "FAILED" not in said
    assert len(lines(folder / "rollbacks.log")) == 1

    status = cutover("status", cwd=folder)
    assert status.returncode == UNRESOLVED_EXIT
    assert "INTERRUPTED: rollback to 0.0% started" in status.stdout
    assert f"ACTING NOW: another run (pid {first.pid}" in " ".join(status.stdout.split())
    too_early = cutover("resolve", "--note", "looked", cwd=folder)
    assert too_early.returncode == ACTION_BUSY_EXIT  # the helper is still acting

    (folder / "release").write_text("")
    wait_for("the helper to finish", lambda: lines(folder / "helpers-done.log"))
    wait_for("the lock to be free", lambda: lock_is_free(folder / "reports" / "cutover.lock"))
    # It finished although its run was gone: it wrote to a file, not to a pipe nobody read.
    assert lines(folder / "helpers-done.log") == [str(helper_pid)]
    assert len(lines(folder / "rollbacks.log")) == 1
    assert (folder / "weight.txt").read_text() == "0"

    still = cutover("status", "--json", cwd=folder)
    assert still.returncode == UNRESOLVED_EXIT
    interrupted = json.loads(still.stdout)["interrupted_actions"]
    assert [r["action"] for r in interrupted] == ["rollback", "helper"]
    resolved = cutover("resolve", "--note", "helper finished; traffic on legacy", cwd=folder)
    assert resolved.returncode == 0, resolved.stdout
    assert "resolve: done: recorded for rollback started" in resolved.stdout
    settled = cutover("status", cwd=folder)
    assert settled.returncode == 0, settled.stdout
    assert "INTERRUPTED" not in settled.stdout
    assert "resolve: resolved: helper finished; traffic on legacy" in settled.stdout
    record = audit(folder)[-1]
    assert (record["event"], record["note"], record["origin"]) == (
        "resolved",
        "helper finished; traffic on legacy",
        "cutover resolve",
    )
    assert record["who"]
    assert record["ts"]
    assert len(record["resolves"]) == 2  # the rollback and its helper

    third = cutover("rollback", "--reason", "again, once the first is over", cwd=folder)
    assert third.returncode == 0, third.stdout
    assert len(lines(folder / "rollbacks.log")) == 2


def test_two_overlapping_runs_act_once_and_the_loser_says_who_is_acting(
    waiting_project: Path,
) -> None:
    folder = waiting_project
    first = subprocess.Popen(
        [str(Path(sys.executable).parent / "cutover"), "rollback", "--reason", "first"],
        cwd=folder,
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_for("the rollback helper to start", (folder / "helper.pid").exists)
    second = cutover("rollback", "--reason", "second", cwd=folder)
    (folder / "release").write_text("")
    out, _ = first.communicate(timeout=WAIT_S)
    assert first.returncode == 0, out
    assert second.returncode == ACTION_BUSY_EXIT
    assert "ROLLBACK NOT STARTED (busy): another run (pid" in second.stdout
    assert f"pid {first.pid}," in second.stdout
    assert len(lines(folder / "rollbacks.log")) == 1
    refused = [r for r in audit(folder) if r["event"] == "refused"]
    assert [(r["origin"], r["result"], r["holder"]["pid"]) for r in refused] == [
        ("cutover rollback", "busy", first.pid)
    ]
    assert cutover("status", cwd=folder).returncode == 0  # both ended: nothing to resolve


def test_a_failing_get_never_blocks_a_no_go_rollback(tmp_path: Path) -> None:
    folder = make_project(tmp_path, actions_toml())
    (folder / "test_gate.py").write_text(NO_GO_TESTS)
    (folder / "broken-get").write_text("")
    run = gate_run(folder)
    assert run.wait(timeout=120) == 1  # NO-GO, and the rollback happened
    assert (folder / "weight.txt").read_text() == "0"
    assert lines(folder / "traffic.log") == ["0"]
    assert len(lines(folder / "rollbacks.log")) == 1
    finished = audit(folder)[-1]
    assert (finished["action"], finished["result"], finished["from"]) == ("rollback", "done", None)
    assert "get command failed with exit status 7" in finished["from_unknown"]
    assert "reading the current weight failed" in finished["notes"][0]


def test_a_failing_get_never_blocks_a_manual_rollback_and_a_shift_goes_ahead(
    tmp_path: Path,
) -> None:
    folder = make_project(tmp_path, actions_toml(), weight="10")
    (folder / "broken-get").write_text("")
    shifted = cutover("shift", "50", cwd=folder)
    assert shifted.returncode == 0, shifted.stdout
    assert "shift ?% -> 50%: done" in shifted.stdout
    assert "note: reading the current weight failed (get command failed" in shifted.stdout
    assert (folder / "weight.txt").read_text() == "50"
    rolled = cutover("rollback", "--reason", "p95 over budget", cwd=folder)
    assert rolled.returncode == 0, rolled.stdout
    assert "rollback ?% -> 0%: done" in rolled.stdout
    assert (folder / "weight.txt").read_text() == "0"
    assert len(lines(folder / "rollbacks.log")) == 1
    started = [r for r in audit(folder) if r["event"] == "started" and r["action"] != "helper"]
    assert all("admin API down" in r["from_unknown"] for r in started)


class BrokenStatusApi:
    """A load balancer's admin API whose status endpoint is down while setting still works."""

    def __init__(self) -> None:
        state: dict[str, Any] = {"weight": 50.0, "gets": 0}
        self.state = state

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                state["gets"] += 1
                self.answer(500, {"error": "status backend down"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                state["weight"] = json.loads(body)["weight"]
                self.answer(200, {"ok": True})

        self.server, self.url = serve(Handler)


def test_a_failing_status_url_never_blocks_a_rollback(tmp_path: Path) -> None:
    api = BrokenStatusApi()
    try:
        (tmp_path / "cutover.toml").write_text(
            MINIMAL_CONFIG
            + f'\n[traffic]\ndriver = "http"\n[traffic.http]\nurl = "{api.url}/split"\n'
            + "body = '{\"weight\": {percent}}'\n"
            + f'status_url = "{api.url}/split"\nretries = 0\n'
        )
        rolled = cutover("rollback", "--reason", "status API down", cwd=tmp_path)
    finally:
        api.server.shutdown()
        api.server.server_close()
    assert rolled.returncode == 0, rolled.stdout
    assert api.state["weight"] == 0
    assert api.state["gets"] == 1  # read once, for the record; the set never waited on it
    assert "note: reading the current weight failed (status_url" in rolled.stdout


def test_a_rollback_whose_lock_file_cannot_be_made_still_sends_traffic_back(
    tmp_path: Path,
) -> None:
    """Setting 0% twice is harmless, so traffic goes back; the helper is not run, since only
    the lock makes it run exactly once, and the exit says the rollback is not complete."""
    extra = 'lock_file = "weight.txt/cutover.lock"\n'
    toml = actions_toml().replace('on_no_go = "rollback"\n', f'on_no_go = "rollback"\n{extra}')
    folder = make_project(tmp_path, toml)
    rolled = cutover("rollback", "--reason", "drill", cwd=folder)
    assert rolled.returncode == ROLLBACK_FAILED_EXIT
    assert (folder / "weight.txt").read_text() == "0"
    assert not (folder / "rollbacks.log").exists()
    said = " ".join(rolled.stdout.split())
    assert "ROLLBACK FAILED (failed): traffic 50% -> 0%: done" in said
    assert "helper command " in said
    assert "NOT RUN, since it runs exactly once only under the lock" in said


def test_a_rollback_goes_on_when_the_audit_log_cannot_be_written(tmp_path: Path) -> None:
    folder = make_project(tmp_path, actions_toml())
    (folder / "reports" / "audit.jsonl").mkdir(parents=True)  # no file can be appended there
    rolled = cutover("rollback", "--reason", "drill", cwd=folder)
    assert rolled.returncode == 0, rolled.stdout
    assert (folder / "weight.txt").read_text() == "0"
    assert len(lines(folder / "rollbacks.log")) == 1
    assert "note: THE AUDIT LOG COULD NOT BE WRITTEN (IsADirectoryError" in rolled.stdout
    refused_shift = cutover("shift", "10", cwd=folder)
    assert refused_shift.returncode == ACTION_FAILED_EXIT  # an unrecorded promotion: never
    assert (folder / "weight.txt").read_text() == "0"


def test_resolve_with_nothing_interrupted_records_nothing(tmp_path: Path) -> None:
    folder = make_project(tmp_path, actions_toml())
    assert cutover("rollback", "--reason", "drill", cwd=folder).returncode == 0
    result = cutover("resolve", "--note", "all fine", cwd=folder)
    assert result.returncode == 0
    assert "resolve: no-op: no interrupted action to resolve" in result.stdout
    assert [r["event"] for r in audit(folder)][-1] == "finished"
    assert cutover("status", cwd=folder).returncode == 0


@pytest.mark.parametrize(
    ("outcome", "status", "headline"),
    [
        (ActionOutcome("rollback", "done", "ok"), None, None),
        (ActionOutcome("shift", "no-op", "already"), None, None),
        (ActionOutcome("hold", "held", "stays"), None, None),
        (ActionOutcome("rollback", "busy", "another run"), 13, "ROLLBACK NOT STARTED (busy): "),
        (ActionOutcome("shift", "busy", "another run"), 13, "SHIFT NOT STARTED (busy): "),
        (ActionOutcome("rollback", "failed", "helper"), 11, "ROLLBACK FAILED (failed): "),
        (ActionOutcome("rollback", "vetoed", "freeze"), 11, "ROLLBACK FAILED (vetoed): "),
        (ActionOutcome("shift", "vetoed", "freeze"), 12, "SHIFT FAILED (vetoed): "),
        (ActionOutcome("shift", "failed", "set"), 12, "SHIFT FAILED (failed): "),
    ],
)
def test_exit_status_for_each_outcome(
    outcome: ActionOutcome, status: int | None, headline: str | None
) -> None:
    assert exit_status_for(outcome) == status
    assert (ROLLBACK_FAILED_EXIT, ACTION_FAILED_EXIT, ACTION_BUSY_EXIT) == (11, 12, 13)
    shown = failure_headline(outcome)
    if headline is None:
        assert shown is None
    else:
        assert shown is not None
        assert shown.startswith(headline)


def test_what_a_helper_leaves_running_holds_the_lock_until_it_exits(tmp_path: Path) -> None:
    """The mechanism itself: processes started through run_command inherit the lock, so it
    outlives the block that took it for as long as any of them runs; here a helper that
    returns at once and leaves a background job behind (which a shell passes the lock on to)."""
    lock = tmp_path / "cutover.lock"
    job = "touch started; while [ ! -e release ]; do sleep 0.05; done"
    with action_lock(lock, "test"):
        helper = run_command(["sh", "-c", f"({job}) &"], timeout=30, cwd=tmp_path)
    assert helper.ok, helper.output
    wait_for("the background job to start", (tmp_path / "started").exists)
    assert not lock_is_free(lock)  # the block has ended; what it started still holds the lock
    (tmp_path / "release").write_text("")
    wait_for("the lock to be free", lambda: lock_is_free(lock))
