"""What a reviewer reads: reasons that name keys, evidence capped to the first N differences,
and every difference in a JSON Lines file under the reports folder."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_cutover.gates.integrity.compare import CHANGED, DUPLICATE, EXTRA, MISSING
from pytest_cutover.gates.integrity.plan import TablePlan
from pytest_cutover.output import Output
from pytest_cutover.redact import MASK, Redactor

_KIND_WORDS = {
    MISSING: "missing in new",
    EXTRA: "extra in new (not in legacy)",
    CHANGED: "changed",
    DUPLICATE: "with a duplicated key that holds different rows",
}
_NAMED_KEYS = 5


def redact_differences(
    plan: TablePlan, items: Iterable[Mapping[str, Any]], redactor: Redactor
) -> list[dict[str, Any]]:
    """Mask every value of a column marked `redact`, then scrub known secrets from the rest."""
    hidden = {p.legacy for p in plan.pairs if p.redact}

    def hide(row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: MASK if k in hidden and v is not None else v for k, v in row.items()}

    cleaned = []
    for item in items:
        masked = dict(item)
        masked["key"] = hide(masked["key"])
        if "columns" in masked:  # a changed row: {column: {legacy, new}}
            masked["columns"] = {
                c: ({"legacy": MASK, "new": MASK} if c in hidden else v)
                for c, v in masked["columns"].items()
            }
        for side in ("legacy", "new"):  # whole rows: one, or a list for a duplicated key
            rows = masked.get(side)
            if isinstance(rows, Mapping):
                masked[side] = hide(rows)
            elif isinstance(rows, list):
                masked[side] = [hide(r) for r in rows]
        cleaned.append(redactor.value(masked))
    return cleaned  # type: ignore[return-value]


def describe_key(key: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{column}={value!r}"
        if isinstance(value, str) and not value.lstrip("-").isdigit()
        else f"{column}={value}"
        for column, value in key.items()
    )


def reasons_for(items: list[dict[str, Any]], counts: Mapping[str, int]) -> list[str]:
    """One reason per kind of difference, naming the first keys so a person can look them up."""
    reasons = []
    for kind in (MISSING, EXTRA, CHANGED, DUPLICATE):
        if not counts.get(kind):
            continue
        of_kind = [i for i in items if i["kind"] == kind][:_NAMED_KEYS]
        named = []
        for item in of_kind:
            text = describe_key(item["key"])
            if kind == CHANGED:
                changes = ", ".join(
                    f"{c} {v['legacy']!r} -> {v['new']!r}" for c, v in item["columns"].items()
                )
                text = f"{text} ({changes})"
            named.append(text)
        more = f" and {counts[kind] - len(named)} more" if counts[kind] > len(named) else ""
        reasons.append(f"{counts[kind]} row(s) {_KIND_WORDS[kind]}: {'; '.join(named)}{more}")
    return reasons


def differences_path(reports_dir: Path, label: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "table"
    return reports_dir / "integrity" / f"{safe}.jsonl"


def write_differences(output: Output, path: Path, items: Iterable[Mapping[str, Any]]) -> None:
    """Every difference, one JSON object a line; written aside and renamed, so never half there."""
    output.write_lines(path, (output.json(item, indent=None) for item in items))
