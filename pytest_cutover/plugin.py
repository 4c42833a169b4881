"""The pytest11 entry point: options, markers, and the hooks that turn gate tests into a decision.

Everything else lives in library modules that never import pytest. The decision is made from the
test reports the session's own process sees: under pytest-xdist workers send every report to the
controller (a crashed worker's test arrives as a report too), so the controller alone decides,
writes decision.json and fires the hooks, exactly once.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover import __version__, actions_plugin, fixtures, hooks, keys
from pytest_cutover.config import ConfigError, CutoverConfig, load_config
from pytest_cutover.decision import Decision, TestRecord, TestStatus, Verdict, decide
from pytest_cutover.fixtures import NotConfigured
from pytest_cutover.gates import GATE_NAMES
from pytest_cutover.gates.result import Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.reports.allure_files import write_allure_extras
from pytest_cutover.reports.atomic import write_json_atomically
from pytest_cutover.reports.console import render_summary
from pytest_cutover.reports.markdown import render_markdown
from pytest_cutover.settings import parse_step, resolve_settings
from pytest_cutover.units import parse_duration

GATE_MARKER = "canary_gate"
MARKERS = {
    GATE_MARKER: "a go/no-go gate test: its outcome feeds the cutover decision",
    "smoke": "gate: health, readiness, liveness and key endpoints",
    "ab": "gate: the same requests to legacy and new, answers compared",
    "integrity": "gate: row counts and checksums between the two databases",
    "load": "gate: load under thresholds, legacy as the baseline",
    "metrics": "gate: Prometheus metrics rules over a window",
    "security": "gate: security parity between legacy and new",
}
DECISION_FILE = "decision.json"
SUMMARY_FILE = "summary.md"
# `-m canary_gate` asks for a gate run even when it selects nothing; "not canary_gate" does not.
_SELECTS_GATES = re.compile(r"(?<!not )\bcanary_gate\b")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)
    pluginmanager.register(fixtures, "cutover-fixtures")
    pluginmanager.register(actions_plugin, "cutover-actions")


def _step_option(text: str) -> float:
    try:
        return parse_step(text)
    except ValueError as err:
        raise pytest.UsageError(f"--cutover-step: {err}") from None


def _positive_duration(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            seconds = parse_duration(text)
        except ValueError as err:
            raise pytest.UsageError(f"{option}: {err}") from None
        if seconds <= 0:
            raise pytest.UsageError(f"{option}: expected a duration above zero, got {text!r}")
        return seconds

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cutover", "cutover go/no-go gates (precedence: option, env, ini)")
    group.addoption(
        "--cutover-config",
        dest="cutover_config",
        metavar="PATH",
        default=None,
        help="the cutover.toml to use (env CUTOVER_CONFIG, ini cutover_config; "
        "default: cutover.toml in the rootdir).",
    )
    group.addoption(
        "--cutover-step",
        dest="cutover_step",
        metavar="PERCENT",
        type=_step_option,
        default=None,
        help="the traffic step, 0-100, this gate run decides on (env CUTOVER_STEP, "
        "ini cutover_step); shown in the decision and reports.",
    )
    group.addoption(
        "--cutover-reports",
        dest="cutover_reports",
        metavar="DIR",
        default=None,
        help="where decision.json and system logs go (env CUTOVER_REPORTS, ini cutover_reports; "
        "default: reports/ in the rootdir).",
    )
    group.addoption(
        "--cutover-monitor",
        dest="cutover_monitor",
        metavar="DURATION",
        type=_positive_duration("--cutover-monitor"),
        default=None,
        help="monitor mode: keep running the smoke checks and metrics rules for this long "
        "(such as 5m) and fail as soon as one breaks.",
    )
    group.addoption(
        "--cutover-interval",
        dest="cutover_interval",
        metavar="DURATION",
        type=_positive_duration("--cutover-interval"),
        default=None,
        help="monitor mode: time between rounds (default: [metrics] interval, 15s).",
    )
    parser.addini("cutover_config", "path of cutover.toml, relative to the rootdir", default=None)
    parser.addini("cutover_step", "traffic step in percent this gate run is for", default=None)
    parser.addini("cutover_reports", "report folder, relative to the rootdir", default=None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    option = config.option
    step = option.cutover_step
    try:
        settings = resolve_settings(
            option={
                "config": option.cutover_config,
                "reports": option.cutover_reports,
                "step": None if step is None else str(step),
            },
            ini={name: config.getini(f"cutover_{name}") for name in ("config", "step", "reports")},
            environ=os.environ,
            rootdir=config.rootpath,
            invocation_dir=config.invocation_params.dir,
        )
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[keys.SETTINGS] = settings
    cutover_config: CutoverConfig | None = None
    path = settings.config_path.value
    if path is not None and not (option.help or option.version):
        try:
            cutover_config = load_config(path)
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from None
    config.stash[keys.CONFIG] = cutover_config
    config.stash[keys.RUN_ID] = _run_id(config)
    if hasattr(config, "workerinput") and getattr(config.option, "clean_alluredir", False):
        # allure-pytest would clean the shared folder in every worker, deleting results other
        # workers already wrote (allure-python #807, #847); the controller cleans it once.
        config.option.clean_alluredir = False
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GateSession(config), "cutover-gate-session")


def _run_id(config: pytest.Config) -> str:
    """One id shared by the controller and every xdist worker of this run: xdist hands its
    --testrunuid to the workers, so the controller fills it in first when it is unset."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        return str(worker_input["testrunuid"])
    if getattr(config.option, "testrunuid", "absent") is None:
        config.option.testrunuid = uuid.uuid4().hex
    return str(getattr(config.option, "testrunuid", None) or uuid.uuid4().hex)


