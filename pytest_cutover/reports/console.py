"""The decision as a person reads it at the end of the terminal report."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pytest_cutover.decision import Decision, Verdict

_STYLE = {Verdict.GO: "bold green", Verdict.NO_GO: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}
_SHOWN_REASONS = 5
_COUNTED = ("passed", "failed", "error", "inconclusive", "skipped", "not_configured")
NOT_CONFIGURED = "not configured"


def _gate_table(decision: Decision) -> Table:
    """One row per gate: its decision ("not configured" for a gate cutover.toml leaves out)
    and its tests in words ("2 passed, 1 failed"). Three columns whose cells wrap between
    words, so the table fits a CI log's 80 columns without cutting one."""
    verdicts = decision.gate_verdicts()
    counts: dict[str, Counter[str]] = {}
    for test in decision.tests:
        counts.setdefault(test.gate, Counter())[test.status.value] += 1
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("gate", overflow="fold")
    table.add_column("decision", no_wrap=True)
    table.add_column("tests")
    for gate in sorted(counts):
        verdict = verdicts.get(gate)
        shown = (
            Text(NOT_CONFIGURED, style="dim")
            if verdict is None
            else Text(verdict.value, style=_STYLE[verdict])
        )
        found = counts[gate]
        words = [f"{found[c]} {c.replace('_', ' ')}" for c in _COUNTED if found[c]]
        table.add_row(gate, shown, "" if verdict is None else ", ".join(words))
    return table


def render_summary(decision: Decision, *, colour: bool, width: int, decision_file: str) -> str:
    """A compact table of gates and the first reasons; the decision line comes last, always."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=colour,
        no_color=not colour,
        width=width,
        highlight=False,
        soft_wrap=False,
    )
    actions = decision.actions
    if actions is not None and actions.failure:
        console.print(Text(f"!!! {actions.failure}", style="bold white on red"), soft_wrap=True)
    if decision.tests:
        console.print(_gate_table(decision))
    for reason in decision.reasons[:_SHOWN_REASONS]:
        console.print(Text(f"  - {reason}"), soft_wrap=True)
    hidden = len(decision.reasons) - _SHOWN_REASONS
    if hidden > 0:
        console.print(f"  ... and {hidden} more in {decision_file}")
    if decision.partial:
        left_out = ", ".join(decision.left_out)
        console.print(Text(f"  partial run: left out {left_out} (no promotion)"), soft_wrap=True)
    for action in actions.lines() if actions else []:
        console.print(Text(f"  action: {action}"), soft_wrap=True)
    step = "no step given" if decision.step is None else f"step {decision.step:g}%"
    line = Text("CUTOVER DECISION: ")
    line.append(decision.verdict.value, style=_STYLE[decision.verdict])
    line.append(f" ({step}; exit status {decision.exit_status}; {decision_file})")
    console.print(line, soft_wrap=True)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
