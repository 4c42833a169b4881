"""The decision as a person reads it at the end of the terminal report."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pytest_cutover.decision import Decision, Verdict

_STYLE = {Verdict.GO: "bold green", Verdict.NO_GO: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}
_SHOWN_REASONS = 5
_COUNT_COLUMNS = ("passed", "failed", "error", "inconclusive", "skipped", "not_configured")


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
    counts = decision.gate_counts()
    if counts:
        table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("gate")
        table.add_column("decision")
        for column in _COUNT_COLUMNS:
            table.add_column(column.replace("not_configured", "unconfigured"), justify="right")
        for gate, verdict in decision.gate_verdicts().items():
            row = counts[gate]
            table.add_row(
                gate,
                Text(verdict.value, style=_STYLE[verdict]),
                *(str(row.get(c, 0)) for c in _COUNT_COLUMNS),
            )
        console.print(table)
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
    return buffer.getvalue()
