"""A MariaDB table loaded into PostgreSQL the way migration tools do it (pgloader's default casts:
SET -> enum array, ENUM -> enum, FLOAT -> double precision from MySQL's text form, tinyint(1) ->
boolean, zero dates -> NULL): the benign casts compare equal, the lossy ones are named with
their row counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import check_table
from pytest_cutover.gates.result import Outcome
from pytest_cutover.redact import Redactor
from tests.integrity_support import Database, open_database

ROWS = 200
SETS = ["red,blue", "", "green", "red,green,blue", None]
PRECISE_EVERY = 10  # price has 7 significant digits: MySQL's 6-digit text form loses one
ZERO_DATE_EVERY = 25


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    with (
        open_database("mariadb", tmp_path) as mariadb,
        open_database("postgresql", tmp_path) as postgresql,
    ):
        yield mariadb, postgresql


def legacy_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "colors": SETS[i % len(SETS)],
            "status": ("new", "paid")[i % 2],
            "price": i + (0.1234567 if i % PRECISE_EVERY == 0 else 0.82),
            "active": i % 2,
            "born": "0000-00-00" if i % ZERO_DATE_EVERY == 0 else date(1990, 1, 1 + i % 28),
        }
        for i in range(1, ROWS + 1)
    ]


def make_legacy(mariadb: Database) -> str:
    name = f"{mariadb.prefix}_shop"
    with mariadb.writer.begin() as conn:
        conn.execute(text("SET SESSION sql_mode = ''"))  # MySQL 5-era data: zero dates allowed
        conn.execute(
            text(
                f"CREATE TABLE {name} (id INT PRIMARY KEY, "
                "colors SET('red','green','blue'), status ENUM('new','paid'), "
                "price FLOAT, active TINYINT(1), born DATE)"
            )
        )
        mariadb.created.append(name)
        conn.execute(
            text(f"INSERT INTO {name} VALUES (:id, :colors, :status, :price, :active, :born)"),
            legacy_rows(),
        )
    return name


def migrate(mariadb: Database, legacy: str, postgresql: Database) -> str:
    """What pgloader does by default: read MySQL's text forms, cast them into PostgreSQL types."""
    name = f"{postgresql.prefix}_shop"
    with mariadb.writer.connect() as source:
        rows = source.execute(
            text(
                "SELECT id, CAST(colors AS CHAR), status, CAST(price AS CHAR), active, "
                f"CAST(born AS CHAR) FROM {legacy}"
            )
        ).all()
    with postgresql.writer.begin() as conn:
        conn.execute(text(f"CREATE TYPE {name}_color AS ENUM ('red', 'green', 'blue')"))
        conn.execute(text(f"CREATE TYPE {name}_status AS ENUM ('new', 'paid')"))
        conn.execute(
            text(
                f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, colors {name}_color[], "
                f"status {name}_status, price DOUBLE PRECISION, active BOOLEAN, born DATE)"
            )
        )
        postgresql.created.append(name)
        conn.execute(
            text(
                f"INSERT INTO {name} VALUES (:id, CAST(:colors AS {name}_color[]), "
                f"CAST(:status AS {name}_status), :price, :active, CAST(:born AS date))"
            ),
            [
                {
                    "id": row[0],
                    "colors": None if row[1] is None else "{" + row[1] + "}",
                    "status": row[2],
                    "price": float(row[3]),
                    "active": bool(row[4]),
                    "born": None if row[5] == "0000-00-00" else row[5],
                }
                for row in rows
            ],
        )
    return name


def test_benign_casts_pass_and_lossy_ones_are_named_with_row_counts(
    sides: tuple[Database, Database],
) -> None:
    mariadb, postgresql = sides
    legacy = make_legacy(mariadb)
    new = migrate(mariadb, legacy, postgresql)
    try:
        result = check_table(
            TableCheck(legacy_table=legacy, new_table=new, key=["id"]),
            IntegrityConfig(),
            {"legacy": mariadb.reader, "new": postgresql.reader},
            Redactor(),
        )
    finally:
        with postgresql.writer.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {new}"))
            conn.execute(text(f"DROP TYPE IF EXISTS {new}_color, {new}_status"))
    assert result.outcome is Outcome.FAIL
    assert result.evidence["changed_columns"] == {
        "price": ROWS // PRECISE_EVERY,
        "born": ROWS // ZERO_DATE_EVERY,
    }
    compared = {c["legacy"]: c for c in result.evidence["columns"]}
    assert compared["colors"]["compared_as"] == "set"
    assert compared["price"]["precision"] == "single (legacy's)"
    differences = {d["key"]["id"]: d["columns"] for d in result.evidence["differences"]}
    # Both at single precision: new's 10.1235 (MySQL's text of 10.1234567) is another float4.
    assert differences["10"] == {
        "price": {"legacy": "10.123456954956055", "new": "10.123499870300293"}
    }
    assert differences["25"] == {"born": {"legacy": "0000-00-00", "new": None}}
