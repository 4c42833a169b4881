"""The decision as Markdown: for a pull request, a chat message or `$GITHUB_STEP_SUMMARY`.

It reads decision.json's document (already redacted), so what a reviewer sees in a pipeline
summary is exactly what the decision file says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ICON = {"GO": "✅", "NO-GO": "❌", "INCONCLUSIVE": "⚠️"}
_COUNT_COLUMNS = ("passed", "failed", "error", "inconclusive", "skipped", "not_configured")
_SHOWN_REASONS = 10
_SHOWN_PER_TEST = 3


def render_markdown(document: Mapping[str, Any]) -> str:
    verdict = str(document["decision"])
    step = document.get("step")
    shown_step = "no step given" if step is None else f"step {step:g}%"
    lines = [
        f"## {_ICON.get(verdict, '')} Cutover decision: **{verdict}** ({shown_step})",
        "",
        f"Exit status {document['exit_status']} · {document.get('duration_s', 0):g} s · "
        f"config `{document.get('config') or 'none'}`",
        "",
    ]
    if document.get("action_failure"):
        lines += [f"> **{_escape(str(document['action_failure']))}**", ""]
    gates: Mapping[str, Any] = document.get("gates", {})
    if gates:
        lines += [
            "| gate | decision | " + " | ".join(c.replace("_", " ") for c in _COUNT_COLUMNS) + " |",
            "|---|---|" + "---:|" * len(_COUNT_COLUMNS),
        ]
        for gate, summary in gates.items():
            counts = summary.get("counts", {})
            cells = " | ".join(str(counts.get(c, 0)) for c in _COUNT_COLUMNS)
            lines.append(f"| {gate} | {summary['decision']} | {cells} |")
        lines.append("")
    reasons = list(document.get("reasons", []))
    if reasons:
        lines.append("**Why**")
        lines.append("")
        lines += [f"- {_escape(r)}" for r in reasons[:_SHOWN_REASONS]]
        if len(reasons) > _SHOWN_REASONS:
            lines.append(f"- … and {len(reasons) - _SHOWN_REASONS} more in decision.json")
        lines.append("")
    failing = [t for t in document.get("tests", []) if t.get("status") != "passed"]
    if failing:
        lines += ["<details><summary>Gate tests that did not pass</summary>", ""]
        for test in failing:
            lines.append(f"- `{test['nodeid']}`: {test['status']}")
            lines += [f"  - {_escape(r)}" for r in test.get("reasons", [])[:_SHOWN_PER_TEST]]
        lines += ["", "</details>", ""]
    actions = document.get("actions", [])
    if actions:
        lines += ["**Actions**", ""]
        lines += [f"- {_escape(str(a.get('line', a)))}" for a in actions]
    return "\n".join(lines).rstrip() + "\n"


def _escape(text: str) -> str:
    """Keep reasons from breaking the table or the list (pipes, newlines, stray HTML)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")
