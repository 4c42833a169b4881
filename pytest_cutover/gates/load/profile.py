"""The generated load profile: what a team gets with no locustfile of its own.

The A/B corpus is real traffic, so its safe requests in their captured proportions are the best
profile; without one, the smoke endpoints are. Each request is adapted to the system under load
(prefix, rewrites, headers) exactly as the A/B gate adapts it.
"""

from __future__ import annotations

import json
import os
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

    def write_for(self, system: System, ab: AbConfig, path: Path) -> None:
        """The profile as locust will replay it against `system`. It may hold credentials from
        the corpus or the config, so it is written owner-only into a private folder."""
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
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(entries, out)


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
