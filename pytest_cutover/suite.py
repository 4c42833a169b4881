"""The glue every gate suite shares, so a suite file is a marker and one test.

Cases come from the gate registry at collection; a gate's selected cases are judged once per gate
run (under pytest-xdist one worker judges, the others read its results, so production sees the
replay, the load or the scrape once); each test then records its own case's GateResult.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from pytest_cutover import keys
from pytest_cutover.gates.registry import CUSTOM, GATE_NAMES, gate, gate_of
from pytest_cutover.gates.result import GateResult, Outcome

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

CASE = "cutover_case"


@dataclass(frozen=True)
class Case:
    """One test of a built-in gate: the gate's name and the case's id (None: not configured)."""

    gate: str
    id: str | None

    def __repr__(self) -> str:
        return f"Case({self.gate}: {self.id})"


Judge = Callable[[Case], GateResult]


# pytest.skip.Exception is the public name of pytest's Skipped; mypy cannot see it as a type.
class NotConfigured(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """A skip because the config does not ask for this check: it does not make the run
    INCONCLUSIVE, unlike any other skip."""


# pytest.fail.Exception is the public name of pytest's Failed; mypy cannot see it as a type.
class Inconclusive(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A gate test that could not judge the new system (legacy is down, the gate's own tools
    failed): the decision counts it INCONCLUSIVE, never NO-GO."""


class NewSystemDown(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """The new system did not start: NO-GO in every gate, also when a fixture found it out
    before the test ran."""


def not_configured(reason: str) -> NoReturn:
    """Skip the current gate test because cutover.toml does not configure what it checks."""
    raise NotConfigured(f"not configured: {reason}")


def case_ids(name: str, config: CutoverConfig | None, monitor: float | None) -> list[str]:
    """The cases of gate `name` that cutover.toml asks for."""
    from pytest_cutover.gates.base import Setup

    if config is None:
        return []
    implementation = gate(name)
    section = implementation.section(config)
    if section is None:
        return []
    systems = {system: config.system(system) for system in ("legacy", "new")}
    return implementation.cases(section, Setup(config.base_dir, systems, monitor, config.redactor))


def parametrize_cases(metafunc: pytest.Metafunc, config: CutoverConfig | None) -> None:
    if CASE not in metafunc.fixturenames:
        return
    name = gate_of({mark.name for mark in metafunc.definition.iter_markers()})
    if name == CUSTOM:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: {CASE} needs one of the gate markers "
            f"({', '.join(GATE_NAMES)})"
        )
    ids = case_ids(name, config, metafunc.config.getoption("cutover_monitor"))
    cases = [Case(name, case) for case in ids] or [Case(name, None)]
    metafunc.parametrize(CASE, cases, ids=ids or ["none"])


def judge_case(request: pytest.FixtureRequest, case: Case) -> GateResult:
    """The case's GateResult, the gate run once per gate run for every selected case."""
    if case.id is None:
        not_configured(gate(case.gate).not_configured())
    results = _results(request, case.gate)
    if "error" in results:
        reason = f"cannot run: {results['error']}"
        return GateResult(case.gate, case.id, Outcome.INCONCLUSIVE, (reason,))
    selected = _selected(request.session, case.gate)
    found = results["results"][selected.index(case.id)] if case.id in selected else None
    if found is None:
        reason = "no result for this case: cutover.toml changed during the run"
        return GateResult(case.gate, case.id, Outcome.INCONCLUSIVE, (reason,))
    return GateResult.from_dict(found)


def _results(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    from pytest_cutover.shared import compute_once

    cache = request.config.stash.setdefault(keys.GATE_RESULTS, {})
    if name not in cache:
        output = request.getfixturevalue("cutover_config").output
        compute = functools.partial(_run, request, name)
        cache[name] = compute_once(run_dir(request.config), name, compute, output)
    return cache[name]


def _run(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    from pytest_cutover.gates.base import GateSetupError, RunContext

    config: CutoverConfig = request.getfixturevalue("cutover_config")
    implementation = gate(name)
    section = implementation.section(config)
    settings = request.config.stash[keys.SETTINGS]
    context = RunContext(
        base_dir=config.base_dir,
        reports_dir=settings.reports_dir.value,
        step=settings.step.value,
        redactor=config.redactor,
        system=request.getfixturevalue,
        http=lambda system: request.getfixturevalue(f"{system}_http"),
        database=lambda system: request.getfixturevalue(f"{system}_db"),
        progress=request.getfixturevalue("cutover_progress"),
        monitor=request.config.getoption("cutover_monitor"),
        interval=request.config.getoption("cutover_interval"),
    )
    selected = _selected(request.session, name)
    try:
        results = implementation.run(section, context, selected)
    except GateSetupError as err:
        return {"error": str(err)}
    except Exception as err:  # the gate's own code failed: it proved nothing about new
        return {"error": f"the {name} gate itself failed: {type(err).__name__}: {err}"}
    # By place in the selection, which every xdist worker knows alike: a case id may itself be
    # masked on its way to disk, like any other text.
    found = [results.get(case) for case in selected]
    return {"results": [None if result is None else result.to_dict() for result in found]}


def _selected(session: pytest.Session, name: str) -> list[str]:
    """The gate's cases this run selected. Every xdist worker collects every item, so each one
    knows the whole selection, whichever worker runs the gate."""
    selected = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get(CASE) if callspec else None
        if isinstance(case, Case) and case.gate == name and case.id is not None:
            selected.append(case.id)
    return selected


def run_dir(config: pytest.Config) -> Path:
    """Where the gates judged once per run keep their results until the session ends."""
    reports: Path = config.stash[keys.SETTINGS].reports_dir.value
    return reports / ".runs" / config.stash[keys.RUN_ID]
