"""The pipeline examples in docs/ci are tested the way they can be here: their YAML parses, they
gate 10, 50 and 100 in order with a person's approval between steps, and the command each step
runs is run here for real against the demo."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO
from .test_main_job import run_gate

DOCS = REPO / "docs" / "ci"


def gate_commands(document: Any) -> list[list[str]]:
    """Every `python -m pytest -m canary_gate ...` the pipeline runs, in file order."""
    found: list[list[str]] = []
    if isinstance(document, dict):
        for value in document.values():
            found += gate_commands(value)
    elif isinstance(document, list):
        for value in document:
            found += gate_commands(value)
    elif isinstance(document, str) and "-m canary_gate" in document:
        found.append(shlex.split(document))
    return found


def expected(step: int) -> list[str]:
    return [
        "python", "-m", "pytest", "-m", "canary_gate", "--cutover-step", str(step),
        "--cutover-promote", "--alluredir=reports/allure-results", "--junitxml=reports/junit.xml",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_each_step_is_gated_in_order_with_the_same_command(name: str) -> None:
    document = yaml.safe_load((DOCS / name).read_text())
    assert gate_commands(document) == [expected(10), expected(50), expected(100)]


def test_github_steps_wait_for_approval_and_the_previous_step() -> None:
    jobs = yaml.safe_load((DOCS / "github-actions.yml").read_text())["jobs"]
    assert [jobs[j].get("needs") for j in ("step-10", "step-50", "step-100")] == [
        None,
        "step-10",
        "step-50",
    ]
    assert {jobs[j]["environment"] for j in jobs} == {"cutover-10", "cutover-50", "cutover-100"}


def test_gitlab_steps_are_manual_and_stop_the_pipeline() -> None:
    document = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())
    assert document["stages"] == ["step-10", "step-50", "step-100"]
    assert "when" not in document["gate-10"]
    for job, before in (("gate-50", "gate-10"), ("gate-100", "gate-50")):
        assert document[job]["when"] == "manual"
        assert document[job]["allow_failure"] is False
        assert document[job]["needs"] == [before]
    assert document["default"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"


def test_the_step_command_runs_here_and_writes_what_the_pipeline_publishes(
    tmp_path: Path,
) -> None:
    arguments = expected(10)[5:]  # after "python -m pytest -m canary_gate"
    arguments = [a.replace("reports/", f"{tmp_path}/") for a in arguments]
    result, decision = run_gate(tmp_path, *arguments)
    assert result.returncode == 0, result.stdout[-2000:]
    assert decision["decision"] == "GO"
    suites = ElementTree.parse(tmp_path / "junit.xml").getroot()
    names = {case.get("name") for case in suites.iter("testcase")}
    assert "test_integrity[orders]" in names
    assert "test_ab[GET /api/users/{id}]" in names
    assert (tmp_path / "allure-results" / "environment.properties").exists()
