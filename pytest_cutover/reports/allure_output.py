"""Allure results through the run's Output: allure-pytest writes them itself, so the writer it
registers is swapped for one that redacts first.

allure-pytest sends everything it writes (test results, fixture containers, attachments, global
errors) through the `report_*` hooks of allure_commons' plugin manager to one
`AllureFileLogger`. A hook cannot change its arguments for the next implementation, and
rewriting the files afterwards would put every secret on disk first; so that logger is
unregistered and a subclass that redacts each item before the parent writes it takes its place.
Whatever allure-pytest builds (names from test ids, parameters, failure messages and traces
taken straight from the exception, captured output, our evidence attachments, files attached
by path) is covered, and the files keep allure's own format. At the end the original logger is
put back for allure-pytest's own clean-up to unregister.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure_commons
import attr
import pytest
from allure_commons.logger import AllureFileLogger

from pytest_cutover.output import Output
from pytest_cutover.redact import MASK, is_harmless_value, is_sensitive_name

OutputOf = Callable[[], "Output | None"]


def redact_allure_results(config: pytest.Config, alluredir: str, output: OutputOf) -> None:
    manager = allure_commons.plugin_manager
    for plugin in list(manager.get_plugins()):
        if type(plugin) is AllureFileLogger:
            redacting = RedactingFileLogger(alluredir, output)
            manager.unregister(plugin)
            manager.register(redacting)
            config.add_cleanup(functools.partial(_restore, redacting, plugin))


def _restore(redacting: RedactingFileLogger, original: AllureFileLogger) -> None:
    manager = allure_commons.plugin_manager
    manager.unregister(redacting)
    manager.register(original)


class RedactingFileLogger(AllureFileLogger):
    def __init__(self, report_dir: str, output: OutputOf) -> None:
        super().__init__(report_dir, clean=False)  # allure-pytest has already cleaned it
        self._output = output

    @allure_commons.hookimpl
    def report_result(self, result: Any) -> None:
        super().report_result(self._redacted(result))

    @allure_commons.hookimpl
    def report_container(self, container: Any) -> None:
        container.afters = [_teardown(after) for after in container.afters if _shown(after)]
        super().report_container(self._redacted(container))

    @allure_commons.hookimpl
    def report_globals(self, globals_item: Any) -> None:
        super().report_globals(self._redacted(globals_item))

    @allure_commons.hookimpl
    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        output = self._output()
        if output is not None:
            body = output.redact_bytes(body.encode() if isinstance(body, str) else body)
        super().report_attached_data(body, file_name)

    @allure_commons.hookimpl
    def report_attached_file(self, source: str, file_name: str) -> None:
        output = self._output()
        if output is None:
            super().report_attached_file(source, file_name)
            return
        super().report_attached_data(output.redact_bytes(Path(source).read_bytes()), file_name)

    def _redacted(self, item: Any) -> Any:
        output = self._output()
        if output is not None:
            _redact_model(item, output)
        return item


def _shown(after: Any) -> bool:
    """pytest 9 gives every fixture a bookkeeping callback (a lambda that runs its
    post-finalizer hook); allure-pytest takes it for a teardown step, names it
    `fixture::<lambda>` and, since it closes the container itself, never gives it a status."""
    return not (str(after.name).endswith("::<lambda>") and after.status is None)


def _teardown(after: Any) -> Any:
    """allure-pytest names a teardown it cannot name `fixture::1`: call it the fixture's
    teardown."""
    fixture, _, finalizer = str(after.name).rpartition("::")
    if fixture and finalizer.isdigit():
        after.name = f"{fixture} (teardown)"
    return after


def _redact_model(item: Any, output: Output) -> None:
    """Every string of an allure model object, in place; a parameter or label whose name says
    it holds a secret is masked whole."""
    for field in attr.fields(type(item)):
        setattr(item, field.name, _redacted(getattr(item, field.name), output))
    name, value = getattr(item, "name", None), getattr(item, "value", None)
    if isinstance(name, str) and isinstance(value, str) and is_sensitive_name(name):
        item.value = value if is_harmless_value(value) else MASK


def _redacted(value: Any, output: Output) -> Any:
    if isinstance(value, str):
        return output.text(value)
    if isinstance(value, list):
        return [_redacted(item, output) for item in value]
    if attr.has(type(value)):
        _redact_model(value, output)
    return value
