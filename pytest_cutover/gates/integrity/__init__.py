"""Integrity gate: prove the new database holds the legacy rows, and name every row that differs.

Modules, one job each: config (the [integrity] section), encoding (canonical forms and the
in-process hashing), dialects (the same encoding in PostgreSQL and MariaDB/MySQL SQL), plan
(schemas to a comparison plan), readers (one snapshot per side), compare (buckets, then rows),
evidence (reasons, redaction, the differences file) and gate (the GateResults).
"""

from pytest_cutover.gates.integrity.config import ColumnOptions, IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.gate import GATE, check_table, check_tables, start_tables

__all__ = [
    "GATE",
    "ColumnOptions",
    "IntegrityConfig",
    "TableCheck",
    "check_table",
    "check_tables",
    "start_tables",
]
