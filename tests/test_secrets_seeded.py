"""Secrets never reach an output (issue 13, DESIGN rule 5): distinct secrets planted in every
place cutover.toml takes one and every place one is captured, a passing and two failing gate
runs with Allure and JUnit and failing actions, the `cutover` commands; then every file written
under the project and the temp folder, and everything printed, is searched for them.

The systems hand every secret back (tests/echo_server.py): they print their environment,
arguments and request headers to their logs, echo queries, cookies and keys in their answers
and in their errors, and a database is named after its password so the connection error shows
it. Real processes throughout: pytest and `cutover` as subprocesses, the systems started by the
plugin, PostgreSQL, locust.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from pytest_cutover.launcher import free_port
from tests.conftest import require_service
from tests.http_support import JsonHandler, serve

SERVER = Path(__file__).with_name("echo_server.py")
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Where each secret is planted: an environment variable cutover.toml reads, or a corpus value.
CONFIGURED = (
    "BASE_PW",  # systems.new.base_url user info
    "SYS_TOKEN",  # systems.new.headers Authorization
    "DB_PW",  # both database URLs' password; in the failing run also legacy's database name
    "QS_KEY",  # a smoke endpoint's path query (api_key=)
    "SMOKE_HDR",  # the same endpoint's X-Api-Key header
    "AB_SIDE_LEGACY",  # [ab.legacy] headers
    "AB_SIDE_NEW",  # [ab.new] headers
    "NOISE_PW",  # ab.noise_base_url user info
    "METRICS_QS",  # metrics scrape URL query, under a name that is not secret-looking (key=)
    "METRICS_TOKEN",  # [metrics.scrape] headers
    "PROM_TOKEN",  # [metrics.prometheus] headers
    "TRAFFIC_TOKEN",  # traffic http driver url and status_url query
    "ADMIN_TOKEN",  # traffic http driver headers (X-Admin-Key)
    "ROLLBACK_KEY",  # rollback http helper URL query, under a plain name (id=)
    "ENV_SECRET",  # systems.new.start.env, printed by the system at start
    "LICENSE",  # a start argument marked { value = ..., secret = true }, printed by legacy
)
CAPTURED = (
    "JSONL_QS",  # corpus.jsonl query api_key
    "JSONL_HDR",  # corpus.jsonl Authorization header
    "JSONL_COOKIE",  # corpus.jsonl Cookie: sessionid=
    "HAR_QS",  # corpus.har URL access_token=
    "HAR_HDR",  # corpus.har X-Api-Key header
    "HAR_COOKIE",  # corpus.har Cookie: csrftoken=
    "LOG_TOKEN",  # access.log request token=
)
INPUTS = ("corpus.jsonl", "corpus.har", "access.log")  # captured traffic: secrets by nature
# A team's own gate (DESIGN: an ordinary test marked canary_gate) that holds a configured secret
# under a plain name and, in the failing run, shows it in its exception and its assertion: the
# traceback has no secret name to go by, only the known value.
OWN_GATE = """
import os
from pathlib import Path

import pytest


@pytest.mark.canary_gate
def test_own_gate_calls_the_admin_api() -> None:
    value = os.environ["SYS_TOKEN"]
    if Path("FAIL").exists():
        raise RuntimeError(f"admin API refused {value}")
    assert value == os.environ["SYS_TOKEN"]


@pytest.mark.canary_gate
def test_own_gate_compares_the_token() -> None:
    value = os.environ["SYS_TOKEN"]
    expected = "rotated" if Path("FAIL").exists() else value
    assert value == expected
"""

CONFIG = """
[systems.legacy]
base_url = "http://127.0.0.1:{{port}}"
database = "postgresql+psycopg://postgres:${{DB_PW}}@127.0.0.1:5432/${{DB_NAME}}"

[systems.legacy.start]
command = ["{{python}}", "{server}", "--role", "legacy", "--port", "{{port}}",
           "--license", {{ value = "${{LICENSE}}", secret = true }}]
ready = "/ready"
timeout = "20s"

[systems.new]
base_url = "http://svc:${{BASE_PW}}@127.0.0.1:{{port}}"
database = "postgresql+psycopg://postgres:${{DB_PW}}@127.0.0.1:5432/test"
headers = {{ Authorization = "Bearer ${{SYS_TOKEN}}" }}

