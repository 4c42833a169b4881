"""Compare two sides: first bucket checksums, then the rows of the buckets that differ.

Buckets are compared by (row count, exact sum of 60-bit row hashes): a sum never cancels a
duplicated row the way XOR does, and the count catches what a sum alone could miss.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_cutover.gates.integrity.encoding import Bucket, Canonical
from pytest_cutover.gates.integrity.plan import TablePlan
from pytest_cutover.gates.integrity.readers import Checksums

Row = tuple[Canonical, ...]
MISSING = "missing_in_new"
EXTRA = "extra_in_new"
CHANGED = "changed"
DUPLICATE = "duplicate_key"


def differing_buckets(legacy: Checksums, new: Checksums) -> dict[Bucket, tuple[int, int]]:
    """Bucket -> (legacy rows, new rows) for every bucket whose count or sum differs."""
    empty = [0, 0]
    return {
        bucket: (legacy.get(bucket, empty)[0], new.get(bucket, empty)[0])
        for bucket in legacy.keys() | new.keys()
        if legacy.get(bucket, empty) != new.get(bucket, empty)
    }


@dataclass
class RowDifferences:
    """Every difference found among the fetched rows, in key order."""

    items: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    changed_columns: Counter[str] = field(default_factory=Counter)


def _within(tolerance: float | None, a: Canonical, b: Canonical) -> bool:
    if a == b:
        return True
    if tolerance is None or a is None or b is None:
        return False
    try:
        return abs(Decimal(a) - Decimal(b)) <= Decimal(str(tolerance))
    except InvalidOperation:
        return False


def _key(plan: TablePlan, row: Row) -> dict[str, Canonical]:
    return {
        pair.legacy: value for pair, value in zip(plan.pairs, row[: plan.key_width], strict=False)
    }


def compare_rows(plan: TablePlan, legacy: Sequence[Row], new: Sequence[Row]) -> RowDifferences:
    """Match rows by key; name missing, extra, changed (with the columns) and duplicate keys."""
    width = plan.key_width
    by_key: dict[Row, tuple[list[Row], list[Row]]] = defaultdict(lambda: ([], []))
    for row in legacy:
        by_key[row[:width]][0].append(row)
    for row in new:
        by_key[row[:width]][1].append(row)
    found = RowDifferences()

    def sort_key(item: tuple[Row, Any]) -> tuple[tuple[int, str], ...]:
        return tuple((0, "") if v is None else (1, v) for v in item[0])

    for key, (old_rows, new_rows) in sorted(by_key.items(), key=sort_key):
        if len(old_rows) == 1 and len(new_rows) == 1:
            columns = {
                pair.legacy: {"legacy": a, "new": b}
                for pair, a, b in zip(plan.pairs, old_rows[0], new_rows[0], strict=True)
                if not _within(pair.tolerance, a, b)
            }
            if columns:
                found.items.append({"kind": CHANGED, "key": _key(plan, key), "columns": columns})
                found.counts[CHANGED] += 1
                found.changed_columns.update(columns.keys())
        elif not new_rows or not old_rows:
            kind = MISSING if not new_rows else EXTRA
            for row in old_rows or new_rows:
                side = "legacy" if kind == MISSING else "new"
                values = {p.legacy: v for p, v in zip(plan.pairs, row, strict=True)}
                found.items.append({"kind": kind, "key": _key(plan, key), side: values})
                found.counts[kind] += 1
        elif Counter(old_rows) != Counter(new_rows):
            found.items.append(
                {
                    "kind": DUPLICATE,
                    "key": _key(plan, key),
                    "legacy_rows": len(old_rows),
                    "new_rows": len(new_rows),
                    "legacy": [
                        dict(zip([p.legacy for p in plan.pairs], r, strict=True)) for r in old_rows
                    ],
                    "new": [
                        dict(zip([p.legacy for p in plan.pairs], r, strict=True)) for r in new_rows
                    ],
                }
            )
            found.counts[DUPLICATE] += 1
    return found
