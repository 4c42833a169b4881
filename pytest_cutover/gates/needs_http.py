"""A gate that replays or loads both systems' base_url has nothing to ask of a database-only
system: it reads "not configured" rather than sending requests to a placeholder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.result import GateResult
from pytest_cutover.section import SYSTEM_NAMES

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig


class NeedsBaseUrls(Gate[Any]):
    """`inner`, with no case while either system lacks a base_url. Which one lacks it is kept
    from collection for the skip's reason (the registry makes one instance per process)."""

    def __init__(self, inner: Gate[Any]) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # the wrapped gate's registry name
        self._missing: list[str] = []

    def section(self, config: CutoverConfig) -> Any:
        return self.inner.section(config)

    def cases(self, section: Any, setup: Setup) -> list[str]:
        self._missing = [n for n in SYSTEM_NAMES if setup.systems[n].base_url is None]
        return [] if self._missing else self.inner.cases(section, setup)

    def run(
        self, section: Any, context: RunContext, cases: Sequence[str]
    ) -> Mapping[str, GateResult]:
        return self.inner.run(section, context, cases)

    def not_configured(self) -> str:
        if self._missing:
            names = " and ".join(f"systems.{name}" for name in self._missing)
            verb = "have" if len(self._missing) > 1 else "has"
            return f"{names} {verb} no base_url (a database only): no {self.name} requests to send"
        return self.inner.not_configured()
