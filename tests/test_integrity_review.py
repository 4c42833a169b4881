"""Cases a second read of the integrity gate found passing when they must not: each one fails
or is INCONCLUSIVE now, on the real databases where it was found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pytest_cutover.gates.integrity.config import ColumnOptions, TableCheck
from pytest_cutover.gates.result import Outcome
from tests.integrity_support import BACKENDS, Database, open_database


def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    with open_database(backend, tmp_path) as found:
        yield found


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database(request.param, tmp_path)


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[Database]:
    yield from database("mariadb", tmp_path)


@pytest.fixture
def postgresql(tmp_path: Path) -> Iterator[Database]:
    yield from database("postgresql", tmp_path)


def tables(
    db: Database, columns: dict[str, str], legacy: list[Any], new: list[Any], **check: Any
) -> TableCheck:
    return TableCheck(
        legacy_table=db.table("legacy", columns, legacy),
        new_table=db.table("new", columns, new),
        key=["id"],
        **check,
    )


def test_a_misspelt_rename_target_is_named_not_skipped(db: Database) -> None:
    columns = {"id": "int", "email": "text"}
    check = tables(db, columns, [(1, "a@x")], [(1, "b@x")], rename={"email": "email_adress"})
    result = db.gate(check)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "column 'email_adress' does not exist" in result.reasons[0]


def test_empty_on_both_sides_proves_nothing_unless_allowed(db: Database) -> None:
    columns = {"id": "int", "email": "text"}
    check = tables(db, columns, [], [])
    result = db.gate(check)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reasons[-1].startswith("both sides have 0 rows: nothing was compared")
    assert db.gate(check.model_copy(update={"allow_empty": True})).passed


def test_text_that_is_not_a_number_never_equals_a_number(mariadb: Database) -> None:
    columns = {"id": "int", "price": "text"}
    check = tables(
        mariadb, columns, [(1, "12.5"), (2, "0")], [(1, "12.50 USD"), (2, "garbage")],
        options={"price": ColumnOptions(compare_as="number")},
    )  # fmt: skip
    result = mariadb.gate(check)
    assert result.outcome is Outcome.FAIL
    assert result.evidence["changed"] == 2


def test_doubles_beyond_what_a_decimal_keeps_still_differ(mariadb: Database) -> None:
    columns = {"id": "int", "x": "double"}
    result = mariadb.gate(tables(mariadb, columns, [(1, 0.0), (2, 1e40)], [(1, 1e-31), (2, 5e40)]))
    assert result.outcome is Outcome.FAIL
    assert result.evidence["changed"] == 2


def test_unreadable_or_zoned_timestamp_text_is_not_null_or_another_instant(
    mariadb: Database,
) -> None:
    columns = {"id": "int", "at": "text"}
    check = tables(
        mariadb, columns, [(1, None), (2, "2024-01-01 10:00:00")],
        [(1, "garbage"), (2, "2024-01-01 10:00:00+02:00")],
        options={"at": ColumnOptions(compare_as="timestamp")},
    )  # fmt: skip
    result = mariadb.gate(check)
    assert result.outcome is Outcome.FAIL
    assert result.evidence["changed"] == 2


def test_a_zone_the_server_cannot_convert_is_named(mariadb: Database) -> None:
    zone = "Europe/Berlin"
    with mariadb.writer.connect() as conn:
        known = conn.execute(text(f"SELECT CONVERT_TZ('2000-01-01', '{zone}', '+00:00')")).scalar()
    if known is not None:
        pytest.skip("this MariaDB has its time zone tables loaded")
    columns = {"id": "int", "at": "ts"}
    options = {"at": ColumnOptions(legacy_timezone=zone, new_timezone=zone)}
    result = mariadb.gate(
        tables(mariadb, columns, [(1, "2024-01-01 00:00:00")], [(1, "2030-06-06 00:00:00")],
               options=options)
    )  # fmt: skip
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "does not know the time zone 'Europe/Berlin'" in result.reasons[0]


def test_infinity_is_not_null(postgresql: Database) -> None:
    columns = {"id": "int", "at": "ts"}
    with postgresql.writer.begin() as conn:
        legacy = postgresql.table("legacy", columns, [(1, None)])
        new = postgresql.table("new", columns, [])
        conn.execute(text(f"INSERT INTO {new} VALUES (1, 'infinity')"))
    result = postgresql.gate(TableCheck(legacy_table=legacy, new_table=new, key=["id"]))
    assert result.outcome is Outcome.FAIL
    assert result.evidence["changed"] == 1


def test_a_null_integer_key_is_reported_not_a_crash(db: Database) -> None:
    columns = {"id": "int", "v": "text"}
    legacy = db.table("legacy", columns, [(1, "a"), (None, "b")], primary_key=None)
    new = db.table("new", columns, [(1, "a"), (None, "c")], primary_key=None)
    result = db.gate(TableCheck(legacy_table=legacy, new_table=new, key=["id"]))
    assert result.outcome is not Outcome.PASS
    assert "NULL key" in " ".join(result.reasons)
