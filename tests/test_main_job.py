"""The README's main command, end to end: the suites against the embedded demo systems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def run_gate(
    tmp_path: Path, *args: str, faults: str = ""
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    env = {
        **os.environ,
        "CUTOVER_DEMO_FAULTS": faults,
        "CUTOVER_REPORTS": str(tmp_path),
        "CUTOVER_DEMO_DIR": str(tmp_path / "demo"),  # never the checkout's reports/demo
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "canary_gate", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    decision = json.loads((tmp_path / "decision.json").read_text())
    return result, decision


def test_main_job_is_go_on_the_healthy_demo(tmp_path: Path) -> None:
    result, decision = run_gate(tmp_path, "--cutover-step", "10")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "CUTOVER DECISION: GO (step 10%" in result.stdout
    assert decision["decision"] == "GO"
    assert decision["step"] == 10
    assert (tmp_path / "systems" / "legacy.main.log").exists()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_main_job_is_no_go_when_the_new_system_is_broken(
    tmp_path: Path, workers: list[str]
) -> None:
    result, decision = run_gate(tmp_path, *workers, faults="health_down,field_missing")
    assert result.returncode == 1, result.stdout[-3000:]
    assert decision["decision"] == "NO-GO"
    reasons = " ".join(decision["reasons"])  # type: ignore[arg-type]
    assert "/health answered 503 (expected 200)" in reasons
    assert "JSON key 'created_at' is missing" in reasons
    assert "body.created_at: real in " in reasons  # the A/B gate names the field too
    assert "test_smoke[legacy-health]" not in reasons
