"""The smoke gate against the real demo systems (uvicorn processes on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from pytest_cutover.config import ConfigError, CutoverConfig, load_config
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.gates.smoke import gate as smoke
from pytest_cutover.launcher import StartedSystem, free_port
from tests.conftest import MINIMAL_CONFIG
from tests.http_support import JsonHandler, serve

StartDemo = Callable[[str, str], StartedSystem]


def run_all(config: CutoverConfig, started: StartedSystem) -> dict[str, GateResult]:
    name = started.system.name
    system = config.system(name)
    checks = smoke.health_checks(name, system, config.redactor) + smoke.endpoint_checks(
        config.smoke, name, system, config.base_dir, config.redactor
    )
    with started.system.http_client() as client:
        return {c.label: smoke.run_check(client, c, 2.0, config.redactor) for c in checks}


@pytest.mark.parametrize("name", ["legacy", "new"])
def test_healthy_demo_passes_every_check(
    demo_config: CutoverConfig, demo_system: StartDemo, name: str
) -> None:
    results = run_all(demo_config, demo_system(name, ""))
    assert len(results) == 3 + len(demo_config.smoke.endpoints)
    assert {label: r.reasons for label, r in results.items() if not r.passed} == {}
    assert all(r.measurements["latency"] > 0 for r in results.values())


@pytest.mark.parametrize(
    ("faults", "label", "message"),
    [
        ("health_down", "health", "GET {url}/health answered 503 (expected 200)"),
        ("readiness_down", "readiness", "GET {url}/health/readiness answered 503 (expected 200)"),
        ("liveness_down", "liveness", "GET {url}/health/liveness answered 503 (expected 200)"),
        ("field_missing", "user detail", "{url}/api/users/1: JSON key 'created_at' is missing"),
        ("errors=100%", "order detail", "GET {url}/api/orders/42 answered 500 (expected 200)"),
        ("latency=1100ms", "list users", "GET {url}/api/users?limit=5 took 1"),
    ],
)
def test_each_fault_fails_the_right_check_with_a_message_naming_the_url(
    demo_config: CutoverConfig, demo_system: StartDemo, faults: str, label: str, message: str
) -> None:
    started = demo_system("new", faults)
    results = run_all(demo_config, started)
    failed = results[label]
    assert failed.outcome is Outcome.FAIL
    expected = message.format(url=started.system.base_url)
    assert any(reason.startswith(expected) for reason in failed.reasons), failed.reasons
    if faults == "latency=1100ms":
        assert "(limit 1000 ms)" in failed.reasons[0]
    assert results["health" if label != "health" else "liveness"].passed or faults in (
        "readiness_down",
        "liveness_down",
    )


def test_json_schema_violation_is_reported_with_its_location(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    started = demo_system("legacy", "")
    check = smoke.SmokeCheck(
        "new",
        "users",
        "/api/users?limit=2",
        "/api/users?limit=2",
        json_schema={
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"properties": {"id": {"type": "string"}}}}
            },
        },
    )
    with started.system.http_client() as client:
        result = smoke.run_check(client, check, 1.0, demo_config.redactor)
    assert result.outcome is Outcome.FAIL
    assert "JSON schema: at items/0/id: 1 is not of type 'string'" in result.reasons[0]


def test_refused_connection_is_retried_then_fails_naming_the_url(
    demo_config: CutoverConfig,
) -> None:
    port = free_port()
    check = smoke.health_checks("new", demo_config.system("new"), demo_config.redactor)[0]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        result = smoke.run_check(client, check, 0.5, demo_config.redactor)
    assert result.outcome is Outcome.FAIL
    assert result.reasons[0].startswith(f"cannot connect to http://127.0.0.1:{port}/health")
    assert result.evidence["attempts"] >= 2


def test_timeout_is_not_retried_and_says_so(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    started = demo_system("new", "latency=1100ms")
    check = smoke.SmokeCheck("new", "slow", "/api/users/1", "/api/users/1")
    with httpx.Client(base_url=started.system.base_url, timeout=0.3) as client:
        result = smoke.run_check(client, check, 5.0, demo_config.redactor)
    assert result.outcome is Outcome.FAIL
    assert result.reasons[0].startswith(
        f"timed out after 0.3 s: GET {started.system.base_url}/api/users/1"
    )
    assert result.evidence["attempts"] == 1


def test_an_unhealthy_legacy_is_inconclusive_not_no_go(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    started = demo_system("new", "health_down")
    check = smoke.SmokeCheck("legacy", "health", "/health", "/health")
    with started.system.http_client() as client:
        result = smoke.run_check(client, check, 1.0, demo_config.redactor)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "rolling back onto it would not help" in result.reasons[-1]


def test_protected_endpoint_token_never_reaches_the_evidence(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    results = run_all(demo_config, demo_system("legacy", ""))
    with_token = results["admin stats with a token"]
    assert with_token.passed
    assert with_token.evidence["request"]["headers"] == {"Authorization": "***"}
    assert "demo-token" not in str(with_token.to_dict())
    assert results["admin stats needs a token"].evidence["response"]["status"] == 401


class Headers(JsonHandler):
    """Answers with security headers and CORS as the server's `leaky` flag says, and keeps the
    bodies of the webhooks it was sent."""

    def headers_for(self) -> dict[str, str]:
        leaky = self.server.leaky  # type: ignore[attr-defined]
        headers = {"X-Powered-By": "Express"} if leaky else {}
        if not leaky:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        origin = self.headers.get("Origin")
        if origin == "https://app.example.com" or (leaky and origin):
            headers["Access-Control-Allow-Origin"] = "*" if leaky else origin
            headers["Access-Control-Allow-Methods"] = "GET, POST"
        return headers

    def reply(self, status: int, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        for name, value in {**self.headers_for(), "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.reply(200, {"ok": True})

    def do_OPTIONS(self) -> None:
        self.reply(204 if self.headers.get("Access-Control-Request-Method") else 405, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.posted.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.reply(202, {"accepted": True})


SMOKE_HEADERS = """
[systems.legacy]
base_url = "{url}"
[systems.new]
base_url = "{url}"

