"""Read one side of one table inside one consistent, read-only snapshot with a per-query timeout.

PostgreSQL and MariaDB/MySQL compute the checksums themselves (dialects.py); SQLite has no hash
function, so its rows are streamed once and hashed in-process with the very same encoding.
Nothing here writes or creates anything, temporary tables included.

Snapshots: PostgreSQL REPEATABLE READ READ ONLY; MariaDB/MySQL WITH CONSISTENT SNAPSHOT, READ
ONLY; SQLite one read transaction on a mode=ro connection. In SQLite's rollback-journal mode that
read transaction makes writers wait until the scan ends (WAL mode does not): gate a live SQLite
database in WAL mode, or a copy of it. Timeouts: statement_timeout (PostgreSQL),
max_statement_time (MariaDB) or max_execution_time (MySQL) per query; on SQLite a progress
handler stops a query, in-process hashing included, once the timeout has passed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from operator import call
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from pytest_cutover.gates.integrity.dialects import (
    Dialect,
    PostgreSQL,
    UnsupportedComparison,
    dialect_for,
)
from pytest_cutover.gates.integrity.encoding import (
    HASH_HEX_DIGITS,
    MODULI,
    Bucket,
    Canonical,
    encode_row,
    integer_bucket,
    key_bucket,
    python_canonicalizer,
    python_token,
)
from pytest_cutover.gates.integrity.plan import SideTable, describe_engine
from pytest_cutover.gates.integrity.sqlite_hashing import (
    RangeJob,
    bucket_sums,
    parallel_sums,
    split,
)

log = logging.getLogger("pytest_cutover.integrity")
Checksums = dict[Bucket, list[int]]  # bucket -> [rows, sum of 60-bit row hashes]
# bucket -> [rows, sum of key hashes, then per non-key column the sum of hash(key, value)]
ColumnChecksums = dict[Bucket, list[int]]
_PARALLEL_FROM_ROWS = 200_000  # below this, starting worker processes costs more than it saves
_TIMEOUT_MARKERS = ("statement timeout", "max_statement_time", "max_execution_time", "interrupted")


class ReadError(Exception):
    """A side could not be read; the message names the system and the table."""


class SideReader(AbstractContextManager["SideReader"], ABC):
    """The queries the gate needs from one side. Subclasses decide where hashing happens."""

    def __init__(self, engine: Engine, side: SideTable, timeout: float) -> None:
        self.engine = engine
        self.side = side
        self.timeout = timeout
        preparer = engine.dialect.identifier_preparer
        self.table_sql = preparer.quote(side.name)
        if side.schema:
            self.table_sql = f"{preparer.quote_schema(side.schema)}.{self.table_sql}"
        self.columns = tuple(replace(c, sql=preparer.quote(c.sql)) for c in side.columns)
        self.where = f"WHERE ({side.row_filter})" if side.row_filter else "WHERE 1=1"

    def fail(self, err: BaseException) -> ReadError:
        cause = str(getattr(err, "orig", None) or err).strip().splitlines()
        message = cause[0] if cause else type(err).__name__
        if any(marker in message for marker in _TIMEOUT_MARKERS):
            message = (
                f"a query ran longer than integrity.statement_timeout ({self.timeout:g} s) "
                f"and was stopped: {message}"
            )
        where = describe_engine(self.engine)
        return ReadError(f"{self.side.system} table {self.side.display!r} ({where}): {message}")

    def __enter__(self) -> SideReader:
        try:
            self._open()
        except (SQLAlchemyError, sqlite3.Error) as err:
            self._close()
            raise self.fail(err) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    @abstractmethod
    def _open(self) -> None:
        """Connect and open the read-only snapshot."""
        raise NotImplementedError

    @abstractmethod
    def _close(self) -> None:
        """End the snapshot and hand the connection back; safe to call twice."""
        raise NotImplementedError

    def _key_sql(self) -> list[str]:
        return [c.sql for c in self.columns[: self.side.key_width]]

    def _null_key_sql(self) -> str:
        nulls = " OR ".join(f"{k} IS NULL" for k in self._key_sql())
        return f"SELECT count(*) FROM {self.table_sql} {self.where} AND ({nulls})"

    def _duplicate_sql(self, limit: int | None) -> str:
        keys = ", ".join(self._key_sql())
        grouped = (
            f"SELECT {keys}, count(*) AS n FROM {self.table_sql} {self.where} "
            f"GROUP BY {keys} HAVING count(*) > 1"
        )
        if limit is None:
            return f"SELECT count(*), coalesce(sum(n), 0) FROM ({grouped}) d"
        return f"{grouped} ORDER BY n DESC LIMIT {int(limit)}"

    def key_problems(self, limit: int) -> dict[str, Any]:
        """NULL keys and duplicate keys, checked only where the schema does not rule them out."""
        found: dict[str, Any] = {}
        if self.side.key_nullable:
            found["null_keys"] = int(self.scalar_rows(self._null_key_sql())[0][0])
        if not self.side.key_declared_unique:
            keys, rows = self.scalar_rows(self._duplicate_sql(None))[0]
            found["duplicate_keys"] = int(keys)
            found["rows_with_duplicate_keys"] = int(rows)
            found["duplicate_examples"] = [
                {"key": [None if v is None else str(v) for v in row[:-1]], "rows": int(row[-1])}
                for row in self.scalar_rows(self._duplicate_sql(limit))
            ]
        return found

    @abstractmethod
    def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    @abstractmethod
    def estimate_rows(self) -> int | None:
        raise NotImplementedError

    @abstractmethod
    def checksums(self, digits: int) -> Checksums:
        raise NotImplementedError

    @abstractmethod
    def column_checksums(self, digits: int) -> ColumnChecksums:
        """A second pass, only for a table that differs in more rows than may be fetched: per
        bucket the rows, the sum of key hashes and, per non-key column, the sum of
        hash(key, value). A column whose sums differ in a bucket with the same keys differs
        in at least one row of it, so every differing column is named without a row fetched."""
        raise NotImplementedError

    @abstractmethod
    def rows_in(self, digits: int, buckets: Iterable[Bucket]) -> list[tuple[Canonical, ...]]:
        """Canonical values (unrounded, key first) of every row whose key hashes into buckets."""
        raise NotImplementedError


class SqlReader(SideReader):
    """PostgreSQL and MariaDB/MySQL: checksums and bucket filters run inside the database."""

    def __init__(self, engine: Engine, side: SideTable, timeout: float) -> None:
        super().__init__(engine, side, timeout)
        self.dialect: Dialect = dialect_for(
            engine.url.get_backend_name(), bool(getattr(engine.dialect, "is_mariadb", False))
        )
        try:
            self._row = self.dialect.encode_columns(self.columns)
            self._key = self.dialect.encode_columns(self.columns[: side.key_width])
            self._exact = [self.dialect.canonical(c, rounded=False) for c in self.columns]
        except UnsupportedComparison as err:
            raise self.fail(err) from None
        self._conn: Connection | None = None

    def _open(self) -> None:
        self._conn = self.engine.connect()
        for statement in self.dialect.begin(self.timeout):
            self._conn.execute(text(statement))
        named = {c.zone for c in self.columns if c.zone and c.zone[0] not in "+-"}
        for zone in named - {"UTC", "utc"}:
            check = self.dialect.zone_check(zone)
            if check is not None and self._conn.execute(text(check)).scalar() is None:
                self._close()
                raise self.fail(
                    LookupError(
                        f"the database does not know the time zone {zone!r} (load its time "
                        "zone tables, or give an offset such as '+01:00')"
                    )
                )

    def _close(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
            for statement in self.dialect.end():
                self._conn.execute(text(statement))
            self._conn.rollback()
        except SQLAlchemyError:
            self._conn.invalidate()  # never hand a connection in an unknown state back to the pool
        finally:
            self._conn.close()
            self._conn = None

    def _run(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        assert self._conn is not None, "use the reader as a context manager"
        statement = text(sql)
        if "buckets" in params:
            statement = statement.bindparams(bindparam("buckets", expanding=True))
        try:
            return [tuple(row) for row in self._conn.execute(statement, params)]
        except SQLAlchemyError as err:
            raise self.fail(err) from None

    def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self._run(sql)

    def estimate_rows(self) -> int | None:
        if isinstance(self.dialect, PostgreSQL):
            sql = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"
            found = self._run(sql, name=self.table_sql)
        else:
            sql = (
                "SELECT TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name"
            )
            found = self._run(sql, schema=self.side.schema, name=self.side.name)
        value = found[0][0] if found else None
        return int(value) if value is not None and int(value) >= 0 else None

    def _bucket_sql(self, digits: int) -> str:
        if self.side.integer_key:
            return self.dialect.integer_bucket(self.columns[0].sql, digits)
        return self.dialect.bucket(self._key, digits)

    def checksums(self, digits: int) -> Checksums:
        row_hash = self.dialect.hash60(self._row)
        sql = (
            f"SELECT b, count(*), sum(h) FROM (SELECT {self._bucket_sql(digits)} AS b, "
            f"{row_hash} AS h FROM {self.table_sql} {self.where}) s GROUP BY b"
        )
        started = time.perf_counter()
        found: Checksums = {b: [int(n), int(total)] for b, n, total in self._run(sql)}
        log.info(
            "%s %s: %d rows checksummed in %.2f s",
            self.side.system,
            self.side.display,
            sum(v[0] for v in found.values()),
            time.perf_counter() - started,
        )
        return found

    def column_checksums(self, digits: int) -> ColumnChecksums:
        width = self.side.key_width
        keys = self.columns[:width]
        hashes = [self.dialect.hash60(self._key)] + [
            self.dialect.hash60(self.dialect.encode_columns([*keys, column]))
            for column in self.columns[width:]
        ]
        inner = ", ".join(f"{h} AS h{i}" for i, h in enumerate(hashes))
        sums = ", ".join(f"sum(h{i})" for i in range(len(hashes)))
        sql = (
            f"SELECT b, count(*), {sums} FROM (SELECT {self._bucket_sql(digits)} AS b, {inner} "
            f"FROM {self.table_sql} {self.where}) s GROUP BY b"
        )
        return {row[0]: [int(v) for v in row[1:]] for row in self._run(sql)}

    def rows_in(self, digits: int, buckets: Iterable[Bucket]) -> list[tuple[Canonical, ...]]:
        sql = (
            f"SELECT {', '.join(self._exact)} FROM {self.table_sql} {self.where} "
            f"AND {self._bucket_sql(digits)} IN :buckets"
        )
        return self._run(sql, buckets=sorted(buckets))


class SqliteReader(SideReader):
    """SQLite: one read transaction; rows are streamed and hashed in this process."""

    def __init__(self, engine: Engine, side: SideTable, timeout: float) -> None:
        super().__init__(engine, side, timeout)
        self._tokens = [
            python_token(c.kind, c.precision, c.zone, c.decimals, c.native) for c in side.columns
        ]
        self._exact = [
            python_canonicalizer(c.kind, c.precision, c.zone, None, c.native) for c in side.columns
        ]
        self._kinds = [c.kind for c in side.columns]
        self._raw: Any = None
        self._db: sqlite3.Connection | None = None

    def _open(self) -> None:
        self._raw = self.engine.raw_connection()
        self._db = self._raw.driver_connection
        assert self._db is not None
        self._db.execute("BEGIN")  # one read transaction: every query sees the same data

    def _close(self) -> None:
        if self._db is not None:
            self._db.set_progress_handler(None, 0)
            if self._db.in_transaction:
                self._db.rollback()
            self._db = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def _cursor(self, sql: str) -> Iterator[tuple[Any, ...]]:
        assert self._db is not None, "use the reader as a context manager"
        deadline = time.monotonic() + self.timeout
        self._db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield from self._db.execute(sql)
        except sqlite3.Error as err:
            raise self.fail(err) from None
        finally:
            self._db.set_progress_handler(None, 0)

    def _select(self) -> str:
        return f"SELECT {', '.join(c.sql for c in self.columns)} FROM {self.table_sql} {self.where}"

    def scalar_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._cursor(sql))

    def estimate_rows(self) -> int | None:
        return int(self.scalar_rows(f"SELECT count(*) FROM {self.table_sql} {self.where}")[0][0])

    def _bucket_of(self, digits: int) -> Callable[[tuple[Any, ...], str], Bucket]:
        if self.side.integer_key:
            return lambda row, _key: integer_bucket(row[0], digits)
        return lambda _row, key: key_bucket(key, digits)

    def checksums(self, digits: int) -> Checksums:
        started = time.perf_counter()
        jobs = self._range_jobs(digits)
        try:
            if jobs:
                found = parallel_sums(jobs)
            else:
                found = bucket_sums(
                    self._cursor(self._select()),
                    self._tokens,
                    self.side.integer_key,
                    self.side.key_width,
                    digits,
                )
        except sqlite3.Error as err:
            raise self.fail(err) from None
        log.info(
            "%s %s: %d rows checksummed in %.2f s%s",
            self.side.system,
            self.side.display,
            sum(slot[0] for slot in found.values()),
            time.perf_counter() - started,
            f" by {len(jobs)} processes" if jobs else "",
        )
        return found

    def _range_jobs(self, digits: int) -> list[RangeJob]:
        """Rowid ranges for worker processes, or none: one core, a small table, a WAL database
        (whose writers the snapshot's lock does not hold back), a table without rowid, or one
        with a column that hides it."""
        workers = os.cpu_count() or 1
        # The very `file:` URI the engine opens (mode=ro and the URL's own parameters), so a
        # worker is as read-only as the gate's own connection.
        opened, _ = self.engine.dialect.create_connect_args(self.engine.url)
        database = str(opened[0]) if opened else ""
        if workers < 2 or not database.startswith("file:") or "mode=ro" not in database:
            return []
        if str(self.scalar_rows("PRAGMA journal_mode")[0][0]).lower() == "wal":
            return []
        assert self._db is not None
        described = self._db.execute(f"SELECT * FROM {self.table_sql} LIMIT 0").description
        if {str(d[0]).lower() for d in described} & {"rowid", "_rowid_", "oid"}:
            return []
        try:
            low, high = self.scalar_rows(f"SELECT min(rowid), max(rowid) FROM {self.table_sql}")[0]
        except ReadError:  # a WITHOUT ROWID table
            return []
        if low is None or high - low + 1 < _PARALLEL_FROM_ROWS:
            return []
        select = f"{self._select()} AND rowid BETWEEN ? AND ?"
        specs = tuple(
            (c.kind, c.precision, c.zone, c.decimals, c.native) for c in self.side.columns
        )
        return [
            RangeJob(
                database,
                select,
                start,
                stop,
                specs,
                self.side.integer_key,
                self.side.key_width,
                digits,
                self.timeout,
            )
            for start, stop in split(int(low), int(high), workers)
        ]

    def column_checksums(self, digits: int) -> ColumnChecksums:
        md5 = hashlib.md5
        tokens = self._tokens
        width = self.side.key_width
        bucket_of = self._bucket_of(digits)
        found: ColumnChecksums = {}
        for row in self._cursor(self._select()):
            parts = list(map(call, tokens, row))
            key_text = "".join(parts[:width])
            hashes = [int(md5(key_text.encode()).hexdigest()[:HASH_HEX_DIGITS], 16)]
            hashes += [
                int(md5((key_text + part).encode()).hexdigest()[:HASH_HEX_DIGITS], 16)
                for part in parts[width:]
            ]
            bucket = bucket_of(row, key_text)
            slot = found.get(bucket)
            if slot is None:
                found[bucket] = [1, *hashes]
            else:
                slot[0] += 1
                for index, value in enumerate(hashes, start=1):
                    slot[index] += value
        return found

    def rows_in(self, digits: int, buckets: Iterable[Bucket]) -> list[tuple[Canonical, ...]]:
        wanted = set(buckets)
        select = self._select()
        if self.side.integer_key:  # SQLite can do the modulo itself: only the bucket's rows come
            modulus = MODULI[digits]
            listed = ", ".join(str(int(b)) for b in wanted)
            key = self.columns[0].sql
            wanted_here = f"((({key}) % {modulus}) + {modulus}) % {modulus} IN ({listed})"
            if -1 in wanted:  # a non-integer stored in an integer column (SQLite allows it)
                wanted_here = f"(typeof({key}) != 'integer' OR {wanted_here})"
            select += f" AND {wanted_here}"
        width = self.side.key_width
        keyed = self._exact[:width]
        kinds = self._kinds[:width]
        bucket_of = self._bucket_of(digits)
        found: list[tuple[Canonical, ...]] = []
        for row in self._cursor(select):
            key_text = (
                "" if self.side.integer_key else encode_row(list(map(call, keyed, row)), kinds)
            )
            if bucket_of(row, key_text) in wanted:
                found.append(tuple(map(call, self._exact, row)))
        return found


def reader_for(engine: Engine, side: SideTable, timeout: float) -> SideReader:
    if engine.url.get_backend_name() == "sqlite":
        return SqliteReader(engine, side, timeout)
    return SqlReader(engine, side, timeout)
