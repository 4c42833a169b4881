"""Database engines given to gates refuse writes, on every kind of database the tool reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from pytest_cutover.config import SystemConfig
from pytest_cutover.systems import System, read_only_engine
from tests.conftest import require_service

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
