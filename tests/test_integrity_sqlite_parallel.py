"""A large SQLite table is hashed by worker processes over rowid ranges: the same checksums as
in one process, the same verdicts, and never for a WAL database (whose snapshot they could miss)."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from pytest_cutover.gates.integrity import readers, sqlite_hashing
from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import check_table
from pytest_cutover.gates.integrity.plan import build_plan
from pytest_cutover.gates.integrity.readers import Checksums, reader_for
from pytest_cutover.gates.result import Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine

ROWS = 30_000
pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")


def _database(path: Path, wal: bool = False) -> None:
    with sqlite3.connect(path) as db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        for table, changed in (("legacy", None), ("new", 12_345)):
            db.execute(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, total REAL, note TEXT, at TEXT)"
            )
            db.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?, ?)",
                (
                    (i, i / 7 + (1 if i == changed else 0), f"n{i}", "2024-01-01T00:00:00Z")
                    for i in range(1, ROWS + 1)
                ),
            )
    db.close()


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "_PARALLEL_FROM_ROWS", 1000)


def _checksums(path: Path, table: str) -> Checksums:
    engine = read_only_engine(f"sqlite:///{path}")
    try:
        plan = build_plan(TableCheck(table=table, key=["id"]), {"legacy": engine, "new": engine})
        with reader_for(engine, plan.legacy, 60) as reader:
            return reader.checksums(3)
    finally:
        engine.dispose()


def test_processes_give_the_checksums_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "big.db"
    _database(path)
    caplog.set_level(logging.INFO, "pytest_cutover.integrity")
    monkeypatch.setattr(readers, "_PARALLEL_FROM_ROWS", 1000)
    in_processes = _checksums(path, "legacy")
    assert "by 2 processes" in caplog.text or f"by {os.cpu_count()} processes" in caplog.text
    monkeypatch.setattr(readers, "_PARALLEL_FROM_ROWS", 10**12)
    assert _checksums(path, "legacy") == in_processes
    assert sum(rows for rows, _ in in_processes.values()) == ROWS


@pytest.mark.usefixtures("small_threshold")
def test_processes_find_the_changed_row(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    _database(path)
    engine = read_only_engine(f"sqlite:///{path}")
    try:
        result = check_table(
            TableCheck(legacy_table="legacy", new_table="new", key=["id"]),
            IntegrityConfig(),
            {"legacy": engine, "new": engine},
            Redactor(),
        )
    finally:
        engine.dispose()
    assert result.outcome is Outcome.FAIL
    assert result.reasons == (
        "1 row(s) changed: id=12345 (total '1763.5714285714287' -> '1764.5714285714287')",
    )


@pytest.mark.usefixtures("small_threshold")
def test_a_wal_database_is_hashed_in_the_gates_own_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "wal.db"
    _database(path, wal=True)
    caplog.set_level(logging.INFO, "pytest_cutover.integrity")
    found = _checksums(path, "legacy")
    assert sum(rows for rows, _ in found.values()) == ROWS
    assert "rows checksummed" in caplog.text
    assert "processes" not in caplog.text


@pytest.mark.usefixtures("small_threshold")
@pytest.mark.parametrize("query", ["", "?immutable=1"])
def test_each_worker_opens_the_file_as_read_only_as_the_gate(tmp_path: Path, query: str) -> None:
    path = tmp_path / "big.db"
    _database(path)
    engine = read_only_engine(f"sqlite:///{path}{query}")
    try:
        plan = build_plan(TableCheck(table="legacy", key=["id"]), {"legacy": engine, "new": engine})
        with reader_for(engine, plan.legacy, 60) as reader:
            assert isinstance(reader, readers.SqliteReader)
            jobs = reader._range_jobs(3)
    finally:
        engine.dispose()
    assert jobs, "the table is large enough for worker processes"
    write = dataclasses.replace(jobs[0], select="DELETE FROM legacy WHERE rowid BETWEEN ? AND ?")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        sqlite_hashing.hash_range(write)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM legacy").fetchone()[0] == ROWS
    db.close()
