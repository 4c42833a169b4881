"""Real tables for the integrity gate's tests: made with a writable engine, read only by the gate.

Each test gets its own uniquely named tables in the `test` databases of the local PostgreSQL and
MariaDB servers (or a SQLite file), and they are dropped afterwards; nothing else is touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import check_table
from pytest_cutover.gates.result import GateResult
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine
from tests.conftest import require_service

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
BACKENDS = ("sqlite", "postgresql", "mariadb")
_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
# Abstract column types -> (SQLite, PostgreSQL, MariaDB) declarations.
TYPES: dict[str, tuple[str, str, str]] = {
    "int": ("INTEGER", "INTEGER", "INT"),
    "bigint": ("INTEGER", "BIGINT", "BIGINT"),
    "text": ("TEXT", "TEXT", f"TEXT {_BIN}"),
    "key": ("TEXT", "TEXT", f"VARCHAR(100) {_BIN}"),
    "decimal2": ("NUMERIC", "NUMERIC(10,2)", "DECIMAL(10,2)"),
    "decimal1": ("NUMERIC", "NUMERIC(10,1)", "DECIMAL(10,1)"),
    "double": ("REAL", "DOUBLE PRECISION", "DOUBLE"),
    "float4": ("REAL", "REAL", "FLOAT"),
    "bool": ("BOOLEAN", "BOOLEAN", "BOOLEAN"),
    "tstz": ("TEXT", "TIMESTAMPTZ", "TIMESTAMP(6) NULL"),
    "ts": ("TEXT", "TIMESTAMP", "DATETIME(6)"),
    "bytes": ("BLOB", "BYTEA", "BLOB"),
    "uuid": ("TEXT", "UUID", "CHAR(36)"),
}


@dataclass
class Database:
    """One real database with a writable engine for fixtures and a read-only one for the gate."""

    backend: str
    writer: Engine
    reader: Engine
    prefix: str = field(default_factory=lambda: f"cutover_it_{uuid.uuid4().hex[:10]}")
    created: list[str] = field(default_factory=list)

    def table(
        self,
        suffix: str,
        columns: dict[str, str],
        rows: Sequence[Sequence[Any]],
        primary_key: Sequence[str] | None = ("id",),
    ) -> str:
        """Create `<prefix>_<suffix>` with the abstract column types and insert the rows."""
        name = f"{self.prefix}_{suffix}"
        index = BACKENDS.index(self.backend)
        declared = [f"{c} {TYPES[t][index]}" for c, t in columns.items()]
        if primary_key:
            declared.append(f"PRIMARY KEY ({', '.join(primary_key)})")
        with self.writer.begin() as conn:
            conn.execute(text(f"CREATE TABLE {name} ({', '.join(declared)})"))
            self.created.append(name)
            if rows:
                marks = ", ".join(f":c{i}" for i in range(len(columns)))
                params = [
                    {
                        f"c{i}": self._value(v, t)
                        for i, (v, t) in enumerate(zip(row, columns.values(), strict=True))
                    }
                    for row in rows
                ]
                conn.execute(
                    text(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"), params
                )
        return name

    def _value(self, value: Any, kind: str) -> Any:
        if isinstance(value, Decimal) and self.backend == "sqlite":
            return str(value)  # NUMERIC affinity turns it into the integer or real it spells
        if isinstance(value, datetime):
            if self.backend == "sqlite":
                return value.isoformat()
            if self.backend == "mariadb" and value.tzinfo is not None:
                return value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, str) and kind == "uuid" and self.backend == "postgresql":
            return uuid.UUID(value)
        return value

    def drop_all(self) -> None:
        with self.writer.begin() as conn:
            for name in self.created:
                conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        self.created.clear()

    def gate(
        self,
        check: TableCheck,
        settings: IntegrityConfig | None = None,
        reports: Path | None = None,
    ) -> GateResult:
        """Run the gate on this database's read-only engine for both sides."""
        engines = {"legacy": self.reader, "new": self.reader}
        return check_table(check, settings or IntegrityConfig(), engines, Redactor(), reports)


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET time_zone = '+00:00'")
    cursor.close()


@contextmanager
def open_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A real database of that kind (skipped locally, failed in CI, when it is not running)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'integrity.db'}"
        writer = create_engine(url)
    else:
        url = SERVERS[backend]
        writer = create_engine(url)
        if backend == "mariadb":
            event.listen(writer, "connect", _utc_session)
        try:
            with writer.connect():
                pass
        except OperationalError as err:
            writer.dispose()
            require_service(f"{backend} at {url.split('@')[1]} is not reachable: {err.orig}")
    with writer.connect():
        pass
    database = Database(backend, writer, read_only_engine(url))
    try:
        yield database
    finally:
        database.reader.dispose()
        database.drop_all()
        writer.dispose()
