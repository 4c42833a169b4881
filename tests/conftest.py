"""Shared test helpers: pytester for the plugin, and the real demo systems for the gates."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

# pytester's in-process runs drop the modules first imported inside them. The plugin imports
# httpx's transport (httpcore) and allure only when a gate needs them, and
# httpx caches httpcore's exception classes on first use: imported inside such a run, they would
# come back as other classes later and a refused connection would escape as httpcore's own error.
# Imported here, they outlive every in-process run.
import allure  # noqa: F401
import httpcore  # noqa: F401
import httpx
import pytest

from pytest_cutover.config import CutoverConfig, load_config
from pytest_cutover.launcher import StartedSystem, start_system

httpx.Client().close()  # builds the transport, and with it httpx's map of httpcore's errors

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
# For projects whose gate tests are written in the test itself: the shipped suites stay out.
OWN_GATES_ONLY = "[pytest]\ncutover_suites = false\n"
MINIMAL_CONFIG = """
[systems.legacy]
base_url = "http://127.0.0.1:9"

[systems.new]
base_url = "http://127.0.0.1:9"
"""


def require_service(reason: str) -> None:
    """Skip with the reason, except in CI (CUTOVER_REQUIRE_SERVICES=1) where it is a failure."""
    if os.environ.get("CUTOVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def demo_config() -> CutoverConfig:
    """The repo's own cutover.toml: the demo systems, as the README's main command runs them."""
    return load_config(REPO / "cutover.toml")


@pytest.fixture(scope="session")
def demo_system(
    demo_config: CutoverConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str, str], StartedSystem]]:
    """Start a demo system with the given CUTOVER_DEMO_FAULTS, once per (system, faults)."""
    started: dict[tuple[str, str], StartedSystem] = {}

    def start(name: str, faults: str = "") -> StartedSystem:
        if (name, faults) not in started:
            folder = tmp_path_factory.mktemp(f"demo-{name}")
            system_config = demo_config.system(name)
            assert system_config.start is not None
            command = [
                folder.joinpath(f"{name}.db").as_posix() if part.endswith(".db") else part
                for part in system_config.start.command
            ]
            config = system_config.model_copy(
                update={"start": system_config.start.model_copy(update={"command": command})}
            )
            started[(name, faults)] = start_system(
                name, config, REPO, folder, demo_config.output, {"CUTOVER_DEMO_FAULTS": faults}
            )
        return started[(name, faults)]

    yield start
    for system in started.values():
        system.stop()
