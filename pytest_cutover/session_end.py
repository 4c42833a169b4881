"""The end of a gate run, in one direction: decide, act, write the decision once, notify.

Nothing here runs on an xdist worker or in a run that executed no test (pytest_cutover.plugin
makes sure): only a decision acts, and only a run that decided writes one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_cutover import __version__, keys
from pytest_cutover.actions.outcome import ACTION_BUSY_EXIT
from pytest_cutover.decision import ActionsReport, Decision, TestRecord, Verdict, decide
from pytest_cutover.output import Output
from pytest_cutover.reports.allure_files import HISTORY_FILE, write_allure_extras
from pytest_cutover.reports.markdown import render_markdown

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

DECISION_FILE = "decision.json"
SUMMARY_FILE = "summary.md"
RUNS_FOLDER = "decisions"


def finish(
    config: pytest.Config,
    records: Iterable[TestRecord],
    *,
    interrupted: bool,
    started_at: datetime,
    left_out: tuple[str, ...],
) -> Decision:
    from pytest_cutover.plugin import loaded_config

    try:
        cutover_config = loaded_config(config)
    except Exception:  # already reported where it was first read; the decision still gets made
        cutover_config = None
    output = cutover_config.output if cutover_config else Output()
    records = list(records)
    for record in records:
        record.reasons = [output.text(reason) for reason in record.reasons]
    settings = config.stash[keys.SETTINGS]
    run_id = config.stash[keys.RUN_ID][:8]
    decision = decide(
        records,
        interrupted=interrupted,
        step=settings.step.value,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        systems=cutover_config.describe_systems() if cutover_config else {},
        config_path=str(cutover_config.path) if cutover_config else None,
        left_out=left_out,
        on_warning=_on_warning(cutover_config),
    )
    actions_report = config.hook.pytest_cutover_act(decision=decision, config=config)
    if actions_report is not None:
        decision = dataclasses.replace(decision, actions=_redacted(actions_report, output))
    document = output.value(decision.to_dict())
    assert isinstance(document, dict)
    reports = settings.reports_dir.value
    # Every run keeps its own decision; decision.json and the summaries are the latest run's
    # that decided and acted, so a run that found another one acting never writes over its files.
    run_file = reports / RUNS_FOLDER / f"{decision.started_at:%Y%m%dT%H%M%S}-{run_id}.json"
    output.write_json(run_file, document)
    if decision.exit_status != ACTION_BUSY_EXIT:
        output.write_json(reports / DECISION_FILE, document)
        _write_summaries(config, output, reports, document)
    hook = config.hook
    hook.pytest_cutover_decision(decision=decision, config=config)
    notify = {
        Verdict.GO: hook.pytest_cutover_go,
        Verdict.NO_GO: hook.pytest_cutover_no_go,
        Verdict.INCONCLUSIVE: hook.pytest_cutover_inconclusive,
    }[decision.verdict]
    notify(decision=decision, config=config)
    return decision


def _on_warning(cutover_config: CutoverConfig | None) -> str:
    """What a GO with warnings does; without [actions] it holds (exit 14) all the same."""
    actions = cutover_config.actions if cutover_config else None
    return actions.on_warning if actions else "hold"


def _redacted(actions: ActionsReport, output: Output) -> ActionsReport:
    """What the actions did, as every report and hook shows it: a helper's URL, a driver's
    error, never with its token."""
    failure = output.text(actions.failure) if actions.failure else None
    outcomes = tuple(output.value(list(actions.outcomes)))
    return dataclasses.replace(actions, outcomes=outcomes, failure=failure)


def _write_summaries(
    config: pytest.Config, output: Output, reports: Path, document: dict[str, Any]
) -> None:
    """The Markdown summary (reports/, and the CI job page when $GITHUB_STEP_SUMMARY is set)
    and, with --alluredir, Allure's environment, categories, allurerc.json and the decision
    itself."""
    summary = render_markdown(document)
    output.write_text(reports / SUMMARY_FILE, summary)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        output.append(Path(step_summary), summary)
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir:
        history = reports / HISTORY_FILE
        write_allure_extras(output, Path(alluredir), document, summary, __version__, history)
