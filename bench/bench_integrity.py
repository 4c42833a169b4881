"""Integrity gate benchmark: the gate against one plain read of the same tables, for each size.

For each --rows size (default 1,000,000 and 2,000,000, in one run) it builds a SQLite table and
two PostgreSQL copies, injects a handful of differences into the new side, then times:

  - the integrity gate (check_table) SQLite -> PostgreSQL and PostgreSQL -> PostgreSQL,
  - the gate's checksum pass on each side alone (each side's cost when the two are separate
    servers; here both share one 2-core machine, so the whole gate pays for both),
  - the references: reading every SQLite row in Python, and one
    `md5(string_agg(t::text, ''))` scan of each PostgreSQL table,
  - reladiff (PostgreSQL -> PostgreSQL) when --reladiff points at its executable,

and prints the ratios the goals are stated in: SQLite side <= 2x its Python read, servers <=
1.5x one scan, the gate under reladiff. Each figure is the median of --repeat rounds. Usage:

    .venv/bin/python bench/bench_integrity.py --rows 1000000 2000000 --repeat 3 \
        [--reladiff /tmp/reladiff-venv/bin/reladiff]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import bucket_digits, check_table
from pytest_cutover.gates.integrity.plan import build_plan
from pytest_cutover.gates.integrity.readers import reader_for
from pytest_cutover.gates.result import GateResult
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import read_only_engine

PG = "postgresql://postgres@127.0.0.1:5432/test"
PG_SA = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LEGACY, NEW = "bench_integrity_legacy", "bench_integrity_new"
EXTRA = 99_000_001
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def build_sqlite(path: Path, rows: int) -> None:
    rng = random.Random(7)
    statuses = ("pending", "paid", "shipped", "cancelled")
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
            "status TEXT NOT NULL, total NUMERIC NOT NULL, created_at TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            (
                (
                    i,
                    rng.randrange(1, 100_000),
                    rng.choice(statuses),
                    f"{rng.randrange(100, 100_000) / 100:.2f}",
                    (EPOCH + timedelta(seconds=rng.randrange(0, 300 * 86400))).isoformat(),
                )
                for i in range(1, rows + 1)
            ),
        )
    db.close()


def injected(rows: int) -> tuple[tuple[int, ...], int]:
    """Three changed totals and one deleted row, spread over the table."""
    return (42, rows // 3, rows - 7), rows // 2


def copy_to_postgresql(path: Path, rows: int) -> None:
    """Typed copies (numeric, timestamptz), then a handful of differences on the new side."""
    with psycopg.connect(PG, autocommit=True) as pg:
        for table in (LEGACY, NEW):
            pg.execute(f"DROP TABLE IF EXISTS {table}")
        pg.execute(
            f"CREATE TABLE {LEGACY} (id BIGINT PRIMARY KEY, user_id INTEGER NOT NULL, "
            f"status TEXT NOT NULL, total NUMERIC(10, 2) NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
        )
        source = sqlite3.connect(path)
        with pg.cursor() as cursor, cursor.copy(f"COPY {LEGACY} FROM STDIN") as copy:
            for row in source.execute("SELECT * FROM orders"):
                copy.write_row(row)
        source.close()
        pg.execute(f"CREATE TABLE {NEW} (LIKE {LEGACY} INCLUDING ALL)")
        pg.execute(f"INSERT INTO {NEW} SELECT * FROM {LEGACY}")
        changed, missing = injected(rows)
        pg.execute(f"UPDATE {NEW} SET total = total + 0.01 WHERE id = ANY(%s)", [list(changed)])
        pg.execute(f"DELETE FROM {NEW} WHERE id = %s", [missing])
        pg.execute(
            f"INSERT INTO {NEW} VALUES (%s, 1, 'paid', 1.00, '2024-01-01T00:00:00Z')", [EXTRA]
        )
        pg.execute(f"VACUUM ANALYZE {LEGACY}")
        pg.execute(f"VACUUM ANALYZE {NEW}")


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def pg_scan(table: str) -> Callable[[], object]:
    sql = f"SELECT md5(string_agg(t::text, '')) FROM {table} t"

    def scan() -> object:
        with psycopg.connect(PG) as pg:
            return pg.execute(sql).fetchone()

    return scan


def sqlite_read(path: Path) -> Callable[[], object]:
    def scan() -> object:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return sum(1 for _ in db.execute("SELECT * FROM orders"))
        finally:
            db.close()

    return scan


def gate(engines: dict[str, Engine], legacy: str, new: str, rows: int) -> Callable[[], GateResult]:
    changed, missing = injected(rows)
    check = TableCheck(legacy_table=legacy, new_table=new, name="orders", key="id")

    def run() -> GateResult:
        result = check_table(check, IntegrityConfig(), engines, Redactor())
        found = sorted(d["key"]["id"] for d in result.evidence.get("differences", []))
        expected = sorted(str(k) for k in (*changed, missing, EXTRA))
        if found != expected:
            raise SystemExit(f"the gate found {found}, expected {expected}: {result.reasons}")
        return result

    return run


def one_side(engine: Engine, legacy: str) -> Callable[[], object]:
    """The gate's checksum pass on one side alone: what each side costs when legacy and new
    are separate servers and the gate reads both at once."""
    plan = build_plan(TableCheck(table=legacy, key="id"), {"legacy": engine, "new": engine})

    def run() -> object:
        with reader_for(engine, plan.legacy, 600) as reader:
            estimate = reader.estimate_rows()
            return reader.checksums(bucket_digits(estimate))

    return run


def reladiff(executable: str) -> Callable[[], object]:
    command = [
        executable, PG, LEGACY, PG, NEW, "-k", "id",
        "-c", "user_id", "-c", "status", "-c", "total", "-c", "created_at",
    ]  # fmt: skip

    def run() -> object:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(f"reladiff failed: {done.stderr[-2000:]}")
        return done.stdout

    return run


def medians(works: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Round-robin: each round times every measurement once, so a load spike on this shared
    machine hits them all alike rather than one of them; then the median of each."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeat):
        for name, work in works.items():
            times[name].append(timed(work))
    return {name: statistics.median(found) for name, found in times.items()}


def measure(rows: int, repeat: int, reladiff_path: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-integrity-") as folder:
        path = Path(folder) / "legacy.db"
        print(f"building {rows:,} rows in SQLite and two PostgreSQL copies ...", flush=True)
        build_sqlite(path, rows)
        copy_to_postgresql(path, rows)
        sqlite_engine = read_only_engine(f"sqlite:///{path}")
        pg_engine = read_only_engine(PG_SA)
        works: dict[str, Callable[[], object]] = {
            "gate SQLite -> PostgreSQL": gate(
                {"legacy": sqlite_engine, "new": pg_engine}, "orders", NEW, rows
            ),
            "gate PostgreSQL -> PostgreSQL": gate(
                {"legacy": pg_engine, "new": pg_engine}, LEGACY, NEW, rows
            ),
            "checksum pass, SQLite side alone": one_side(sqlite_engine, "orders"),
            "checksum pass, PostgreSQL side alone": one_side(pg_engine, LEGACY),
            "read every SQLite row in Python": sqlite_read(path),
            "md5(string_agg) scan, PostgreSQL legacy": pg_scan(LEGACY),
            "md5(string_agg) scan, PostgreSQL new": pg_scan(NEW),
        }
        if reladiff_path:
            works["reladiff PostgreSQL -> PostgreSQL"] = reladiff(reladiff_path)
        try:
            return medians(works, repeat)
        finally:
            sqlite_engine.dispose()
            pg_engine.dispose()
            with psycopg.connect(PG, autocommit=True) as pg:
                for table in (LEGACY, NEW):
                    pg.execute(f"DROP TABLE IF EXISTS {table}")


def report(rows: int, repeat: int, figures: dict[str, float]) -> None:
    print(f"\n{rows:,} rows a side, 5 differences injected, median of {repeat} rounds")
    for name, seconds in figures.items():
        rate = f"{rows / seconds:>12,.0f} rows/s" if name.startswith("gate") else ""
        print(f"  {name:<42} {seconds:8.3f} s {rate}")
    scan = max(
        figures["md5(string_agg) scan, PostgreSQL legacy"],
        figures["md5(string_agg) scan, PostgreSQL new"],
    )
    read = figures["read every SQLite row in Python"]
    ratios = {
        "SQLite checksum pass / its Python read (goal <= 2)": (
            figures["checksum pass, SQLite side alone"] / read
        ),
        "PostgreSQL checksum pass / one md5 scan (goal <= 1.5)": (
            figures["checksum pass, PostgreSQL side alone"] / scan
        ),
        "gate PostgreSQL -> PostgreSQL / one md5 scan (goal <= 1.5)": (
            figures["gate PostgreSQL -> PostgreSQL"] / scan
        ),
        "gate SQLite -> PostgreSQL / slower side's read (goal <= 1.5)": (
            figures["gate SQLite -> PostgreSQL"] / max(read, scan)
        ),
    }
    if "reladiff PostgreSQL -> PostgreSQL" in figures:
        ratios["gate PostgreSQL -> PostgreSQL / reladiff (goal < 1)"] = (
            figures["gate PostgreSQL -> PostgreSQL"] / figures["reladiff PostgreSQL -> PostgreSQL"]
        )
    for name, ratio in ratios.items():
        print(f"  {name:<62} {ratio:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reladiff", help="path of a reladiff executable (optional)")
    args = parser.parse_args()
    found = {rows: measure(rows, args.repeat, args.reladiff) for rows in args.rows}
    for rows, figures in found.items():
        report(rows, args.repeat, figures)


if __name__ == "__main__":
    main()
