"""The fixtures a gate test uses. All session-scoped ones can be overridden in a conftest.py
with a fixture of the same name and scope (for example to build `new_http` with mTLS).

Every pytest run in an environment with the plugin imports this module, so the libraries behind
the fixtures (httpx, SQLAlchemy, pydantic, allure) are imported when a fixture is first used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_cutover import keys
from pytest_cutover.gates.registry import GATE_MARKER, gate_of
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.progress import SILENT, Progress, TerminalProgress
from pytest_cutover.suite import (
    Case,
    Inconclusive,
    Judge,
    NewSystemDown,
    judge_case,
    not_configured,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from pytest_cutover.config import CutoverConfig
    from pytest_cutover.launcher import SystemPool
    from pytest_cutover.systems import System

RecordGate = Callable[[GateResult], GateResult]
PROGRESS_FOLDER = "progress"


@pytest.fixture(scope="session")
def cutover_config(pytestconfig: pytest.Config) -> CutoverConfig:
    """The validated cutover.toml (`pytest_cutover.config.CutoverConfig`)."""
    from pytest_cutover.config import ConfigError
    from pytest_cutover.plugin import loaded_config

    try:
        config = loaded_config(pytestconfig)
    except ConfigError as err:
        pytest.fail(str(err), pytrace=False)
    if config is None:
        pytest.fail(
            "no cutover.toml: give --cutover-config PATH, set CUTOVER_CONFIG, set the ini key "
            "cutover_config, or put cutover.toml in the rootdir",
            pytrace=False,
        )
    return config


@pytest.fixture(scope="session")
def cutover_step(pytestconfig: pytest.Config) -> float | None:
    """The traffic step (percent) this gate run is for, or None when none was given."""
    return pytestconfig.stash[keys.SETTINGS].step.value


@pytest.fixture(scope="session")
def cutover_systems(
    cutover_config: CutoverConfig, pytestconfig: pytest.Config
) -> Iterator[SystemPool]:
    """Starts systems that have [start] on first use and stops them at the end of the session,
    also after failures and Ctrl-C. Their output goes to <reports>/systems/."""
    from pytest_cutover.launcher import SystemPool

    pool = SystemPool(
        cutover_config, pytestconfig.stash[keys.SETTINGS].reports_dir.value / "systems"
    )
    try:
        yield pool
    finally:
        pool.stop_all()


def _system(pool: SystemPool, name: str) -> System:
    from pytest_cutover.launcher import StartError

    try:
        return pool.get(name)
    except StartError as err:
        if name == "new":  # the new system not starting is the clearest NO-GO there is
            raise NewSystemDown(str(err), pytrace=False) from None
        # Legacy not starting says nothing about new, and rolling back onto it would not help.
        raise Inconclusive(f"inconclusive: legacy could not start: {err}", pytrace=False) from None


@pytest.fixture(scope="session")
def legacy(cutover_systems: SystemPool) -> System:
    """The legacy system (`pytest_cutover.systems.System`), started first if it has [start]."""
    return _system(cutover_systems, "legacy")


@pytest.fixture(scope="session")
def new(cutover_systems: SystemPool) -> System:
    """The new system (`pytest_cutover.systems.System`), started first if it has [start]."""
    return _system(cutover_systems, "new")


def _http(system: System) -> Iterator[httpx.Client]:
    if not system.serves_http:  # a database-only system, or one with services only
        not_configured(f"systems.{system.name}.base_url is not set")
    with system.http_client() as client:
        yield client


@pytest.fixture(scope="session")
def legacy_http(legacy: System) -> Iterator[httpx.Client]:
    """An `httpx.Client` bound to legacy's base_url, with its default headers and timeouts;
    skips as not configured when legacy has no base_url."""
    yield from _http(legacy)


@pytest.fixture(scope="session")
def new_http(new: System) -> Iterator[httpx.Client]:
    """An `httpx.Client` bound to new's base_url, with its default headers and timeouts;
    skips as not configured when new has no base_url."""
    yield from _http(new)


def _engine(system: System, config: CutoverConfig) -> Iterator[Engine]:
    # Every query gives up a little after the statement timeout, even on a frozen server.
    engine = system.read_only_engine(config.integrity.statement_timeout)
    if engine is None:
        not_configured(f"systems.{system.name}.database is not set")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def legacy_db(legacy: System, cutover_config: CutoverConfig) -> Iterator[Engine]:
    """A read-only SQLAlchemy `Engine` on legacy's database; skips as not configured without one.
    Queries give up after about integrity.statement_timeout, a frozen server included."""
    yield from _engine(legacy, cutover_config)


@pytest.fixture(scope="session")
def new_db(new: System, cutover_config: CutoverConfig) -> Iterator[Engine]:
    """A read-only SQLAlchemy `Engine` on new's database; skips as not configured without one.
    Queries give up after about integrity.statement_timeout, a frozen server included."""
    yield from _engine(new, cutover_config)


@pytest.fixture(scope="session")
def cutover_progress(pytestconfig: pytest.Config) -> Progress:
    """Where long gates say how far they are: a terminal gets a line redrawn in place; a CI
    log (CI set, or no terminal) a line every CUTOVER_PROGRESS_INTERVAL seconds (default 30).
    An xdist worker writes those CI lines to a file the controller shows them from
    (pytest_cutover.progress_relay), each led by the worker's id."""
    interval = float(os.environ.get("CUTOVER_PROGRESS_INTERVAL", "30"))
    worker = getattr(pytestconfig, "workerinput", None)
    if worker is not None:
        return _worker_progress(pytestconfig, str(worker["workerid"]), interval)
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return SILENT
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    interactive = bool(reporter.isatty) and not os.environ.get("CI")

    def show(line: str, final: bool) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if not interactive:
                reporter.write_line(line)  # on a line of its own, after any test results
                return
            reporter.ensure_newline()  # never redraw over the line of test results
            reporter.rewrite(line, erase=True)
            if final:
                reporter.write("\n")

    return TerminalProgress(show, interactive, interval)


