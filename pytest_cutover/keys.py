"""Every piece of session state the plugin keeps, as typed stash keys in one place."""

from __future__ import annotations

import pytest

from pytest_cutover.config import CutoverConfig
from pytest_cutover.decision import ActionsReport
from pytest_cutover.gates.result import GateResult
from pytest_cutover.settings import Settings

SETTINGS = pytest.StashKey[Settings]()
CONFIG = pytest.StashKey[CutoverConfig | None]()
ITEM_RESULTS = pytest.StashKey[list[GateResult]]()
RUN_ID = pytest.StashKey[str]()
# What the acting hooks did, set once per session on the controller (actions_plugin).
ACTIONS = pytest.StashKey[ActionsReport]()
