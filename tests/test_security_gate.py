"""The security gate against two real loopback services: one strict, one too open.

The strict one refuses without a token or with a bad one, forbids the viewer role the admin page,
grants CORS to its own app only, answers hostile input with a 4xx and sends security headers.
The open one does none of that: it answers everyone, grants CORS to any origin, leaks its
database error and /etc/passwd, and advertises its framework.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from pytest_cutover.config import ConfigError, CutoverConfig, load_config
from pytest_cutover.gates.base import RunContext, Setup
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.gates.security.gate import SecurityGate
from pytest_cutover.launcher import SystemPool, free_port
from tests.http_support import JsonHandler, serve

APP = "https://app.example.com"


class Strict(JsonHandler):
    def send(self, status: int, document: object, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Strict-Transport-Security": "max-age=31536000",
            "X-Content-Type-Options": "nosniff",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/api/admin":
            token = self.headers.get("Authorization")
            if token == "Bearer admin-token":
                self.send(200, {"users": 3})
            elif token == "Bearer viewer-token":
                self.send(403, {"error": "forbidden"})
            else:
                self.send(401, {"error": "sign in"})
        elif url.path == "/api/users" and all(
            value.isalnum() and len(value) < 100 for _, value in parse_qsl(url.query)
        ):
            self.send(200, {"items": [{"id": 1}]})
        elif url.path.startswith("/api/users/") and url.path.rsplit("/", 1)[1].isdigit():
            self.send(200, {"id": 1})
        elif url.path.startswith("/api/users"):
            self.send(400 if url.query else 404, {"error": "bad request"})
        else:
            self.send(404, {"error": "not found"})

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        granted = {"Access-Control-Allow-Origin": origin} if origin == APP else {}
        if granted:
            granted["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        self.send(204, {}, granted)


class Open(JsonHandler):
    def send(
        self, status: int, document: object | str, extra: dict[str, str] | None = None
    ) -> None:
        body = (document if isinstance(document, str) else json.dumps(document)).encode()
        self.send_response(status)
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "X-Powered-By": "Express",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        if "etc" in unquote(unquote(url.path)) + json.dumps(query):
            self.send(200, "root:x:0:0:root:/root:/bin/bash")
        elif "'" in unquote(url.path) + query.get("q", ""):
            self.send(500, 'sqlite3.OperationalError: near "\'": syntax error')
        else:
            self.send(200, {"users": 3, "items": [{"id": 1}]})

    def do_OPTIONS(self) -> None:
        self.send(
            204, {}, {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*"}
        )


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    started = {"strict": serve(Strict), "open": serve(Open)}
    yield {name: url for name, (_, url) in started.items()}
    for server, _ in started.values():
        assert isinstance(server, ThreadingHTTPServer)
        server.shutdown()
        server.server_close()


SECURITY = """
[security]
judge = "{judge}"
retry_deadline = "1s"

[[security.authentication]]
path = "/api/admin"

[[security.authorisation]]
path = "/api/admin"
role = "viewer"
headers = {{ Authorization = "Bearer viewer-token" }}

[[security.cors]]
path = "/api/users"
allowed_origins = ["https://app.example.com"]
request_headers = ["Authorization"]

[[security.injection]]
path = "/api/users"
params = ["q"]

