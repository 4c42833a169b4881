"""Each gate's evidence in the form a person reads best in a report: a short text summary for
every result, the A/B differences as text with their curl commands, the load table as CSV,
its latency chart as SVG and locust's own HTML report. Evidence is already redacted."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_cutover.gates.result import GateResult
from pytest_cutover.units import format_measurement

Kind = Literal["text", "csv", "svg", "json", "html"]


@dataclass(frozen=True)
class Attachment:
    name: str
    content: str
    kind: Kind


def attachments_for(result: GateResult) -> list[Attachment]:
    found = [Attachment(f"{result.gate}: {result.name}: summary", summary(result), "text")]
    evidence = result.evidence
    if result.gate == "ab" and evidence.get("fields"):
        found.append(Attachment("differences", ab_differences(evidence["fields"]), "text"))
    if result.gate == "load":
        if evidence.get("endpoints"):
            found.append(Attachment("endpoints", load_table(evidence["endpoints"]), "csv"))
        if evidence.get("latency_chart_svg"):
            found.append(Attachment("latency", evidence["latency_chart_svg"], "svg"))
        for system, run in evidence.get("runs", {}).items():
            report = run.get("html_report")
            if report and Path(report).is_file():
                html = Path(report).read_text(encoding="utf-8", errors="replace")
                found.append(Attachment(f"locust report ({system})", html, "html"))
    found.append(
        Attachment(f"{result.gate}: {result.name}", json.dumps(result.to_dict(), indent=2), "json")
    )
    return found


def summary(result: GateResult) -> str:
    lines = [f"{result.gate}: {result.name}: {result.outcome.value.upper()}"]
    lines += [f"  - {reason}" for reason in result.reasons]
    if result.measurements:
        lines.append("measurements:")
        lines += [
            f"  {name} = {format_measurement(name, value)}"
            for name, value in sorted(result.measurements.items())
        ]
    return "\n".join(lines) + "\n"


def ab_differences(fields: Iterable[Mapping[str, Any]]) -> str:
    """Per differing field: its verdict and counts, then each example's both values (or text
    diff) and the curl command per system that reproduces it."""
    out: list[str] = []
    for field in fields:
        out.append(
            f"== {field['field']}: {field['status']} "
            f"(new differs in {field['new_differs']}, legacy in {field['legacy_differs']})"
        )
        for example in field.get("examples", []):
            out.append(f"-- {example['request']} ({example['origin']})")
            for difference in example["differences"]:
                if difference.get("diff"):
                    out.append(difference["diff"])
                else:
                    legacy = json.dumps(difference["legacy"], ensure_ascii=False)
                    new = json.dumps(difference["new"], ensure_ascii=False)
                    out.append(f"   {difference['path']}: legacy {legacy} -> new {new}")
            out.extend(f"   {system}: {command}" for system, command in example["curl"].items())
        out.append("")
    return "\n".join(out)


def load_table(rows: Iterable[Mapping[str, Any]]) -> str:
    columns = ("requests", "failures", "p50_ms", "p95_ms", "p99_ms", "rps")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("endpoint", "system", *columns))
    for row in rows:
        for system in ("new", "legacy"):
            if system in row:
                writer.writerow((row["endpoint"], system, *(row[system][c] for c in columns)))
    return buffer.getvalue()
