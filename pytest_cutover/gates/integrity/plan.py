"""From a [[integrity.tables]] entry and the two live schemas to an exact comparison plan.

Everything that can be known before reading a row is checked here, so a wrong table name, a
missing column or two types that cannot be compared stop the table with a message that names
the system, the table and the column, before any long scan starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import SQLAlchemyError

from pytest_cutover.gates.integrity.config import TableCheck
from pytest_cutover.gates.integrity.dialects import ColumnSql, natural_kind

SIDES = ("legacy", "new")


class PlanError(Exception):
    """The table cannot be compared as configured; the message says where and why."""


@dataclass(frozen=True)
class SideTable:
    """One side's table: where it is, which columns (key first), and what its schema promises."""

    system: str
    schema: str | None
    name: str
    columns: tuple[ColumnSql, ...]
    column_names: tuple[str, ...]
    key_width: int
    row_filter: str | None
    key_declared_unique: bool
    key_nullable: bool
    integer_key: bool = False

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ColumnPair:
    legacy: str
    new: str
    kind: str
    legacy_type: str
    new_type: str
    tolerance: float | None
    redact: bool
    single: bool = False


@dataclass(frozen=True)
class TablePlan:
    label: str
    legacy: SideTable
    new: SideTable
    pairs: tuple[ColumnPair, ...]
    legacy_only: tuple[str, ...]
    new_only: tuple[str, ...]
    skipped: tuple[str, ...]
    allow_empty: bool = False

    @property
    def key_width(self) -> int:
        return self.legacy.key_width

    def side(self, system: str) -> SideTable:
        return self.legacy if system == "legacy" else self.new

    def mapping(self) -> list[dict[str, Any]]:
        """The column/type mapping between the sides, as evidence shows it."""
        return [
            {
                "legacy": p.legacy,
                "new": p.new,
                "legacy_type": p.legacy_type,
                "new_type": p.new_type,
                "compared_as": p.kind,
                **({"precision": "single (legacy's)"} if p.single else {}),
                **({"tolerance": p.tolerance} if p.tolerance is not None else {}),
            }
            for p in self.pairs
        ]


def native_family(column_type: Any, backend: str) -> str:
    """The family a reflected column type belongs to; it decides the canonical SQL."""
    if isinstance(column_type, sqltypes.ARRAY):
        return "array"
    if backend in ("mysql", "mariadb") and type(column_type).__name__.upper() == "SET":
        return "set"
    checks: tuple[tuple[type[Any], str], ...] = (
        (sqltypes.Boolean, "boolean"),
        (sqltypes.Integer, "integer"),
        (sqltypes.Float, "float"),
        (sqltypes.Numeric, "decimal"),
        (sqltypes.DateTime, "timestamp"),
        (sqltypes.Date, "date"),
        (sqltypes.Uuid, "uuid"),
        (sqltypes.JSON, "json"),
        (sqltypes._Binary, "bytes"),
        (sqltypes.String, "text"),
    )
    family = next((name for cls, name in checks if isinstance(column_type, cls)), "other")
    type_name = type(column_type).__name__.upper()
    if family == "float" and backend != "sqlite" and type_name in ("REAL", "FLOAT"):
        family = "float4"  # single precision in PostgreSQL and MySQL (SQLite REAL is a double)
    if family == "timestamp" and (
        getattr(column_type, "timezone", False)
        or (backend in ("mysql", "mariadb") and type_name == "TIMESTAMP")
    ):
        family = "timestamptz"  # MySQL TIMESTAMP is stored in UTC and read in the session zone
    return family


def resolve_kind(column: str, legacy: str, new: str, compare_as: str | None) -> str:
    """The canonical form a column pair is compared in; incompatible families are an error."""
    if compare_as is not None:
        return compare_as
    if {legacy, new} == {"set", "array"}:
        return "set"  # MySQL SET 'red,blue' and a PostgreSQL array {red,blue} of its members
    a, b = natural_kind(legacy), natural_kind(new)
    if a == b:
        return a
    typed = {a, b} - {"text"}
    if len(typed) == 1 and "text" in (a, b):
        (other,) = typed
        # Text stored timestamps, UUIDs and JSON are parsed; text against numbers stays text,
        # so '01234' vs 1234 is a difference unless compare_as = "number" says otherwise.
        return "text" if other == "number" else other
    raise PlanError(
        f"column {column!r}: legacy holds {a} ({legacy}), new holds {b} ({new}); "
        f"set options.{column}.compare_as (number, text, timestamp, date, uuid, json, bytes or set)"
    )


def at_single_precision(legacy: str, new: str, new_backend: str) -> bool:
    """A legacy single-precision float copied into a double is compared at single precision:
    the double holds legacy's value if its nearest float4 is legacy's float4 (MySQL writes a
    FLOAT with 6 digits, 19.82 for 19.8199996...; a copy of that text lost nothing). The other
    way, a double narrowed to a float4, stays compared in full, so the lost digits show."""
    return legacy == "float4" and new == "float" and new_backend != "sqlite"


def _split(qualified: str) -> tuple[str | None, str]:
    schema, _, name = qualified.rpartition(".")
    return (schema or None), name


