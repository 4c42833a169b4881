"""The generated load profile: what a team gets with no locustfile of its own.

The A/B corpus is real traffic, so its safe requests in their captured proportions are the best
profile; without one, the smoke endpoints are. Each request is adapted to the system under load
(prefix, rewrites, headers) exactly as the A/B gate adapts it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_cutover.corpus import CapturedRequest
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.replay import Target
from pytest_cutover.gates.ab.run import AbSetupError, make_plan
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.smoke.config import SmokeEndpoint
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

PROFILE_LOCUSTFILE = Path(__file__).with_name("profile_locustfile.py")
# The line of the template the gate replaces with the settings themselves.
_READ_SETTINGS = (
    'SETTINGS = json.loads(Path(os.environ["CUTOVER_LOAD_SETTINGS"]).read_text(encoding="utf-8"))'
)


@dataclass(frozen=True)
class LoadPlan:
    """The load gate's section, with the corpus and endpoints a generated profile is made of."""

    load: LoadConfig
    ab: AbConfig
    smoke_endpoints: tuple[SmokeEndpoint, ...]


class ProfileError(Exception):
    """No profile can be made: no locustfile, no corpus and no smoke endpoints."""


@dataclass(frozen=True)
class Profile:
    source: str
    requests: tuple[tuple[CapturedRequest, str], ...]

    @property
    def endpoints(self) -> list[str]:
        return sorted({name for _, name in self.requests})

    def entries_for(self, system: System, ab: AbConfig) -> list[dict[str, Any]]:
        """The profile as locust will replay it against `system`, adapted as the A/B gate
        adapts each request (prefix, rewrites, headers)."""
        side = ab.legacy if system.name == "legacy" else ab.new
        target = Target(system.name, system.base_url, side, system.config.headers)
        entries: list[dict[str, Any]] = []
        for request, name in self.requests:
            url, headers = target.prepare(request)
            entries.append(
                {
                    "method": request.method,
                    "url": url,
                    "headers": dict(headers),
                    "body": request.body.decode("utf-8", "replace") if request.body else None,
                    "name": name,
                }
            )
        return entries

    def write_locustfile(
        self, systems: Sequence[System], ab: AbConfig, pacing: Pacing, path: Path
    ) -> None:
        """One self-contained locustfile loading every system in `systems` with the same users
        (a distributed master sends it to its workers as it is). It may hold credentials from
        the corpus or the config, so it is written owner-only into a private folder."""
        settings = {
            "profiles": {system.name: self.entries_for(system, ab) for system in systems},
            "hosts": {system.name: system.base_url for system in systems},
            "iteration_rate": pacing.iteration_rate,
            "timeout": pacing.timeout,
        }
        template = PROFILE_LOCUSTFILE.read_text(encoding="utf-8")
        if template.count(_READ_SETTINGS) != 1:
            raise ProfileError(f"{PROFILE_LOCUSTFILE} has no settings line to fill in")
        before, after = template.split(_READ_SETTINGS)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(f"{before}SETTINGS = json.loads(")
            # The settings as JSON text (ASCII), written as a string literal JSON and Python
            # read alike.
            json.dump(json.dumps(settings), out)
            out.write(f"){after}")


@dataclass(frozen=True)
class Pacing:
    """How fast each locust user iterates (0: as fast as answers come) and how long it waits
    for an answer; one iteration sends the same request to every system under load."""

    iteration_rate: float
    timeout: float


def make_profile(plan: LoadPlan, base_dir: Path, redactor: Redactor) -> Profile:
    wanted = plan.load.profile
    if wanted in ("auto", "corpus") and plan.ab.corpus is not None:
        try:
            replay = make_plan(plan.ab, base_dir, redactor).replay
        except AbSetupError as err:
            raise ProfileError(
                f"the A/B corpus cannot be used as the load profile: {err}"
            ) from None
        if replay:
            return Profile(
                f"A/B corpus {plan.ab.corpus} ({len(replay)} safe requests)",
                tuple((p.request, p.group) for p in replay),
            )
    if wanted == "corpus":
        raise ProfileError("load.profile = 'corpus' but ab.corpus has no replayable request")
    # A service's endpoint is on another URL than the base_url the load goes to.
    endpoints = [e for e in plan.smoke_endpoints if e.method == "GET" and e.service is None]
    if not endpoints:
        raise ProfileError(
            "no load profile: give load.locustfile, an A/B corpus (ab.corpus) or GET smoke "
            "endpoints ([[smoke.endpoints]])"
        )
    requests = []
    for endpoint in endpoints:
        path, _, query = endpoint.path.partition("?")
        request = CapturedRequest("GET", path, query, tuple(endpoint.headers.items()))
        requests.append((request, endpoint.label))
    return Profile(f"smoke endpoints ({len(endpoints)})", tuple(requests))
