"""`cutover check` for the integrity tables: what is declared, and with `--connect`, whether each
table, key and column exists on both sides and the key is unique, before a long run finds out.

Everything here reads through the gate's own read-only engines, plan and readers, so a table
this check accepts is one the gate can compare; nothing is written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pytest_cutover.config import CutoverConfig

SIDES = ("legacy", "new")


@dataclass
class TableStatus:
    """One table's connect check: problems make `cutover check --connect` exit non-zero."""

    label: str
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.label,
            "ok": self.ok,
            "checked": self.checked,
            "problems": self.problems,
        }


def describe(table: TableCheck) -> str:
    """One line: which table on each side, the key, which columns."""
    columns = f"columns {', '.join(table.columns)}" if table.columns else "all shared columns"
    skipped = f", skip {', '.join(table.skip)}" if table.skip else ""
    return (
        f"{table.label}: legacy {table.legacy_name} -> new {table.new_name}, "
        f"key ({', '.join(table.key)}), {columns}{skipped}"
    )


def check_connections(config: CutoverConfig) -> list[TableStatus]:
    """Each declared table, read-only on both sides: plan (tables, keys, columns, types), then
    NULL and duplicate keys wherever the schema does not already rule them out."""
    from pytest_cutover.systems import System

    section: IntegrityConfig = config.integrity
    engines: dict[str, Engine] = {}
    missing: list[str] = []
    for side in SIDES:
        declared = config.system(side)
        system = System(side, declared, declared.base_url or "", config.base_dir)
        engine = system.read_only_engine(section.statement_timeout)
        if engine is None:
            missing.append(f"systems.{side} has no database configured")
        else:
            engines[side] = engine
    try:
        if missing:
            return [TableStatus(t.label, problems=list(missing)) for t in section.tables]
        return [_check_table(table, section, engines) for table in section.tables]
    finally:
        for engine in engines.values():
            engine.dispose()


def _check_table(
    table: TableCheck, section: IntegrityConfig, engines: dict[str, Engine]
) -> TableStatus:
    from pytest_cutover.gates.integrity.plan import PlanError, build_plan
    from pytest_cutover.gates.integrity.readers import ReadError, reader_for

    status = TableStatus(table.label)
    try:
        plan = build_plan(table, engines)
    except PlanError as err:
        status.problems.append(str(err))
        return status
    status.checked.append(
        f"tables, key ({', '.join(table.key)}) and {len(plan.pairs)} compared column(s) exist "
        "on both sides"
    )
    for side in SIDES:
        described = plan.side(side)
        try:
            with reader_for(engines[side], described, section.statement_timeout) as reader:
                found = reader.key_problems(section.max_listed)
        except ReadError as err:
            status.problems.append(str(err))
            continue
        if described.key_declared_unique and not described.key_nullable:
            status.checked.append(f"{side} key is declared unique and NOT NULL")
            continue
        nulls = found.get("null_keys", 0)
        duplicates = found.get("duplicate_keys", 0)
        if nulls or duplicates:
            examples = ", ".join(
                f"{e['key']} x{e['rows']}" for e in found.get("duplicate_examples", [])[:5]
            )
            status.problems.append(
                f"{side} {described.display}: {nulls} row(s) with a NULL key, {duplicates} "
                f"duplicated key value(s)" + (f" ({examples})" if examples else "")
            )
        else:
            status.checked.append(f"{side} key is unique and never NULL (counted)")
    return status