def describe_engine(engine: Engine) -> str:
    """The database URL as the user wrote it: password hidden, and a SQLite file by its path
    rather than the read-only `file:...?mode=ro` URI the engine really opens."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database.startswith("file:"):
        path = unquote(url.database).removeprefix("file:").split("?", 1)[0]
        return f"sqlite:///{path}"
    return url.render_as_string(hide_password=True)


def _reflect(engine: Engine, system: str, qualified: str) -> dict[str, Any]:
    schema, name = _split(qualified)
    where = f"the {system} database ({describe_engine(engine)})"
    try:
        inspector = inspect(engine)
        if not inspector.has_table(name, schema=schema):
            raise PlanError(f"table {qualified!r} does not exist in {where}")
        columns = inspector.get_columns(name, schema=schema)
        primary = inspector.get_pk_constraint(name, schema=schema).get("constrained_columns")
        unique_sets: list[list[str | None]] = [list(primary or [])]
        unique_sets += [
            list(u["column_names"]) for u in inspector.get_unique_constraints(name, schema=schema)
        ]
        unique_sets += [
            list(i["column_names"])
            for i in inspector.get_indexes(name, schema=schema)
            if i.get("unique")
        ]
    except PlanError:
        raise
    except SQLAlchemyError as err:
        cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise PlanError(f"cannot read table {qualified!r} in {where}: {cause}") from None
    return {
        "schema": schema,
        "name": name,
        "columns": {c["name"]: c for c in columns},
        "unique_sets": [frozenset(s) for s in unique_sets if s],
        "backend": engine.url.get_backend_name(),
    }


def _sqlite_rowid(info: dict[str, Any], key: list[str]) -> bool:
    """SQLite reports an INTEGER PRIMARY KEY as nullable, yet it is the rowid: never NULL."""
    if info["backend"] != "sqlite" or len(key) != 1 or frozenset(key) not in info["unique_sets"]:
        return False
    return str(info["columns"][key[0]]["type"]).upper() == "INTEGER"


def build_plan(table: TableCheck, engines: dict[str, Engine]) -> TablePlan:
    """Reflect both tables and pair their columns; raises PlanError naming what is wrong."""
    found = {
        "legacy": _reflect(engines["legacy"], "legacy", table.legacy_name),
        "new": _reflect(engines["new"], "new", table.new_name),
    }
    legacy_cols: dict[str, Any] = found["legacy"]["columns"]
    new_cols: dict[str, Any] = found["new"]["columns"]
    reverse = {table.new_column(c): c for c in legacy_cols}
    for system, names, wanted in (
        (
            "legacy",
            legacy_cols,
            [*table.key, *(table.columns or []), *table.rename, *table.options],
        ),
        # A rename target that does not exist would silently drop the column from the check.
        (
            "new",
            new_cols,
            [table.new_column(c) for c in [*table.key, *(table.columns or []), *table.rename]],
        ),
    ):
        missing = [c for c in dict.fromkeys(wanted) if c not in names]
        if missing:
            qualified = table.legacy_name if system == "legacy" else table.new_name
            raise PlanError(
                f"column {missing[0]!r} does not exist in table {qualified!r} of the {system} "
                f"database (it has: {', '.join(names)})"
            )
    if table.columns is not None:
        chosen = list(dict.fromkeys([*table.key, *table.columns]))
    else:
        shared = [c for c in legacy_cols if table.new_column(c) in new_cols]
        chosen = list(dict.fromkeys([*table.key, *shared]))
    chosen = [c for c in chosen if c not in table.skip]
    pairs: list[ColumnPair] = []
    sides: dict[str, list[ColumnSql]] = {"legacy": [], "new": []}
    for column in chosen:
        options = table.column_options(column)
        if column in table.key and options.tolerance is not None:
            raise PlanError(f"key column {column!r} cannot have a tolerance: keys match exactly")
        families = {}
        for system, cols, name in (
            ("legacy", legacy_cols, column),
            ("new", new_cols, table.new_column(column)),
        ):
            families[system] = native_family(cols[name]["type"], found[system]["backend"])
        kind = resolve_kind(column, families["legacy"], families["new"], options.compare_as)
        single = kind == "number" and at_single_precision(
            families["legacy"], families["new"], found["new"]["backend"]
        )
        for system, name in (("legacy", column), ("new", table.new_column(column))):
            zone = options.legacy_timezone if system == "legacy" else options.new_timezone
            sides[system].append(
                ColumnSql(
                    sql=name,
                    native=families[system],
                    kind=kind,
                    precision=options.timestamp_precision,
                    zone=zone,
                    decimals=options.decimals if kind == "number" else None,
                    single=single,
                )
            )
        pairs.append(
            ColumnPair(
                legacy=column,
                new=table.new_column(column),
                kind=kind,
                legacy_type=str(legacy_cols[column]["type"]),
                new_type=str(new_cols[table.new_column(column)]["type"]),
                tolerance=options.tolerance,
                redact=options.redact,
                single=single,
            )
        )

    integer_key = (
        len(table.key) == 1
        and sides["legacy"][0].kind == "number"
        and all(sides[system][0].native == "integer" for system in SIDES)
    )

    def side(system: str) -> SideTable:
        info = found[system]
        key = [column if system == "legacy" else table.new_column(column) for column in table.key]
        return SideTable(
            system=system,
            schema=info["schema"],
            name=info["name"],
            columns=tuple(sides[system]),
            column_names=tuple(c.sql for c in sides[system]),
            key_width=len(table.key),
            row_filter=table.legacy_filter if system == "legacy" else table.new_filter,
            key_declared_unique=any(s <= frozenset(key) for s in info["unique_sets"]),
            key_nullable=any(info["columns"][k].get("nullable", True) for k in key)
            and not _sqlite_rowid(info, key),
            integer_key=integer_key,
        )

    return TablePlan(
        label=table.label,
        legacy=side("legacy"),
        new=side("new"),
        pairs=tuple(pairs),
        legacy_only=tuple(c for c in legacy_cols if table.new_column(c) not in new_cols),
        new_only=tuple(c for c in new_cols if c not in reverse),
        skipped=tuple(table.skip),
        allow_empty=table.allow_empty,
    )
