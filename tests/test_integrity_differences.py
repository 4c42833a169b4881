"""Each kind of difference the integrity gate must name, on real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.gates.integrity.config import ColumnOptions, IntegrityConfig, TableCheck
from pytest_cutover.gates.result import Outcome
from tests.integrity_support import BACKENDS, Database, open_database

ORDERS = {"id": "int", "status": "text", "total": "decimal2"}
ROWS = [(1, "paid", Decimal("10.00")), (2, "shipped", Decimal("949.60")), (3, "paid", Decimal("5"))]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with open_database(request.param, tmp_path) as database:
        yield database


def pair(
    db: Database, columns: dict[str, str], legacy: list[Any], new: list[Any], **kwargs: Any
) -> TableCheck:
    key = kwargs.pop("primary_key", ("id",))
    new_columns = kwargs.pop("new_columns", columns)
    return TableCheck(
        legacy_table=db.table("legacy", columns, legacy, key),
        new_table=db.table("new", new_columns, new, key),
        name="orders",
        key=list(kwargs.pop("key", ["id"])),
        **kwargs,
    )


def test_identical_tables_pass_with_counts_and_matching_checksums(db: Database) -> None:
    result = db.gate(pair(db, ORDERS, ROWS, ROWS))
    assert result.outcome is Outcome.PASS, result.reasons
    assert result.evidence["rows"] == {"legacy": 3, "new": 3}
    assert result.evidence["checksum"] == "match"


def test_changed_value_is_named_by_key_with_both_values(db: Database, tmp_path: Path) -> None:
    changed = [*ROWS[:1], (2, "shipped", Decimal("949.61")), ROWS[2]]
    result = db.gate(pair(db, ORDERS, ROWS, changed), reports=tmp_path)
    assert result.outcome is Outcome.FAIL
    assert result.reasons == ("1 row(s) changed: id=2 (total '949.6' -> '949.61')",)
    assert result.evidence["changed_columns"] == {"total": 1}
    lines = Path(result.evidence["differences_file"]).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "kind": "changed",
            "key": {"id": "2"},
            "columns": {"total": {"legacy": "949.6", "new": "949.61"}},
        }
    ]


def test_missing_row_is_named(db: Database) -> None:
    result = db.gate(pair(db, ORDERS, ROWS, ROWS[:2]))
    assert result.outcome is Outcome.FAIL
    assert result.reasons == ("1 row(s) missing in new: id=3",)
    assert result.measurements["missing_in_new"] == 1
    assert result.evidence["rows"] == {"legacy": 3, "new": 2}


def test_extra_row_is_named(db: Database) -> None:
    result = db.gate(pair(db, ORDERS, ROWS, [*ROWS, (4, "new", Decimal(1))]))
    assert result.outcome is Outcome.FAIL
    assert result.reasons == ("1 row(s) extra in new (not in legacy): id=4",)


def test_null_and_empty_text_differ(db: Database) -> None:
    columns = {"id": "int", "note": "text"}
    result = db.gate(
        pair(db, columns, [(1, None), (2, ""), (3, "<null>")], [(1, ""), (2, None), (3, None)])
    )
    assert result.outcome is Outcome.FAIL
    differences = {d["key"]["id"]: d["columns"]["note"] for d in result.evidence["differences"]}
    assert differences == {
        "1": {"legacy": None, "new": ""},
        "2": {"legacy": "", "new": None},
        "3": {"legacy": "<null>", "new": None},
    }


def test_float_precision_loss_is_a_difference(db: Database) -> None:
    if db.backend == "sqlite":  # SQLite has only doubles: store what a float4 round trip leaves
        new = [(1, 0.10000000149011612), (2, 0.5)]
        result = db.gate(pair(db, {"id": "int", "x": "double"}, [(1, 0.1), (2, 0.5)], new))
    else:
        result = db.gate(
            pair(
                db,
                {"id": "int", "x": "double"},
                [(1, 0.1), (2, 0.5)],
                [(1, 0.1), (2, 0.5)],
                new_columns={"id": "int", "x": "float4"},
            )
        )
    assert result.outcome is Outcome.FAIL
    assert result.reasons == ("1 row(s) changed: id=1 (x '0.1' -> '0.10000000149011612')",)


def test_float_tolerance_accepts_small_differences_only(db: Database) -> None:
    columns = {"id": "int", "x": "double"}
    legacy = [(1, 1.004), (2, 2.0), (3, 3.0)]
    new = [(1, 1.006), (2, 2.02), (3, 3.0)]
    check = pair(db, columns, legacy, new, options={"x": ColumnOptions(tolerance=0.005)})
    result = db.gate(check)
    assert result.outcome is Outcome.FAIL
    assert result.reasons == ("1 row(s) changed: id=2 (x '2' -> '2.02')",)


def test_decimal_scale_is_not_a_difference(db: Database) -> None:
    legacy = [(1, Decimal("949.60")), (2, Decimal("0.00")), (3, Decimal("-12.50"))]
    new = [(1, Decimal("949.6")), (2, Decimal("0.0")), (3, Decimal("-12.5"))]
    check = pair(
        db,
        {"id": "int", "total": "decimal2"},
        legacy,
        new,
        new_columns={"id": "int", "total": "decimal1"},
    )
    result = db.gate(check)
    assert result.outcome is Outcome.PASS, result.reasons


def test_timestamp_time_zone_shift_is_a_difference_and_the_same_instant_is_not(
    db: Database,
) -> None:
    berlin = timezone(timedelta(hours=2))
    legacy = [
        (1, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        (2, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ]
    new = [
        (1, datetime(2024, 5, 1, 12, 0, tzinfo=berlin)),
        (2, datetime(2024, 5, 1, 10, 0, tzinfo=berlin)),
    ]
    options = {"at": ColumnOptions(compare_as="timestamp")}
    result = db.gate(pair(db, {"id": "int", "at": "tstz"}, legacy, new, options=options))
    assert result.outcome is Outcome.FAIL
    assert result.reasons == (
        "1 row(s) changed: id=2 (at '2024-05-01T10:00:00.000000' -> '2024-05-01T08:00:00.000000')",
    )


def test_naive_timestamps_read_in_the_configured_zone(db: Database) -> None:
    legacy = [(1, datetime(2024, 5, 1, 12, 0))]  # written in Berlin summer time, no zone stored
    new = [(1, datetime(2024, 5, 1, 10, 0, tzinfo=UTC))]
    options = {"at": ColumnOptions(compare_as="timestamp", legacy_timezone="+02:00")}
    check = pair(
        db,
        {"id": "int", "at": "ts"},
        legacy,
        new,
        new_columns={"id": "int", "at": "tstz"},
        options=options,
    )
    assert db.gate(check).outcome is Outcome.PASS


def test_duplicate_key_is_reported_not_crashed_on(db: Database) -> None:
    columns = {"id": "int", "status": "text"}
    legacy = [(1, "a"), (2, "b")]
    new = [(1, "a"), (2, "b"), (2, "c")]
    result = db.gate(pair(db, columns, legacy, new, primary_key=None))
    assert result.outcome is Outcome.FAIL
    assert result.evidence["key_checks"]["new"]["duplicate_keys"] == 1
    assert result.evidence["key_checks"]["new"]["duplicate_examples"] == [{"key": ["2"], "rows": 2}]
    assert result.reasons[0] == "1 row(s) with a duplicated key that holds different rows: id=2"
    assert (
        "new has 0 row(s) with a NULL key and 1 duplicated key value(s) in (id)"
        in result.reasons[1]
    )


def test_duplicate_and_null_keys_copied_faithfully_are_inconclusive(db: Database) -> None:
    rows = [(1, "a"), (1, "a"), (None, "x")]
    result = db.gate(pair(db, {"id": "int", "status": "text"}, rows, rows, primary_key=None))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "legacy has 1 row(s) with a NULL key and 1 duplicated key value(s)" in result.reasons[0]


def test_compound_key_names_every_key_column(db: Database) -> None:
    columns = {"tenant": "key", "id": "int", "qty": "int"}
    legacy = [("acme", 1, 5), ("acme", 2, 6), ("zeta", 1, 7)]
    new = [("acme", 1, 5), ("acme", 2, 6), ("zeta", 1, 8)]
    check = pair(db, columns, legacy, new, primary_key=("tenant", "id"), key=["tenant", "id"])
    result = db.gate(check)
    assert result.reasons == ("1 row(s) changed: tenant='zeta', id=1 (qty '7' -> '8')",)


def test_text_keys_with_mixed_case_and_non_ascii_match_exactly(db: Database) -> None:
    columns = {"code": "key", "label": "text"}
    keys = ["a", "A", "Straße", "STRASSE", "日本", "Émile", "emile", "z"]
    legacy = [(k, f"label {k}") for k in keys]
    new = [(k, f"label {k}") for k in keys if k != "Straße"] + [("straße", "label Straße")]
    new = [(k, "changed") if k == "A" else (k, v) for k, v in new]
    result = db.gate(pair(db, columns, legacy, new, primary_key=("code",), key=["code"]))
    assert result.outcome is Outcome.FAIL
    kinds = sorted((d["kind"], d["key"]["code"]) for d in result.evidence["differences"])
    assert kinds == [("changed", "A"), ("extra_in_new", "straße"), ("missing_in_new", "Straße")]


def test_a_table_missing_on_one_side_is_inconclusive_and_named(db: Database) -> None:
    legacy = db.table("legacy", ORDERS, ROWS)
    result = db.gate(TableCheck(legacy_table=legacy, new_table=f"{db.prefix}_nowhere", key=["id"]))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert f"table '{db.prefix}_nowhere' does not exist in the new database" in result.reasons[0]
    assert "mode=ro" not in result.reasons[0]  # a SQLite file is named by its path


def test_a_missing_column_names_system_table_and_column(db: Database) -> None:
    check = pair(db, ORDERS, ROWS, ROWS)
    check = check.model_copy(update={"columns": ["status", "price"]})
    result = db.gate(check)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert (
        f"column 'price' does not exist in table '{db.prefix}_legacy' of the legacy database"
        in result.reasons[0]
    )


def test_renamed_skipped_and_filtered_columns(db: Database) -> None:
    legacy_cols = {"id": "int", "status": "text", "total": "decimal2", "note": "text"}
    new_cols = {"id": "int", "state": "text", "total": "decimal2", "note": "text"}
    legacy = [
        (1, "paid", Decimal(1), "x"),
        (2, "paid", Decimal(2), "y"),
        (3, "old", Decimal(3), "z"),
    ]
    new = [(1, "paid", Decimal(1), "other"), (2, "paid", Decimal(2), "notes differ")]
    check = pair(
        db,
        legacy_cols,
        legacy,
        new,
        new_columns=new_cols,
        rename={"status": "state"},
        skip=["note"],
        legacy_filter="id < 3",
    )
    result = db.gate(check)
    assert result.outcome is Outcome.PASS, result.reasons
    assert [c["new"] for c in result.evidence["columns"]] == ["id", "state", "total"]


def test_too_many_differences_stop_narrowing_and_report_the_scale(db: Database) -> None:
    columns = {"id": "int", "qty": "int"}
    legacy = [(i, i) for i in range(1, 201)]
    new = [(i, i + 1) for i in range(1, 201)]
    result = db.gate(pair(db, columns, legacy, new), IntegrityConfig(max_fetched_rows=50))
    assert result.outcome is Outcome.FAIL
    assert "more than integrity.max_fetched_rows = 50" in result.reasons[0]
    assert result.evidence["narrowing"] == "sampled: too many differing rows to fetch them all"
    assert result.evidence["fetched_rows"] <= 50
    assert result.reasons[1].startswith("column qty differs in at least ")


def test_uuid_keys_match_whatever_their_case_and_name_the_changed_row(db: Database) -> None:
    first, second = "7d444840-9dc0-11d1-b245-5ffdce74fad2", "0e9a8e4b-5d1c-4f4b-9b7e-1d2c3b4a5f60"
    columns = {"id": "uuid", "qty": "int"}
    legacy = [(first.upper() if db.backend != "postgresql" else first, 1), (second, 2)]
    options = {"id": ColumnOptions(compare_as="uuid")}
    result = db.gate(pair(db, columns, legacy, [(first, 1), (second, 3)], options=options))
    assert result.reasons == (f"1 row(s) changed: id='{second}' (qty '2' -> '3')",)


def test_columns_marked_redact_never_show_their_values(db: Database, tmp_path: Path) -> None:
    columns = {"id": "int", "card": "text"}
    options = {"card": ColumnOptions(redact=True)}
    check = pair(
        db, columns, [(1, "4111-1111"), (2, "5500-0000")], [(1, "4111-9999")], options=options
    )
    result = db.gate(check, reports=tmp_path)
    assert result.reasons == (
        "1 row(s) missing in new: id=2",
        "1 row(s) changed: id=1 (card '***' -> '***')",
    )
    written = Path(result.evidence["differences_file"]).read_text()
    assert "4111" not in written + repr(result.to_dict())
    assert "5500" not in written + repr(result.to_dict())
