"""Integrity gate: prove the new database holds the legacy rows, and name every row that differs.

Modules, one job each: config (the [integrity] section), encoding (canonical forms and the
in-process hashing), dialects (the same encoding in PostgreSQL and MariaDB/MySQL SQL), plan
(schemas to a comparison plan), readers (one snapshot per side), compare (buckets, then rows),
evidence (reasons, redaction, the differences file) and gate (the GateResults).
"""
