"""The decision a gate run ends with, checked through real pytest runs (pytester)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import MINIMAL_CONFIG, OWN_GATES_ONLY

COUNTING_CONFTEST = """
import json, os

def _count(name, decision):
    with open(os.path.join(os.path.dirname(__file__), "hooks.log"), "a") as log:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        log.write(json.dumps([name, decision.verdict.value, worker]) + "\\n")

def pytest_cutover_decision(decision, config):
    _count("decision", decision)

def pytest_cutover_go(decision, config):
    _count("go", decision)

def pytest_cutover_no_go(decision, config):
    _count("no_go", decision)

def pytest_cutover_inconclusive(decision, config):
    _count("inconclusive", decision)
"""


@pytest.fixture
def gate_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG)
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makeini(OWN_GATES_ONLY)
    return pytester


def decision_of(pytester: pytest.Pytester) -> dict[str, object]:
    path = pytester.path / "reports" / "decision.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def hook_calls(pytester: pytest.Pytester) -> list[list[str | None]]:
    log = pytester.path / "hooks.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_all_gate_tests_pass_is_go_with_exit_0(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        @pytest.mark.canary_gate
        @pytest.mark.smoke
        def test_ok(): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*CUTOVER DECISION: GO (step 50%; exit status 0;*"])
    decision = decision_of(gate_project)
    assert decision["decision"] == "GO"
    assert decision["step"] == 50
    assert decision["schema_version"] == 1
    assert decision["gates"] == {"smoke": {"decision": "GO", "counts": {"passed": 1}}}
    assert hook_calls(gate_project) == [["decision", "GO", None], ["go", "GO", None]]


def test_a_failing_gate_test_is_no_go_with_exit_1(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_ok(): pass
        def test_bad(): assert 1 == 2, "new answers 500"
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*new answers 500*", "*CUTOVER DECISION: NO-GO*"])
    decision = decision_of(gate_project)
    assert decision["decision"] == "NO-GO"
    assert any("new answers 500" in r for r in decision["reasons"])  # type: ignore[attr-defined]
    assert [c[0] for c in hook_calls(gate_project)] == ["decision", "no_go"]


def test_an_erroring_gate_test_is_inconclusive_with_its_own_exit_status(
    gate_project: pytest.Pytester,
) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        @pytest.fixture
        def broken():
            raise ConnectionError("database unreachable at db.internal:5432")
        @pytest.mark.canary_gate
        def test_ok(): pass
        @pytest.mark.canary_gate
        def test_needs_db(broken): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        ["*could not run*database unreachable*", "*CUTOVER DECISION: INCONCLUSIVE*exit status 10*"]
    )
    assert decision_of(gate_project)["decision"] == "INCONCLUSIVE"
    assert [c[0] for c in hook_calls(gate_project)] == ["decision", "inconclusive"]


def test_nothing_selected_is_inconclusive(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(test_other="def test_unrelated(): pass")
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["*no canary_gate test was selected*", "*INCONCLUSIVE*"])
    assert decision_of(gate_project)["decision"] == "INCONCLUSIVE"


def test_a_plain_skip_is_inconclusive_but_not_configured_is_not_counted(
    gate_project: pytest.Pytester,
) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_ok(): pass
        def test_db(legacy_db): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate", "-rs")
    assert result.ret == 0, "a gate whose database is not configured must not block GO"
    result.stdout.fnmatch_lines(["*not configured: systems.legacy.database is not set*"])
    gate_project.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_ok(): pass
        def test_later(): pytest.skip("flaky, look at it later")
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["*skipped: flaky, look at it later*"])


def test_only_not_configured_gates_prove_nothing(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        @pytest.mark.canary_gate
        def test_db(new_db): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["*no gate test ran*"])


def test_an_interrupted_run_is_never_go(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_ok(): pass
        def test_stop(): raise KeyboardInterrupt
        def test_never_ran(): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret != 0
    decision = decision_of(gate_project)
    assert decision["decision"] == "INCONCLUSIVE"
    assert decision["interrupted"] is True


@pytest.mark.parametrize("args", [(), ("-m", "not canary_gate")])
def test_a_run_without_gates_writes_no_decision(
    gate_project: pytest.Pytester, args: tuple[str, ...]
) -> None:
    gate_project.makepyfile(
        test_other="""
        import pytest
        def test_unrelated(): pass
        @pytest.mark.canary_gate
        def test_gate(): pass
    """
    )
    result = gate_project.runpytest(*args) if args else gate_project.runpytest("-k", "unrelated")
    assert result.ret == 0
    assert not (gate_project.path / "reports" / "decision.json").exists()
    assert hook_calls(gate_project) == []


@pytest.mark.parametrize(("fail", "verdict", "code"), [("", "GO", 0), ("1", "NO-GO", 1)])
def test_under_xdist_hooks_and_decision_happen_once_on_the_controller(
    gate_project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    fail: str,
    verdict: str,
    code: int,
) -> None:
    gate_project.makepyfile(
        test_gate="""
        import os, pytest
        pytestmark = [pytest.mark.canary_gate, pytest.mark.smoke]
        @pytest.mark.parametrize("n", range(8))
        def test_many(n):
            assert not (n == 5 and os.environ["GATE_FAILS"]), "check 5 failed"
    """
    )
    monkeypatch.setenv("GATE_FAILS", fail)
    result = gate_project.runpytest_subprocess("-n", "2", "-m", "canary_gate")
    assert result.ret == code
    result.stdout.fnmatch_lines(["*2 workers*", f"*CUTOVER DECISION: {verdict}*"])
    expected_hook = {"GO": "go", "NO-GO": "no_go"}[verdict]
    assert hook_calls(gate_project) == [["decision", verdict, None], [expected_hook, verdict, None]]
    assert decision_of(gate_project)["decision"] == verdict


def test_gate_results_travel_from_xdist_workers_to_the_decision(
    gate_project: pytest.Pytester,
) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        from pytest_cutover.gates.result import GateResult, Outcome
        pytestmark = [pytest.mark.canary_gate, pytest.mark.smoke]
        @pytest.mark.parametrize("n", range(4))
        def test_result(n, record_gate):
            outcome = Outcome.INCONCLUSIVE if n == 3 else Outcome.PASS
            record_gate(GateResult("smoke", f"check {n}", outcome, ("legacy down",),
                                   {"latency": 0.01}))
    """
    )
    result = gate_project.runpytest_subprocess("-n", "2", "-m", "canary_gate")
    assert result.ret == 10
    decision = decision_of(gate_project)
    statuses = sorted(t["status"] for t in decision["tests"])  # type: ignore[attr-defined]
    assert statuses == ["inconclusive", "passed", "passed", "passed"]
    recorded = [r for t in decision["tests"] for r in t["results"]]  # type: ignore[attr-defined]
    assert {r["name"] for r in recorded} == {"check 0", "check 1", "check 2", "check 3"}
    assert all(r["measurements"] == {"latency": 0.01} for r in recorded)


