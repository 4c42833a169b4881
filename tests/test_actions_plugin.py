"""Decisions that act, through real pytest runs: the rollback helper and the traffic driver are
real scripts that record each call, so "exactly once" is counted, not assumed."""

from __future__ import annotations

import json
import os
import time

import pytest

from pytest_cutover.actions.lock import action_lock
from pytest_cutover.actions.outcome import ACTION_BUSY_EXIT
from tests.actions_support import actions_toml, audit, decision_json, lines, make_project

NO_GO_TESTS = """
import pytest
pytestmark = pytest.mark.canary_gate
@pytest.mark.parametrize("n", range(8))
def test_fine(n): pass
def test_new_is_broken(): assert False, "new answers 500"
"""

HOOK_COUNTER = """
import json, os

def _log(name, **fields):
    with open(os.path.join(os.path.dirname(__file__), "hooks.log"), "a") as log:
        log.write(json.dumps([name, os.environ.get("PYTEST_XDIST_WORKER"), fields]) + "\\n")

def pytest_cutover_before_rollback(request, config):
    _log("before_rollback", reason=request.reason)

def pytest_cutover_after_rollback(request, outcome, config):
    _log("after_rollback", status=outcome.status)

def pytest_cutover_before_traffic_change(change, config):
    _log("before_traffic_change", to=change.to_percent)

def pytest_cutover_after_traffic_change(change, outcome, config):
    _log("after_traffic_change", status=outcome.status)
"""


def test_no_go_under_xdist_rolls_back_exactly_once_on_the_controller(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when these tests run under -n
    folder = make_project(pytester.path, actions_toml())
    pytester.makeconftest(HOOK_COUNTER)
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    result = pytester.runpytest_subprocess("-n", "4", "-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 1
    helper_calls = [json.loads(line) for line in lines(folder / "rollbacks.log")]
    assert len(helper_calls) == 1
    reason, worker = helper_calls[0]
    assert worker is None
    assert reason.startswith("gate decision NO-GO at step 50%: ")
    assert lines(folder / "traffic.log") == ["0"]
    assert (folder / "weight.txt").read_text() == "0"
    hooks = [json.loads(line) for line in lines(folder / "hooks.log")]
    assert [(name, worker) for name, worker, _ in hooks] == [
        ("before_rollback", None),
        ("before_traffic_change", None),
        ("after_traffic_change", None),
        ("after_rollback", None),
    ]
    records = audit(folder)
    assert [(r["event"], r.get("action")) for r in records] == [
        ("decision", None),
        ("started", "rollback"),
        ("started", "traffic"),
        ("finished", "traffic"),
        ("started", "helper"),
        ("finished", "helper"),
        ("finished", "rollback"),
    ]
    finished = records[-1]
    assert finished["result"] == "done"
    assert (finished["from"], finished["to"]) == (50, 0)
    assert finished["helper_result"]["exit_status"] == 0
    assert "s3cret-token-value" in finished["helper_result"]["output"]
    assert decision_json(folder)["actions"][0]["status"] == "done"
    result.stdout.fnmatch_lines(["*action: rollback 50% -> 0%: done*", "*CUTOVER DECISION: NO-GO*"])


@pytest.mark.parametrize(
    ("helper", "timeout", "detail"),
    [("fail", "10s", "failed with exit status 3"), ("hang", "1s", "timed out after 1s (killed)")],
)
def test_a_rollback_helper_that_fails_or_hangs_is_the_loudest_outcome(
    pytester: pytest.Pytester, helper: str, timeout: str, detail: str
) -> None:
    folder = make_project(pytester.path, actions_toml(helper=helper, timeout=timeout))
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert time.monotonic() - started < 30  # a hanging helper is killed, not waited for
    assert result.ret == 11
    section = result.stdout.str().split("cutover decision")[-1].splitlines()
    assert section[1].startswith("!!! ROLLBACK FAILED (failed): ")
    assert detail in section[1]
    result.stdout.fnmatch_lines(["*CUTOVER DECISION: NO-GO (no step given; exit status 11;*"])
    decision = decision_json(folder)
    assert next(iter(decision)) == "schema_version"
    assert list(decision)[1] == "action_failure"
    assert decision["exit_status"] == 11
    assert decision["decision"] == "NO-GO"
    finished = audit(folder)[-1]
    assert (finished["event"], finished["result"]) == ("finished", "failed")
    assert detail in finished["helper_result"]["summary"]
    assert (folder / "weight.txt").read_text() == "0"  # traffic went back all the same


def test_secrets_from_the_config_never_reach_the_audit_or_the_decision(
    pytester: pytest.Pytester,
) -> None:
    extra = '\n[actions.rollback.env]\nAPI_TOKEN = "${ROLLBACK_TOKEN}"\n'
    folder = make_project(pytester.path, actions_toml(extra=extra))
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROLLBACK_TOKEN", "s3cret-token-value")
        result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == 1
    audit_text = (folder / "reports" / "audit.jsonl").read_text()
    assert "s3cret-token-value" not in audit_text
    assert "helper ran, token ***" in audit_text
    assert "s3cret-token-value" not in (folder / "reports" / "decision.json").read_text()


def test_dry_run_shows_what_would_happen_and_changes_nothing(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml())
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-dry-run")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*action: rollback 50% -> 0%: dry-run: would set command to 0% and run command *"]
    )
    assert not (folder / "rollbacks.log").exists()
    assert not (folder / "traffic.log").exists()
    assert (folder / "weight.txt").read_text() == "50"
    assert [r["event"] for r in audit(folder)] == ["decision", "dry-run"]


