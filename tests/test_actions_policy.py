"""The step policy through real pytest runs: a warning holds, a critical failure rolls back (to
the last GO step if asked), several rollback helpers chosen by rule, each run once, with the
step and a hostile reason filled in safely. The traffic driver and the helpers are real scripts
that write down every call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytest_cutover.decision import HOLD_EXIT, ROLLBACK_FAILED_EXIT
from tests.actions_support import actions_toml, audit, decision_json, lines, make_project
from tests.test_cli import cutover

PYTHON = json.dumps(sys.executable)

# A team's own gate: passes, fails or passes with a warning, as the file "verdict.txt" says.
GATE = """
import pathlib
import pytest
from pytest_cutover import GateResult, Outcome

HERE = pathlib.Path(__file__).parent

@pytest.mark.canary_gate
def test_latency(record_gate):
    verdict = (HERE / "verdict.txt").read_text().strip()
    if verdict == "fail":
        reason = (HERE / "reason.txt").read_text() if (HERE / "reason.txt").exists() else "p95 3s"
        record_gate(GateResult("latency", "p95", Outcome.FAIL, (reason,)))
    warnings = ["p95 700ms > warning 500ms"] if verdict == "warn" else []
    record_gate(GateResult("latency", "p95", Outcome.PASS, evidence={"warnings": warnings}))
"""

# Rollback helpers that record their name and arguments: "quick" and "full" as in runbook 000.
HELPER = """
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "helpers.log"), "a") as log:
    log.write(json.dumps(sys.argv[1:] + [os.environ.get("CUTOVER_ROLLBACK_STEP")]) + "\\n")
sys.exit(3 if os.path.exists(os.path.join(here, "fail-" + sys.argv[1])) else 0)
"""


def project(folder: Path, actions: str, verdict: str = "pass", weight: str = "50") -> Path:
    """actions_toml's command driver, with `actions` replacing its [actions] section."""
    toml = actions_toml().split("[actions]")[0] + actions
    make_project(folder, toml, weight)
    (folder / "test_gate.py").write_text(GATE)
    (folder / "named_helper.py").write_text(HELPER)
    (folder / "verdict.txt").write_text(verdict)
    return folder


