"""Database engines given to gates refuse writes, on every kind of database the tool reads."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from pytest_cutover.config import ConfigError, SystemConfig, load_config
from pytest_cutover.systems import System, read_only_engine
from tests.conftest import require_service
from tests.http_support import JsonHandler, serve

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}


@pytest.fixture(params=sorted(SERVERS))
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = SERVERS[request.param]
    writer = create_engine(url)
    try:
        with writer.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS cutover_ro_probe"))
            conn.execute(text("CREATE TABLE cutover_ro_probe (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO cutover_ro_probe VALUES (1)"))
    except OperationalError as err:
        writer.dispose()
        require_service(f"{request.param} at {url.split('@')[1]} is not reachable: {err.orig}")
    yield url
    with writer.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS cutover_ro_probe"))
    writer.dispose()


def test_server_engine_reads_but_refuses_writes(server_url: str) -> None:
    engine = read_only_engine(server_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM cutover_ro_probe")).scalar() == 1
        with engine.connect() as conn, pytest.raises(SQLAlchemyError, match=r"(?i)read.only"):
            conn.execute(text("INSERT INTO cutover_ro_probe VALUES (2)"))
    finally:
        engine.dispose()


def test_sqlite_engine_opens_the_file_read_only_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "shop.db") as db:
        db.execute("CREATE TABLE t (id INTEGER)")
        db.execute("INSERT INTO t VALUES (1)")
    db.close()
    config = SystemConfig(base_url="http://127.0.0.1:9", database="sqlite:///data/shop.db")
    engine = System("legacy", config, "http://127.0.0.1:9", tmp_path).read_only_engine()
    assert engine is not None
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar() == 1
        with engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        engine.dispose()
    assert not (tmp_path / "shop.db").exists(), "a read-only open must not create a new file"


class Service(JsonHandler):
    """A service of a system: answers /health (503 when the server says so) and /api/*, and
    remembers every path it was asked."""

    def do_GET(self) -> None:
        server: ServiceServer = self.server  # type: ignore[assignment]
        server.asked.append(self.path)
        if self.path == "/health":
            self.answer(server.health_status, {"status": "ok"})
        elif self.path.startswith("/api/"):
            self.answer(200, {"service": server.label, "path": self.path})
        else:
            self.answer(404, {"error": "no such page"})


class ServiceServer(ThreadingHTTPServer):
    label = ""
    health_status = 200
    asked: list[str]


@pytest.fixture
def services() -> Iterator[Callable[[str, int], tuple[ServiceServer, str]]]:
    """Start a named service (with its health status) on a free loopback port."""
    started: list[ServiceServer] = []

    def start(label: str, health_status: int = 200) -> tuple[ServiceServer, str]:
        server, url = serve(Service)
        assert isinstance(server, ThreadingHTTPServer)
        server.label, server.health_status, server.asked = label, health_status, []  # type: ignore[attr-defined]
        started.append(server)  # type: ignore[arg-type]
        return server, url  # type: ignore[return-value]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]


def services_project(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    """Each system: no base_url, an `auth` service with /health (run by the test) and a `web`
    service without health endpoints (started by the plugin). `auth`, because a message
    naming it must not read as a credential to the redactor."""
    systems = "".join(
        f"""
[systems.{name}]
database = "sqlite:///{name}.db"
[systems.{name}.services.auth]
base_url = "{urls[name]}"
health = {{ health = "/health" }}
[systems.{name}.services.web]
base_url = "http://127.0.0.1:{{port}}"
start = {{ command = {json.dumps(HTTP_SERVER)} }}
"""
        for name in ("legacy", "new")
    )
    pytester.makefile(
        ".toml",
        cutover=systems
        + """
[[smoke.endpoints]]
name = "orders"
service = "auth"
path = "/api/orders"
json_keys = ["service"]

[[smoke.endpoints]]
name = "home page"
service = "web"
path = "/"
content_type = "text/html"
""",
    )


def test_each_service_is_probed_on_its_own_url_and_only_where_it_declares_health(
    pytester: pytest.Pytester, services: Callable[[str, int], tuple[ServiceServer, str]]
) -> None:
    legacy_api, legacy_url = services("legacy-api", 200)
    new_api, new_url = services("new-api", 200)
    services_project(pytester, {"legacy": legacy_url, "new": new_url})
    result = pytester.runpytest_subprocess("-m", "smoke", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*test_smoke?legacy-auth health? PASSED*",
            "*test_smoke?new-auth health? PASSED*",
            "*test_smoke?new-orders? PASSED*",
            "*test_smoke?new-home page? PASSED*",
            "CUTOVER DECISION: GO*",
        ]
    )
    # No probe the services never declared (the web service has no health endpoint at all).
    assert sorted(legacy_api.asked) == sorted(new_api.asked) == ["/api/orders", "/health"]
    assert "web health" not in result.stdout.str()
    assert list(pytester.path.glob("reports/systems/*.web.main.log")), "web was not started"


def test_a_service_whose_health_fails_is_no_go_naming_its_url(
    pytester: pytest.Pytester, services: Callable[[str, int], tuple[ServiceServer, str]]
) -> None:
    _, legacy_url = services("legacy-api", 200)
    _, new_url = services("new-api", 503)
    services_project(pytester, {"legacy": legacy_url, "new": new_url})
    result = pytester.runpytest_subprocess("-m", "smoke", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*new/auth: health (GET /health): GET {new_url}/health answered 503 (expected 200)*",
            "CUTOVER DECISION: NO-GO*",
        ]
    )


def test_a_database_only_system_gets_no_http_gate(pytester: pytest.Pytester) -> None:
    """No base_url: smoke, A/B, load and security have nothing to ask and say so; nothing
    waits on a placeholder URL."""
    pytester.makefile(
        ".toml",
        cutover="""
[systems.legacy]
database = "sqlite:///legacy.db"
[systems.new]
database = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

[[smoke.endpoints]]
path = "/api/orders"

[ab]
corpus = "corpus.jsonl"

[load]
thresholds = ["p95 < 200ms"]

[[security.authentication]]
path = "/api/admin"
""",
    )
    pytester.makefile(".jsonl", corpus='{"method": "GET", "path": "/api/orders/1"}')
    result = pytester.runpytest_subprocess(
        "-m", "smoke or ab or load or security", "-rs", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines_random(
        [
            "*not configured: nothing to check: no health paths declared*",
            "*not configured: systems.legacy and systems.new have no base_url*no ab requests*",
            "*not configured: systems.legacy and systems.new have no base_url*no load requests*",
            "*not configured: no [[]security[]] checks, or none that new can be asked*",
        ]
    )


@pytest.mark.parametrize(
    ("systems", "endpoint", "message"),
    [
        (
            '[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n'
            '[systems.new.services.api]\nbase_url = "http://127.0.0.1:9"\n',
            'path = "/x"\n',
            "smoke.endpoints[0]: no service given, and systems.new has no base_url "
            "(its services: api)",
        ),
        (
            '[systems.legacy.services.api]\nbase_url = "http://127.0.0.1:9"\n'
            '[systems.new.services.api]\nbase_url = "http://127.0.0.1:9"\n',
            'path = "/x"\nservice = "auth"\n',
            "smoke.endpoints[0]: service = 'auth': systems.legacy has no such service "
            "(its services: api)",
        ),
    ],
)
def test_a_check_on_a_service_a_system_lacks_is_a_config_error(
    tmp_path: Path, systems: str, endpoint: str, message: str
) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(systems + "[[smoke.endpoints]]\n" + endpoint)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("system", "message"),
    [
        (
            'start = { command = ["./serve"] }',
            "systems.new = {...}: [start] needs a base_url",
        ),
        ('health = { health = "/health" }', "health paths need a base_url"),
        ('health = { readiness = "ready" }', "expected a path that starts with '/'"),
        (
            '[systems.new.services."a b"]\nbase_url = "http://127.0.0.1:9"',
            "service name 'a b': expected letters, digits",
        ),
    ],
)
def test_system_shapes_that_cannot_work_are_refused(
    tmp_path: Path, system: str, message: str
) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(f'[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n[systems.new]\n{system}\n')
    with pytest.raises(ConfigError, match=re.escape(message.split(" = {...}: ")[-1])):
        load_config(path)


def test_readiness_false_switches_a_probe_off_and_the_rest_stay(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(
        "[systems.legacy]\n"
        'base_url = "http://127.0.0.1:9"\n'
        'health = { health = "/healthz", readiness = false }\n'
        "[systems.new]\n"
        'base_url = "http://127.0.0.1:9"\n'
    )
    config = load_config(path)
    assert config.system("legacy").health.declared() == {"health": "/healthz"}
    assert config.system("new").health.declared() == {}


def test_metrics_scraped_from_a_database_only_system_say_what_to_give(
    pytester: pytest.Pytester,
) -> None:
    """Scraping needs a URL: a system without base_url is INCONCLUSIVE naming the ways out,
    never a request to "/metrics" alone."""
    pytester.makefile(
        ".toml",
        cutover="""
[systems.legacy]
database = "sqlite:///legacy.db"
[systems.new]
database = "sqlite:///new.db"

[metrics]
source = "scrape"

[[metrics.rules]]
name = "error rate"
preset = "error_rate"
metric = "http_requests_total"
critical = "error_rate < 5%"
""",
    )
    result = pytester.runpytest_subprocess("-m", "metrics", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*systems.new has no base_url to scrape: give metrics.scrape.urls.new, or source = "
            '"prometheus" with a server that scrapes it*',
            "CUTOVER DECISION: INCONCLUSIVE*",
        ]
    )
