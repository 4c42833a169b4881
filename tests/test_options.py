"""Every --cutover-* option has help, an environment variable and an ini key, with the same
precedence as the settings (option, environment, ini) and the source shown in the header."""

from __future__ import annotations

import re

import pytest

from pytest_cutover.settings import OPTIONS, RUN_OPTIONS

from .conftest import MINIMAL_CONFIG, OWN_GATES_ONLY

TRAFFIC = """
[traffic]
driver = "command"
[traffic.command]
set = ["sh", "-c", "echo {percent} > weight"]
get = ["sh", "-c", "cat weight 2>/dev/null || echo 0"]
"""
GATE = "import pytest\npytestmark = pytest.mark.canary_gate\ndef test_ok(): pass\n"


def test_help_names_the_environment_variable_and_ini_key_of_every_option(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest("--help")
    text = re.sub(r"\s+", " ", result.stdout.str())
    assert "pytest-cutover: go/no-go gates for a traffic step" in text
    for spec in (*OPTIONS, *RUN_OPTIONS):
        flag = f"--cutover-{spec.name.replace('_', '-')}"
        assert re.search(rf"{flag}\S* .*?\[env {spec.env}, ini {spec.ini}\]", text), flag
        assert f"{spec.ini} (string):" in text


@pytest.fixture
def traffic_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG + TRAFFIC)
    pytester.makepyfile(test_gate=GATE)
    return pytester


def weight(pytester: pytest.Pytester) -> str:
    path = pytester.path / "weight"
    return path.read_text().strip() if path.exists() else "unchanged"


def test_promote_from_the_environment(
    traffic_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic_project.makeini(OWN_GATES_ONLY)
    monkeypatch.setenv("CUTOVER_PROMOTE", "true")
    result = traffic_project.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["cutover: *; --cutover-promote (from CUTOVER_PROMOTE)"])
    assert weight(traffic_project) == "50"


def test_dry_run_from_the_ini_file(traffic_project: pytest.Pytester) -> None:
    traffic_project.makeini(OWN_GATES_ONLY + "cutover_promote = yes\ncutover_dry_run = on\n")
    result = traffic_project.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--cutover-dry-run (from ini cutover_dry_run)*"])
    assert weight(traffic_project) == "unchanged"


def test_the_environment_beats_the_ini_file_and_a_bad_value_names_its_source(
    traffic_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic_project.makeini(OWN_GATES_ONLY + "cutover_promote = yes\n")
    monkeypatch.setenv("CUTOVER_PROMOTE", "0")
    result = traffic_project.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 0
    assert weight(traffic_project) == "unchanged"
    monkeypatch.setenv("CUTOVER_PROMOTE", "maybe")
    result = traffic_project.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*CUTOVER_PROMOTE: expected one of 1, true, yes, on or 0*"])
    monkeypatch.setenv("CUTOVER_PROMOTE", "0")
    monkeypatch.setenv("CUTOVER_MONITOR", "soon")
    result = traffic_project.runpytest_subprocess("-m", "canary_gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*CUTOVER_MONITOR: *'soon'*"])


def test_workers_progress_is_shown_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG)
    pytester.makeini(OWN_GATES_ONLY)
    pytester.makepyfile(
        test_gate="""
        import pytest
        pytestmark = pytest.mark.canary_gate
        @pytest.mark.parametrize("table", ["orders", "users"])
        def test_long(cutover_progress, table):
            cutover_progress.update(f"hash {table}", 1, 4)
            cutover_progress.update(f"hash {table}", 2, 4)
            cutover_progress.finish(f"hash {table}", "4 rows")
        """
    )
    result = pytester.runpytest_subprocess("-m", "canary_gate", "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 0
    lines = result.stdout.lines
    for table in ("orders", "users"):
        for shown in (r"1 of 4 \(25%\)", r"done in \d+ s, 4 rows"):
            pattern = rf"\[gw[01]\] cutover hash {table}: {shown}"
            assert any(re.fullmatch(pattern, line) for line in lines), pattern
    assert not list((pytester.path / "reports" / ".runs").glob("*/progress"))  # cleaned up
