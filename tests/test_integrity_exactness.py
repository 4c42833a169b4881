"""The same data hashes the same in SQLite (in-process), PostgreSQL and MariaDB (in SQL), and the
canonical encoding cannot be fooled by values that a separator-joined encoding would confuse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_cutover.gates.integrity.config import ColumnOptions, TableCheck
from pytest_cutover.gates.integrity.encoding import (
    encode_row,
    jsonb_text,
    plain_number,
    python_canonicalizer,
    python_token,
    row_hash,
)
from pytest_cutover.gates.integrity.plan import build_plan
from pytest_cutover.gates.integrity.readers import reader_for
from tests.integrity_support import BACKENDS, Database, open_database

COLUMNS = {
    "id": "int",
    "big": "bigint",
    "name": "text",
    "total": "decimal2",
    "ratio": "double",
    "active": "bool",
    "at": "tstz",
    "wall": "ts",
    "payload": "bytes",
    "ref": "uuid",
}
_EAST = timezone(timedelta(hours=5, minutes=30))
ROWS = [
    (
        1,
        2**62,
        "plain",
        Decimal("949.60"),
        0.1,
        True,
        datetime(2024, 1, 1, 10, 0, 0, 123456, UTC),
        datetime(2024, 2, 29, 23, 59, 59),
        b"\x00\xff",
        "0E9A8E4B-5D1C-4F4B-9B7E-1D2C3B4A5F60",
    ),
    (
        2,
        -(2**62),
        "",
        Decimal("0.00"),
        1e20,
        False,
        datetime(2024, 6, 1, 12, 0, tzinfo=_EAST),
        datetime(1999, 12, 31, 0, 0, 0, 1),
        b"",
        "0e9a8e4b-5d1c-4f4b-9b7e-1d2c3b4a5f61",
    ),
    (3, 0, None, Decimal("-12.50"), 1.5e-07, None, None, None, None, None),
    (
        4,
        7,
        "a|b",
        Decimal("100.00"),
        1 / 3,
        True,
        datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 1, 1),
        b"a|b",
        "00000000-0000-0000-0000-000000000000",
    ),
    (5, 8, "Straße ☃ 日本 🎉", Decimal("0.01"), -0.0, False, None, None, b"\x01", None),
    (6, 9, "<null>", None, 123456.789, True, None, None, None, None),
    (
        7,
        10,
        "quote's and trailing ",
        Decimal("99999999.99"),
        -2.5e-5,
        False,
        None,
        None,
        None,
        None,
    ),
]
OPTIONS = {
    "at": ColumnOptions(compare_as="timestamp"),
    "wall": ColumnOptions(compare_as="timestamp"),
    "ref": ColumnOptions(compare_as="uuid"),
}


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[dict[str, Database]]:
    opened: dict[str, Database] = {}
    with ExitStack() as stack:
        for backend in BACKENDS:
            try:
                opened[backend] = stack.enter_context(open_database(backend, tmp_path))
            except pytest.skip.Exception:
                continue
        yield opened


def fingerprints(
    db: Database, key: list[str]
) -> tuple[dict[str | int, list[int]], list[tuple[str | None, ...]]]:
    name = db.table(f"same_{len(key)}", COLUMNS, ROWS)
    check = TableCheck(table=name, key=key, options=OPTIONS)
    plan = build_plan(check, {"legacy": db.reader, "new": db.reader})
    with reader_for(db.reader, plan.legacy, 30) as reader:
        sums = reader.checksums(2)
        rows = sorted(reader.rows_in(2, sums), key=lambda r: int(r[0] or 0))
    return sums, rows


@pytest.mark.parametrize(
    "key",
    [["id"], ["id", "big"]],
    ids=["integer key (modulo buckets)", "compound key (md5 buckets)"],
)
def test_the_same_rows_hash_alike_in_sqlite_postgresql_and_mariadb(
    databases: dict[str, Database], key: list[str]
) -> None:
    if len(databases) < 2:
        pytest.skip("needs PostgreSQL or MariaDB besides SQLite")
    found = {backend: fingerprints(db, key) for backend, db in databases.items()}
    sqlite_sums, sqlite_rows = found["sqlite"]
    assert sqlite_rows[0] == (
        "1",
        "4611686018427387904",
        "plain",
        "949.6",
        "0.1",
        "1",
        "2024-01-01T10:00:00.123456",
        "2024-02-29T23:59:59.000000",
        "00ff",
        "0e9a8e4b-5d1c-4f4b-9b7e-1d2c3b4a5f60",
    )
    assert sqlite_rows[1][4:7] == ("100000000000000000000", "0", "2024-06-01T06:30:00.000000")
    for backend, (sums, rows) in found.items():
        assert rows == sqlite_rows, backend  # value by value first: a mismatch names the value
        assert sums == sqlite_sums, backend
        assert sum(n for n, _ in sums.values()) == len(ROWS)


def test_the_encoding_is_unambiguous() -> None:
    assert encode_row(["a|", "b"]) != encode_row(["a", "|b"])
    assert encode_row(["ab", ""]) != encode_row(["a", "b"])
    assert (
        len({encode_row([None]), encode_row([""]), encode_row(["<null>"]), encode_row(["-"])}) == 4
    )
    assert encode_row(["1:a"]) != encode_row(["1", "a"])
    assert row_hash(encode_row(["x", None])) != row_hash(encode_row([None, "x"]))
    numbers = ["number", "number"]
    assert encode_row(["5|6", None], numbers) != encode_row(["5", "6|"], numbers)
    assert encode_row(["N", "1"], numbers) != encode_row([None, "1"], numbers)
    assert encode_row(["5", "!1:x"], numbers) != encode_row(["5", "!1:x|"], numbers)
    mixed = ["number", "text"]
    assert encode_row(["1", "2|3"], mixed) != encode_row(["1|2", "3"], mixed)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (Decimal("949.60"), "949.6"),
        (Decimal("100"), "100"),
        (Decimal("-0.00"), "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.000100"), "0.0001"),
    ],
)
def test_decimals_are_plain_and_scale_free(value: Decimal, canonical: str) -> None:
    assert plain_number(value) == canonical


def test_floats_keep_every_digit_and_booleans_equal_integers() -> None:
    number = python_canonicalizer("number")
    assert number(0.1) == "0.1"
    assert number(0.10000000149011612) == "0.10000000149011612"
    assert number(True) == number(1) == "1"
    assert python_canonicalizer("number", decimals=2)(2.675) == "2.68"  # 2.675 as written, half up


def test_json_is_written_as_postgresql_jsonb_writes_it() -> None:
    canonical = python_canonicalizer("json")
    assert canonical('{"bb": [1, 2.50, {"z": null}], "a": true, "a": "é\\n"}') == (
        '{"a": "é\\n", "bb": [1, 2.50, {"z": null}]}'
    )
    assert jsonb_text({"é": 1, "ab": 2}) == '{"ab": 2, "é": 1}'  # byte length, then bytes


@pytest.mark.parametrize(
    ("kind", "native", "values"),
    [
        ("number", "integer", [0, -7, 2**63 - 1, 1.5, "12.50", None, "5|6", "N", True]),
        ("number", "decimal", [0.1, -0.0, 1e16, 1e-7, 123.0, float("nan"), float("inf"), None]),
        ("text", "text", ["", "a|b", "Straße", None, 5, b"raw"]),
        (
            "timestamp",
            "text",
            [
                "2024-01-01T10:00:00+00:00",
                "2024-01-01 10:00:00",
                "2024-01-01T10:00:00.5+02:00",
                "2024-01-01T10:00:00.123456Z",
                "not a time",
                1700000000,
                None,
            ],
        ),
    ],
)
def test_the_fast_tokens_equal_the_canonical_form_written_out(
    kind: str, native: str, values: list[object]
) -> None:
    fast = python_token(kind, native=native)
    canonical = python_canonicalizer(kind, native=native)
    for value in values:
        assert fast(value) == encode_row([canonical(value)], [kind]), value
