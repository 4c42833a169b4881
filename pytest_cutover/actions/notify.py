"""HTTP notifications (Slack, PagerDuty, any webhook) on each decision and each action.

A notification tells people; it never decides anything. A receiver that is down, slow or
answers an error is retried as configured, then recorded in the audit log and the report, and
the decision, the actions and the exit status stay what they were. Every value put into a body
or URL is redacted and quoted for where it lands (pytest_cutover.actions.template).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_cutover.actions.audit import AuditLog
from pytest_cutover.actions.calls import CallResult, call_http, with_retries
from pytest_cutover.actions.config import Event, NotifyConfig
from pytest_cutover.actions.template import body_quoting, clean, fill, step_text
from pytest_cutover.redact import Redactor

MAX_REASONS = 5


@dataclass(frozen=True)
class Sent:
    """One notification's fate, for the report: `line` reads like an action's."""

    name: str
    event: Event
    result: CallResult

    def to_dict(self) -> dict[str, Any]:
        status = "sent" if self.result.ok else "failed"
        return {
            "action": "notify",
            "name": self.name,
            "event": self.event,
            "status": status,
            "ok": True,  # a failed notification is reported, never an action that failed
            "detail": self.result.summary,
            "line": f"notify {self.name} ({self.event}): {status}: {self.result.summary}",
        }


class Notifier:
    def __init__(self, targets: list[NotifyConfig], audit: AuditLog, redactor: Redactor) -> None:
        self.targets = targets
        self.audit = audit
        self.redactor = redactor

    def send(self, event: Event, verdict: str, values: Mapping[str, str]) -> list[Sent]:
        """Notify every target that wants `event` for this `verdict` (GO, NO-GO,
        INCONCLUSIVE, or HOLD for a GO held by warnings). Never raises."""
        sent: list[Sent] = []
        for index, target in enumerate(self.targets):
            if event not in target.events or verdict not in target.on:
                continue
            name = target.name or f"notify {index + 1}"
            result = self._call(target, {**self._clean(values), "event": event})
            sent.append(Sent(name, event, result))
            record = {"event": "notify", "action": "notify", "name": name, "about": event}
            # The audit log's own failure is the actions' to report, not a notification's.
            with contextlib.suppress(OSError):
                self.audit.append(
                    {**record, "result": "sent" if result.ok else "failed", **result.to_dict()}
                )
        return sent

    def _clean(self, values: Mapping[str, str]) -> dict[str, str]:
        return {name: clean(self.redactor.text(value), 1000) for name, value in values.items()}

    def _call(self, target: NotifyConfig, values: Mapping[str, str]) -> CallResult:
        body = target.body
        try:
            return with_retries(
                lambda: call_http(
                    method=target.method,
                    url=fill(target.url, values, "url"),
                    body=None
                    if body is None
                    else fill(body, values, body_quoting(body, target.headers)),
                    headers=target.headers,
                    expected_status=target.expected_status,
                    timeout=target.timeout,
                    verify_tls=target.verify_tls,
                ),
                target.retries,
            )
        except Exception as err:  # a notification's bug must not reach the decision
            return CallResult(False, f"unexpected {type(err).__name__}: {err}", "", 0.0)


def decision_values(
    verdict: str, outcome: str, step: float | None, reasons: tuple[str, ...] | list[str]
) -> dict[str, str]:
    return {
        "decision": verdict,
        "outcome": outcome,
        "step": step_text(step),
        "reasons": "; ".join(reasons[:MAX_REASONS]) or "none",
        "action": "none",
        "status": "none",
        "detail": "",
        "percent": "none",
    }
