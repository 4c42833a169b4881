"""The pytest side of the one redaction point (pytest_cutover.output): what pytest and its
plugins write about a gate run goes through the run's Output too.

- The terminal: the terminal writer's stream is wrapped, so every line pytest, xdist, the
  progress lines and the cutover summary print is redacted on its way out.
- Test reports: failure messages and tracebacks, captured output and logs, user properties,
  skip reasons and the gate results a test recorded are redacted in place before anyone reads
  them (the terminal, JUnit XML, an xdist controller, the decision and its hooks), by the first
  `pytest_runtest_logreport` / `pytest_collectreport`. A traceback is rebuilt through pytest's
  own report serialization, so it still reads as one.
- Allure: allure-pytest writes its results itself, through the file logger it registers with
  allure_commons; it is swapped for one that redacts results, containers and attachments
  before they are written (pytest_cutover.reports.allure_output).

Redaction starts once the run has a cutover config (a gate run reads it at configure time; a
run that finds it later, from a fixture, from then on); other pytest runs pass through as they
are. Cheap to load: the config, rich and allure are imported only when a run needs them.
"""

from __future__ import annotations

import os
from typing import Any, TextIO, cast

import pytest

from pytest_cutover import keys
from pytest_cutover.output import Output, RedactingStream
from pytest_cutover.redact import MASK, is_harmless_value, is_sensitive_name


def run_output(config: pytest.Config) -> Output | None:
    """The run's Output, once its cutover config has been read; None before, or without one."""
    cutover_config = config.stash.get(keys.CONFIG, None)
    return cutover_config.output if cutover_config is not None else None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After the terminal and allure-pytest have set themselves up."""
    guard = ReportGuard(config)
    config.pluginmanager.register(guard, "cutover-output")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        writer = config.get_terminal_writer()
        raw = writer._file
        writer._file = cast(TextIO, RedactingStream(lambda: raw, guard.redact))
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir:
        from pytest_cutover.reports.allure_output import redact_allure_results

        redact_allure_results(config, os.path.abspath(alluredir), lambda: run_output(config))


class ReportGuard:
    """Redacts every report first, before the terminal, JUnit XML or xdist read it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def redact(self, text: str) -> str:
        output = run_output(self.config)
        return output.text(text) if output is not None else text

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._redact(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._redact(report)

    def _redact(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        output = run_output(self.config)
        if output is None:
            return
        report.sections = [(title, output.text(text)) for title, text in report.sections]
        report.longrepr = self._longrepr(report, output)
        if isinstance(report, pytest.TestReport):
            report.user_properties = [
                (name, _property(name, value, output)) for name, value in report.user_properties
            ]
            if isinstance(getattr(report, "wasxfail", None), str):
                report.wasxfail = output.text(report.wasxfail)
            if hasattr(report, "cutover_results"):  # plain data (pytest_cutover.plugin)
                report.cutover_results = output.value(report.cutover_results)  # type: ignore[attr-defined]

    def _longrepr(self, report: pytest.TestReport | pytest.CollectReport, output: Output) -> Any:
        longrepr = report.longrepr
        if longrepr is None:
            return None
        if isinstance(longrepr, str):
            return output.text(longrepr)
        if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
            path, line, reason = longrepr
            return (path, line, output.text(reason))
        hook = self.config.hook
        data = hook.pytest_report_to_serializable(config=self.config, report=report)
        if not data:
            return output.text(str(longrepr))
        data["longrepr"] = output.value(data["longrepr"])
        rebuilt = hook.pytest_report_from_serializable(config=self.config, data=data)
        return rebuilt.longrepr if rebuilt is not None else output.text(str(longrepr))


def _property(name: str, value: object, output: Output) -> object:
    """A JUnit property: masked whole under a secret name, otherwise redacted as text."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    shown = output.text(str(value))
    if is_sensitive_name(name) and not is_harmless_value(shown):
        return MASK
    return shown
