"""Progress of long gates: redrawn in place on a terminal, a line every interval in CI logs,
always a start and an end line in CI; never a flood."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_cutover.progress import TerminalProgress

from .test_main_job import run_gate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(interactive: bool, interval: float = 30.0) -> list[tuple[str, bool]]:
    shown: list[tuple[str, bool]] = []
    clock = Clock()
    progress = TerminalProgress(lambda line, final: shown.append((line, final)), interactive,
                                interval, clock)  # fmt: skip
    for second in range(0, 121):
        clock.now = float(second)
        progress.update("load new", second, 120, f"{second * 100} requests")
    progress.finish("load new", "120 s")
    return shown


def test_ci_logs_get_a_line_per_interval_with_time_left() -> None:
    shown = run(interactive=False)
    assert [line for line, _ in shown] == [
        "cutover load new: 0 of 120 (0%), 0 requests",
        "cutover load new: 30 of 120 (25%), ~90 s left, 3000 requests",
        "cutover load new: 60 of 120 (50%), ~60 s left, 6000 requests",
        "cutover load new: 90 of 120 (75%), ~30 s left, 9000 requests",
        "cutover load new: 120 of 120 (100%), 12000 requests",
        "cutover load new: done in 120 s, 120 s",
    ]
    assert all(final for _, final in shown)  # every CI line stands on its own


def test_a_terminal_line_is_redrawn_and_ends_with_a_final_line() -> None:
    shown = run(interactive=True)
    assert len(shown) == 122  # start, one redraw per second here (capped at 4 a second), end
    assert not any(final for _, final in shown[:-1])
    assert shown[-1] == ("cutover load new: done in 120 s, 120 s", True)


def test_the_load_gate_shows_progress_in_a_ci_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("CUTOVER_PROGRESS_INTERVAL", "1")
    result, _ = run_gate(tmp_path, "-m", "canary_gate and load")
    lines = result.stdout.splitlines()
    # One run loads new and legacy together when a threshold reads legacy ("cutover load:").
    progress = [line for line in lines if line.startswith("cutover load: ")]
    # The first line comes early in the run (how early depends on the machine's load).
    assert re.fullmatch(r"cutover load: [0-4] of 5 \(\d+%\)(, [\d,]+ requests)?", progress[0])
    assert any(re.fullmatch(r"cutover load: [1-4] of 5 .*, [\d,]+ requests", p) for p in progress)
    assert progress[-1].startswith("cutover load: done in ")
