"""The decision as Markdown for pipelines and chat: reports/summary.md, and the job page of
GitHub Actions when $GITHUB_STEP_SUMMARY is set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_cutover import decision as decisions
from pytest_cutover.reports.console import render_summary

from .conftest import MINIMAL_CONFIG, OWN_GATES_ONLY


def test_summary_goes_to_reports_and_the_ci_job_page(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = tmp_path / "step-summary.md"
    page.write_text("earlier steps of the job\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG)
    pytester.makeini(OWN_GATES_ONLY)
    pytester.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        def test_ok(): pass
        def test_bad(): assert 0, "p95 = 900 ms | limit < 300 ms"
        """
    )
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 1
    summary = (pytester.path / "reports" / "summary.md").read_text()
    assert summary.startswith("## ❌ Cutover decision: **NO-GO** (step 50%)")
    assert "| custom | NO-GO | 1 | 1 | 0 | 0 | 0 | 0 |" in summary
    assert "p95 = 900 ms \\| limit &lt; 300 ms" in summary  # cannot break the table
    assert page.read_text() == "earlier steps of the job\n" + summary


def test_no_summary_without_a_gate_run(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG)
    pytester.makeini(OWN_GATES_ONLY)
    pytester.makepyfile(test_other="def test_unrelated(): pass")
    assert pytester.runpytest_subprocess().ret == 0
    assert not (pytester.path / "reports" / "summary.md").exists()


def test_actions_are_listed_in_the_summary(pytester: pytest.Pytester) -> None:
    traffic = """
[traffic]
driver = "command"
[traffic.command]
set = ["sh", "-c", "echo {percent} > weight"]
get = ["sh", "-c", "cat weight 2>/dev/null || echo 0"]
"""
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG + traffic)
    pytester.makeini(OWN_GATES_ONLY)
    pytester.makepyfile(
        test_gate="import pytest\npytestmark = pytest.mark.canary_gate\ndef test_ok(): pass\n"
    )
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50",
                                           "--cutover-promote")  # fmt: skip
    assert result.ret == 0
    summary = (pytester.path / "reports" / "summary.md").read_text()
    assert "**Actions**\n\n- shift 0% -> 50%: done" in summary
    assert (pytester.path / "weight").read_text().strip() == "50"


def test_the_terminal_table_reads_not_configured_and_fits_80_columns() -> None:
    status = decisions.TestStatus
    records = [
        decisions.TestRecord(f"t{i}", "integrity", found)
        for i, found in enumerate(
            (status.PASSED, status.FAILED, status.ERROR, status.INCONCLUSIVE, status.SKIPPED,
             status.NOT_CONFIGURED)
        )
    ]  # fmt: skip
    records.append(decisions.TestRecord("test_load[none]", "load", status.NOT_CONFIGURED))
    now = datetime.now(UTC)
    decision = decisions.decide(
        records, interrupted=False, step=10, started_at=now, finished_at=now, systems={},
        config_path=None,
    )  # fmt: skip
    text = render_summary(decision, colour=False, width=80, decision_file="decision.json")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == ["gate", "decision", "tests"]
    load = next(line for line in lines if line.startswith("load"))
    assert load.split() == ["load", "not", "configured"]
    table = " ".join(lines[1 : lines.index(load)])  # the integrity row, wrapped between words
    words = "1 passed, 1 failed, 1 error, 1 inconclusive, 1 skipped, 1 not configured"
    assert " ".join(table.split()) == "integrity NO-GO " + words
    assert lines[-1].startswith("CUTOVER DECISION: NO-GO (step 10%")