def gate(pytester: pytest.Pytester, step: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", step, *args)


def helpers(folder: Path) -> list[list[str]]:
    return [json.loads(line) for line in lines(folder / "helpers.log")]


HELD = f"""
[actions]
on_no_go = "rollback"

[actions.rollback]
command = [{PYTHON}, "named_helper.py", "quick"]
"""


def test_a_warning_holds_the_step_no_promotion_no_rollback(pytester: pytest.Pytester) -> None:
    folder = project(pytester.path, HELD, verdict="warn", weight="10")
    result = gate(pytester, "50", "--cutover-promote")
    assert result.ret == HOLD_EXIT
    assert not (folder / "traffic.log").exists()  # not promoted, not rolled back
    assert helpers(folder) == []
    assert (folder / "weight.txt").read_text() == "10"
    decision = decision_json(folder)
    assert (decision["decision"], decision["outcome"]) == ("GO", "HOLD")
    assert decision["warnings"] == ["latency: p95: p95 700ms > warning 500ms"]
    assert decision["actions"][0]["status"] == "held"
    assert [r["event"] for r in audit(folder)] == ["decision", "hold"]
    result.stdout.fnmatch_lines(
        ["*held on a warning: latency: p95: p95 700ms*", "*GO (step 50%; exit status 14;*"]
    )


def test_on_warning_promote_promotes_a_go_with_warnings(pytester: pytest.Pytester) -> None:
    actions = HELD.replace('on_no_go = "rollback"', 'on_warning = "promote"')
    folder = project(pytester.path, actions, verdict="warn", weight="10")
    result = gate(pytester, "50", "--cutover-promote")
    assert result.ret == 0
    assert lines(folder / "traffic.log") == ["50"]
    assert decision_json(folder)["outcome"] == "PROMOTE"


def test_a_critical_failure_rolls_back_to_the_last_go_step(pytester: pytest.Pytester) -> None:
    """Runbook 004: from 100% back to 50%, then from 50% back to 10%, then to 0%."""
    actions = HELD.replace(
        'on_no_go = "rollback"', 'on_no_go = "rollback"\nrollback_to = "last_go"'
    )
    folder = project(pytester.path, actions, weight="0")
    for step in ("10", "50", "100"):
        assert gate(pytester, step, "--cutover-promote").ret == 0
    assert (folder / "weight.txt").read_text() == "100"
    (folder / "verdict.txt").write_text("fail")
    assert gate(pytester, "100").ret == 1
    assert (folder / "weight.txt").read_text() == "50"
    assert gate(pytester, "50").ret == 1
    assert (folder / "weight.txt").read_text() == "10"
    assert gate(pytester, "10").ret == 1
    assert lines(folder / "traffic.log") == ["10", "50", "100", "50", "10", "0"]
    # Each rollback ran the helper once, told where traffic went and from which step.
    assert helpers(folder) == [["quick", "100"], ["quick", "50"], ["quick", "10"]]
    finished = [r for r in audit(folder) if r["event"] == "finished" and r["action"] == "rollback"]
    assert [(r["step"], r["to"]) for r in finished] == [(100, 50), (50, 10), (10, 0)]


TWO_HELPERS = f"""
[actions]
on_no_go = "rollback"
on_inconclusive = "rollback"
helpers = "{{order}}"

[[actions.rollback]]
name = "quick"
command = [{PYTHON}, "named_helper.py", "quick", "{{step}}", "{{percent}}"]
on = ["NO-GO"]
gates = ["latency"]
retries = 0

[[actions.rollback]]
name = "full"
command = [{PYTHON}, "named_helper.py", "full", "{{step}}"]
timeout = "5m"
retries = 0
"""


@pytest.mark.parametrize(
    ("order", "failing", "ran", "exit_status"),
    [
        ("first_success", None, ["quick"], 1),
        ("first_success", "quick", ["quick", "full"], 1),
        ("first_success", "both", ["quick", "full"], ROLLBACK_FAILED_EXIT),
        ("all", None, ["quick", "full"], 1),
        ("all", "full", ["quick", "full"], ROLLBACK_FAILED_EXIT),
    ],
)
def test_helpers_are_tried_in_order_each_exactly_once(
    pytester: pytest.Pytester, order: str, failing: str | None, ran: list[str], exit_status: int
) -> None:
    folder = project(pytester.path, TWO_HELPERS.replace("{order}", order), verdict="fail")
    for name in ("quick", "full") if failing == "both" else [failing] if failing else []:
        (folder / f"fail-{name}").write_text("")
    result = gate(pytester, "50")
    assert result.ret == exit_status
    assert [call[0] for call in helpers(folder)] == ran
    assert helpers(folder)[0][:3] == ["quick", "50", "0"]
    records = [(r["event"], r.get("helper")) for r in audit(folder) if r.get("action") == "helper"]
    assert records == [(event, name) for name in ran for event in ("started", "finished")]
    assert [h["name"] for h in decision_json(folder)["actions"][0]["helpers"]] == ran


def test_a_helper_serves_only_its_triggers(pytester: pytest.Pytester) -> None:
    """INCONCLUSIVE is not one of quick's triggers: only full runs."""
    folder = project(pytester.path, TWO_HELPERS.replace("{order}", "all"), verdict="fail")
    (folder / "test_gate.py").write_text(
        "import pytest\n@pytest.mark.canary_gate\ndef test_x():\n    pytest.skip('no data')\n"
    )
    assert gate(pytester, "50").ret == 10
    assert [call[0] for call in helpers(folder)] == ["full"]


def test_the_reason_reaches_a_shell_helper_quoted_and_redacted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions = """
[actions]
on_no_go = "rollback"

[actions.rollback]
command = ["sh", "-c", "printf '%s' {reason} > reason.out", "--", "-x"]
env = { API_TOKEN = "${HELPER_TOKEN}" }
"""
    monkeypatch.setenv("HELPER_TOKEN", "tok-3f9a7c21")
    folder = project(pytester.path, actions, verdict="fail")
    hostile = "p95 3s $(touch pwned); `touch pwned2` 'quote\" tok-3f9a7c21\nsecond line"
    (folder / "reason.txt").write_text(hostile)
    assert gate(pytester, "50").ret == 1
    assert not (folder / "pwned").exists()
    assert not (folder / "pwned2").exists()
    said = (folder / "reason.out").read_text()
    assert said.startswith("gate decision NO-GO at step 50%: custom: test_gate.py::test_latency")
    assert "$(touch pwned); `touch pwned2` 'quote\" *** second line" in said
    assert "tok-3f9a7c21" not in said


@pytest.mark.parametrize("written", ["[actions.rollback]", "[[actions.rollback]]"])
def test_a_single_helper_keeps_its_secret_env_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    actions = f"""
[actions]
on_no_go = "rollback"

{written}
command = [{PYTHON}, "helper.py", "ok"]
env = {{ NOTE = "${{LICENCE_VALUE}}" }}
"""
    monkeypatch.setenv("LICENCE_VALUE", "s3cret-token-value")
    folder = project(pytester.path, actions, verdict="fail")
    assert gate(pytester, "50").ret == 1
    assert "helper ran, token ***" in (folder / "reports" / "audit.jsonl").read_text()


def test_cutover_run_stops_at_a_held_step(tmp_path: Path) -> None:
    folder = project(tmp_path, HELD, verdict="warn", weight="0")
    result = cutover("run", "--steps", "10,50", cwd=folder)
    assert result.returncode == HOLD_EXIT, result.stdout + result.stderr
    assert "step 10%: held on a warning; stopping (exit status 14)" in result.stdout
    assert not (folder / "traffic.log").exists()
