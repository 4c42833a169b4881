"""Every built-in gate, in one place: markers, names, the suites and the decision derive from it.

Only names and descriptions live here, so registering markers costs nothing; a gate's code is
imported when a gate run first asks for it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_cutover.gates.base import Gate

GATE_MARKER = "canary_gate"
CUSTOM = "custom"


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    implementation: str  # "module:Class"
    # Replays or loads both systems' base_url: with a system that has none (a database-only
    # system), the gate has no case and reads "not configured" instead of asking a placeholder.
    needs_base_urls: bool = False


ENTRIES = (
    Entry(
        "smoke",
        "health, readiness, liveness and key endpoints",
        "pytest_cutover.gates.smoke.gate:SmokeGate",
    ),
    Entry(
        "ab",
        "the same requests to legacy and new, answers compared",
        "pytest_cutover.gates.ab.gate:AbGate",
        needs_base_urls=True,
    ),
    Entry(
        "integrity",
        "row counts and checksums between the two databases",
        "pytest_cutover.gates.integrity.gate:IntegrityGate",
    ),
    Entry(
        "load",
        "load under thresholds, legacy as the baseline",
        "pytest_cutover.gates.load.gate:LoadGate",
        needs_base_urls=True,
    ),
    Entry(
        "metrics",
        "Prometheus metrics rules over a window",
        "pytest_cutover.gates.metrics.gate:MetricsGate",
    ),
    Entry(
        "security",
        "authentication, authorisation, CORS, injection and security headers, new never more "
        "open than legacy",
        "pytest_cutover.gates.security.gate:SecurityGate",
    ),
    Entry(
        "monitor",
        "smoke checks and metrics rules watched for --cutover-monitor",
        "pytest_cutover.gates.monitor:MonitorGate",
    ),
)
GATE_NAMES = tuple(entry.name for entry in ENTRIES)
MARKERS = {
    GATE_MARKER: "a go/no-go gate test: its outcome feeds the cutover decision",
    **{entry.name: f"gate: {entry.description}" for entry in ENTRIES},
}


@cache
def gate(name: str) -> Gate[Any]:
    """The gate called `name`, its module imported on first use."""
    entry = next(e for e in ENTRIES if e.name == name)
    module, _, cls = entry.implementation.partition(":")
    instance: Gate[Any] = getattr(importlib.import_module(module), cls)()
    if entry.needs_base_urls:
        from pytest_cutover.gates.needs_http import NeedsBaseUrls

        return NeedsBaseUrls(instance)
    return instance


def gate_of(markers: set[str] | frozenset[str]) -> str:
    """Which gate a test belongs to, by its markers; a team's own gate test is "custom"."""
    return next((name for name in GATE_NAMES if name in markers), CUSTOM)
