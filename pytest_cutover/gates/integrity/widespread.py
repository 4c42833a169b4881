"""A table that differs in more rows than integrity.max_fetched_rows may fetch: still name every
column that differs, with a lower bound of rows, and show examples from a bounded sample.

The bounds come from the per-column bucket checksums (readers.column_checksums): a bucket that
holds the same keys on both sides but whose sums for a column differ has at least one row in
which that column differs. A bucket whose keys differ proves rows missing or extra, never a
changed column. The buckets actually fetched are counted exactly and give the examples; they are
chosen so that each differing column has one when the limit allows, and never more rows than
the limit, so memory stays bounded whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pytest_cutover.gates.integrity.compare import MISSING
from pytest_cutover.gates.integrity.encoding import Bucket
from pytest_cutover.gates.integrity.readers import ColumnChecksums


@dataclass
class Spread:
    """What the per-column checksums prove outside the fetched buckets."""

    columns: dict[str, list[Bucket]] = field(default_factory=dict)  # column -> same-key buckets
    missing: dict[Bucket, int] = field(default_factory=dict)  # bucket -> rows missing, at least
    extra: dict[Bucket, int] = field(default_factory=dict)  # bucket -> rows extra, at least

    def rows_at_least(self, column: str, fetched: set[Bucket]) -> int:
        return sum(1 for bucket in self.columns.get(column, []) if bucket not in fetched)

    def kind_at_least(self, kind: str, fetched: set[Bucket]) -> int:
        found = self.missing if kind == MISSING else self.extra
        return sum(n for bucket, n in found.items() if bucket not in fetched)


def spread(names: Iterable[str], legacy: ColumnChecksums, new: ColumnChecksums) -> Spread:
    """Per bucket: row-count gaps prove missing/extra rows; with the same keys, a column whose
    sums differ is changed in at least one row. `names` are the non-key columns, in order."""
    names = list(names)
    empty = [0] * (len(names) + 2)
    found = Spread(columns={name: [] for name in names})
    for bucket in sorted(legacy.keys() | new.keys(), key=str):
        old, now = legacy.get(bucket, empty), new.get(bucket, empty)
        if old == now:
            continue
        if old[0] != now[0] or old[1] != now[1]:
            # Fewer rows: that many missing at least. The same count with other keys: at least
            # one legacy key is not in new, and one new key not in legacy.
            gap = old[0] - now[0]
            if gap > 0 or old[0] == now[0]:
                found.missing[bucket] = max(gap, 1)
            if gap < 0 or old[0] == now[0]:
                found.extra[bucket] = max(-gap, 1)
            continue
        for index, name in enumerate(names, start=2):
            if old[index] != now[index]:
                found.columns[name].append(bucket)
    return found


def choose_buckets(found: Spread, sizes: Mapping[Bucket, int], budget: int) -> list[Bucket]:
    """Buckets to fetch within `budget` rows: first the smallest one of each differing column
    (then of missing and extra rows), so that each has an example, then the rest by size."""
    chosen: dict[Bucket, None] = {}
    spent = 0

    def take(bucket: Bucket) -> None:
        nonlocal spent
        if bucket not in chosen and spent + sizes[bucket] <= budget:
            chosen[bucket] = None
            spent += sizes[bucket]

    groups = [*found.columns.values(), list(found.missing), list(found.extra)]
    groups = [[bucket for bucket in group if bucket in sizes] for group in groups]
    for group in groups:
        if group and not any(bucket in chosen for bucket in group):
            take(min(group, key=lambda b: (sizes[b], str(b))))
    for bucket in sorted(sizes, key=lambda b: (sizes[b], str(b))):
        take(bucket)
    return list(chosen)
