"""The audit trail: one JSON line per decision, and one before and one after every action.

Each line is flushed and fsynced before the action goes on, so a crash, a kill or a power cut in
the middle of a traffic change leaves a "started" line with no "finished" line: the next person
(and `cutover status`) can see that an action was cut short. Every line is redacted first.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_cutover.output import Output

AUDIT_FILE = "audit.jsonl"


def who() -> str:
    """user@host pid N: enough to find the run, the person or the CI job behind an action."""
    user, host = user_at_host()
    return f"{user}@{host} pid {os.getpid()}"


def user_at_host() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return user, socket.gethostname()


@dataclass
class AuditLog:
    path: Path
    output: Output
    origin: str  # "pytest" or "cutover <command>"
    run_id: str | None = None

    def append(self, record: dict[str, Any]) -> None:
        line = {
            "ts": datetime.now(UTC).isoformat(),
            "who": who(),
            "origin": self.origin,
            "run_id": self.run_id,
            **record,
        }
        # One write() on an O_APPEND descriptor: lines from overlapping runs never interleave.
        self.output.append_json(self.path, line)

    def started(self, action: str, action_id: str, **fields: Any) -> None:
        self.append({"event": "started", "action": action, "action_id": action_id, **fields})

    def finished(self, action: str, action_id: str, **fields: Any) -> None:
        self.append({"event": "finished", "action": action, "action_id": action_id, **fields})


def new_action_id() -> str:
    """Made before the started record is written, so a rollback that could not write it still
    has an id to put on its finished record."""
    return uuid.uuid4().hex[:12]


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every readable record; a torn last line (a crash mid-write) is skipped, not fatal."""
    return list(_records(path))


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def unfinished(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Started actions with no finished record: cut short by a crash or a kill."""
    done = {r.get("action_id") for r in records if r.get("event") == "finished"}
    return [r for r in records if r.get("event") == "started" and r.get("action_id") not in done]


def unresolved(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unfinished actions nobody has recorded a look at yet (`cutover resolve`): until someone
    has, what the cut-short action left behind is unknown."""
    resolved = {
        action_id
        for r in records
        if r.get("event") == "resolved"
        for action_id in r.get("resolves") or ()
    }
    return [r for r in unfinished(records) if r.get("action_id") not in resolved]
