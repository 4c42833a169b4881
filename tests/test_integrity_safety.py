"""The integrity gate is harmless and honest: read-only snapshots, timeouts, and clear errors that
name the system, table and column without leaking a password or a traceback."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pytest_cutover.config import ConfigError, load_config
from pytest_cutover.gates.integrity.config import ColumnOptions, IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import check_table
from pytest_cutover.gates.integrity.plan import build_plan
from pytest_cutover.gates.integrity.readers import ReadError, reader_for
from pytest_cutover.gates.result import Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine
from tests.conftest import MINIMAL_CONFIG
from tests.integrity_support import BACKENDS, SERVERS, Database, open_database

COLUMNS = {"id": "int", "name": "text"}
ROWS = [(i, f"name {i}") for i in range(1, 301)]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with open_database(request.param, tmp_path) as database:
        yield database


def test_each_side_reads_one_snapshot_and_cannot_write(db: Database) -> None:
    if db.backend == "sqlite":
        # In rollback-journal mode SQLite makes writers wait while any reader holds the file;
        # WAL lets them go on, and the reader keeps its snapshot, as on the servers.
        with db.writer.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    name = db.table("snap", COLUMNS, ROWS)
    plan = build_plan(TableCheck(table=name, key="id"), {"legacy": db.reader, "new": db.reader})
    with reader_for(db.reader, plan.legacy, 30) as reader:
        before = reader.checksums(2)
        with db.writer.begin() as conn:  # a live database keeps changing under the gate
            conn.execute(text(f"INSERT INTO {name} (id, name) VALUES (1000, 'late')"))
            conn.execute(text(f"UPDATE {name} SET name = 'moved' WHERE id = 1"))
        assert reader.checksums(2) == before
        assert reader.rows_in(2, before)[0][1] == "name 1"
        with pytest.raises(ReadError, match=r"(?i)read.?only"):
            reader.scalar_rows(f"INSERT INTO {name} (id, name) VALUES (2000, 'write')")
    with reader_for(db.reader, plan.legacy, 30) as reader:
        assert sum(n for n, _ in reader.checksums(2).values()) == len(ROWS) + 1


def test_the_sqlite_file_is_not_touched(tmp_path: Path) -> None:
    with open_database("sqlite", tmp_path) as database:
        name = database.table("t", COLUMNS, ROWS)
        database.writer.dispose()
        path = tmp_path / "integrity.db"
        before = hashlib.sha256(path.read_bytes()).hexdigest(), sorted(tmp_path.iterdir())
        assert database.gate(TableCheck(table=name, key="id")).passed
        after = hashlib.sha256(path.read_bytes()).hexdigest(), sorted(tmp_path.iterdir())
    assert after == before


def test_a_wal_file_declared_immutable_is_read_without_side_files(tmp_path: Path) -> None:
    """A frozen copy in WAL mode stays one file when declared `?immutable=1`; without it SQLite
    creates -wal and -shm beside it even for a read-only open."""
    path = tmp_path / "frozen.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", ROWS)
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen.db"]
    engine = read_only_engine(f"sqlite:///{path}?immutable=1")
    with engine.connect() as reading:
        assert reading.execute(text("SELECT count(*) FROM t")).scalar() == len(ROWS)
        with pytest.raises(Exception, match=r"(?i)read.?only"):
            reading.execute(text("INSERT INTO t VALUES (1000, 'write')"))
    engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen.db"]


SLOW_FILTERS = {
    "sqlite": "1=1",
    "postgresql": "pg_sleep(0.01) IS NOT NULL",
    "mariadb": "SLEEP(0.01) = 0",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_query_over_the_statement_timeout_is_stopped_and_inconclusive(
    backend: str, tmp_path: Path
) -> None:
    with open_database(backend, tmp_path) as database:
        rows = ROWS if backend != "sqlite" else [(i, "x") for i in range(1, 5001)]
        name = database.table("slow", COLUMNS, rows)
        check = TableCheck(table=name, key="id", legacy_filter=SLOW_FILTERS[backend])
        limit = 0.2 if backend != "sqlite" else 0.000001
        result = database.gate(check, IntegrityConfig(statement_timeout=limit))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert f"legacy table '{name}'" in result.reasons[0]
    assert "ran longer than integrity.statement_timeout" in result.reasons[0]


def test_an_unreachable_database_is_inconclusive_and_the_password_never_shown() -> None:
    engine = read_only_engine("postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/shop")
    engines = {"legacy": engine, "new": engine}
    result = check_table(
        TableCheck(table="orders", key="id"), IntegrityConfig(), engines, Redactor(["s3cret-pw"])
    )
    assert result.outcome is Outcome.INCONCLUSIVE
    where = "the legacy database (postgresql+psycopg://app:***@127.0.0.1:1/shop)"
    assert result.reasons[0].startswith(f"cannot read table 'orders' in {where}: ")
    assert "s3cret-pw" not in repr(result.to_dict())


def test_no_permission_names_the_system_and_table(tmp_path: Path) -> None:
    role = f"cutover_it_{uuid.uuid4().hex[:8]}"
    with open_database("postgresql", tmp_path) as database:
        name = database.table("secret", COLUMNS, ROWS[:3])
        with database.writer.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        engine = read_only_engine(SERVERS["postgresql"].replace("postgres@", f"{role}@"))
        try:
            engines = {"legacy": database.reader, "new": engine}
            result = check_table(
                TableCheck(table=name, key="id"), IntegrityConfig(), engines, Redactor()
            )
        finally:
            engine.dispose()
            with database.writer.begin() as conn:
                conn.execute(text(f"DROP ROLE {role}"))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert f"new table '{name}'" in result.reasons[0]
    assert f"permission denied for table {name}" in result.reasons[0]


def test_types_that_cannot_be_compared_ask_for_compare_as(db: Database) -> None:
    legacy = db.table("legacy", {"id": "int", "at": "double"}, [])
    new = db.table("new", {"id": "int", "at": "bytes"}, [])
    result = db.gate(TableCheck(legacy_table=legacy, new_table=new, key="id"))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "column 'at': legacy holds number" in result.reasons[0]
    assert "set options.at.compare_as" in result.reasons[0]


def test_json_on_mariadb_is_refused_with_a_way_out(tmp_path: Path) -> None:
    with open_database("mariadb", tmp_path) as database:
        name = database.table("doc", {"id": "int", "body": "text"}, [(1, "{}")])
        options = {"body": ColumnOptions(compare_as="json")}
        result = database.gate(TableCheck(table=name, key="id", options=options))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert 'cannot write JSON in the canonical form; set compare_as = "text"' in result.reasons[0]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            '[[integrity.tables]]\ntable = "t"\nkey = "id"\nfilter = "x"\n',
            "integrity.tables[0].filter: unknown key "
            "(expected one of: allow_empty, columns, key, legacy_filter",
        ),
        ('[[integrity.tables]]\ntable = "t"\n', "integrity.tables[0].key: required key is missing"),
        ('[[integrity.tables]]\nkey = "id"\n', "give 'table' (the same name on both sides)"),
        (
            '[[integrity.tables]]\ntable = "t"\nkey = "id"\noptions.x.tolerance = 0\n',
            "integrity.tables[0].options.x.tolerance = 0: Input should be greater than 0",
        ),
        (
            '[[integrity.tables]]\ntable = "t"\nkey = "id"\noptions.x.legacy_timezone = "CEST"\n',
            "expected 'UTC', an offset such as '+02:00'",
        ),
        ("[integrity]\nparalel = 3\n", "did you mean 'parallel'?"),
    ],
)
def test_config_mistakes_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + section)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value)