[systems.new.start]
command = ["{{python}}", "{server}", "--role", "new", "--port", "{{port}}"]
ready = "/ready"
timeout = "20s"
env = {{ SERVICE_CONFIG = "${{ENV_SECRET}}" }}

[smoke]
retry_deadline = "2s"

[[smoke.endpoints]]
path = "/api/item/1?api_key=${{QS_KEY}}&page=2"
headers = {{ X-Api-Key = "${{SMOKE_HDR}}" }}
json_keys = ["query.api_key"]

[ab]
corpus = "${{CORPUS}}"
rate = 500
noise = true
noise_base_url = "http://noise:${{NOISE_PW}}@127.0.0.1:{helper}"
ignore = ["body.side_token"]

[ab.legacy]
headers = {{ X-Side-Token = "${{AB_SIDE_LEGACY}}" }}

[ab.new]
headers = {{ X-Side-Token = "${{AB_SIDE_NEW}}" }}

[integrity]
statement_timeout = "10s"

[[integrity.tables]]
table = "{table}"
key = "id"

[load]
users = 2
spawn_rate = 2
duration = "2s"
abort_delay = "1s"
thresholds = ["error_rate < 100%"]

[metrics]
source = "scrape"
interval = "300ms"
rate_window = "300ms"
timeout = "2s"

[metrics.scrape]
urls = {{ new = "http://127.0.0.1:{helper}/metrics?key=${{METRICS_QS}}" }}
headers = {{ Authorization = "Bearer ${{METRICS_TOKEN}}" }}

[metrics.prometheus]
url = "http://127.0.0.1:{helper}"
headers = {{ Authorization = "Bearer ${{PROM_TOKEN}}" }}

[[metrics.rules]]
name = "database connections"
preset = "db_connections"
metric = "demo_db_in_use"
max_metric = "demo_db_max"
critical = "db_connections_usage < 95%"

[traffic]
driver = "http"

[traffic.http]
url = "http://127.0.0.1:{helper}/split?token=${{TRAFFIC_TOKEN}}&weight={{percent}}"
status_url = "http://127.0.0.1:{helper}/status?token=${{TRAFFIC_TOKEN}}"
headers = {{ X-Admin-Key = "${{ADMIN_TOKEN}}" }}
retries = 0
timeout = "3s"

[actions]
on_no_go = "rollback"
on_inconclusive = "rollback"

[actions.rollback.http]
url = "http://127.0.0.1:{helper}/rollback?id=${{ROLLBACK_KEY}}"