def test_inconclusive_holds_by_default(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml())
    pytester.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_fine(): pass
        def test_later(): pytest.skip("metrics backend down")
        """
    )
    result = pytester.runpytest_subprocess(
        "-m", "canary_gate", "--cutover-promote", "--cutover-step", "100"
    )
    assert result.ret == 10
    result.stdout.fnmatch_lines(["*action: hold: held: traffic stays at 50%: gate decision*"])
    assert not (folder / "rollbacks.log").exists()
    assert not (folder / "traffic.log").exists()
    assert audit(folder)[-1]["event"] == "hold"


def test_go_promotes_only_when_asked(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml(), weight="10")
    pytester.makepyfile(test_gate="import pytest\n@pytest.mark.canary_gate\ndef test_ok(): pass\n")
    plain = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert plain.ret == 0
    assert (folder / "weight.txt").read_text() == "10"
    promoted = pytester.runpytest_subprocess(
        "-m", "canary_gate", "--cutover-step", "50", "--cutover-promote"
    )
    assert promoted.ret == 0
    promoted.stdout.fnmatch_lines(["*action: shift 10% -> 50%: done*"])
    assert (folder / "weight.txt").read_text() == "50"
    again = pytester.runpytest_subprocess(
        "-m", "canary_gate", "--cutover-step", "50", "--cutover-promote"
    )
    assert again.ret == 0
    again.stdout.fnmatch_lines(["*action: shift 50% -> 50%: no-op: already at 50%*"])
    assert lines(folder / "traffic.log") == ["50"]


def test_a_vetoed_rollback_did_not_happen_and_says_so(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml())
    pytester.makeconftest(
        "def pytest_cutover_before_rollback(request, config):\n    return 'change freeze'\n"
    )
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == 11
    result.stdout.fnmatch_lines(["*ROLLBACK FAILED (vetoed): vetoed by a hook: change freeze*"])
    assert not (folder / "rollbacks.log").exists()
    assert (folder / "weight.txt").read_text() == "50"
    assert audit(folder)[-1]["event"] == "vetoed"


def test_a_second_overlapping_run_does_not_act(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml())
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    with action_lock(folder / "reports" / "cutover.lock", "rollback"):
        result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == ACTION_BUSY_EXIT  # not 11: the rollback is not failing, it is elsewhere
    result.stdout.fnmatch_lines(
        [f"*another run (pid {os.getpid()}, started at *, by *) is acting: rollback*"]
    )
    assert not (folder / "rollbacks.log").exists()
    # Its decision is its own file; decision.json stays the acting run's.
    assert not (folder / "reports" / "decision.json").exists()
    (own,) = (folder / "reports" / "decisions").glob("*.json")
    assert json.loads(own.read_text())["exit_status"] == ACTION_BUSY_EXIT
    refused = audit(folder)[-1]
    assert (refused["event"], refused["result"]) == ("refused", "busy")
    assert refused["holder"]["pid"] == os.getpid()


def test_promote_needs_a_step_and_a_driver(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, actions_toml())
    pytester.makepyfile(test_gate="import pytest\n@pytest.mark.canary_gate\ndef test_ok(): pass\n")
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-promote")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cutover-promote needs the step to promote to*"])
    help_text = pytester.runpytest_subprocess("--help")
    help_text.stdout.fnmatch_lines(["*--cutover-dry-run*", "*--cutover-promote*"])


def test_a_broken_hook_blocks_a_promotion_but_never_a_rollback(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml(), weight="10")
    pytester.makeconftest(
        "def pytest_cutover_before_traffic_change(change, config):\n"
        "    raise ConnectionError('chat webhook down')\n"
    )
    pytester.makepyfile(test_gate="import pytest\n@pytest.mark.canary_gate\ndef test_ok(): pass\n")
    promoted = pytester.runpytest_subprocess(
        "-m", "canary_gate", "--cutover-step", "50", "--cutover-promote"
    )
    assert promoted.ret == 12
    promoted.stdout.fnmatch_lines(["*SHIFT FAILED (vetoed): *chat webhook down*"])
    assert (folder / "weight.txt").read_text() == "10"
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    rolled_back = pytester.runpytest_subprocess("-m", "canary_gate")
    assert rolled_back.ret == 1
    assert (folder / "weight.txt").read_text() == "0"
    assert "chat webhook down" in decision_json(folder)["actions"][0]["notes"][0]


def test_a_team_can_replace_the_default_actions(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester.path, actions_toml())
    pytester.makeconftest(
        "def pytest_configure(config):\n"
        "    config.pluginmanager.unregister(name='cutover-actions')\n"
    )
    pytester.makepyfile(test_gate=NO_GO_TESTS)
    result = pytester.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == 1
    assert not (folder / "rollbacks.log").exists()
    assert (folder / "weight.txt").read_text() == "50"