def test_marker_arguments_are_rejected(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_gate="""
        import pytest
        @pytest.mark.canary_gate("critical")
        def test_x(): pass
    """
    )
    result = gate_project.runpytest("-m", "canary_gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.canary_gate takes no arguments*"])


def test_markers_and_options_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.canary_gate: *", "@pytest.mark.integrity: *"])
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--cutover-config=PATH*", "*--cutover-step=PERCENT*", "*cutover_step (string)*"]
    )


def test_header_names_the_source_that_won(
    gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate_project.makeini("[pytest]\ncutover_step = 10\n")
    gate_project.makepyfile(test_x="def test_x(): pass")
    gate_project.runpytest().stdout.fnmatch_lines(["*step 10% (from ini cutover_step)*"])
    monkeypatch.setenv("CUTOVER_STEP", "50")
    gate_project.runpytest().stdout.fnmatch_lines(["*step 50% (from CUTOVER_STEP)*"])
    gate_project.runpytest("--cutover-step", "100").stdout.fnmatch_lines(
        ["*step 100% (from --cutover-step)*"]
    )


def test_secrets_never_reach_the_decision_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "hunter2-very-secret")
    pytester.makefile(
        ".toml",
        cutover=MINIMAL_CONFIG
        + """
database = "postgresql://app:${DB_PASSWORD}@127.0.0.1:9/shop"
headers = { Authorization = "Bearer tok-abcdef-123" }
""",
    )
    pytester.makepyfile(
        test_gate="""
        import pytest
        @pytest.mark.canary_gate
        def test_leaky():
            raise AssertionError("login failed for postgresql://app:hunter2-very-secret@db "
                                 "with Bearer tok-abcdef-123")
    """
    )
    result = pytester.runpytest("-m", "canary_gate")
    assert result.ret == 1
    text = (pytester.path / "reports" / "decision.json").read_text()
    assert "hunter2-very-secret" not in text
    assert "tok-abcdef-123" not in text
    systems = json.loads(text)["systems"]
    assert systems["new"]["database"] == "postgresql://app:***@127.0.0.1:9/shop"
    assert systems["new"]["headers"] == {"Authorization": "***"}
