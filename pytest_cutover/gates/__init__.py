"""Gate library code: each module answers one go/no-go question and returns GateResults.

Nothing here imports pytest, so the CLI, the suites and other tools call the same functions.
"""

from pytest_cutover.gates.result import GateResult, Outcome

GATE_NAMES = ("smoke", "ab", "integrity", "load", "metrics", "security")

__all__ = ["GATE_NAMES", "GateResult", "Outcome"]