def _worker_progress(pytestconfig: pytest.Config, worker: str, interval: float) -> Progress:
    from pytest_cutover.output import Output
    from pytest_cutover.plugin import loaded_config
    from pytest_cutover.suite import run_dir

    try:
        config = loaded_config(pytestconfig)
    except Exception:  # reported where the config is first read; progress is never the cause
        config = None
    output = config.output if config is not None else Output()
    path = run_dir(pytestconfig) / PROGRESS_FOLDER / f"{worker}.log"

    def show(line: str, final: bool) -> None:
        output.append(path, f"[{worker}] {line}\n")

    return TerminalProgress(show, False, interval)


@pytest.fixture
def cutover_judge(request: pytest.FixtureRequest, record_gate: RecordGate) -> Judge:
    """Judge a built-in gate's case and record it: what every shipped suite's one test calls."""

    def judge(case: Case) -> GateResult:
        return record_gate(judge_case(request, case))

    return judge


@pytest.fixture
def record_gate(request: pytest.FixtureRequest) -> RecordGate:
    """Record a GateResult for the decision and the reports, attach its evidence to Allure
    (when Allure is on), and fail the test with the result's reasons unless it passed."""

    def record(result: GateResult) -> GateResult:
        request.node.stash.setdefault(keys.ITEM_RESULTS, []).append(result)
        _attach_to_allure(result)
        if result.outcome is Outcome.INCONCLUSIVE:
            # The prefix is what Allure's "Gate could not run" category matches.
            pytest.fail(f"inconclusive: {result.summary()}", pytrace=False)
        if not result.passed:
            pytest.fail(result.summary(), pytrace=False)
        return result

    return record


@pytest.fixture(autouse=True)
def _cutover_allure_labels(request: pytest.FixtureRequest) -> None:
    """Make gate tests navigable in Allure: epic (the cutover), feature (the gate), story (the
    endpoint, table or rule), the step as a parameter, and severity critical, since a failing
    gate stops or rolls back the step. Every call is a no-op without --alluredir."""
    node = request.node
    if node.get_closest_marker(GATE_MARKER) is None:
        return
    import allure

    allure.dynamic.epic("cutover")
    allure.dynamic.feature(gate_of({mark.name for mark in node.iter_markers()}))
    callspec = getattr(node, "callspec", None)
    if callspec is not None and callspec.id:
        allure.dynamic.story(callspec.id)
    step = request.config.stash[keys.SETTINGS].step.value
    # Shown, but left out of the history id: step 50's result continues step 10's history.
    shown = "none" if step is None else f"{step:g}%"
    allure.dynamic.parameter("cutover step", shown, excluded=True)
    allure.dynamic.severity(allure.severity_level.CRITICAL)


def _attach_to_allure(result: GateResult) -> None:
    import allure  # allure-pytest's public API; every call is a no-op without --alluredir

    from pytest_cutover.reports.attachments import attachments_for

    for attachment in attachments_for(result):
        allure.attach(
            attachment.content,
            name=attachment.name,
            attachment_type=getattr(allure.attachment_type, attachment.kind.upper()),
        )
    path = result.evidence.get("differences_file")
    if path and result.evidence.get("differences_total"):
        allure.attach.file(
            path, name=f"{result.gate}: {result.name}: all differences", extension="jsonl"
        )