[[smoke.endpoints]]
name = "security headers"
path = "/api/users"
response_headers = {{ Strict-Transport-Security = "re:max-age=\\\\d+" }}
absent_headers = ["X-Powered-By"]

[[smoke.endpoints]]
name = "cors preflight"
method = "OPTIONS"
path = "/api/orders"
status = 204
headers = {{ Origin = "https://app.example.com", Access-Control-Request-Method = "POST" }}
response_headers = {{ access-control-allow-origin = "https://app.example.com" }}

[[smoke.endpoints]]
name = "payment webhook"
method = "POST"
safe = true
path = "/hooks/payment"
json = {{ event = "payment.succeeded", amount = 1999 }}
status = 202
"""


@pytest.fixture(params=[False, True], ids=["strict", "leaky"])
def header_server(request: pytest.FixtureRequest) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    server, url = serve(Headers)
    server.leaky, server.posted = request.param, []  # type: ignore[attr-defined]
    yield server, url
    server.shutdown()
    server.server_close()


def test_response_headers_cors_and_a_safe_post_are_judged(
    tmp_path: Path, header_server: tuple[ThreadingHTTPServer, str]
) -> None:
    server, url = header_server
    (tmp_path / "cutover.toml").write_text(SMOKE_HEADERS.format(url=url))
    config = load_config(tmp_path / "cutover.toml")
    checks = smoke.endpoint_checks(
        config.smoke, "new", config.system("new"), tmp_path, config.redactor
    )
    with httpx.Client(base_url=url) as client:
        results = {c.label: smoke.run_check(client, c, 1.0, config.redactor) for c in checks}
    assert server.posted == [{"event": "payment.succeeded", "amount": 1999}]  # type: ignore[attr-defined]
    assert results["payment webhook"].passed
    if not server.leaky:  # type: ignore[attr-defined]
        assert {label: r.reasons for label, r in results.items() if not r.passed} == {}
        return
    assert results["security headers"].reasons == (
        f"{url}/api/users: header strict-transport-security is missing "
        "(expected 're:max-age=\\\\d+')",
        f"{url}/api/users: header x-powered-by must be absent, got 'Express'",
    )
    assert results["cors preflight"].reasons == (
        f"{url}/api/orders: header access-control-allow-origin is '*' "
        "(expected 'https://app.example.com')",
    )


def test_a_post_without_safe_is_refused_saying_why(tmp_path: Path) -> None:
    config = SMOKE_HEADERS.format(url="http://127.0.0.1:9").replace("safe = true\n", "")
    (tmp_path / "cutover.toml").write_text(config)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "cutover.toml")
    assert (
        "smoke.endpoints[2].method = 'POST': POST may change data on the live system, and gate "
        "checks run on every gate run; add safe = true" in str(caught.value)
    )


def test_a_header_rule_that_is_not_a_regex_is_a_config_error(tmp_path: Path) -> None:
    config = MINIMAL_CONFIG + '[[smoke.endpoints]]\npath = "/"\nresponse_headers = { A = "re:(" }\n'
    (tmp_path / "cutover.toml").write_text(config)
    with pytest.raises(ConfigError, match=r"header 'a': 're:\(' is not a valid regex"):
        load_config(tmp_path / "cutover.toml")
