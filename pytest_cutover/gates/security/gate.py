"""Security gate: what must be refused is refused on new, and new is never more open than legacy.

Each declared check sends a few requests (no credentials, a bad token, a role's credentials, a
preflight per origin, hostile input, a plain GET for headers) to both systems and judges each
answer by rules. A rule broken on new where legacy keeps it is a regression: FAIL whatever
`judge` says. A rule broken on both is FAIL as an absolute rule (`judge = "absolute"`, the
default) with legacy reported as open too, or accepted as parity (`judge = "parity"`). New that
cannot be reached is FAIL (NO-GO); legacy that cannot be reached only loses the comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.result import GateResult, Outcome, worst
from pytest_cutover.gates.security.config import (
    Authentication,
    Authorisation,
    Cors,
    Headers,
    Injection,
    InjectionKind,
    Probe,
    SecurityConfig,
)
from pytest_cutover.gates.smoke.config import header_rule_holds
from pytest_cutover.gates.smoke.gate import Clients
from pytest_cutover.redact import Redactor, redact_headers
from pytest_cutover.section import SYSTEM_NAMES

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig
    from pytest_cutover.systems import System

GATE = "security"
_PARALLEL = 8
_RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError)
_SCANNED = 65536  # how much of a body is searched for leaked data
_SHOWN_PATH = 200
ACAO = "access-control-allow-origin"

PAYLOADS: dict[InjectionKind, tuple[str, ...]] = {
    "sql": ("' OR '1'='1", "1; DROP TABLE users--", "1' UNION SELECT NULL,NULL--"),
    "traversal": (
        "../../../../etc/passwd",
        "..%2f..%2f..%2f..%2fetc%2fpasswd",
        "....//....//etc/passwd",
    ),
    "oversized": (),  # built from oversized_length
}
# What a body must never hold in answer to hostile input: a system file, or the database's or
# the runtime's own error text (the first step of an injection is learning the query's shape).
LEAKS = (
    "root:x:0:0",
    "[boot loader]",
    "sqlstate",
    "syntax error",
    "you have an error in your sql syntax",
    "unterminated quoted string",
    "sqlite3.",
    "operationalerror",
    "programmingerror",
    "psycopg",
    "pymysql",
    "ora-0",
    "traceback (most recent call last)",
    "java.sql.",
)


@dataclass(frozen=True)
class Rule:
    """What an answer must show; `broken` returns what was seen instead, or None."""

    label: str
    broken: Callable[[httpx.Response], str | None]


@dataclass(frozen=True)
class SecurityRequest:
    label: str
    method: str
    path: str
    shown_path: str
    rules: tuple[Rule, ...]
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()  # the system's own headers left out (its credentials)


@dataclass(frozen=True)
class SecurityCheck:
    id: str
    kind: str
    service: str | None
    requests: tuple[SecurityRequest, ...]


@dataclass(frozen=True)
class Seen:
    """One rule on one system: held, broken (with what was seen), or not known (an error)."""

    state: str  # "holds", "open", "error"
    detail: str = ""


def all_checks(section: SecurityConfig, redactor: Redactor) -> list[SecurityCheck]:
    checks: list[SecurityCheck] = []
    taken: set[str] = set()
    for kind, probe in section.probes():
        base = redactor.text(probe.name or f"{kind} {probe.where()}")
        if isinstance(probe, Authorisation) and not probe.name:
            base = redactor.text(f"{kind} {probe.role} {probe.where()}")
        check_id, n = base, 1
        while check_id in taken:
            n += 1
            check_id = f"{base} #{n}"
        taken.add(check_id)
        requests = _requests(probe, redactor)
        checks.append(SecurityCheck(check_id, kind, probe.service, tuple(requests)))
    return checks


def _requests(probe: Probe, redactor: Redactor) -> list[SecurityRequest]:
    def request(
        label: str, rules: Sequence[Rule], path: str | None = None, **kwargs: Any
    ) -> SecurityRequest:
        sent = probe.path if path is None else path
        shown = redactor.text(sent)
        if len(shown) > _SHOWN_PATH:  # an oversized probe: its length says enough
            shown = f"{shown[:_SHOWN_PATH]}... ({len(shown)} chars)"
        return SecurityRequest(label, probe.method, sent, shown, tuple(rules), **kwargs)

    if isinstance(probe, Authentication):
        refused = _status_rule(probe.status, "refused")
        without = {k: v for k, v in probe.headers.items() if k.lower() != probe.header.lower()}
        return [
            request("without a token", [refused], headers=without, drop=(probe.header,)),
            request(
                "with a bad token",
                [refused],
                headers={**without, probe.header: probe.bad_token},
                drop=(probe.header,),
            ),
        ]
    if isinstance(probe, Authorisation):
        return [
            request(
                f"role {probe.role}",
                [_status_rule(probe.status, "forbidden")],
                headers=probe.headers,
            )
        ]
    if isinstance(probe, Cors):
        return [
            request(
                f"origin {origin}",
                [_cors_allows(origin, probe.request_headers)],
                headers=_preflight(probe, origin),
            )
            for origin in probe.allowed_origins
        ] + [
            request(
                f"foreign origin {probe.foreign_origin}",
                [_cors_refuses(probe.foreign_origin)],
                headers=_preflight(probe, probe.foreign_origin),
            )
        ]
    if isinstance(probe, Injection):
        return _injections(probe, request)
    assert isinstance(probe, Headers)
    rules = [
        Rule(f"header {name} {rule!r}", _header_rule(name, rule))
        for name, rule in probe.required.items()
    ] + [Rule(f"no header {name}", _absent_rule(name)) for name in probe.absent]
    return [request("security headers", rules, headers=probe.headers)]


def _injections(probe: Injection, request: Callable[..., SecurityRequest]) -> list[SecurityRequest]:
    accepted = probe.status or list(range(400, 500))
    expected = "a 4xx" if probe.status is None else " or ".join(map(str, probe.status))
    rule = Rule(f"refused ({expected}) without leaking data", _refusal(accepted, expected))
    base, _, query = probe.path.partition("?")
    made = []
    for kind in probe.kinds:
        payloads = PAYLOADS[kind] or ("A" * probe.oversized_length,)
        for payload in payloads:
            shown = payload if len(payload) <= 40 else f"{payload[:8]}... ({len(payload)} chars)"
            if probe.segment:
                path = f"{base.rstrip('/')}/{quote(payload, safe='')}" + (
                    f"?{query}" if query else ""
                )
                made.append(
                    request(
                        f"{kind} {shown!r} as a path segment", [rule], path, headers=probe.headers
                    )
                )
            for param in probe.params:
                joined = "&".join(q for q in (query, urlencode({param: payload})) if q)
                made.append(
                    request(
                        f"{kind} {shown!r} in ?{param}",
                        [rule],
                        f"{base}?{joined}",
                        headers=probe.headers,
                    )
                )
    return made


def _preflight(probe: Cors, origin: str) -> dict[str, str]:
    headers = {**probe.headers, "Origin": origin}
    if probe.method == "OPTIONS":
        headers["Access-Control-Request-Method"] = probe.request_method
        if probe.request_headers:
            headers["Access-Control-Request-Headers"] = ", ".join(probe.request_headers)
    return headers


def _status_rule(statuses: Sequence[int], word: str) -> Rule:
    expected = " or ".join(map(str, statuses))

    def broken(response: httpx.Response) -> str | None:
        code = response.status_code
        return None if code in statuses else f"answered {code} (expected {expected})"

    return Rule(f"{word} ({expected})", broken)


def _refusal(accepted: Sequence[int], expected: str) -> Callable[[httpx.Response], str | None]:
    def broken(response: httpx.Response) -> str | None:
        code = response.status_code
        if code not in accepted:
            return f"answered {code} (expected {expected})"
        body = response.text[:_SCANNED].lower()
        leaked = next((sign for sign in LEAKS if sign in body), None)
        return None if leaked is None else f"answered {code} with {leaked!r} in the body"

    return broken


def _cors_allows(origin: str, wanted: Sequence[str]) -> Rule:
    def broken(response: httpx.Response) -> str | None:
        granted = response.headers.get(ACAO)
        if granted not in (origin, "*"):
            return f"answered {response.status_code} with {ACAO}: {granted or 'none'}"
        allowed = response.headers.get("access-control-allow-headers", "")
        names = {h.strip().lower() for h in allowed.split(",")}
        missing = [h for h in wanted if h.lower() not in names and "*" not in names]
        return f"access-control-allow-headers lacks {', '.join(missing)}" if missing else None

    return Rule("gets Access-Control-Allow-Origin", broken)


def _cors_refuses(origin: str) -> Rule:
    def broken(response: httpx.Response) -> str | None:
        granted = response.headers.get(ACAO)
        return f"answered {ACAO}: {granted}" if granted in (origin, "*") else None

    return Rule("gets no Access-Control-Allow-Origin", broken)


def _header_rule(name: str, rule: str) -> Callable[[httpx.Response], str | None]:
    def broken(response: httpx.Response) -> str | None:
        value = response.headers.get(name)
        if header_rule_holds(rule, value):
            return None
        return "missing" if value is None else f"{_shown(name, value)!r}"

    return broken


def _absent_rule(name: str) -> Callable[[httpx.Response], str | None]:
    def broken(response: httpx.Response) -> str | None:
        value = response.headers.get(name)
        return None if value is None else f"sent {name}: {_shown(name, value)}"

    return broken


def _shown(name: str, value: str) -> str:
    return redact_headers({name: value})[name]


class SecurityGate(Gate[SecurityConfig]):
    name = GATE

    def section(self, config: CutoverConfig) -> SecurityConfig | None:
        return config.security

    def cases(self, section: SecurityConfig, setup: Setup) -> list[str]:
        """The checks new can be asked: none for a database-only new."""
        new = setup.systems["new"]
        return [c.id for c in all_checks(section, setup.redactor) if new.reaches(c.service)]

    def not_configured(self) -> str:
        return (
            "no [security] checks, or none that new can be asked (it has no base_url or services)"
        )

    def run(
        self, section: SecurityConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        systems: dict[str, System] = {name: context.system(name) for name in SYSTEM_NAMES}
        checks = [c for c in all_checks(section, context.redactor) if c.id in cases]
        asked: dict[str, list[str]] = {
            check.id: [n for n in SYSTEM_NAMES if systems[n].config.reaches(check.service)]
            for check in checks
        }
        targets = [(n, c.service) for c in checks for n in asked[c.id]]
        sender = _Sender(section.retry_deadline, context.redactor)
        with Clients(targets, systems, context.http) as clients:
            jobs = [
                (check, name, request)
                for check in checks
                for name in asked[check.id]
                for request in check.requests
            ]

            def send(job: tuple[SecurityCheck, str, SecurityRequest]) -> _Answer:
                check, name, request = job
                return sender.send(clients(name, check.service), f"{name}/{check.service}", request)

            with ThreadPoolExecutor(_PARALLEL, thread_name_prefix="security") as pool:
                answers = dict(
                    zip(((c.id, n, r.label) for c, n, r in jobs), pool.map(send, jobs), strict=True)
                )
        return {
            check.id: _judge(check, answers, asked[check.id], section.judge, context.redactor)
            for check in checks
        }


@dataclass(frozen=True)
class _Answer:
    url: str
    response: httpx.Response | None
    error: str | None = None


class _Sender:
    """Sends with refused connections retried until the deadline, once per target: after that,
    every request to the same target fails at once with the same reason."""

    def __init__(self, retry_deadline: float, redactor: Redactor) -> None:
        self._deadline = retry_deadline
        self._redactor = redactor
        self._down: dict[str, str] = {}

    def send(self, client: httpx.Client, target: str, request: SecurityRequest) -> _Answer:
        url = f"{client.base_url}".rstrip("/") + request.path
        built = client.build_request(request.method, request.path, headers=dict(request.headers))
        for name in request.drop:
            if name not in request.headers:
                built.headers.pop(name, None)
        deadline = time.monotonic() + self._deadline
        attempts = 0
        while target not in self._down:
            attempts += 1
            try:
                return _Answer(url, client.send(built))
            except _RETRYABLE as err:
                if time.monotonic() >= deadline:
                    self._down[target] = (
                        f"cannot connect to {url}: {err or type(err).__name__} "
                        f"(retried {attempts} times for {self._deadline:g} s)"
                    )
                else:
                    time.sleep(min(0.2 * attempts, 1.0))
            except httpx.HTTPError as err:
                return _Answer(
                    url, None, f"{request.method} {url} failed: {type(err).__name__}: {err}"
                )
        return _Answer(url, None, self._down[target])


def _seen(answer: _Answer, rule: Rule) -> Seen:
    if answer.response is None:
        return Seen("error", answer.error or "no answer")
    broken = rule.broken(answer.response)
    return Seen("holds") if broken is None else Seen("open", broken)


def _judge(
    check: SecurityCheck,
    answers: Mapping[tuple[str, str, str], _Answer],
    asked: Sequence[str],
    judge: str,
    redactor: Redactor,
) -> GateResult:
    outcomes: list[Outcome] = []
    reasons: list[str] = []
    legacy_open: list[str] = []
    probes: list[dict[str, Any]] = []
    for request in check.requests:
        replies = {name: answers[check.id, name, request.label] for name in asked}
        for rule in request.rules:
            seen = {name: _seen(reply, rule) for name, reply in replies.items()}
            new, legacy = seen["new"], seen.get("legacy")
            # No "token:" in a reason: the redactor would read what follows as the token.
            what = f"{request.label}, {rule.label}"
            outcome, reason = _verdict(what, new, legacy, judge)
            outcomes.append(outcome)
            if reason:
                reasons.append(reason)
            if legacy is not None and legacy.state == "open":
                legacy_open.append(f"{what}: legacy {legacy.detail}")
            probes.append(
                {
                    "request": f"{request.method} {request.shown_path}",
                    "sent": request.label,
                    "rule": rule.label,
                    **{name: {"state": s.state, "seen": s.detail} for name, s in seen.items()},
                }
            )
    outcome = worst(outcomes)
    evidence: dict[str, Any] = {
        "judge": judge,
        "probes": probes,
        "legacy_open": legacy_open,
        "legacy_compared": "legacy" in asked,
        "urls": {name: answers[check.id, name, check.requests[0].label].url for name in asked},
    }
    measurements = {
        "rules": float(len(probes)),
        "open_on_new": float(sum(p["new"]["state"] == "open" for p in probes)),
        "open_on_legacy": float(len(legacy_open)),
    }
    return GateResult(
        gate=GATE,
        name=check.id,
        outcome=outcome,
        reasons=tuple(redactor.text(r) for r in reasons),
        measurements=measurements,
        evidence=redactor.value(evidence),  # type: ignore[arg-type]
    )


def _verdict(what: str, new: Seen, legacy: Seen | None, judge: str) -> tuple[Outcome, str | None]:
    """One rule on both systems: new's answer decides, legacy's says whether it is a regression."""
    if new.state == "error":
        return Outcome.FAIL, f"new: {what}: {new.detail}"
    if new.state == "holds":
        return Outcome.PASS, None
    if legacy is not None and legacy.state == "holds":
        return (
            Outcome.FAIL,
            f"new is more open than legacy: {what}: new {new.detail}, legacy keeps it",
        )
    if legacy is not None and legacy.state == "open":
        if judge == "parity":
            return Outcome.PASS, None
        return Outcome.FAIL, f"{what}: new {new.detail} (legacy is open too: {legacy.detail})"
    compared = "legacy has no base_url" if legacy is None else f"legacy: {legacy.detail}"
    if judge == "parity":
        return Outcome.INCONCLUSIVE, f"{what}: new {new.detail}; not compared ({compared})"
    return Outcome.FAIL, f"{what}: new {new.detail} (not compared with legacy: {compared})"
