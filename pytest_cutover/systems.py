"""System: one side of the cutover (legacy or new), as the gates reach it.

Gates only ever read from a system's database: every engine made here is read-only at the
connection level, so a gate bug cannot write to production.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from pytest_cutover.config import SystemConfig
from pytest_cutover.redact import redact_url


@dataclass(frozen=True)
class System:
    """A configured system with its base URL resolved (a started system's port filled in)."""

    name: str
    config: SystemConfig
    base_url: str
    base_dir: Path

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

    def read_only_engine(self) -> Engine | None:
        """An engine whose every connection refuses writes; None when no database is configured."""
        if self.database_url is None:
            return None
        return read_only_engine(self.database_url)


def read_only_engine(database_url: str) -> Engine:
    """Read-only by the database's own rules: SQLite mode=ro, a read-only session elsewhere."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).resolve()
            url = url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
    elif backend == "postgresql":
        connect_args["options"] = "-c default_transaction_read_only=on"
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", _mysql_read_only)
    return engine


def _mysql_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
    finally:
        cursor.close()
