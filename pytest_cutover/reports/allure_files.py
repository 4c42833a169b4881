"""What allure-pytest does not write: `environment.properties`, `categories.json`, and the
decision itself as a result of its own, so the report a release manager opens says which step,
which systems, GO or NO-GO and why.

Written once, by the process that owns the session (the controller under pytest-xdist), after
the workers have finished: the files are never written twice or raced.
"""

from __future__ import annotations

import json
import platform
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_cutover.output import Output

# Allure matches a failed or broken test to the first category whose regexes match its message.
# record_gate writes messages as "gate: check: reason"; inconclusive ones start "inconclusive:".
CATEGORIES: list[dict[str, Any]] = [
    {"name": "Gate could not run", "matchedStatuses": ["failed", "broken"],
     "messageRegex": "(?s)inconclusive: .*"},
    {"name": "System down", "matchedStatuses": ["failed"],
     "messageRegex": "(?s)smoke: .*(health|readiness|liveness).*"},
    {"name": "Response mismatch", "matchedStatuses": ["failed"],
     "messageRegex": "(?s)(ab|smoke): .*"},
    {"name": "Data mismatch", "matchedStatuses": ["failed"], "messageRegex": "(?s)integrity: .*"},
    {"name": "Error budget", "matchedStatuses": ["failed"],
     "messageRegex": "(?s)(load|metrics|monitor): .*error_rate.*"},
    {"name": "Latency budget", "matchedStatuses": ["failed"],
     "messageRegex": "(?s)(load|metrics|monitor): .*(p50|p90|p95|p99|max|avg|latency).*"},
    {"name": "Gate errors", "matchedStatuses": ["broken"]},
]  # fmt: skip
_PROBE = re.compile(r"^(legacy|new): (?:health|readiness|liveness) \(\w+ (\S+)\)$")


def write_allure_extras(
    output: Output,
    alluredir: Path,
    document: Mapping[str, Any],
    summary: str,
    plugin_version: str,
) -> None:
    alluredir.mkdir(parents=True, exist_ok=True)
    properties = environment(document, plugin_version)
    output.write_text(
        alluredir / "environment.properties",
        "".join(f"{key}={_escape(value)}\n" for key, value in properties.items()),
    )
    output.write_json(alluredir / "categories.json", CATEGORIES)
    _write_decision_result(output, alluredir, document, summary)


def environment(document: Mapping[str, Any], plugin_version: str) -> dict[str, str]:
    """Step, decision, each gate's decision, both systems (URL and version as their health,
    readiness or liveness probes reported them), plugin and Python versions, and when."""
    step = document.get("step")
    found = {
        "cutover.step": "none" if step is None else f"{step:g}%",
        "cutover.decision": str(document["decision"]),
        **{f"gate.{g}": str(s["decision"]) for g, s in document.get("gates", {}).items()},
    }
    for system, seen in _health(document).items():
        found.update({f"{system}.{k}": v for k, v in seen.items()})
    found["pytest_cutover.version"] = plugin_version
    found["python.version"] = platform.python_version()
    found["started_at"] = str(document.get("started_at", ""))
    return {k: v for k, v in found.items() if v}


def _health(document: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    systems: dict[str, dict[str, str]] = {
        name: {"url": str(described.get("base_url", ""))}
        for name, described in document.get("systems", {}).items()
    }
    for test in document.get("tests", []):
        for result in test.get("results", []):
            match = _PROBE.match(str(result.get("name", "")))
            if result.get("gate") != "smoke" or match is None:
                continue
            evidence = result.get("evidence", {})
            url = str(evidence.get("request", {}).get("url", ""))
            seen = systems.setdefault(match[1], {})
            if url.endswith(match[2]):
                seen["url"] = url.removesuffix(match[2])
            version = _version(evidence.get("response", {}).get("body_excerpt"))
            if version:
                seen["version"] = version
    return systems


def _version(body: object) -> str | None:
    try:
        found = json.loads(str(body))
    except (TypeError, ValueError):
        return None
    version = found.get("version") if isinstance(found, dict) else None
    return str(version) if version is not None else None


def _write_decision_result(
    output: Output, alluredir: Path, document: Mapping[str, Any], summary: str
) -> None:
    """The decision as one Allure result ("CUTOVER DECISION: GO (step 10%)") with the decision
    file and the Markdown summary attached, failed unless GO."""
    verdict = str(document["decision"])
    step = document.get("step")
    name = f"CUTOVER DECISION: {verdict}" + ("" if step is None else f" (step {step:g}%)")
    attachments = []
    for title, content, kind, extension in (
        ("decision summary", summary, "text/markdown", "md"),
        ("decision.json", output.json(document), "application/json", "json"),
    ):
        source = f"{uuid.uuid4()}-attachment.{extension}"
        output.write_text(alluredir / source, content)
        attachments.append({"name": title, "source": source, "type": kind})
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": "cutover-decision",
        "name": name,
        "fullName": "cutover.decision",
        "status": "passed" if verdict == "GO" else "failed",
        "statusDetails": {"message": "\n".join(document.get("reasons", [])) or verdict},
        "stage": "finished",
        "start": _millis(document.get("started_at")),
        "stop": _millis(document.get("finished_at")),
        "labels": [
            {"name": "epic", "value": "cutover"},
            {"name": "feature", "value": "decision"},
            {"name": "severity", "value": "blocker"},
        ],
        "attachments": attachments,
    }
    output.write_json(alluredir / f"{result['uuid']}-result.json", result)


def _millis(stamp: object) -> int:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return 0


def _escape(value: str) -> str:
    """Java properties: backslashes, and newlines never break a line."""
    return value.replace("\\", "\\\\").replace("\n", " ")
