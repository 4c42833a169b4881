"""A team's repository as the plugin meets it: a cutover.toml, maybe gate tests of its own, and
the suites collected from the installed package (pytester, against real HTTP servers)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_cutover

from .http_support import JsonHandler, serve


class Healthy(JsonHandler):
    def do_GET(self) -> None:
        self.answer(200, {"status": "ok", "path": self.path})


@pytest.fixture
def project(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """A directory holding only cutover.toml, pointing at two healthy systems."""
    servers = [serve(Healthy) for _ in range(2)]
    pytester.makefile(
        ".toml",
        cutover=f"""
[systems.legacy]
base_url = "{servers[0][1]}"
[systems.new]
base_url = "{servers[1][1]}"
[[smoke.endpoints]]
path = "/api/orders"
json_keys = ["status"]
""",
    )
    yield pytester
    for server, _url in servers:
        server.shutdown()
        server.server_close()


def decision(pytester: pytest.Pytester) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((pytester.path / "reports/decision.json").read_text())
    return loaded


def test_a_directory_with_only_cutover_toml_runs_the_shipped_gates(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_subprocess("-m", "canary_gate", "-p", "no:cacheprovider", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_smoke.py::test_smoke?new-GET /api/orders? PASSED*"])
    assert decision(project)["decision"] == "GO"
    assert decision(project)["left_out"] == []
    assert not (project.path / "suites").exists()


def test_a_teams_own_gate_test_joins_the_decision(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_billing="""
        import pytest
        from pytest_cutover import GateResult, Outcome, RecordGate

        @pytest.mark.canary_gate
        def test_no_unbilled_orders(new_http, record_gate: RecordGate) -> None:
            unbilled = 3 if new_http.get("/api/orders").json()["status"] == "ok" else 0
            outcome = Outcome.PASS if unbilled == 0 else Outcome.FAIL
            reasons = (f"{unbilled} unbilled",)
            record_gate(GateResult("billing", "unbilled orders", outcome, reasons))
        """
    )
    result = project.runpytest_subprocess("-m", "canary_gate", "-p", "no:cacheprovider")
    assert result.ret == 1
    found = decision(project)
    assert found["decision"] == "NO-GO"
    assert found["reasons"] == [
        "custom: test_billing.py::test_no_unbilled_orders: failed: 3 unbilled"
    ]
    gates = found["gates"]
    assert gates["custom"]["decision"] == "NO-GO"
    assert gates["smoke"]["decision"] == "GO"


def test_paths_on_the_command_line_are_collected_alone(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_mine="""
        import pytest

        @pytest.mark.canary_gate
        def test_mine() -> None:
            pass
        """
    )
    result = project.runpytest_subprocess("-m", "canary_gate", "test_mine.py")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "option", ["--collect-only", "--co", "--setup-plan", "--fixtures", "--markers"]
)
def test_runs_that_run_no_test_never_decide_write_or_act(
    project: pytest.Pytester, option: str
) -> None:
    project.makeconftest(
        """
        def pytest_cutover_act(decision, config):
            raise AssertionError("acted")

        def pytest_cutover_decision(decision, config):
            raise AssertionError("decided")
        """
    )
    result = project.runpytest_subprocess("-m", "canary_gate", option, "-p", "no:cacheprovider")
    assert result.ret in (0, 5), result.stdout.str()
    if option in ("--collect-only", "--co"):
        result.stdout.fnmatch_lines(["*test_smoke*new-GET /api/orders*"])  # gates are listed
    assert not (project.path / "reports").exists()
    assert "CUTOVER DECISION" not in result.stdout.str()


def test_a_partial_run_names_what_it_left_out(project: pytest.Pytester) -> None:
    project.makefile(".jsonl", corpus='{"path": "/api/orders"}\n')
    config = project.path / "cutover.toml"
    config.write_text(config.read_text() + '\n[ab]\ncorpus = "corpus.jsonl"\n')
    result = project.runpytest_subprocess("-m", "smoke", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert decision(project)["left_out"] == ["ab"]
    assert decision(project)["partial"] is True
    result.stdout.fnmatch_lines(["*partial run: left out ab (no promotion)*"])


def test_cutover_toml_is_found_from_the_invocation_directory_upward(
    project: pytest.Pytester,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--alluredir DIR` with a space: pytest takes DIR for a path argument and picks its
    # rootdir from it, far from cutover.toml.
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "allure"
    monkeypatch.chdir(project.mkdir("deploy"))
    result = project.runpytest_subprocess(
        "-m", "smoke", "--alluredir", str(elsewhere), "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"cutover: config {project.path / 'cutover.toml'} (from found)*"])
    assert decision(project)["decision"] == "GO"


def test_the_public_api_is_importable_and_small() -> None:
    for name in pytest_cutover.__all__:
        assert getattr(pytest_cutover, name) is not None, name
    assert "canary_gate" in pytest_cutover.MARKERS
    assert set(pytest_cutover.GATE_NAMES) <= set(pytest_cutover.MARKERS)
    # No marker without a gate behind it.
    assert set(pytest_cutover.MARKERS) == {"canary_gate", *pytest_cutover.GATE_NAMES}


def test_the_shipped_suites_are_where_the_plugin_collects_them() -> None:
    suites_package = importlib.import_module("pytest_cutover.suites")  # mapped from suites/
    folder = Path(suites_package.__path__[0])
    suites = sorted(path.stem for path in folder.glob("test_*.py"))
    assert suites == sorted(f"test_{name}" for name in pytest_cutover.GATE_NAMES)


SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.mark.parametrize(
    ("broken", "verdict", "status"), [("new", "NO-GO", 1), ("legacy", "INCONCLUSIVE", 10)]
)
def test_a_system_that_cannot_start_is_judged_by_whose_it_is(
    pytester: pytest.Pytester, broken: str, verdict: str, status: int
) -> None:
    pytester.makepyfile(server=SERVER)
    starts = {
        name: "\"{python} -c 'raise SystemExit(3)'\""
        if name == broken
        else '"{python} server.py {port}"'
        for name in ("legacy", "new")
    }
    pytester.makefile(
        ".toml",
        cutover="\n".join(
            f'[systems.{name}]\nbase_url = "http://127.0.0.1:{{port}}"\n'
            f'start = {{ command = {command}, ready = "/", timeout = "20s" }}\n'
            for name, command in starts.items()
        ),
    )
    # A team's own gate asks for the system as a fixture argument: it learns before its test runs.
    pytester.makepyfile(
        test_own="""
        import pytest

        @pytest.mark.canary_gate
        def test_orders(new_http, legacy_http) -> None:
            assert new_http.get("/").status_code == 200
        """
    )
    result = pytester.runpytest_subprocess("-m", "canary_gate", "-p", "no:cacheprovider")
    assert result.ret == status, result.stdout.str()
    found = decision(pytester)
    assert found["decision"] == verdict
    statuses = {test["status"] for test in found["tests"]}
    assert statuses == {"failed" if broken == "new" else "inconclusive", "not_configured"}
    assert f"{broken}: start command exited with status 3" in " ".join(found["reasons"])
