"""The integrity gate on the demo's own data: its faults are caught and named by key, a realistic
SQLite -> PostgreSQL copy passes, and the suite runs from a cutover.toml through pytest."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures.demo import seed
from pytest_cutover.gates.integrity.config import IntegrityConfig
from pytest_cutover.gates.integrity.gate import check_tables
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine
from tests.conftest import MINIMAL_CONFIG
from tests.integrity_support import Database, open_database

DEMO_TABLES = {"tables": [{"table": t, "key": "id"} for t in ("users", "orders", "events")]}
PG_SCHEMA = """
CREATE TABLE {p}_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email VARCHAR(200) NOT NULL,
    country CHAR(2) NOT NULL, is_active BOOLEAN NOT NULL, created_at TIMESTAMPTZ NOT NULL);
CREATE TABLE {p}_orders (id BIGINT PRIMARY KEY, user_id INTEGER NOT NULL, status TEXT NOT NULL,
    total NUMERIC(10, 2) NOT NULL, created_at TIMESTAMPTZ NOT NULL);
CREATE TABLE {p}_events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, type TEXT NOT NULL,
    payload JSONB NOT NULL, occurred_at TIMESTAMPTZ NOT NULL)
"""


def demo_results(tmp_path: Path, faults: str) -> dict[str, GateResult]:
    seed.build(tmp_path / "legacy.db")
    seed.build(tmp_path / "new.db", frozenset(faults.split(",")) - {""})
    engines = {
        side: read_only_engine(f"sqlite:///{tmp_path / side}.db") for side in ("legacy", "new")
    }
    try:
        results = check_tables(
            IntegrityConfig.model_validate(DEMO_TABLES), engines, Redactor(), tmp_path
        )
    finally:
        for engine in engines.values():
            engine.dispose()
    return {r.name: r for r in results}


def test_the_healthy_demo_passes_every_table(tmp_path: Path) -> None:
    results = demo_results(tmp_path, "")
    assert {name: r.outcome for name, r in results.items()} == dict.fromkeys(
        ("users", "orders", "events"), Outcome.PASS
    )
    assert results["orders"].evidence["rows"] == {"legacy": 6000, "new": 6000}


def test_the_corrupted_and_the_missing_order_are_named_by_key(tmp_path: Path) -> None:
    results = demo_results(tmp_path, "row_corrupt,row_missing")
    orders = results["orders"]
    assert orders.outcome is Outcome.FAIL
    assert orders.reasons == (
        "1 row(s) missing in new: id=4242",
        "1 row(s) changed: id=42 (total '312.88' -> '312.89')",
    )
    assert results["users"].passed
    assert results["events"].passed
    written = [
        json.loads(line)
        for line in (tmp_path / "integrity" / "orders.jsonl").read_text().splitlines()
    ]
    assert [(d["kind"], d["key"]) for d in written] == [
        ("changed", {"id": "42"}),
        ("missing_in_new", {"id": "4242"}),
    ]


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    with open_database("postgresql", tmp_path) as database:
        yield database


def test_a_typed_postgresql_copy_of_the_sqlite_demo_passes_then_fails_on_one_cent(
    pg: Database, tmp_path: Path
) -> None:
    seed.build(tmp_path / "legacy.db")
    with pg.writer.begin() as conn:
        for statement in PG_SCHEMA.format(p=pg.prefix).split(";"):
            conn.execute(text(statement))
        pg.created += [f"{pg.prefix}_{t}" for t in ("users", "orders", "events")]
        source = sqlite3.connect(tmp_path / "legacy.db")
        for table in ("users", "orders", "events"):
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            marks = ", ".join(f":c{i}" for i in range(len(rows[0])))
            params = [
                {f"c{i}": (bool(v) if table == "users" and i == 4 else v) for i, v in enumerate(r)}
                for r in rows
            ]
            conn.execute(text(f"INSERT INTO {pg.prefix}_{table} VALUES ({marks})"), params)
        source.close()
    config = IntegrityConfig.model_validate(
        {
            "tables": [
                {"legacy_table": t, "new_table": f"{pg.prefix}_{t}", "name": t, "key": "id"}
                for t in ("users", "orders", "events")
            ]
        }
    )
    engines = {"legacy": read_only_engine(f"sqlite:///{tmp_path / 'legacy.db'}"), "new": pg.reader}
    results = {r.name: r for r in check_tables(config, engines, Redactor())}
    assert {n: r.reasons for n, r in results.items() if not r.passed} == {}
    kinds = {c["legacy"]: c["compared_as"] for c in results["events"].evidence["columns"]}
    assert kinds == {
        "id": "number",
        "user_id": "number",
        "type": "text",
        "payload": "json",
        "occurred_at": "timestamp",
    }
    with pg.writer.begin() as conn:
        conn.execute(text(f"UPDATE {pg.prefix}_orders SET total = total + 0.01 WHERE id = 42"))
    orders = {r.name: r for r in check_tables(config, engines, Redactor())}["orders"]
    assert orders.reasons == ("1 row(s) changed: id=42 (total '312.88' -> '312.89')",)
    engines["legacy"].dispose()


SUITE_CONFIG = MINIMAL_CONFIG.replace(
    'base_url = "http://127.0.0.1:9"\n',
    'base_url = "http://127.0.0.1:9"\ndatabase = "sqlite:///{side}.db"\n',
)


@pytest.mark.parametrize(
    ("faults", "verdict", "outcomes"),
    [("", "GO", {"passed": 3}), ("row_corrupt", "NO-GO", {"passed": 2, "failed": 1})],
)
def test_the_suite_runs_one_test_per_table_from_cutover_toml(
    pytester: pytest.Pytester, faults: str, verdict: str, outcomes: dict[str, int]
) -> None:
    seed.build(pytester.path / "legacy.db")
    seed.build(pytester.path / "new.db", frozenset(faults.split(",")) - {""})
    config = SUITE_CONFIG.replace("{side}", "legacy", 1).replace("{side}", "new", 1)
    tables = "".join(
        f'\n[[integrity.tables]]\ntable = "{t}"\nkey = "id"\n'
        for t in ("users", "orders", "events")
    )
    pytester.makefile(".toml", cutover=config + "\n[integrity]\nparallel = 2\n" + tables)
    result = pytester.runpytest("-m", "integrity", "-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines([f"*CUTOVER DECISION: {verdict} *"])
    if faults:
        result.stdout.fnmatch_lines(
            ["*test_integrity?orders?*: 1 row(s) changed: id=42 (total '312.88' -> '312.89')*"]
        )
        assert (pytester.path / "reports" / "integrity" / "orders.jsonl").exists()


def test_the_suite_skips_as_not_configured_without_tables(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", cutover=MINIMAL_CONFIG)
    result = pytester.runpytest("-m", "integrity", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*not configured: no ??integrity.tables?? declared in cutover.toml*"]
    )
