"""A table that differs in more rows than integrity.max_fetched_rows: every differing column is
still named with a lower bound of rows and examples, on real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.result import Outcome
from tests.integrity_support import BACKENDS, Database, open_database

COLUMNS = {"id": "int", "qty": "int", "note": "text"}
ROWS = 200


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with open_database(request.param, tmp_path) as database:
        yield database


def test_a_column_changed_in_every_row_is_named_with_a_bound_and_examples(
    db: Database, tmp_path: Path
) -> None:
    legacy = [(i, i, f"n{i}") for i in range(1, ROWS + 1)]
    # qty changed everywhere; note in one row only; row 150 missing.
    new = [(i, i + 1, "changed" if i == 77 else f"n{i}") for i in range(1, ROWS + 1) if i != 150]
    check = TableCheck(
        legacy_table=db.table("legacy", COLUMNS, legacy),
        new_table=db.table("new", COLUMNS, new),
        name="orders",
        key=["id"],
    )
    result = db.gate(check, IntegrityConfig(max_fetched_rows=50), reports=tmp_path)

    assert result.outcome is Outcome.FAIL
    qty = result.evidence["column_differences"]["qty"]
    note = result.evidence["column_differences"]["note"]
    # Every bucket but the one missing a row proves at least one changed qty; 199 rows changed.
    buckets = min(result.evidence["buckets"]["total"], ROWS - 1)
    assert buckets - 1 <= qty["rows_at_least"] <= ROWS - 1
    assert qty["in_fetched_rows"] <= 50
    assert note == {
        "rows_at_least": 1,
        "in_fetched_rows": 1,
        "differing_buckets": 1,
        "examples": ["id=77 ('n77' -> 'changed')"],
        "rows_about": note["rows_about"],
    }
    assert result.evidence["missing_in_new_at_least"] == 1
    assert result.evidence["changed_columns"] == {"qty": qty["rows_at_least"], "note": 1}
    assert result.measurements["differing_rows_at_least"] >= qty["rows_at_least"] + 1
    reasons = "\n".join(result.reasons)
    assert f"column qty differs in at least {qty['rows_at_least']} row(s)" in reasons
    assert "column note differs in at least 1 row(s)" in reasons
    assert "id=77 ('n77' -> 'changed')" in reasons
    assert "at least 1 row(s) missing in new: id=150" in reasons
    assert "only the" in result.reasons[-1]
    assert "orders.jsonl" in result.reasons[-1]
    assert result.evidence["differences_file_complete"] is False
    lines = Path(result.evidence["differences_file"]).read_text().splitlines()
    assert 0 < len(lines) <= 50 + 1
    assert {"kind": "missing_in_new", "key": {"id": "150"}} in [
        {"kind": d["kind"], "key": d["key"]} for d in map(json.loads, lines)
    ]


def test_within_the_limit_the_differences_file_is_complete(db: Database, tmp_path: Path) -> None:
    legacy = [(i, i, "x") for i in range(1, 31)]
    new = [(i, i + 1, "x") for i in range(1, 31)]
    check = TableCheck(
        legacy_table=db.table("legacy", COLUMNS, legacy),
        new_table=db.table("new", COLUMNS, new),
        name="orders",
        key=["id"],
    )
    result = db.gate(check, IntegrityConfig(max_fetched_rows=30), reports=tmp_path)
    assert result.evidence["narrowing"] == "complete"
    assert len(Path(result.evidence["differences_file"]).read_text().splitlines()) == 30


def _sqlite_pair(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        for table, delta in (("legacy", 0), ("new", 1)):
            db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, qty INTEGER, note TEXT)")
            db.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?)",
                ((i, i + delta, f"note number {i}") for i in range(rows)),
            )
    db.close()


_MEASURE = """
import sys
from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import check_table
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine
engine = read_only_engine("sqlite:///" + sys.argv[1])
check = TableCheck(legacy_table="legacy", new_table="new", key=["id"])
result = check_table(
    check, IntegrityConfig(max_fetched_rows=1000), {"legacy": engine, "new": engine}, Redactor()
)
print(result.outcome.value, result.evidence["changed_columns"])
# VmHWM is this program's own peak: ru_maxrss would also hold the peak of the process that
# started it (Linux keeps it across fork and exec), which is pytest's when the suite is large.
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
"""


def test_memory_stays_bounded_for_a_table_far_larger_than_the_limit(tmp_path: Path) -> None:
    """300,000 rows differ on each side. Fetching them all would hold 600,000 rows of Python
    objects (over 150 MB); the bound holds the interpreter, the bucket sums and max_fetched_rows
    rows, nothing per table row: the peak resident size stays under 150 MB."""
    path = tmp_path / "wide.db"
    _sqlite_pair(path, 300_000)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    verdict, peak_mb = done.stdout.strip().splitlines()
    assert verdict.startswith("fail {'qty': "), verdict
    assert "note" not in verdict
    assert int(peak_mb) < 150, f"peak resident size {peak_mb} MB"
