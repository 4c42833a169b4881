"""Every piece of session state the plugin keeps, as typed stash keys in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_cutover.gates.result import GateResult
from pytest_cutover.settings import Settings

if TYPE_CHECKING:
    # Named as a string below: loading the plugin must not import pydantic.
    from pytest_cutover.config import CutoverConfig  # noqa: F401

SETTINGS = pytest.StashKey[Settings]()
# The validated cutover.toml, loaded on first use (at configure time in a gate run).
CONFIG = pytest.StashKey["CutoverConfig | None"]()
ITEM_RESULTS = pytest.StashKey[list[GateResult]]()
RUN_ID = pytest.StashKey[str]()
# Which source set each --cutover-* switch that is on (for the report header).
RUN_OPTION_SOURCES = pytest.StashKey[dict[str, str]]()
# Each gate's results in this process, as computed once per run (pytest_cutover.suite).
GATE_RESULTS = pytest.StashKey[dict[str, dict[str, Any]]]()