[[security.headers]]
path = "/api/users"
required = {{ Strict-Transport-Security = "re:max-age=\\\\d+", X-Content-Type-Options = "nosniff" }}
absent = ["X-Powered-By"]
"""
CHECKS = [
    "authentication GET /api/admin",
    "authorisation viewer GET /api/admin",
    "cors OPTIONS /api/users",
    "injection GET /api/users",
    "headers GET /api/users",
]


def write_config(folder: Path, legacy: str, new: str, judge: str = "absolute") -> CutoverConfig:
    systems = f'[systems.legacy]\nbase_url = "{legacy}"\n[systems.new]\nbase_url = "{new}"\n'
    (folder / "cutover.toml").write_text(systems + SECURITY.format(judge=judge))
    return load_config(folder / "cutover.toml")


def run_gate(config: CutoverConfig, folder: Path) -> dict[str, GateResult]:
    pool = SystemPool(config, folder / "systems")
    assert config.security is not None
    with contextlib.ExitStack() as clients:
        context = RunContext(
            base_dir=folder,
            reports_dir=folder / "reports",
            step=None,
            redactor=config.redactor,
            system=pool.get,
            http=lambda name: clients.enter_context(pool.get(name).http_client()),
            database=lambda _name: pytest.fail("the security gate reads no database"),
        )
        gate = SecurityGate()
        systems = {name: config.system(name) for name in ("legacy", "new")}
        cases = gate.cases(config.security, Setup(folder, systems, redactor=config.redactor))
        return gate.run(config.security, context, cases)


def test_strict_legacy_and_strict_new_pass_every_check(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    results = run_gate(write_config(tmp_path, servers["strict"], servers["strict"]), tmp_path)
    assert list(results) == CHECKS
    assert {name: r.reasons for name, r in results.items() if not r.passed} == {}
    injection = results["injection GET /api/users"]
    assert injection.measurements["rules"] == 14  # 7 payloads, as a path segment and in ?q
    assert injection.evidence["legacy_open"] == []


def test_a_new_more_open_than_legacy_fails_every_check_saying_so(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    results = run_gate(write_config(tmp_path, servers["strict"], servers["open"]), tmp_path)
    assert {name: r.outcome for name, r in results.items()} == dict.fromkeys(CHECKS, Outcome.FAIL)
    assert results["authentication GET /api/admin"].reasons == (
        "new is more open than legacy: without a token, refused (401): new answered 200 "
        "(expected 401), legacy keeps it",
        "new is more open than legacy: with a bad token, refused (401): new answered 200 "
        "(expected 401), legacy keeps it",
    )
    assert results["authorisation viewer GET /api/admin"].reasons == (
        "new is more open than legacy: role viewer, forbidden (403): new answered 200 "
        "(expected 403), legacy keeps it",
    )
    cors = results["cors OPTIONS /api/users"].reasons
    assert cors == (
        "new is more open than legacy: foreign origin https://cutover-foreign-origin.example, "
        "gets no Access-Control-Allow-Origin: new answered access-control-allow-origin: *, "
        "legacy keeps it",
    )
    injection = results["injection GET /api/users"]
    shown = "\n".join(injection.reasons)
    assert (
        "sql \"' OR '1'='1\" in ?q, refused (a 4xx) without leaking data: new answered 500" in shown
    )
    assert "traversal '../../../../etc/passwd' as a path segment, refused (a 4xx) without " in shown
    assert "new answered 200 (expected a 4xx)" in shown
    assert injection.measurements["open_on_new"] == 14
    headers = results["headers GET /api/users"].reasons
    assert headers == (
        "new is more open than legacy: security headers, header strict-transport-security "
        "'re:max-age=\\\\d+': new missing, legacy keeps it",
        "new is more open than legacy: security headers, header x-content-type-options "
        "'nosniff': new missing, legacy keeps it",
        "new is more open than legacy: security headers, no header x-powered-by: new sent "
        "x-powered-by: Express, legacy keeps it",
    )


def test_an_open_legacy_is_reported_and_a_strict_new_passes(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    results = run_gate(write_config(tmp_path, servers["open"], servers["strict"]), tmp_path)
    assert all(r.passed for r in results.values())
    auth = results["authentication GET /api/admin"]
    assert auth.evidence["legacy_open"] == [
        "without a token, refused (401): legacy answered 200 (expected 401)",
        "with a bad token, refused (401): legacy answered 200 (expected 401)",
    ]
    assert results["injection GET /api/users"].measurements["open_on_legacy"] == 14


def test_both_open_fails_as_an_absolute_rule_and_passes_as_parity(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    absolute = run_gate(write_config(tmp_path, servers["open"], servers["open"]), tmp_path)
    assert all(r.outcome is Outcome.FAIL for r in absolute.values())
    assert absolute["authorisation viewer GET /api/admin"].reasons == (
        "role viewer, forbidden (403): new answered 200 (expected 403) "
        "(legacy is open too: answered 200 (expected 403))",
    )
    parity = run_gate(write_config(tmp_path, servers["open"], servers["open"], "parity"), tmp_path)
    assert all(r.passed for r in parity.values())
    assert parity["headers GET /api/users"].measurements["open_on_legacy"] == 3


def test_new_unreachable_is_a_failure_and_legacy_unreachable_only_loses_the_comparison(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    down = run_gate(write_config(tmp_path, servers["strict"], dead), tmp_path)
    assert all(r.outcome is Outcome.FAIL for r in down.values())
    assert (
        down["authentication GET /api/admin"]
        .reasons[0]
        .startswith(f"new: without a token, refused (401): cannot connect to {dead}/api/admin")
    )
    no_legacy = run_gate(write_config(tmp_path, dead, servers["strict"]), tmp_path)
    assert all(r.passed for r in no_legacy.values())
    parity = run_gate(write_config(tmp_path, dead, servers["open"], "parity"), tmp_path)
    assert parity["authentication GET /api/admin"].outcome is Outcome.INCONCLUSIVE


def test_the_role_token_never_reaches_the_evidence(tmp_path: Path, servers: dict[str, str]) -> None:
    config = write_config(tmp_path, servers["strict"], servers["open"])
    text = (
        (tmp_path / "cutover.toml")
        .read_text()
        .replace('"Bearer viewer-token"', '"Bearer ${VIEWER_TOKEN:-viewer-token}"')
    )
    (tmp_path / "cutover.toml").write_text(text)
    config = load_config(tmp_path / "cutover.toml")
    results = run_gate(config, tmp_path)
    assert "viewer-token" not in json.dumps([r.to_dict() for r in results.values()])


def test_the_suite_runs_each_check_as_a_security_test(
    pytester: pytest.Pytester, servers: dict[str, str]
) -> None:
    write_config(pytester.path, servers["strict"], servers["open"])
    result = pytester.runpytest_subprocess("-m", "security", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*test_security?authentication GET /api/admin? FAILED*",
            "*security*NO-GO*",
            "CUTOVER DECISION: NO-GO*",
        ]
    )
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.security: gate: authentication, authorisation*"])


def test_a_check_on_a_service_asks_that_service_on_both_systems(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    (tmp_path / "cutover.toml").write_text(
        f"""