[actions.rollback]
retries = 0
timeout = "3s"
"""


@dataclass
class Project:
    folder: Path
    temp: Path
    secrets: dict[str, str]
    env: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def run(self, *argv: str, env: dict[str, str] | None = None) -> int:
        """Run a command in the project; everything it prints is kept for the search."""
        done = subprocess.run(
            argv, cwd=self.folder, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        self.printed += [done.stdout, done.stderr]
        return done.returncode

    def pytest(self, run: str, *options: str, env: dict[str, str] | None = None) -> int:
        """A gate run with Allure results (shared by the runs) and a JUnit file of its own."""
        return self.run(
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rA",
            "--cutover-step", "10", f"--alluredir={self.folder / 'allure'}",
            f"--junitxml={self.folder / run}.xml",
            *options, env=env,
        )  # fmt: skip

    def cutover(self, *arguments: str) -> int:
        return self.run(sys.executable, "-m", "pytest_cutover.cli", *arguments)


def planted() -> dict[str, str]:
    """Distinct, unguessable, and none a part of another."""
    return {name: f"s{index:02d}x{secrets.token_hex(10)}" for index, name in
            enumerate((*CONFIGURED, *CAPTURED))}  # fmt: skip


def write_corpora(folder: Path, found: dict[str, str]) -> None:
    jsonl = [
        {"path": "/api/item/7", "query": {"api_key": found["JSONL_QS"], "page": "2"},
         "headers": {"Authorization": f"Bearer {found['JSONL_HDR']}",
                     "Cookie": f"theme=dark; sessionid={found['JSONL_COOKIE']}"}},
        {"path": "/api/item/8", "headers": {"Accept": "application/json"}},
    ]  # fmt: skip
    (folder / "corpus.jsonl").write_text("".join(json.dumps(e) + "\n" for e in jsonl))
    har = {
        "log": {
            "entries": [
                {"request": {
                    "method": "GET",
                    "url": f"http://shop/api/item/9?access_token={found['HAR_QS']}&sort=asc",
                    "headers": [{"name": "X-Api-Key", "value": found["HAR_HDR"]},
                                {"name": "Cookie", "value": f"csrftoken={found['HAR_COOKIE']}"}],
                }}
            ]
        }
    }  # fmt: skip
    (folder / "corpus.har").write_text(json.dumps(har))
    (folder / "access.log").write_text(
        f'10.0.0.7 - - [10/Oct/2024:13:55:36 +0000] "GET /api/item/4?token={found["LOG_TOKEN"]}'
        '&page=1 HTTP/1.1" 200 123 "-" "curl/8.5"\n'
    )


def occurrences(haystack: str, found: dict[str, str]) -> dict[str, int]:
    return {name: haystack.count(value) for name, value in found.items() if value in haystack}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    try:
        writer = create_engine(POSTGRES)
        with writer.begin() as connection:
            table = f"cutover_seeded_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)"))
            connection.execute(text(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')"))
    except OperationalError:
        require_service("PostgreSQL on 127.0.0.1:5432")
    folder, temp = tmp_path / "project", tmp_path / "tmp"
    folder.mkdir()
    temp.mkdir()
    helper_port = free_port()
    found = planted()
    (folder / "cutover.toml").write_text(
        CONFIG.format(server=SERVER, helper=helper_port, table=table)
    )
    (folder / "pytest.ini").write_text("[pytest]\n")
    write_corpora(folder, found)
    (folder / "test_own_gate.py").write_text(OWN_GATE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CUTOVER_"))},
        **{name: found[name] for name in CONFIGURED},
        "DB_NAME": "test",
        "CORPUS": "corpus.jsonl",
        "TMPDIR": str(temp),
        "GITHUB_STEP_SUMMARY": str(temp / "step-summary.md"),
        "CI": "1",
    }
    helper = subprocess.Popen(
        [sys.executable, str(SERVER), "--role", "helper", "--port", str(helper_port)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{helper_port}/health")
        yield Project(folder, temp, found, env)
    finally:
        helper.kill()
        helper.wait()
        with writer.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        writer.dispose()


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_no_seeded_secret_reaches_any_output(project: Project) -> None:
    assert len(project.secrets) >= 10
    # GO on a healthy run (load left out: a partial run may pass, never promote).
    assert project.pytest("passing", "-m", "canary_gate and not load") == 0, project.printed[-2]
    decision = json.loads((project.folder / "reports" / "decision.json").read_text())
    assert decision["decision"] == "GO"
    # Everything fails: new answers wrong, its health is down, legacy's database is named after
    # its password, metrics and the admin API refuse; the rollback fails (exit 11).
    (project.folder / "FAIL").write_text("")
    failing = {"CORPUS": "corpus.har", "DB_NAME": project.secrets["DB_PW"]}
    assert project.pytest("failing", "-m", "canary_gate", env=failing) == 11, project.printed[-2]
    # The access log, with the A/B gate alone.
    access_log = {"CORPUS": "access.log"}
    assert project.pytest("access-log", "-m", "canary_gate and ab", env=access_log) == 11
    commands = (
        ["check"], ["check", "--json"], ["status"], ["status", "--json"],
        ["shift", "10", "--reason", "canary"], ["rollback", "--reason", "drill"],
    )  # fmt: skip
    assert [project.cutover(*command) for command in commands] == [0, 0, 0, 0, 12, 11]

    files = [
        path
        for root in (project.folder, project.temp)
        for path in root.rglob("*")
        if path.is_file() and path.name not in INPUTS
    ]
    # What a client derives from a secret is a secret too: new's `Authorization: Basic`.
    basic = base64.b64encode(f"svc:{project.secrets['BASE_PW']}".encode()).decode()
    searched = {**project.secrets, "BASE_PW as Basic credentials": basic}
    leaks = {
        str(path): found
        for path in files
        if (found := occurrences(path.read_bytes().decode("utf-8", "replace"), searched))
    }
    printed = occurrences("\n".join(project.printed), searched)
    total = sum(sum(found.values()) for found in [*leaks.values(), printed])
    print(
        f"seeded {len(searched)} secrets; searched {len(files)} files and "
        f"{sum(len(p) for p in project.printed)} characters printed: {total} occurrences"
    )
    assert (leaks, printed) == ({}, {})

    # The secrets did flow to those outputs, and were masked there, names kept.
    reports = project.folder / "reports"
    logs = "".join(p.read_text() for p in (reports / "systems").glob("*.log"))
    assert "SERVICE_CONFIG=***" in logs
    assert "'--license', '***'" in logs
    assert "'Authorization': '***'" in logs
    ab_report = (reports / "ab" / "report.json").read_text()
    assert "token=***" in ab_report  # the access log's request, by name
    assert '"host": "http://svc:***@127.0.0.1:' in (reports / "load/new/report.html").read_text()
    terminal = "\n".join(project.printed)
    assert "ROLLBACK FAILED" in terminal
    assert "/rollback?id=***" in terminal
    junit = (project.folder / "failing.xml").read_text()
    assert "database &quot;***&quot; does not exist" in junit
    assert "test_smoke[new-GET /api/item/1?api_key=***&amp;page=2]" in junit
    allure = "".join(p.read_text() for p in (project.folder / "allure").glob("*-result.json"))
    assert "/metrics?key=***" in allure
    # The own gate's traceback: the exception and the assertion, masked by value.
    assert "RuntimeError: admin API refused ***" in terminal
    assert "AssertionError: assert '***' == 'rotated'" in terminal
    assert "admin API refused ***" in junit


class Harmless(JsonHandler):
    """Answers with what looks like a secret and is not, next to one that is."""

    def do_GET(self) -> None:
        self.send_response(200)
        body = json.dumps(
            {
                "auth_method": "password",
                "has_password": True,
                "password_min_length": 12,
                "token_type": "bearer",
                "session_token": SESSION_TOKEN,
            }
        ).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


SESSION_TOKEN = "sess-4f9c2e7a1b8d6e3f"


def test_harmless_values_that_look_like_secrets_stay_visible(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flags, descriptions of a secret, host names and paths from the environment stay
    readable in the decision, the terminal and JUnit; the real secret beside them does not."""
    server, url = serve(Harmless)
    port = url.rsplit(":", 1)[1]
    monkeypatch.setenv("API_HOST", "localhost")
    monkeypatch.setenv("DB_HOST", "db-primary.internal")
    monkeypatch.setenv("TENANT", "acme-corp")
    pytester.makefile(
        ".toml",
        cutover=f"""
[systems.legacy]
base_url = "http://${{API_HOST}}:{port}"
database = "postgresql+psycopg://gate@${{DB_HOST}}:5432/shop"

[systems.new]
base_url = "http://${{API_HOST}}:{port}"

[smoke]
retry_deadline = "1s"

[[smoke.endpoints]]
path = "/api/${{TENANT}}/profile?page=2&token_type=bearer&expires_in=3600"
systems = ["new"]
""",
    )
    try:
        result = pytester.runpytest(
            "-m", "canary_gate and smoke", "-v", "-p", "no:cacheprovider",
            f"--junitxml={pytester.path / 'junit.xml'}",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.ret == 0, result.stdout.str()
    decision = (pytester.path / "reports" / "decision.json").read_text()
    shown = {
        "host": f"http://localhost:{port}",
        "database host": "gate@db-primary.internal:5432/shop",
        "path": "/api/acme-corp/profile?page=2&token_type=bearer&expires_in=3600",
        "CORS flag": '"access-control-allow-credentials": "true"',
        "described": '\\"auth_method\\": \\"password\\"',
        "flag": '\\"has_password\\": true',
        "length": '\\"password_min_length\\": 12',
    }
    assert {what: text for what, text in shown.items() if text not in decision} == {}
    assert SESSION_TOKEN not in decision
    assert '\\"session_token\\": \\"***\\"' in decision
    test_id = "test_smoke[new-GET /api/acme-corp/profile?page=2&token_type=bearer&expires_in=3600]"
    assert test_id in result.stdout.str()
    assert test_id.replace("&", "&amp;") in (pytester.path / "junit.xml").read_text()
