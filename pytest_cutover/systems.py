"""System: one side of the cutover (legacy or new), as the gates reach it.

Gates only ever read from a system's database: every engine made here is read-only at the
connection level, so a gate bug cannot write to production.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from pytest_cutover.config import SystemConfig
from pytest_cutover.redact import redact_url

if TYPE_CHECKING:
    from pytest_cutover.db_deadline import DeadlineConnection


@dataclass(frozen=True)
class System:
    """A configured system with its base URL resolved (a started system's port filled in).

    A database-only system has no base URL (`base_url` is ""); each of its services (several
    HTTP services on their own ports) is a System of its own, named `legacy/SERVICE`."""

    name: str
    config: SystemConfig
    base_url: str
    base_dir: Path
    services: Mapping[str, System] = field(default_factory=dict)

    @property
    def serves_http(self) -> bool:
        return bool(self.base_url)

    def service(self, name: str) -> System:
        return self.services[name]

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def display_url(self) -> str:
        return redact_url(self.base_url)

    def http_client(self) -> httpx.Client:
        """A client bound to base_url with the system's default headers and timeouts."""
        return httpx.Client(
            base_url=self.base_url,
            headers=self.config.headers,
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            verify=self.config.verify_tls,
            follow_redirects=False,
        )

    @property
    def database_url(self) -> str | None:
        """The SQLAlchemy URL, with a relative SQLite path resolved against the config's folder."""
        raw = self.config.database
        if raw is None:
            return None
        url = make_url(raw)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database)
            if not path.is_absolute():
                url = url.set(database=str(self.base_dir / path))
        return url.render_as_string(hide_password=False)

    def read_only_engine(self, timeout: float | None = None) -> Engine | None:
        """An engine whose every connection refuses writes; None when no database is configured.
        `timeout`: as for the module's read_only_engine."""
        if self.database_url is None:
            return None
        return read_only_engine(self.database_url, timeout)


# Opening a connection gives up after this long (libpq and MySQL drivers count whole seconds).
CONNECT_TIMEOUT_S = 10
# A server host that vanished (power cut, partition) is noticed after about idle + interval *
# count = 60 s of silence, instead of the kernel's default of over two hours.
PG_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def client_deadline(timeout: float) -> float:
    """How long the client waits for one answer when the server's own limit is `timeout`: a bit
    longer, so a live server's statement timeout always comes first (with its clearer message)
    and the client gives up only on a server that cannot answer at all."""
    return timeout * 1.1 + 1.0


def read_only_engine(database_url: str, timeout: float | None = None) -> Engine:
    """Read-only by the database's own rules: SQLite mode=ro, a read-only session elsewhere.

    Every connection to a server gives up opening after CONNECT_TIMEOUT_S, and PostgreSQL ones
    send TCP keepalives. With `timeout` (the statement timeout the caller sets on the server),
    a round trip with no answer gives up after client_deadline(timeout) too: psycopg 3 through
    db_deadline, pymysql and mysqlclient through read_timeout/write_timeout. So a frozen server
    fails in about `timeout`, not after the kernel's TCP retries. Without it a query may take as
    long as it likes, as before. A setting in the URL's query (`?connect_timeout=3`) wins.
    """
    url = make_url(database_url)
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    connect_args: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).resolve()
            url = url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
    elif backend == "postgresql":
        connect_args["options"] = "-c default_transaction_read_only=on"
        if driver in ("psycopg", "psycopg2"):  # libpq's own parameters
            defaults = {"connect_timeout": CONNECT_TIMEOUT_S, **PG_KEEPALIVES}
    elif driver in ("pymysql", "mysqldb"):
        defaults = {"connect_timeout": CONNECT_TIMEOUT_S}
        if timeout is not None:
            seconds = math.ceil(client_deadline(timeout))
            defaults.update(read_timeout=seconds, write_timeout=seconds)
    connect_args.update({k: v for k, v in defaults.items() if k not in url.query})
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", _mysql_read_only)
    if backend == "postgresql" and driver == "psycopg" and timeout is not None:
        event.listen(engine, "do_connect", _psycopg_with_deadline(client_deadline(timeout)))
    return engine


def _psycopg_with_deadline(seconds: float) -> Callable[..., DeadlineConnection]:
    """Connections made by DeadlineConnection; imported here, so a run on SQLite alone never
    loads psycopg."""
    from pytest_cutover.db_deadline import DeadlineConnection

    def connect(
        _dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DeadlineConnection:
        connection = DeadlineConnection.connect(*cargs, **cparams)
        connection.deadline_s = seconds
        return connection

    return connect


def _mysql_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
    finally:
        cursor.close()
