"""The one interface every gate implements, and what a gate may use while it runs.

A gate gets its own config section and a small context, never the whole cutover.toml: what it
cannot see it cannot come to depend on, and the suite glue (pytest_cutover.suite) can drive
every gate the same way: name the cases at collection, run the selected ones once per gate run,
hand each test its case's GateResult.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pytest_cutover.gates.result import GateResult
from pytest_cutover.output import Output
from pytest_cutover.progress import SILENT, Progress
from pytest_cutover.redact import Redactor

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from pytest_cutover.config import CutoverConfig, SystemConfig
    from pytest_cutover.systems import System

S = TypeVar("S")


class GateSetupError(Exception):
    """The gate cannot run at all (an unreadable corpus, no locust): every case of it is
    INCONCLUSIVE with this message."""


@dataclass(frozen=True)
class Setup:
    """What a gate may read while tests are collected, before any system is started. Case ids
    become test names, shown everywhere: a gate builds them with `redactor`'s masks."""

    base_dir: Path
    systems: Mapping[str, SystemConfig]
    monitor: float | None = None
    redactor: Redactor = field(default_factory=Redactor)


@dataclass(frozen=True)
class RunContext:
    """What a gate may use while it runs. Systems, clients and engines come from the session's
    fixtures, so a team that overrides `new_http` in its conftest.py is heard by every gate."""

    base_dir: Path
    reports_dir: Path
    step: float | None
    redactor: Redactor
    system: Callable[[str], System]
    http: Callable[[str], httpx.Client]
    database: Callable[[str], Engine]
    progress: Progress = SILENT
    monitor: float | None = None
    interval: float | None = None

    @property
    def output(self) -> Output:
        """How the gate writes its report files (pytest_cutover.output)."""
        return Output(self.redactor)


class Gate(ABC, Generic[S]):
    """One go/no-go question. `S` is the gate's own config section (or a plan made of it)."""

    name: ClassVar[str]  # as in the registry, which also holds its description

    @abstractmethod
    def section(self, config: CutoverConfig) -> S | None:
        """This gate's part of cutover.toml; None when the file does not configure the gate."""

    @abstractmethod
    def cases(self, section: S, setup: Setup) -> list[str]:
        """The ids of the gate's tests, in report order; known without touching a system."""

    @abstractmethod
    def run(
        self, section: S, context: RunContext, cases: Sequence[str]
    ) -> Mapping[str, GateResult]:
        """Judge the selected cases; the result of each by its id. Raises GateSetupError when
        nothing can be judged; anything else that goes wrong is an INCONCLUSIVE result."""

    def not_configured(self) -> str:
        """Why this gate has no case: shown on its skipped test."""
        return f"no [{self.name}] section in cutover.toml"
