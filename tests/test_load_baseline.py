"""A stored baseline of legacy's load figures (issue 14): captured once from a real legacy app
process with a real locust run, then judged against after legacy is gone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.load.baseline import FORMAT, main
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import LoadSetupError, capture_baseline, run_load
from pytest_cutover.gates.load.profile import LoadPlan
from pytest_cutover.gates.result import Outcome
from pytest_cutover.gates.smoke.config import SmokeEndpoint
from pytest_cutover.redact import Redactor

from .load_support import RELATIVE, FaultServer


def plan(**load: object) -> LoadPlan:
    settings = {"users": 8, "rate": 80, "duration": 4, "thresholds": RELATIVE, **load}
    return LoadPlan(LoadConfig.model_validate(settings), AbConfig(), (SmokeEndpoint(path="/ping"),))


def test_legacy_s_stored_figures_judge_new_after_legacy_is_gone(tmp_path: Path) -> None:
    stored = tmp_path / "legacy-baseline.json"
    legacy = FaultServer("legacy", tmp_path)
    try:
        captured = capture_baseline(plan(), tmp_path, Redactor(), legacy.system, tmp_path, stored)
    finally:
        legacy.close()
    document = json.loads(stored.read_text())
    assert document["format"] == FORMAT
    assert document["endpoints"]["GET /ping"]["requests"] > 0
    assert captured.stats[""].requests == document["endpoints"][""]["requests"]

    slow = FaultServer("new", tmp_path, slow_every=5)
    try:
        overall = run_load(
            plan(baseline=stored.name), tmp_path, Redactor(), slow.system, None, None, tmp_path
        )[0]
    finally:
        slow.close()
    # Legacy is gone, yet legacy.* has data: the stored figures, said so in the evidence.
    assert overall.evidence["systems_loaded"] == ["new"]
    assert overall.evidence["legacy_from_baseline"]["captured_at"] == document["captured_at"]
    assert overall.measurements["legacy.requests"] == document["endpoints"][""]["requests"]
    assert overall.outcome is not Outcome.PASS, overall.reasons
    latency = next(row for row in overall.evidence["thresholds"] if row["threshold"] == RELATIVE[0])
    assert f"legacy from the baseline {stored.name} captured " in latency["confidence"]
    if overall.outcome is Outcome.FAIL:
        assert overall.reasons[0].startswith("p95 = "), overall.reasons


def test_a_missing_or_foreign_baseline_file_is_a_clear_setup_error(tmp_path: Path) -> None:
    new = FaultServer("new", tmp_path)
    try:
        with pytest.raises(LoadSetupError, match=r"nowhere\.json: no such baseline file"):
            run_load(plan(baseline="nowhere.json"), tmp_path, Redactor(), new.system, None, None,
                     tmp_path)  # fmt: skip
        (tmp_path / "other.json").write_text('{"format": "something else"}')
        with pytest.raises(LoadSetupError, match=r"other\.json: not a 'pytest-cutover load"):
            run_load(plan(baseline="other.json"), tmp_path, Redactor(), new.system, None, None,
                     tmp_path)  # fmt: skip
    finally:
        new.close()


def test_the_capture_command_names_a_config_without_a_load_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cutover.toml"
    config.write_text('[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n'
                      '[systems.new]\nbase_url = "http://127.0.0.1:9"\n')  # fmt: skip
    assert main(["--config", str(config), str(tmp_path / "b.json")]) == 2
    assert "no [load] section to capture" in capsys.readouterr().err


def cutover(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_cutover.cli", *args],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cutover_baseline_stores_the_file_a_later_gate_judges_against(tmp_path: Path) -> None:
    legacy = FaultServer("legacy", tmp_path)
    (tmp_path / "cutover.toml").write_text(
        f'[systems.legacy]\nbase_url = "{legacy.system.base_url}"\n'
        '[systems.new]\nbase_url = "http://127.0.0.1:9"\n'
        '[[smoke.endpoints]]\npath = "/ping"\n'
        '[load]\nprofile = "smoke"\nusers = 8\nrate = 80\nduration = "4s"\n'
        f'baseline = "baseline/legacy.json"\nthresholds = {json.dumps(RELATIVE)}\n'
    )
    try:
        done = cutover(tmp_path, "baseline", "--config", "cutover.toml", "baseline/legacy.json")
    finally:
        legacy.close()
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "baseline" / "legacy.json").read_text())
    requests = document["endpoints"][""]["requests"]
    assert f"stored legacy's baseline in baseline/legacy.json: {requests:,} requests" in done.stdout

    new = FaultServer("new", tmp_path)
    try:
        overall = run_load(plan(baseline="baseline/legacy.json"), tmp_path, Redactor(), new.system,
                           None, None, tmp_path)[0]  # fmt: skip
    finally:
        new.close()
    assert overall.evidence["systems_loaded"] == ["new"]
    assert overall.evidence["legacy_from_baseline"]["captured_at"] == document["captured_at"]
    assert overall.measurements["legacy.requests"] == requests


def test_cutover_baseline_without_a_load_section_or_a_legacy_says_why(tmp_path: Path) -> None:
    config = tmp_path / "cutover.toml"
    config.write_text('[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n'
                      '[systems.new]\nbase_url = "http://127.0.0.1:9"\n')  # fmt: skip
    done = cutover(tmp_path, "baseline", "b.json")
    assert done.returncode == 2
    assert "no [load] section to capture" in done.stderr
    with config.open("a") as more:
        more.write('[[smoke.endpoints]]\npath = "/ping"\n[load]\nprofile = "smoke"\n'
                   'duration = "1s"\nthresholds = ["p95 < 1s"]\n')  # fmt: skip
    done = cutover(tmp_path, "baseline", "b.json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no baseline stored" in done.stderr
    assert not (tmp_path / "b.json").exists()
