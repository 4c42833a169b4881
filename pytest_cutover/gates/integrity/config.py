"""The `[integrity]` section of cutover.toml: which tables to prove equal, and how to compare them.

Every name here is written as the user sees it in their databases. Column names are the legacy
side's names; `rename` maps them to the new side's, so a renamed column is still compared rather
than silently dropped.
"""

from __future__ import annotations

import math
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from pytest_cutover.section import Duration, Section, StrList

CompareAs = Literal[
    "text", "number", "boolean", "timestamp", "date", "uuid", "json", "bytes", "set"
]
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


Names = StrList


class ColumnOptions(Section):
    """How one column is compared. Defaults are exact: no tolerance, microseconds, UTC."""

    compare_as: CompareAs | None = None
    tolerance: float | None = Field(default=None, gt=0)
    timestamp_precision: int = Field(default=6, ge=0, le=6)
    legacy_timezone: str | None = None
    new_timezone: str | None = None
    redact: bool = False

    @field_validator("legacy_timezone", "new_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        # A fixed offset means the same thing to every database; a zone name needs MariaDB's
        # time zone tables, which many servers never load, so names are accepted as written and
        # an unknown one fails the query with the database's own message.
        if value is None or value.upper() == "UTC" or _OFFSET.match(value):
            return value
        if re.match(r"^[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+$", value):
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
            return value
        raise ValueError(
            "expected 'UTC', an offset such as '+02:00', or a zone such as 'Europe/Berlin'"
        )

    @property
    def decimals(self) -> int | None:
        """Digits that numbers are rounded to before hashing when a tolerance is set.

        Rounding to 10^-decimals <= tolerance means two values that hash alike are always within
        the tolerance; values that round apart are fetched and compared exactly with it, so the
        rounding can only cost time, never hide a difference.
        """
        if self.tolerance is None:
            return None
        return max(0, math.ceil(-math.log10(self.tolerance)))


class TableCheck(Section):
    """One table (or a filtered part of it) that must hold the same rows on both sides."""

    table: str | None = None
    legacy_table: str | None = None
    new_table: str | None = None
    name: str | None = None
    key: Names = Field(min_length=1)
    columns: Names | None = None
    skip: Names = []
    rename: dict[str, str] = {}
    legacy_filter: str | None = None
    new_filter: str | None = None
    options: dict[str, ColumnOptions] = {}
    allow_empty: bool = False

    @model_validator(mode="after")
    def _both_tables_named(self) -> TableCheck:
        if self.legacy_table is None and self.new_table is None and self.table is None:
            raise ValueError("give 'table' (the same name on both sides) or legacy_table/new_table")
        if (self.legacy_table or self.table) is None or (self.new_table or self.table) is None:
            raise ValueError("give 'table', or both 'legacy_table' and 'new_table'")
        clash = set(self.skip) & set(self.key)
        if clash:
            raise ValueError(f"key column(s) {sorted(clash)} cannot be skipped")
        return self

    @property
    def legacy_name(self) -> str:
        return self.legacy_table or self.table or ""

    @property
    def new_name(self) -> str:
        return self.new_table or self.table or ""

    @property
    def label(self) -> str:
        """The name reports and test ids use."""
        if self.name:
            return self.name
        if self.legacy_name == self.new_name:
            return self.legacy_name
        return f"{self.legacy_name}->{self.new_name}"

    def new_column(self, legacy_column: str) -> str:
        return self.rename.get(legacy_column, legacy_column)

    def column_options(self, legacy_column: str) -> ColumnOptions:
        return self.options.get(legacy_column, _EXACT)


_EXACT = ColumnOptions()


class IntegrityConfig(Section):
    """Limits that keep the gate harmless on production databases and bounded in time."""

    tables: list[TableCheck] = []
    parallel: int = Field(default=2, ge=1, le=16)
    statement_timeout: Duration = 600.0
    max_listed: int = Field(default=20, ge=0)
    max_fetched_rows: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _unique_labels(self) -> IntegrityConfig:
        seen: set[str] = set()
        for table in self.tables:
            if table.label in seen:
                raise ValueError(
                    f"table {table.label!r} is listed twice; give one of them a distinct 'name'"
                )
            seen.add(table.label)
        return self
