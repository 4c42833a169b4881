"""The pytest11 entry point: options, markers, the shipped suites, and the hooks that turn gate
tests into one decision.

Every pytest run in the user's environment imports this module, so it imports only what options,
markers and hooks need; the config, the gates and the reports are imported when a gate run asks.
The decision is made from the test reports the session's own process sees: under pytest-xdist
workers send every report to the controller (a crashed worker's test arrives as a report too),
so the controller alone decides, acts, writes decision.json and notifies, exactly once.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_cutover import fixtures, hooks, keys
from pytest_cutover.gates.registry import GATE_MARKER, GATE_NAMES, MARKERS, gate_of
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.settings import (
    OPTIONS,
    RUN_OPTIONS,
    Setting,
    Settings,
    add_setting_options,
    parse_positive_duration,
    parse_step,
    parse_switch,
    resolve_run_option,
    resolve_settings,
    with_sources,
)
from pytest_cutover.suite import (
    CASE,
    Inconclusive,
    NewSystemDown,
    NotConfigured,
    case_ids,
    parametrize_cases,
    run_dir,
)

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig
    from pytest_cutover.decision import Decision, TestRecord, TestStatus
    from pytest_cutover.progress_relay import ProgressRelay

SUITES_PACKAGE = "pytest_cutover.suites"
# `-m canary_gate` or `-m smoke` asks for a gate run even when it selects nothing; "not ..." does
# not.
_SELECTS_GATES = re.compile(r"(?<!not )\b(" + "|".join(MARKERS) + r")\b")
_EXPLICIT = ("--cutover-config", "--cutover-step", "CUTOVER_CONFIG", "CUTOVER_STEP")
# Options with which pytest runs no test: such a run never decides, writes or acts.
_NO_TESTS_RUN = (
    "collectonly",
    "setuponly",
    "setupplan",
    "showfixtures",
    "show_fixtures_per_test",
    "markers",
    "cacheshow",
    "help",
    "version",
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_cutover import actions_plugin, output_plugin

    pluginmanager.add_hookspecs(hooks)
    pluginmanager.register(fixtures, "cutover-fixtures")
    pluginmanager.register(actions_plugin, "cutover-actions")
    pluginmanager.register(output_plugin, "cutover-output-setup")


def _step_option(text: str) -> float:
    try:
        return parse_step(text)
    except ValueError as err:
        raise pytest.UsageError(f"--cutover-step: {err}") from None


def _positive_duration(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return parse_positive_duration(text)
        except ValueError as err:
            raise pytest.UsageError(f"{option}: {err}") from None

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "cutover",
        "pytest-cutover: go/no-go gates for a traffic step (precedence: option, env, ini)",
    )
    add_setting_options(group.addoption, "cutover-", types={"step": _step_option})
    for run_option in RUN_OPTIONS:
        kind = (
            {"action": "store_const", "const": True}
            if run_option.is_switch
            else {"metavar": run_option.metavar, "type": _positive_duration(run_option.flag)}
        )
        group.addoption(
            run_option.flag,
            dest=f"cutover_{run_option.name}",
            default=None,
            help=with_sources(run_option),
            **kind,
        )
        parser.addini(run_option.ini, run_option.help, default=None)
    for spec in OPTIONS:
        parser.addini(spec.ini, spec.help, default=None)
    parser.addini(
        "cutover_suites",
        "collect the gate suites shipped with pytest-cutover in a gate run (default: true; "
        "false runs only your own gate tests)",
        type="bool",
        default=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    option = config.option
    try:
        settings = resolve_settings(
            option={spec.name: _text(getattr(option, f"cutover_{spec.name}")) for spec in OPTIONS},
            ini={spec.name: config.getini(spec.ini) for spec in OPTIONS},
            environ=os.environ,
            rootdir=config.rootpath,
            invocation_dir=config.invocation_params.dir,
        )
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[keys.SETTINGS] = settings
    _resolve_run_options(config)
    config.stash[keys.RUN_ID] = _run_id(config)
    if hasattr(config, "workerinput") and getattr(option, "clean_alluredir", False):
        # allure-pytest would clean the shared folder in every worker, deleting results other
        # workers already wrote (allure-python #807, #847); the controller cleans it once.
        option.clean_alluredir = False
    # --collect-only lists the shipped gates too (IDEs do, on their own); it never decides.
    if _asks_for_gates(config) and not (option.help or option.version):
        _load_or_refuse(config)
        _collect_shipped_suites(config)
    elif _runs_tests(config) and _explicit(settings):
        _load_or_refuse(config)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GateSession(config), "cutover-gate-session")


def _resolve_run_options(config: pytest.Config) -> None:
    """--cutover-monitor, --cutover-interval, --cutover-dry-run and --cutover-promote from the
    command line, the environment or the ini file; what every reader of config.option sees."""
    option = config.option
    for spec in RUN_OPTIONS:
        parse = parse_switch if spec.is_switch else parse_positive_duration
        try:
            found: Setting[object] = resolve_run_option(
                spec, getattr(option, f"cutover_{spec.name}"), config.getini(spec.ini),
                os.environ, parse,
            )  # fmt: skip
        except ValueError as err:
            raise pytest.UsageError(str(err)) from None
        value = found.value
        setattr(option, f"cutover_{spec.name}", bool(value) if spec.is_switch else value)
        if value:
            config.stash.setdefault(keys.RUN_OPTION_SOURCES, {})[spec.flag] = found.source


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _asks_for_gates(config: pytest.Config) -> bool:
    option = config.option
    return bool(
        _SELECTS_GATES.search(option.markexpr or "")
        or option.cutover_promote
        or option.cutover_monitor
    )


def _explicit(settings: Settings) -> bool:
    """A config file or a step asked for by name is checked at once, gate run or not; the
    cutover.toml merely found nearby is read when a gate first needs it."""
    return settings.step.source in _EXPLICIT or settings.config_path.source in _EXPLICIT


def _runs_tests(config: pytest.Config) -> bool:
    return not any(getattr(config.option, name, False) for name in _NO_TESTS_RUN)


def _load_or_refuse(config: pytest.Config) -> None:
    """A gate run with a broken cutover.toml stops before collection, as a usage error."""
    from pytest_cutover.config import ConfigError

    try:
        cutover_config = loaded_config(config)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from None
    if config.option.cutover_promote:
        if cutover_config is None or cutover_config.traffic is None:
            raise pytest.UsageError("--cutover-promote needs a [traffic] driver in cutover.toml")
        if config.stash[keys.SETTINGS].step.value is None:
            raise pytest.UsageError(
                "--cutover-promote needs the step to promote to: --cutover-step"
            )


def _collect_shipped_suites(config: pytest.Config) -> None:
    """The gate suites ship in the package: a directory holding only cutover.toml is enough.
    Paths the user names on the command line are theirs alone."""
    if config.args_source is pytest.Config.ArgsSource.ARGS or not config.getini("cutover_suites"):
        return
    spec = importlib.util.find_spec(SUITES_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise pytest.UsageError(f"{SUITES_PACKAGE} is missing: reinstall pytest-cutover")
    suites = str(Path(next(iter(spec.submodule_search_locations))).resolve())
    if suites not in config.args:
        config.args.append(suites)


def loaded_config(config: pytest.Config) -> CutoverConfig | None:
    """The validated cutover.toml of this run (None when there is none), read on first use.
    Raises pytest_cutover.config.ConfigError for a broken one."""
    if keys.CONFIG not in config.stash:
        from pytest_cutover.config import load_config

        settings = config.stash[keys.SETTINGS]
        path = settings.config_path.value
        step = settings.step.value
        config.stash[keys.CONFIG] = None if path is None else load_config(path, step=step)
    return config.stash[keys.CONFIG]


def _run_id(config: pytest.Config) -> str:
    """One id shared by the controller and every xdist worker of this run: xdist hands its
    --testrunuid to the workers, so the controller fills it in first when it is unset."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        return str(worker_input["testrunuid"])
    if getattr(config.option, "testrunuid", "absent") is None:
        config.option.testrunuid = uuid.uuid4().hex
    return str(getattr(config.option, "testrunuid", None) or uuid.uuid4().hex)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[keys.SETTINGS]
    path = settings.config_path
    step = settings.step
    switches = config.stash.get(keys.RUN_OPTION_SOURCES, {})
    return [
        f"cutover: config {path.value or 'none found'} (from {path.source}); "
        f"step {'none' if step.value is None else f'{step.value:g}%'} (from {step.source}); "
        f"reports {settings.reports_dir.value}"
        + "".join(f"; {flag} (from {source})" for flag, source in switches.items())
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CASE in metafunc.fixturenames:
        parametrize_cases(metafunc, loaded_config(metafunc.config))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in MARKERS:
            for mark in item.iter_markers(name):
                if mark.args or mark.kwargs:
                    raise pytest.UsageError(
                        f"{item.nodeid}: @pytest.mark.{name} takes no arguments "
                        f"(got {mark.args or ''}{mark.kwargs or ''})"
                    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    results = item.stash.get(keys.ITEM_RESULTS, [])
    if call.when == "call" and results:
        # Plain data on the report travels from an xdist worker to the controller.
        report.cutover_results = [r.to_dict() for r in results]  # type: ignore[attr-defined]
    if call.excinfo is not None and call.excinfo.errisinstance(NotConfigured):
        report.cutover_not_configured = True  # type: ignore[attr-defined]
    if call.excinfo is not None and call.excinfo.errisinstance(Inconclusive):
        report.cutover_verdict = "inconclusive"  # type: ignore[attr-defined]
    if call.excinfo is not None and call.excinfo.errisinstance(NewSystemDown):
        report.cutover_verdict = "failed"  # type: ignore[attr-defined]
    return report


class GateSession:
    """Registered only in the process that owns the session (never on an xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started_at = datetime.now(UTC)
        self.records: dict[str, TestRecord] = {}
        self.decision: Decision | None = None
        self.relay: ProgressRelay | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from pytest_cutover.decision import TestRecord, TestStatus

        if GATE_MARKER not in report.keywords:
            return
        status, reasons = _classify(report)
        record = self.records.get(report.nodeid)
        if record is None:
            gate = gate_of(set(report.keywords))
            record = self.records[report.nodeid] = TestRecord(
                report.nodeid, gate, TestStatus.PASSED
            )
        record.merge(status, reasons, report.duration)
        record.results.extend(_results(report))

    def _is_gate_run(self) -> bool:
        if not _runs_tests(self.config):
            return False
        step = self.config.stash[keys.SETTINGS].step
        return bool(self.records) or _asks_for_gates(self.config) or step.source in _EXPLICIT

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under `pytest -n N`, show the workers' progress (pytest_cutover.progress_relay)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or self.config.getoption("dist", "no") == "no":
            return
        from pytest_cutover.progress_relay import ProgressRelay

        writer = self.config.get_terminal_writer()

        def show(line: str) -> None:
            if writer.width_of_current_line:  # never on the line of test results
                writer.line()
            reporter.write_line(line)

        folder = run_dir(self.config) / fixtures.PROGRESS_FOLDER
        self.relay = ProgressRelay(folder, show)
        self.relay.start()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.relay is not None:
            self.relay.stop()
        shutil.rmtree(run_dir(self.config), ignore_errors=True)
        if not self._is_gate_run():
            return
        from pytest_cutover.session_end import finish

        # After -x a failure still makes NO-GO; anything else that stopped early is not GO.
        interrupted = bool(session.shouldstop) or exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
        )
        self.decision = finish(
            self.config,
            self.records.values(),
            interrupted=interrupted,
            started_at=self.started_at,
            left_out=self._left_out(),
        )
        if self.decision.exit_status != 0:
            session.exitstatus = self.decision.exit_status

    def _left_out(self) -> tuple[str, ...]:
        """Gates cutover.toml configures that this run did not run (`-m smoke`, `-k`). A team
        that turned the shipped suites off (cutover_suites = false) runs its own gates only."""
        if not self.config.getini("cutover_suites"):
            return ()
        try:
            config = loaded_config(self.config)
        except Exception:  # a config the gate run could not read has already been reported
            return ()
        ran = {record.gate for record in self.records.values()}
        monitor = self.config.option.cutover_monitor
        return tuple(
            name for name in GATE_NAMES if name not in ran and case_ids(name, config, monitor)
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.decision is None:
            return
        from pytest_cutover.reports.console import render_summary
        from pytest_cutover.session_end import DECISION_FILE

        writer = self.config.get_terminal_writer()
        terminalreporter.section("cutover decision", bold=True)
        reports = self.config.stash[keys.SETTINGS].reports_dir.value
        text = render_summary(
            self.decision,
            colour=writer.hasmarkup,
            width=writer.fullwidth,
            decision_file=str(reports / DECISION_FILE),
        )
        terminalreporter.write(text)


def _results(report: pytest.TestReport) -> list[GateResult]:
    return [GateResult.from_dict(found) for found in getattr(report, "cutover_results", [])]


def _classify(report: pytest.TestReport) -> tuple[TestStatus, list[str]]:
    from pytest_cutover.decision import TestStatus

    if hasattr(report, "wasxfail"):
        return TestStatus.INCONCLUSIVE, ["marked xfail: a gate expected to fail proves nothing"]
    if report.passed:
        return TestStatus.PASSED, []
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if getattr(report, "cutover_not_configured", False):
            return TestStatus.NOT_CONFIGURED, [reason]
        return TestStatus.SKIPPED, [reason.removeprefix("Skipped: ")]
    failing = [r for r in _results(report) if not r.passed]
    reasons = [reason for r in failing for reason in r.reasons] or [_crash_message(report)]
    # Whose failure it is, where a fixture knew: legacy or the tools (INCONCLUSIVE), new (NO-GO).
    known = getattr(report, "cutover_verdict", None)
    if known is not None:
        return TestStatus(known), reasons
    if report.when != "call":
        return TestStatus.ERROR, reasons
    if failing and all(r.outcome is Outcome.INCONCLUSIVE for r in failing):
        return TestStatus.INCONCLUSIVE, reasons
    return TestStatus.FAILED, reasons


def _crash_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip()
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"{report.when} failed"