[systems.legacy]
database = "sqlite:///legacy.db"
[systems.legacy.services.admin]
base_url = "{servers["strict"]}"
[systems.new]
base_url = "http://127.0.0.1:9"
[systems.new.services.admin]
base_url = "{servers["open"]}"

[[security.authentication]]
service = "admin"
path = "/api/admin"
"""
    )
    results = run_gate(load_config(tmp_path / "cutover.toml"), tmp_path)
    found = results["authentication admin GET /api/admin"]
    assert found.outcome is Outcome.FAIL
    assert found.reasons[0].startswith("new is more open than legacy: without a token")
    assert found.evidence["urls"] == {
        "legacy": f"{servers['strict']}/api/admin",
        "new": f"{servers['open']}/api/admin",
    }


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            '[[security.authentication]]\npath = "/pay"\nmethod = "POST"',
            "security.authentication[0].method = 'POST': POST may change data",
        ),
        (
            '[[security.injection]]\npath = "/x"\nsegment = false',
            "with segment = false, name the query parameters to probe",
        ),
        ('[[security.headers]]\npath = "/"', "give required headers, absent ones, or both"),
        ('[[security.cors]]\npath = "/"\nallowed_origins = []', "allowed_origins"),
        (
            '[[security.authorisation]]\npath = "/"\nservice = "admin"\nrole = "viewer"',
            "security.authorisation[0]: service = 'admin': systems.legacy has no such service",
        ),
    ],
)
def test_a_check_that_cannot_judge_anything_is_a_config_error(
    tmp_path: Path, check: str, message: str
) -> None:
    systems = '[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n[systems.new]\n'
    (tmp_path / "cutover.toml").write_text(systems + 'base_url = "http://127.0.0.1:9"\n' + check)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path / "cutover.toml")
