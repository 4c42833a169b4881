"""pytest-cutover: go/no-go gates for moving live traffic from a legacy system to a new one.

The public face, for a team's own gate tests in its conftest.py or test files; everything else
is internal and may change. A gate test of your own::

    import pytest
    from pytest_cutover import GateResult, Outcome, RecordGate

    @pytest.mark.canary_gate
    def test_orders_are_billed(new_http, record_gate: RecordGate) -> None:
        billed = new_http.get("/api/orders?status=unbilled").json()["total"]
        outcome = Outcome.PASS if billed == 0 else Outcome.FAIL
        record_gate(GateResult("billing", "unbilled orders", outcome, (f"{billed} unbilled",)))

Fixtures: `cutover_config` (CutoverConfig), `cutover_step` (float | None), `legacy` and `new`
(System), `legacy_http` and `new_http` (httpx.Client), `legacy_db` and `new_db` (a read-only
SQLAlchemy Engine), `cutover_progress` (Progress), `record_gate` (RecordGate).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pytest_cutover.gates.registry import GATE_MARKER, GATE_NAMES, MARKERS
from pytest_cutover.gates.result import GateResult, Outcome

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig
    from pytest_cutover.decision import Decision, Verdict
    from pytest_cutover.fixtures import RecordGate
    from pytest_cutover.progress import Progress
    from pytest_cutover.suite import Case, Judge, NotConfigured, not_configured
    from pytest_cutover.systems import System

    __version__: str

FIXTURES = (
    "cutover_config",
    "cutover_step",
    "legacy",
    "new",
    "legacy_http",
    "new_http",
    "legacy_db",
    "new_db",
    "cutover_progress",
    "record_gate",
)

# Names whose modules import httpx, SQLAlchemy or pydantic: loaded on first use, so that importing
# the package (which every pytest run does) stays cheap.
_LAZY = {
    "Case": "pytest_cutover.suite",
    "CutoverConfig": "pytest_cutover.config",
    "Decision": "pytest_cutover.decision",
    "Judge": "pytest_cutover.suite",
    "NotConfigured": "pytest_cutover.suite",
    "Progress": "pytest_cutover.progress",
    "RecordGate": "pytest_cutover.fixtures",
    "System": "pytest_cutover.systems",
    "Verdict": "pytest_cutover.decision",
    "not_configured": "pytest_cutover.suite",
}

__all__ = [
    "FIXTURES",
    "GATE_MARKER",
    "GATE_NAMES",
    "MARKERS",
    "Case",
    "CutoverConfig",
    "Decision",
    "GateResult",
    "Judge",
    "NotConfigured",
    "Outcome",
    "Progress",
    "RecordGate",
    "System",
    "Verdict",
    "__version__",
    "not_configured",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read when asked: importlib.metadata costs ~25 ms per import
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pytest-cutover")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_cutover' has no attribute {name!r}")
