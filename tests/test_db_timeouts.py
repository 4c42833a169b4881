"""A frozen database gives up in about its timeout: real PostgreSQL and MariaDB behind a real TCP
proxy on loopback, frozen with SIGSTOP once the connection is made. The stopped proxy's kernel
still acknowledges every packet (as a frozen server's does), so keepalives alone never notice:
only the client-side deadline does.

Each frozen query runs in a thread the test waits for with a generous bound, so a deadline that
does not work fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from pytest_cutover.db_deadline import DeadlineExceeded
from pytest_cutover.gates.integrity.config import IntegrityConfig
from pytest_cutover.gates.integrity.gate import check_tables
from pytest_cutover.gates.result import Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import CONNECT_TIMEOUT_S, client_deadline, read_only_engine
from tests.conftest import require_service

TIMEOUT = 1.0
BOUND = 10 * client_deadline(TIMEOUT)  # "did not hang": far above the deadline, far below 140 s
SERVERS = {"postgresql": ("127.0.0.1", 5432), "mariadb": ("127.0.0.1", 3306)}

PROXY = """
import socket, sys, threading

def pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    client, _ = listener.accept()
    server = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    for a, b in ((client, server), (server, client)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()
"""


@dataclass
class Proxy:
    process: subprocess.Popen[str]
    port: int

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


def start_proxy(folder: Path, backend: str) -> Iterator[Proxy]:
    host, port = SERVERS[backend]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as err:
        require_service(f"{backend} at {host}:{port} is not reachable: {err}")
    script = folder / "proxy.py"
    script.write_text(PROXY)
    process = subprocess.Popen(
        [sys.executable, str(script), host, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    proxy = Proxy(process, int(process.stdout.readline()))
    try:
        yield proxy
    finally:
        proxy.thaw()
        process.kill()
        process.wait()
        process.stdout.close()


@pytest.fixture
def pg_proxy(tmp_path: Path) -> Iterator[Proxy]:
    yield from start_proxy(tmp_path, "postgresql")


@pytest.fixture
def mariadb_proxy(tmp_path: Path) -> Iterator[Proxy]:
    yield from start_proxy(tmp_path, "mariadb")


def bounded(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    """Run `call` in a thread; the error it raised and how long it took, or a test failure when
    it is still running after BOUND seconds (the caller's fixture then unfreezes the proxy)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as err:
            raised.append(err)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND)
    if worker.is_alive():
        pytest.fail(f"still waiting for the frozen server after {BOUND:g} s")
    return (raised[0] if raised else None), time.monotonic() - started


def pg_engine(port: int, timeout: float | None = TIMEOUT, query: str = "") -> Engine:
    return read_only_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test{query}", timeout)


def test_a_postgresql_server_frozen_mid_connection_fails_in_about_the_timeout(
    pg_proxy: Proxy,
) -> None:
    engine = pg_engine(pg_proxy.port)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            pg_proxy.freeze()
            error, took = bounded(lambda: conn.execute(text("SELECT 2")))
        assert isinstance(error, OperationalError), error
        assert isinstance(error.orig, DeadlineExceeded)
        assert isinstance(error.orig, TimeoutError)
        assert f"no answer from the database server within {client_deadline(TIMEOUT):g} s" in str(
            error
        )
        assert error.connection_invalidated  # the pool threw the broken connection away
        assert took >= client_deadline(TIMEOUT)  # a live server's own timeout gets its turn first
        pg_proxy.thaw()
        with engine.connect() as conn:  # a new connection: the engine is still usable
            assert conn.execute(text("SELECT 3")).scalar() == 3
    finally:
        engine.dispose()


def test_a_postgresql_server_frozen_between_checkouts_fails_in_the_pre_ping(
    pg_proxy: Proxy,
) -> None:
    """SQLAlchemy pings a pooled connection before handing it out: the ping is a round trip
    too, and after it fails the reconnect gives up at connect_timeout (2 s from the URL)."""
    engine = pg_engine(pg_proxy.port, query="?connect_timeout=2")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        pg_proxy.freeze()
        error, _ = bounded(lambda: engine.connect().close())
        assert isinstance(error, OperationalError), error
        assert "timeout expired" in str(error.orig)
    finally:
        engine.dispose()


def test_a_live_servers_statement_timeout_comes_before_the_deadline() -> None:
    host, port = SERVERS["postgresql"]
    engine = pg_engine(port)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET statement_timeout = {int(TIMEOUT * 1000)}"))
            error, _ = bounded(lambda: conn.execute(text("SELECT pg_sleep(30)")))
    except OperationalError as err:
        require_service(f"postgresql at {host}:{port} is not reachable: {err.orig}")
    finally:
        engine.dispose()
    assert isinstance(error, DBAPIError), error
    assert isinstance(error.orig, psycopg.errors.QueryCanceled)
    assert "statement timeout" in str(error.orig)


def test_postgresql_connections_get_connect_timeout_and_keepalives(pg_proxy: Proxy) -> None:
    engine = pg_engine(pg_proxy.port, timeout=None, query="?keepalives_idle=7")
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert isinstance(dbapi, psycopg.Connection)
            parameters = dbapi.info.get_parameters()
    finally:
        engine.dispose()
    assert parameters["connect_timeout"] == str(CONNECT_TIMEOUT_S)
    assert parameters["keepalives"] == "1"
    assert parameters["keepalives_idle"] == "7"  # the URL's own setting wins
    assert parameters["keepalives_interval"] == "10"
    assert parameters["keepalives_count"] == "3"


def test_a_mariadb_server_frozen_mid_connection_fails_in_about_the_timeout(
    mariadb_proxy: Proxy,
) -> None:
    engine = read_only_engine(f"mysql+pymysql://root@127.0.0.1:{mariadb_proxy.port}/test", TIMEOUT)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            mariadb_proxy.freeze()
            error, _ = bounded(lambda: conn.execute(text("SELECT 2")))
    finally:
        mariadb_proxy.thaw()
        engine.dispose()
    assert isinstance(error, OperationalError), error
    assert "timed out" in str(error.orig)


def test_the_integrity_gate_on_a_frozen_postgresql_is_inconclusive_in_about_its_timeout(
    pg_proxy: Proxy,
) -> None:
    """As the gate runs when its engines are made with integrity.statement_timeout: the frozen
    server fails the pooled connection's ping at the deadline and the reconnect at
    connect_timeout, and the table is INCONCLUSIVE with the cause, not a hang."""
    writer = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{SERVERS['postgresql'][1]}/test"
    )
    with writer.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS cutover_frozen_probe"))
        conn.execute(text("CREATE TABLE cutover_frozen_probe (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO cutover_frozen_probe VALUES (1), (2)"))
    settings = IntegrityConfig.model_validate(
        {
            "statement_timeout": f"{TIMEOUT:g}s",
            "tables": [{"table": "cutover_frozen_probe", "key": "id"}],
        }
    )
    engines = {
        side: pg_engine(pg_proxy.port, settings.statement_timeout, "?connect_timeout=2")
        for side in ("legacy", "new")
    }
    try:
        assert check_tables(settings, engines, Redactor())[0].outcome is Outcome.PASS
        pg_proxy.freeze()
        results: list[object] = []
        error, _ = bounded(lambda: results.extend(check_tables(settings, engines, Redactor())))
        assert error is None, error
        (result,) = results
        assert getattr(result, "outcome", None) is Outcome.INCONCLUSIVE
        assert "timeout expired" in " ".join(getattr(result, "reasons", ()))
    finally:
        pg_proxy.thaw()
        for engine in engines.values():
            engine.dispose()
        with writer.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS cutover_frozen_probe"))
        writer.dispose()
