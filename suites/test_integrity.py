"""Integrity gate: one test per [[integrity.tables]] entry; the new database must hold the legacy
rows exactly. The tables selected in this run are started together, integrity.parallel at a time,
on the first test; each test then records its own table's result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from pytest_cutover import keys
from pytest_cutover.config import CutoverConfig
from pytest_cutover.fixtures import not_configured
from pytest_cutover.gates import integrity
from pytest_cutover.gates.result import GateResult
from pytest_cutover.plugin import loaded_config
from pytest_cutover.progress import Progress

pytestmark = [pytest.mark.canary_gate, pytest.mark.integrity]
Runner = Callable[[integrity.TableCheck], GateResult]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "integrity_table" in metafunc.fixturenames:
        config = loaded_config(metafunc.config)
        tables = config.integrity.tables if config else []
        ids = [t.label for t in tables] or ["none"]
        metafunc.parametrize("integrity_table", tables or [None], ids=ids)


def _selected(session: pytest.Session) -> set[str]:
    labels = set()
    for item in session.items:
        table = getattr(item, "callspec", None) and item.callspec.params.get("integrity_table")
        if isinstance(table, integrity.TableCheck):
            labels.add(table.label)
    return labels


@pytest.fixture(scope="session")
def integrity_runner(
    request: pytest.FixtureRequest, cutover_config: CutoverConfig
) -> Iterator[Runner]:
    """Runs the gate for a table. On the controller every selected table starts at once (bounded
    by integrity.parallel); an xdist worker runs only the tables it is given, one by one."""
    settings = cutover_config.integrity
    engines = {side: request.getfixturevalue(f"{side}_db") for side in ("legacy", "new")}
    reports = request.config.stash[keys.SETTINGS].reports_dir.value
    redactor = cutover_config.redactor
    with _progress_from_log(request.getfixturevalue("cutover_progress")):
        if hasattr(request.config, "workerinput"):
            yield lambda table: integrity.check_table(table, settings, engines, redactor, reports)
            return
        with ThreadPoolExecutor(settings.parallel, thread_name_prefix="integrity") as pool:
            futures = integrity.start_tables(
                settings, engines, redactor, reports, pool, _selected(request.session)
            )
            yield lambda table: futures[table.label].result()
            for future in futures.values():
                future.cancel()


@contextmanager
def _progress_from_log(progress: Progress) -> Iterator[None]:
    """The gate logs how far it hashed each table; for as long as it runs, those lines are
    the progress the person waiting sees."""
    log = logging.getLogger("pytest_cutover.integrity")
    handler, level = _ProgressHandler(progress), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


class _ProgressHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.update("integrity", note=record.getMessage())


def test_table(
    integrity_table: integrity.TableCheck | None,
    request: pytest.FixtureRequest,
    record_gate: Callable[[GateResult], GateResult],
) -> None:
    if integrity_table is None:
        not_configured("no [[integrity.tables]] declared in cutover.toml")
        return
    runner: Runner = request.getfixturevalue("integrity_runner")
    result = runner(integrity_table)
    request.getfixturevalue("cutover_progress").finish("integrity", f"{result.name} compared")
    _attach_differences(result)
    record_gate(result)


def _attach_differences(result: GateResult) -> None:
    import allure  # public API only; a no-op without --alluredir

    path = result.evidence.get("differences_file")
    if path and result.evidence.get("differences_total"):
        allure.attach.file(
            path, name=f"integrity: {result.name}: all differences", extension="jsonl"
        )
