"""Smoke gate: is each system up, ready, alive, and do its key endpoints answer as declared?

A failing check on the new system is a NO-GO. A failing check on legacy proves nothing about the
new system, and rolling traffic back onto an unhealthy legacy would make things worse, so legacy
failures are INCONCLUSIVE (hold), never NO-GO.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.gates.smoke.config import SmokeConfig, SmokeEndpoint, header_rule_holds
from pytest_cutover.redact import Redactor, redact_headers
from pytest_cutover.section import SYSTEM_NAMES

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig, SystemConfig
    from pytest_cutover.systems import System

GATE = "smoke"
_BODY_EXCERPT = 2048
# Checks in flight at once: enough that a dead system costs one deadline, few enough to be polite.
_PARALLEL = 8
# Only "the connection never happened" is retried: a timeout or a bad answer is the verdict.
_RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class SmokeCheck:
    """One request to judge. `label` (and so the test's id) and `shown_path` are what reports
    show, a secret in the path's query masked; `path` is what is sent, to the system's base_url
    or, with `service`, to that service's."""

    system: str
    label: str
    path: str
    shown_path: str
    method: str = "GET"
    status: tuple[int, ...] = (200,)
    content_type: str | None = None
    json_keys: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    max_latency: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    service: str | None = None
    body: str | None = None
    json_body: Any = None
    response_headers: tuple[tuple[str, str], ...] = ()
    absent_headers: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.system}-{self.label}"

    @property
    def target(self) -> str:
        """Whom the check asks: `legacy`, or `legacy/SERVICE` (with a dot, `legacy.auth: ...`
        would read as a credential to the redactor)."""
        return f"{self.system}/{self.service}" if self.service else self.system

    def __repr__(self) -> str:
        # Test reports (Allure records parameters by repr) must never show header values.
        return f"SmokeCheck({self.target}: {self.method} {self.shown_path})"


def health_checks(system: str, config: SystemConfig, redactor: Redactor) -> list[SmokeCheck]:
    """The probes the system and each of its services declare, and no others: a service
    without a readiness endpoint is not judged on one."""
    checks = [
        SmokeCheck(system, probe, path, redactor.text(path))
        for probe, path in config.health.declared().items()
    ]
    for service, service_config in config.services.items():
        checks += [
            SmokeCheck(system, f"{service} {probe}", path, redactor.text(path), service=service)
            for probe, path in service_config.health.declared().items()
        ]
    return checks


def endpoint_checks(
    smoke: SmokeConfig, system: str, config: SystemConfig, base_dir: Path, redactor: Redactor
) -> list[SmokeCheck]:
    """The declared endpoints this system can answer. A database-only system answers none
    (the config refuses an endpoint that names a service the system does not have)."""
    return [
        _endpoint_check(smoke, system, endpoint, base_dir, redactor)
        for endpoint in smoke.endpoints
        if system in endpoint.systems and config.reaches(endpoint.service)
    ]


def all_checks(
    smoke: SmokeConfig, systems: Mapping[str, SystemConfig], base_dir: Path, redactor: Redactor
) -> list[SmokeCheck]:
    """Health probes first, then the declared endpoints, legacy before new in each."""
    health = [
        check for name in SYSTEM_NAMES for check in health_checks(name, systems[name], redactor)
    ]
    return health + [
        check
        for name in SYSTEM_NAMES
        for check in endpoint_checks(smoke, name, systems[name], base_dir, redactor)
    ]


def _endpoint_check(
    smoke: SmokeConfig, system: str, endpoint: SmokeEndpoint, base_dir: Path, redactor: Redactor
) -> SmokeCheck:
    schema = endpoint.json_schema
    if isinstance(schema, str):
        schema = json.loads((base_dir / schema).read_text(encoding="utf-8"))
    return SmokeCheck(
        system=system,
        label=redactor.text(endpoint.label),
        path=endpoint.path,
        shown_path=redactor.text(endpoint.path),
        method=endpoint.method,
        status=tuple(endpoint.status),
        content_type=endpoint.content_type,
        json_keys=tuple(endpoint.json_keys),
        json_schema=schema,
        max_latency=endpoint.max_latency if endpoint.max_latency is not None else smoke.max_latency,
        headers=dict(endpoint.headers),
        service=endpoint.service,
        body=endpoint.body,
        json_body=endpoint.json_body,
        response_headers=tuple(endpoint.response_headers.items()),
        absent_headers=tuple(endpoint.absent_headers),
    )


