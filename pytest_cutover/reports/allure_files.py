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

# Whose failure it is, which is what a release manager asks first. Allure files a failed or broken
# test under the first category that matches its message. record_gate fails a test with
# "gate: check: reason", an inconclusive one with "inconclusive: gate: check: reason", and
# allure-pytest puts "Failed: " in front; the decision's own result says "inconclusive: " too
# when it is INCONCLUSIVE. The patterns
# hold for Allure 2 (Java, matched whole) and Allure 3 (JavaScript, searched): `^...[\s\S]*`,
# no inline flags, which JavaScript's RegExp rejects.
LEGACY_IS_BROKEN = "Legacy is broken"
TOOLS_FAILED = "The tools failed"
COULD_NOT_TELL = "The gate could not tell"
NEW_IS_WRONG = "New is wrong"
_ANY = r"[\s\S]*"
_INCONCLUSIVE = "^(Failed: )?inconclusive: " + _ANY
CATEGORIES: list[dict[str, Any]] = [
    {"name": LEGACY_IS_BROKEN, "matchedStatuses": ["failed", "broken"],
     "messageRegex": _INCONCLUSIVE + "(legacy: |legacy is |legacy's |legacy could not)" + _ANY},
    {"name": TOOLS_FAILED, "matchedStatuses": ["failed"],
     "messageRegex": _INCONCLUSIVE + "(cannot run|could not run|crashed|exited)" + _ANY},
    {"name": COULD_NOT_TELL, "matchedStatuses": ["failed"], "messageRegex": _INCONCLUSIVE},
    {"name": NEW_IS_WRONG, "matchedStatuses": ["failed"]},
    {"name": TOOLS_FAILED, "matchedStatuses": ["broken"]},
]  # fmt: skip
ALLURE_CONFIG = "allurerc.json"
HISTORY_FILE = "allure-history.jsonl"
DECISION_SUITE = "cutover decision"
_SHOWN_REASONS = 3
_REASON_LENGTH = 200
_NODEID = re.compile(r"^([\w-]+): \S+::\S+: (?:failed: )?")
_PROBE = re.compile(r"^(legacy|new): (?:health|readiness|liveness) \(\w+ (\S+)\)$")


def write_allure_extras(
    output: Output,
    alluredir: Path,
    document: Mapping[str, Any],
    summary: str,
    plugin_version: str,
    history: Path,
) -> None:
    alluredir.mkdir(parents=True, exist_ok=True)
    properties = environment(document, plugin_version)
    output.write_text(
        alluredir / "environment.properties",
        "".join(f"{key}={_escape(value)}\n" for key, value in properties.items()),
    )
    output.write_json(alluredir / "categories.json", CATEGORIES)
    output.write_json(alluredir / ALLURE_CONFIG, allure_config(document, history))
    _write_decision_result(output, alluredir, document, summary)


def report_name(document: Mapping[str, Any]) -> str:
    """What Allure shows in large type at the top: "Cutover step 10%: NO-GO (integrity NO-GO,
    smoke NO-GO)", so the decision, the step and which gates are the first thing read."""
    step = document.get("step")
    where = "no step given" if step is None else f"step {step:g}%"
    verdict = str(document["decision"])
    against = [
        f"{gate} {found['decision']}"
        for gate, found in document.get("gates", {}).items()
        if found["decision"] != "GO"
    ]
    return f"Cutover {where}: {verdict}" + (f" ({', '.join(against)})" if against else "")


def allure_config(document: Mapping[str, Any], history: Path) -> dict[str, Any]:
    """Allure 3's allurerc: the report's name, the categories (Allure 3 ignores categories.json)
    and a history file that carries each gate's results from one step to the next. Paths are
    relative to where pytest ran, which is where `allure generate` is run."""
    return {
        "name": report_name(document),
        "historyPath": _from_here(history),
        "categories": {"rules": CATEGORIES},
        "plugins": {"awesome": {"options": {"singleFile": True}}},
    }


def environment(document: Mapping[str, Any], plugin_version: str) -> dict[str, str]:
    """Decision, step and the first reasons (Allure 3 shows the first eight entries on its
    first screen), each gate's decision, both systems (URL and version as their health,
    readiness or liveness probes reported them), plugin and Python versions, and when."""
    step = document.get("step")
    reasons = list(document.get("reasons", []))
    found = {
        "cutover.decision": str(document["decision"]),
        "cutover.step": "none" if step is None else f"{step:g}%",
        **{
            f"cutover.reason.{number}": _shortened(reason)
            for number, reason in enumerate(reasons[:_SHOWN_REASONS], start=1)
        },
        **{f"gate.{g}": str(s["decision"]) for g, s in document.get("gates", {}).items()},
    }
    if len(reasons) > _SHOWN_REASONS:
        found["cutover.reasons.more"] = f"{len(reasons) - _SHOWN_REASONS} more in decision.json"
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
        "statusDetails": {"message": _message(verdict, document.get("reasons", []))},
        "stage": "finished",
        "start": _millis(document.get("started_at")),
        "stop": _millis(document.get("finished_at")),
        "labels": [
            {"name": "epic", "value": "cutover"},
            {"name": "feature", "value": "decision"},
            # A suite of its own, started first: Allure 3 lists it above the gates' suites.
            {"name": "parentSuite", "value": DECISION_SUITE},
            {"name": "severity", "value": "blocker"},
        ],
        "attachments": attachments,
    }
    output.write_json(alluredir / f"{result['uuid']}-result.json", result)


def _message(verdict: str, reasons: list[str]) -> str:
    message = "\n".join(reasons) or verdict
    return f"inconclusive: {message}" if verdict == "INCONCLUSIVE" else message


def _millis(stamp: object) -> int:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return 0


def _from_here(path: Path) -> str:
    """Relative to the working directory when it lies below it (the same path in every CI job
    that checks the repository out), absolute otherwise."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _shortened(reason: str) -> str:
    """The reason without the test's node id, which the chip would show instead of the cause."""
    reason = _NODEID.sub(r"\1: ", reason, count=1)
    if len(reason) <= _REASON_LENGTH:
        return reason
    return reason[: _REASON_LENGTH - 1] + "…"


def _escape(value: str) -> str:
    """Java properties: backslashes, and newlines never break a line."""
    return value.replace("\\", "\\\\").replace("\n", " ")