def run_dir(config: pytest.Config) -> Path:
    """Where the steps computed once per run (see pytest_cutover.shared) keep their results."""
    reports = config.stash[keys.SETTINGS].reports_dir.value
    return reports / ".runs" / config.stash[keys.RUN_ID]


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[keys.SETTINGS]
    path = settings.config_path
    step = settings.step
    return [
        f"cutover: config {path.value or 'none found'} (from {path.source}); "
        f"step {'none' if step.value is None else f'{step.value:g}%'} (from {step.source}); "
        f"reports {settings.reports_dir.value}"
    ]


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
    return report


class GateSession:
    """Registered only in the process that owns the session (never on an xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started_at = datetime.now(UTC)
        self.records: dict[str, TestRecord] = {}
        self.decision: Decision | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if GATE_MARKER not in report.keywords:
            return
        status, reasons = _classify(report)
        record = self.records.get(report.nodeid)
        if record is None:
            gate = next((g for g in GATE_NAMES if g in report.keywords), "custom")
            record = self.records[report.nodeid] = TestRecord(
                report.nodeid, gate, TestStatus.PASSED
            )
        record.merge(status, reasons, report.duration)
        record.results.extend(getattr(report, "cutover_results", []))

    def _is_gate_run(self) -> bool:
        settings = self.config.stash[keys.SETTINGS]
        explicit_step = settings.step.source in ("--cutover-step", "CUTOVER_STEP")
        return (
            bool(self.records)
            or _SELECTS_GATES.search(self.config.option.markexpr or "") is not None
            or explicit_step
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        shutil.rmtree(run_dir(self.config), ignore_errors=True)
        if not self._is_gate_run():
            return
        settings = self.config.stash[keys.SETTINGS]
        cutover_config = self.config.stash[keys.CONFIG]
        redactor = cutover_config.redactor if cutover_config else Redactor()
        for record in self.records.values():
            record.reasons = [redactor.text(r) for r in record.reasons]
        # After -x a failure still makes NO-GO; anything else that stopped early is not GO.
        interrupted = bool(session.shouldstop) or exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
        )
        self.decision = decide(
            self.records.values(),
            interrupted=interrupted,
            step=settings.step.value,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            systems=cutover_config.describe_systems() if cutover_config else {},
            config_path=str(cutover_config.path) if cutover_config else None,
        )
        write_json_atomically(self.decision_path, redactor.value(self.decision.to_dict()))
        hook = self.config.hook
        hook.pytest_cutover_decision(decision=self.decision, config=self.config)
        verdict_hook = {
            Verdict.GO: hook.pytest_cutover_go,
            Verdict.NO_GO: hook.pytest_cutover_no_go,
            Verdict.INCONCLUSIVE: hook.pytest_cutover_inconclusive,
        }[self.decision.verdict]
        verdict_hook(decision=self.decision, config=self.config)
        actions = self.config.stash.get(keys.ACTIONS, None)
        if actions is not None:
            # What the acting hooks did (or failed to do) belongs in the decision file too.
            self.decision = dataclasses.replace(self.decision, actions=actions)
            write_json_atomically(self.decision_path, redactor.value(self.decision.to_dict()))
        if self.decision.exit_status != 0:
            session.exitstatus = self.decision.exit_status
        document = redactor.value(self.decision.to_dict())
        assert isinstance(document, dict)
        self._write_summaries(document)

    def _write_summaries(self, document: dict[str, Any]) -> None:
        """The Markdown summary (reports/, and the CI job page when $GITHUB_STEP_SUMMARY is set)
        and, with --alluredir, Allure's environment, categories and the decision itself."""
        summary = render_markdown(document)
        reports = self.config.stash[keys.SETTINGS].reports_dir.value
        (reports / SUMMARY_FILE).write_text(summary, encoding="utf-8")
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as page:
                page.write(summary)
        alluredir = getattr(self.config.option, "allure_report_dir", None)
        if alluredir:
            write_allure_extras(Path(alluredir), document, summary, __version__)

    @property
    def decision_path(self) -> Path:
        return self.config.stash[keys.SETTINGS].reports_dir.value / DECISION_FILE

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.decision is None:
            return
        writer = self.config.get_terminal_writer()
        colour, width = writer.hasmarkup, writer.fullwidth
        terminalreporter.section("cutover decision", bold=True)
        text = render_summary(
            self.decision, colour=colour, width=width, decision_file=str(self.decision_path)
        )
        terminalreporter.write(text)


def _classify(report: pytest.TestReport) -> tuple[TestStatus, list[str]]:
    if hasattr(report, "wasxfail"):
        return TestStatus.INCONCLUSIVE, ["marked xfail: a gate expected to fail proves nothing"]
    if report.passed:
        return TestStatus.PASSED, []
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if getattr(report, "cutover_not_configured", False):
            return TestStatus.NOT_CONFIGURED, [reason]
        return TestStatus.SKIPPED, [reason.removeprefix("Skipped: ")]
    results: list[dict[str, Any]] = getattr(report, "cutover_results", [])
    failing = [r for r in results if r["outcome"] != Outcome.PASS.value]
    reasons = [reason for r in failing for reason in r["reasons"]] or [_crash_message(report)]
    if report.when != "call":
        return TestStatus.ERROR, reasons
    if failing and all(r["outcome"] == Outcome.INCONCLUSIVE.value for r in failing):
        return TestStatus.INCONCLUSIVE, reasons
    return TestStatus.FAILED, reasons


def _crash_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip()
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"{report.when} failed"


def loaded_config(config: pytest.Config) -> CutoverConfig | None:
    """The validated cutover.toml of this run, for suites that parametrize from it."""
    return config.stash.get(keys.CONFIG, None)