Target = tuple[str, str | None]  # (system, service or None for its base_url)


class Clients:
    """The HTTP client for each target: the system's own (its `legacy_http`/`new_http` fixture,
    which a team may override) for its base_url, and one made here per service, closed on exit.
    All are made up front: the checks then run side by side without a lock."""

    def __init__(
        self,
        targets: Iterable[Target],
        systems: Mapping[str, System],
        http: Callable[[str], httpx.Client],
    ) -> None:
        self._own: list[httpx.Client] = []
        self._clients: dict[Target, httpx.Client] = {}
        for system, service in targets:
            if (system, service) in self._clients:
                continue
            if service is None:
                client = http(system)
            else:
                client = systems[system].service(service).http_client()
                self._own.append(client)
            self._clients[system, service] = client

    def __call__(self, system: str, service: str | None) -> httpx.Client:
        return self._clients[system, service]

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *_exc: object) -> None:
        for client in self._own:
            client.close()


class SmokeGate(Gate[SmokeConfig]):
    name = GATE

    def section(self, config: CutoverConfig) -> SmokeConfig:
        return config.smoke

    def cases(self, section: SmokeConfig, setup: Setup) -> list[str]:
        checks = all_checks(section, setup.systems, setup.base_dir, setup.redactor)
        return [check.id for check in checks]

    def not_configured(self) -> str:
        return (
            "nothing to check: no health paths declared and no [[smoke.endpoints]] for a system "
            "with a base_url or services"
        )

    def run(
        self, section: SmokeConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        """The checks run side by side: a system that refuses connections costs one
        retry_deadline, not one per check."""
        systems: dict[str, System] = {name: context.system(name) for name in SYSTEM_NAMES}
        configs = {name: system.config for name, system in systems.items()}
        every = all_checks(section, configs, context.base_dir, context.redactor)
        checks = [c for c in every if c.id in cases]
        targets = [(check.system, check.service) for check in checks]
        with Clients(targets, systems, context.http) as clients:

            def judge(check: SmokeCheck) -> GateResult:
                client = clients(check.system, check.service)
                return run_check(client, check, section.retry_deadline, context.redactor)

            with ThreadPoolExecutor(_PARALLEL, thread_name_prefix="smoke") as pool:
                return dict(zip([c.id for c in checks], pool.map(judge, checks), strict=True))


def run_check(
    client: httpx.Client, check: SmokeCheck, retry_deadline: float, redactor: Redactor
) -> GateResult:
    """Send the check's request (retrying refused connections until the deadline) and judge it."""
    url = f"{client.base_url}".rstrip("/") + check.path
    shown = f"{check.method} {check.shown_path}"
    name = f"{check.target}: {shown}"
    label = check.label.removeprefix(f"{check.service} ") if check.service else check.label
    if label not in (check.shown_path, shown):
        name = f"{check.target}: {label} ({shown})"
    deadline = time.monotonic() + retry_deadline
    attempts = 0
    while True:
        attempts += 1
        started = time.perf_counter()
        try:
            response = client.request(
                check.method,
                check.path,
                headers=check.headers,
                content=check.body,
                json=check.json_body,
            )
            latency = time.perf_counter() - started
            break
        except httpx.TimeoutException as err:
            waited = time.perf_counter() - started
            return _result(
                check,
                name,
                [f"timed out after {waited:.1f} s: {check.method} {url} ({type(err).__name__})"],
                {"attempts": attempts},
                redactor,
            )
        except _RETRYABLE as err:
            if time.monotonic() >= deadline:
                return _result(
                    check,
                    name,
                    [
                        f"cannot connect to {url}: {err or type(err).__name__}"
                        f" (retried {attempts} times for {retry_deadline:g} s)"
                    ],
                    {"attempts": attempts},
                    redactor,
                )
            time.sleep(min(0.2 * attempts, 1.0))
        except httpx.HTTPError as err:
            return _result(
                check,
                name,
                [f"request to {url} failed: {type(err).__name__}: {err}"],
                {"attempts": attempts},
                redactor,
            )
    problems = _judge(check, response, latency)
    evidence: dict[str, Any] = {
        "request": {"method": check.method, "url": url, "headers": redact_headers(check.headers)},
        "response": {
            "status": response.status_code,
            "headers": redact_headers(dict(response.headers)),
            "body_excerpt": response.text[:_BODY_EXCERPT],
        },
        "latency_ms": round(latency * 1000, 3),
        "attempts": attempts,
    }
    return _result(check, name, problems, evidence, redactor, {"latency": latency})


def _result(
    check: SmokeCheck,
    name: str,
    problems: list[str],
    evidence: dict[str, Any],
    redactor: Redactor,
    measurements: dict[str, float] | None = None,
) -> GateResult:
    if not problems:
        outcome = Outcome.PASS
    elif check.system == "legacy":
        outcome = Outcome.INCONCLUSIVE
        problems = [
            *problems,
            "legacy is unhealthy: the new system cannot be judged against it, "
            "and rolling back onto it would not help",
        ]
    else:
        outcome = Outcome.FAIL
    return GateResult(
        gate=GATE,
        name=name,
        outcome=outcome,
        reasons=tuple(redactor.text(p) for p in problems),
        measurements=measurements or {},
        evidence=redactor.value(evidence),  # type: ignore[arg-type]
    )


def _judge(check: SmokeCheck, response: httpx.Response, latency: float) -> list[str]:
    url = str(response.request.url)
    problems: list[str] = []
    if response.status_code not in check.status:
        expected = " or ".join(str(s) for s in check.status)
        problems.append(
            f"{check.method} {url} answered {response.status_code} (expected {expected})"
        )
    if check.max_latency is not None and latency > check.max_latency:
        problems.append(
            f"{check.method} {url} took {latency * 1000:.0f} ms "
            f"(limit {check.max_latency * 1000:.0f} ms)"
        )
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if check.content_type and media_type != check.content_type:
        problems.append(
            f"{url}: content type {media_type or 'missing'!r} (expected {check.content_type!r})"
        )
    problems.extend(_judge_headers(check, response, url))
    if check.json_keys or check.json_schema is not None:
        problems.extend(_judge_json(check, response, url))
    return problems


def _judge_headers(check: SmokeCheck, response: httpx.Response, url: str) -> list[str]:
    problems = []
    for name, rule in check.response_headers:
        value = response.headers.get(name)
        if not header_rule_holds(rule, value):
            found = "missing" if value is None else repr(_shown(name, value))
            problems.append(f"{url}: header {name} is {found} (expected {rule!r})")
    problems += [
        f"{url}: header {name} must be absent, got {_shown(name, response.headers[name])!r}"
        for name in check.absent_headers
        if name in response.headers
    ]
    return problems


def _shown(name: str, value: str) -> str:
    return redact_headers({name: value})[name]


def _judge_json(check: SmokeCheck, response: httpx.Response, url: str) -> list[str]:
    try:
        document = response.json()
    except ValueError:
        return [f"{url}: body is not JSON (starts {response.text[:60]!r})"]
    problems = [
        f"{url}: JSON key {key!r} is missing"
        for key in check.json_keys
        if not _has_path(document, key)
    ]
    if check.json_schema is not None:
        validator_class = jsonschema.validators.validator_for(check.json_schema)
        validator = validator_class(check.json_schema)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))[:5]:
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            problems.append(f"{url}: JSON schema: at {where}: {error.message}")
    return problems


def _has_path(document: Any, dotted: str) -> bool:
    """`items.0.id` walks objects by key and arrays by index."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False
    return True
