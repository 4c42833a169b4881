"""The canonical encoding of encoding.py, written as SQL for PostgreSQL and MariaDB/MySQL.

Checksums are computed where the data lives, so only one row per bucket crosses the network.
Each function returns SQL text that yields exactly what encoding.python_canonicalizer and
encoding.encode_row/row_hash/key_bucket yield for the same value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_cutover.gates.integrity.encoding import (
    HASH_HEX_DIGITS,
    MODULI,
    TERMINATED_KINDS,
    timestamp_length,
)


class UnsupportedComparison(ValueError):
    """This database cannot put this column type in the requested canonical form."""


@dataclass(frozen=True)
class ColumnSql:
    """One column as one side's SQL sees it: quoted name, native type family, wanted form."""

    sql: str
    native: str
    kind: str
    precision: int = 6
    zone: str | None = None
    decimals: int | None = None
    single: bool = False  # a float compared at single precision (legacy's FLOAT/REAL)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Dialect(ABC):
    """What differs between databases: functions, casts, and how a snapshot is opened."""

    name = "generic"

    def canonical(self, column: ColumnSql, rounded: bool = True) -> str:
        native = column.native
        kind = column.kind
        if kind == "text" and native not in ("text", "other"):
            kind = natural_kind(native)
        builder = {
            "number": self._number,
            "boolean": self._number,
            "text": self._text,
            "timestamp": self._timestamp,
            "date": self._date,
            "uuid": self._uuid,
            "json": self._json,
            "bytes": self._bytes,
            "set": self._set,
        }[kind]
        try:
            return builder(column, column.decimals if rounded else None)
        except UnsupportedComparison as err:
            raise UnsupportedComparison(f"column {column.sql}: {err}") from None

    def encode_columns(self, columns: Sequence[ColumnSql], rounded: bool = True) -> str:
        """The row encoding of encoding.encode_row, as one SQL text expression."""
        return self.concat([self._token(c, rounded) for c in columns])

    def _token(self, column: ColumnSql, rounded: bool) -> str:
        value = self.canonical(column, rounded)
        if column.kind in TERMINATED_KINDS:
            return self.concat([f"coalesce({value}, 'N')", "'|'"])
        size = fixed_length(column)
        prefix = [f"'{size}:'"] if size is not None else [self.length(value), "':'"]
        return "coalesce(" + self.concat([*prefix, value]) + ", '-')"

    @abstractmethod
    def concat(self, parts: list[str]) -> str:
        """Concatenation that is NULL when any part is NULL."""
        raise NotImplementedError

    @abstractmethod
    def length(self, text: str) -> str:
        """The length of a text in characters, as text."""
        raise NotImplementedError

    @abstractmethod
    def hash60(self, encoded: str) -> str:
        raise NotImplementedError

    @abstractmethod
    def bucket(self, encoded_key: str, digits: int) -> str:
        raise NotImplementedError

    def integer_bucket(self, column: str, digits: int) -> str:
        """encoding.integer_bucket in SQL: no md5 at all for the common integer primary key."""
        modulus = MODULI[digits]
        # A NULL key lands in bucket -1, as encoding.integer_bucket puts it in Python.
        return f"coalesce(((({column}) % {modulus}) + {modulus}) % {modulus}, -1)"

    @abstractmethod
    def begin(self, timeout: float) -> list[str]:
        """Statements that open one read-only consistent snapshot with a per-query timeout."""
        raise NotImplementedError

    def end(self) -> list[str]:
        """Statements that put the pooled session back as it was."""
        return []

    def zone_check(self, zone: str) -> str | None:
        """A query that returns NULL when the database cannot convert from `zone`."""
        return None

    @abstractmethod
    def _number(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    @abstractmethod
    def _text(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    @abstractmethod
    def _timestamp(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    @abstractmethod
    def _date(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    @abstractmethod
    def _uuid(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    def _json(self, column: ColumnSql, decimals: int | None) -> str:
        raise UnsupportedComparison(
            f'{self.name} cannot write JSON in the canonical form; set compare_as = "text"'
        )

    @abstractmethod
    def _bytes(self, column: ColumnSql, decimals: int | None) -> str:
        raise NotImplementedError

    def _set(self, column: ColumnSql, decimals: int | None) -> str:
        """MySQL's SET text form, 'red,blue', '' for the empty set."""
        return self._text(column, decimals)


def fixed_length(column: ColumnSql) -> int | None:
    """36 for a native UUID, whose length prefix is then a constant rather than a computation."""
    return 36 if column.kind == "uuid" and column.native == "uuid" else None


def natural_kind(native: str) -> str:
    """The canonical form a native type family compares in when nothing else is asked for."""
    return {
        "integer": "number",
        "boolean": "number",
        "decimal": "number",
        "float": "number",
        "float4": "number",
        "timestamp": "timestamp",
        "timestamptz": "timestamp",
        "date": "date",
        "uuid": "uuid",
        "json": "json",
        "bytes": "bytes",
    }.get(native, "text")  # set and array too: as text unless paired with each other


class PostgreSQL(Dialect):
    name = "PostgreSQL"
    _STAMP = "'YYYY-MM-DD\"T\"HH24:MI:SS.US'"

    def concat(self, parts: list[str]) -> str:
        return " || ".join(parts)

    def length(self, text: str) -> str:
        return f"length({text})::text"

    def hash60(self, encoded: str) -> str:
        return f"('x' || left(md5({encoded}), {HASH_HEX_DIGITS}))::bit(60)::bigint"

    def bucket(self, encoded_key: str, digits: int) -> str:
        return f"left(md5({encoded_key}), {digits})"

    def begin(self, timeout: float) -> list[str]:
        return [
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}",
            "SET LOCAL TIME ZONE 'UTC'",
            # Shortest round-trip float output whatever the server default: every digit counts.
            "SET LOCAL extra_float_digits = 1",
            # The planner cannot know a bucket expression has only a few thousand values, so it
            # would sort every row (spilling to disk) to group them; hashing them is far cheaper.
            "SET LOCAL enable_sort = off",
            # ... and it would not split that grouping over parallel workers, thinking each
            # worker's partial groups too many to pass on; they are a few thousand.
            "SET LOCAL parallel_tuple_cost = 0.001",
        ]

    def _number(self, column: ColumnSql, decimals: int | None) -> str:
        c, native = column.sql, column.native
        if native == "boolean":
            return f"(CASE {c} WHEN true THEN '1' WHEN false THEN '0' END)"
        if native == "integer" and decimals is None:
            return f"({c})::text"
        single = column.single and native == "float"
        numeric = {
            "integer": f"({c})::numeric",
            "decimal": f"({c})::numeric",
            "float": f"(({c})::float8::text)::numeric",
            "float4": f"(({c})::float8::text)::numeric",
        }.get(native, f"(({c})::text)::numeric")
        if single:  # the nearest single-precision value, widened back exactly
            numeric = f"(({c})::float4::float8::text)::numeric"
        if decimals is not None:
            numeric = f"round({numeric}, {decimals})"
        canonical = f"trim_scale({numeric})::text"
        if not single:
            return canonical
        # Outside float4's range the cast fails: such a value is written marked, never equal.
        return (
            f"CASE WHEN abs({c}) > {_FLOAT4_MAX} AND abs({c}) < 'Infinity'::float8 "
            f"OR ({c} <> 0 AND abs({c}) < {_FLOAT4_TINY}) THEN '?' || ({c})::text "
            f"ELSE {canonical} END"
        )

    def _set(self, column: ColumnSql, decimals: int | None) -> str:
        if column.native == "array":  # {red,blue} -> 'red,blue'; a NULL member -> ''
            return f"array_to_string({column.sql}, ',', '')"
        return self._text(column, decimals)

    def _text(self, column: ColumnSql, decimals: int | None) -> str:
        return f"({column.sql})::text"

    def _zone(self, zone: str) -> str:
        # An interval follows ISO signs (+02:00 is east of UTC); a string would be POSIX-inverted.
        return f"INTERVAL {_quote(zone)}" if zone[0] in "+-" else _quote(zone)

    def _timestamp(self, column: ColumnSql, decimals: int | None) -> str:
        c, native, zone = column.sql, column.native, column.zone
        if native == "timestamptz":
            moment = f"({c}) AT TIME ZONE 'UTC'"
        elif native in ("timestamp", "date"):
            local = f"({c})::timestamp"
            moment = (
                f"({local} AT TIME ZONE {self._zone(zone)}) AT TIME ZONE 'UTC'" if zone else local
            )
        elif zone:
            moment = (
                f"((({c})::text)::timestamp AT TIME ZONE {self._zone(zone)}) AT TIME ZONE 'UTC'"
            )
        else:
            moment = f"(({c})::text)::timestamptz AT TIME ZONE 'UTC'"
        stamp = self._cut(f"to_char({moment}, {self._STAMP})", column.precision)
        # to_char gives NULL for 'infinity' (and only then, or for NULL): written as text
        # instead, it never passes for NULL; coalesce costs nothing on finite values.
        return f"coalesce({stamp}, ({moment})::text)"

    @staticmethod
    def _cut(stamp: str, precision: int) -> str:
        length = timestamp_length(precision)
        return stamp if length == 26 else f"left({stamp}, {length})"

    def _date(self, column: ColumnSql, decimals: int | None) -> str:
        c = (
            column.sql
            if column.native in ("date", "timestamp")
            else f"(({column.sql})::text)::date"
        )
        return f"coalesce(to_char({c}, 'YYYY-MM-DD'), ({c})::text)"

    def _uuid(self, column: ColumnSql, decimals: int | None) -> str:
        return f"lower(({column.sql})::text)"

    def _json(self, column: ColumnSql, decimals: int | None) -> str:
        return f"(({column.sql})::text)::jsonb::text"

    def _bytes(self, column: ColumnSql, decimals: int | None) -> str:
        if column.native == "bytes":
            return f"encode({column.sql}, 'hex')"
        return f"encode(convert_to(({column.sql})::text, 'UTF8'), 'hex')"


_FLOAT4_MAX = "3.4028234663852886e+38"
_FLOAT4_TINY = "1.401298464324817e-45"
_NUMBER_TEXT = r"^[[:space:]]*[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?[[:space:]]*$"
_ZONED_TEXT = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


class MariaDB(Dialect):
    name = "MariaDB/MySQL"
    _STAMP = "'%Y-%m-%dT%H:%i:%s.%f'"
    _DECIMAL = "DECIMAL(65,30)"

    def __init__(self, is_mariadb: bool = True) -> None:
        self.is_mariadb = is_mariadb

    def concat(self, parts: list[str]) -> str:
        return f"CONCAT({', '.join(parts)})"

    def length(self, text: str) -> str:
        return f"CHAR_LENGTH({text})"

    def hash60(self, encoded: str) -> str:
        return f"CAST(CONV(LEFT(MD5({encoded}), {HASH_HEX_DIGITS}), 16, 10) AS UNSIGNED)"

    def bucket(self, encoded_key: str, digits: int) -> str:
        return f"LEFT(MD5({encoded_key}), {digits})"

    def begin(self, timeout: float) -> list[str]:
        limit = (
            f"SET SESSION max_statement_time = {max(timeout, 0.001):.3f}"
            if self.is_mariadb
            else f"SET SESSION max_execution_time = {max(1, int(timeout * 1000))}"
        )
        return [
            limit,
            "SET SESSION time_zone = '+00:00'",
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ]

    def zone_check(self, zone: str) -> str | None:
        # Without the server's time zone tables CONVERT_TZ answers NULL for a zone name instead
        # of failing: every timestamp would then hash like NULL.
        return f"SELECT CONVERT_TZ('2000-01-01 00:00:00', {_quote(zone)}, '+00:00')"

    def end(self) -> list[str]:
        variable = "max_statement_time" if self.is_mariadb else "max_execution_time"
        return [
            f"SET SESSION {variable} = @@GLOBAL.{variable}",
            "SET SESSION time_zone = @@GLOBAL.time_zone",
        ]

    @staticmethod
    def _trim(text: str) -> str:
        return (
            f"IF(INSTR({text}, '.') > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text})), "
            f"{text})"
        )

    def _number(self, column: ColumnSql, decimals: int | None) -> str:
        c, native = column.sql, column.native
        if native in ("integer", "boolean") and decimals is None:
            return f"CAST({c} AS CHAR)"
        number = {
            "integer": c,
            "boolean": c,
            "decimal": c,
            "float": f"CAST(CAST({c} AS CHAR) AS {self._DECIMAL})",
            "float4": f"CAST(CAST(CAST({c} AS DOUBLE) AS CHAR) AS {self._DECIMAL})",
        }.get(native, f"CAST({c} AS {self._DECIMAL})")
        if column.single and native == "float":
            number = f"CAST(CAST(CAST(CAST({c} AS FLOAT) AS DOUBLE) AS CHAR) AS {self._DECIMAL})"
        if decimals is not None:
            number = f"ROUND({number}, {decimals})"
        canonical = self._trim(f"CAST({number} AS CHAR)")
        # DECIMAL(65,30) cannot hold every double exactly, and MariaDB reads text such as
        # '12.50 USD' as 12.5 with only a warning. Values outside what the cast keeps exactly
        # are written as a marked raw form instead: never equal to a different value (at worst
        # a difference is reported that a reader then sees is only a spelling).
        if native in ("float", "float4"):
            exact = f"({c} = 0 OR ABS({c}) BETWEEN 1e-13 AND 1e35)"
        elif native in ("integer", "boolean", "decimal"):
            return canonical
        else:
            exact = f"{c} REGEXP {_quote(_NUMBER_TEXT)}"
        return f"IF({exact}, {canonical}, CONCAT('?', CAST({c} AS CHAR)))"

    def _text(self, column: ColumnSql, decimals: int | None) -> str:
        return f"CONVERT({column.sql} USING utf8mb4)"

    def _timestamp(self, column: ColumnSql, decimals: int | None) -> str:
        raw = c = column.sql
        text_stored = column.native not in ("timestamp", "timestamptz", "date")
        if text_stored:
            c = f"CAST({c} AS DATETIME(6))"
        zone = "+00:00" if (column.zone or "").upper() == "UTC" else column.zone
        if zone and column.native != "timestamptz":
            c = f"CONVERT_TZ({c}, {_quote(zone)}, '+00:00')"
        stamp = f"DATE_FORMAT({c}, {self._STAMP})"
        length = timestamp_length(column.precision)
        stamp = stamp if length == 26 else f"LEFT({stamp}, {length})"
        if not text_stored:
            return stamp
        # CAST(text AS DATETIME) gives NULL for text it cannot read and drops a written offset:
        # such text is kept as a marked raw form, so it never passes for NULL or another instant.
        marked = f"CONCAT('?', {raw})"
        return (
            f"CASE WHEN {raw} IS NULL THEN NULL WHEN {raw} REGEXP {_quote(_ZONED_TEXT)} "
            f"THEN {marked} ELSE COALESCE({stamp}, {marked}) END"
        )

    def _date(self, column: ColumnSql, decimals: int | None) -> str:
        return f"DATE_FORMAT({column.sql}, '%Y-%m-%d')"

    def _uuid(self, column: ColumnSql, decimals: int | None) -> str:
        return f"LOWER(CAST({column.sql} AS CHAR))"

    def _bytes(self, column: ColumnSql, decimals: int | None) -> str:
        return f"LOWER(HEX({column.sql}))"


def dialect_for(backend: str, is_mariadb: bool = False) -> Dialect:
    """PostgreSQL or MariaDB/MySQL; SQLite has no SQL dialect here, it hashes in-process."""
    if backend == "postgresql":
        return PostgreSQL()
    if backend in ("mysql", "mariadb"):
        return MariaDB(is_mariadb=is_mariadb or backend == "mariadb")
    raise UnsupportedComparison(f"no checksum SQL for {backend} databases")
