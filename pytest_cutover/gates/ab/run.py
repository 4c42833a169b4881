"""The A/B gate from corpus to verdicts: plan what to replay, replay it, judge the answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from pytest_cutover.corpus import (
    CapturedRequest,
    CorpusError,
    corpus_secrets,
    load_corpus,
    sample,
)
from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.baseline import (
    BaselineError,
    MaskedSource,
    RecordedSource,
    Recording,
    load_recording,
    write_recording,
)
from pytest_cutover.gates.ab.config import AbConfig, EndpointRule
from pytest_cutover.gates.ab.grouping import Grouper, OpenApiError
from pytest_cutover.gates.ab.judge import Judge
from pytest_cutover.gates.ab.replay import (
    HttpSource,
    RateLimiter,
    ReplayTiming,
    Source,
    Target,
    replay,
)
from pytest_cutover.gates.ab.wire import Wire
from pytest_cutover.gates.result import GateResult
from pytest_cutover.output import Output
from pytest_cutover.progress import SILENT, Progress
from pytest_cutover.redact import Redactor, redact_url
from pytest_cutover.section import SAFE_METHODS
from pytest_cutover.systems import System

_LISTED = 200


class AbSetupError(Exception):
    """The gate cannot start: no corpus, an unreadable corpus, OpenAPI file or baseline."""


@dataclass(frozen=True)
class Planned:
    request: CapturedRequest
    group: str
    rule: EndpointRule | None


@dataclass(frozen=True)
class Plan:
    replay: tuple[Planned, ...]
    not_replayed: tuple[dict[str, str], ...]
    unreadable: tuple[str, ...]
    loaded: int
    sampled: int

    @property
    def groups(self) -> list[str]:
        return sorted({p.group for p in self.replay})


def make_plan(ab: AbConfig, base_dir: Path, redactor: Redactor) -> Plan:
    """Read, sample and group the corpus; unsafe methods are set aside, by name, with the rule
    that would have allowed them."""
    if ab.corpus is None:
        raise AbSetupError("ab.corpus is not set")
    try:
        corpus = load_corpus(base_dir / ab.corpus, ab.format)
        grouper = Grouper.build(ab.endpoints, base_dir / ab.openapi if ab.openapi else None)
    except (CorpusError, OpenApiError) as err:
        raise AbSetupError(str(err)) from None
    redactor.add(corpus_secrets(corpus.requests))
    chosen = sample(corpus.requests, ab.sample, ab.max_requests, ab.seed, ab.keep_together)
    planned: list[Planned] = []
    held: list[dict[str, str]] = []
    for request in chosen:
        group, rule = grouper.classify(request.method, request.path)
        if (
            request.method in SAFE_METHODS
            or request.safe_to_replay
            or (rule and rule.safe_to_replay)
        ):
            planned.append(Planned(request, group, rule))
        else:
            held.append(
                {
                    "request": redactor.text(f"{request.method} {request.target}"),
                    "endpoint": group,
                    "origin": request.origin,
                    "why": f"{request.method} is not a safe method; mark the request "
                    '"replay": true or its endpoint safe_to_replay = true if replaying it '
                    "cannot change data",
                }
            )
    return Plan(tuple(planned), tuple(held), corpus.unreadable, len(corpus), len(chosen))


def run_ab(
    ab: AbConfig,
    base_dir: Path,
    redactor: Redactor,
    legacy: System | None,
    new: System,
    plan: Plan,
    today: dt.date | None = None,
    progress: Progress = SILENT,
) -> list[GateResult]:
    """Replay the plan and judge it: one result per endpoint group, then the overall one."""
    recording = None
    if ab.legacy_from_baseline:
        assert ab.baseline is not None
        try:
            recording = load_recording(base_dir / ab.baseline)
        except BaselineError as err:
            raise AbSetupError(str(err)) from None
    sampled_noise = ab.noise and (recording is None or recording.has_noise_sample)
    judge = Judge(ab, redactor, today or dt.date.today(), sampled_noise)
    items = plan.replay

    done = 0

    def handle(index: int, answers: tuple[Answer, ...]) -> None:
        nonlocal done
        planned = items[index]
        judge.add(planned.group, planned.rule, planned.request, answers)
        done += 1
        progress.update("ab replay", done, len(items))

    async def go() -> ReplayTiming:
        sources_of_run = _Sources(ab, legacy, new, recording, sampled_noise, Output(redactor))
        async with sources_of_run as sources:
            return await replay([p.request for p in items], sources, ab.concurrency, handle)

    timing = asyncio.run(go())
    progress.finish("ab replay", f"{len(items)} requests, {len(items) / timing.wall:.0f}/s")
    extra = {
        "corpus": {
            "file": ab.corpus,
            "loaded": plan.loaded,
            "sampled": plan.sampled,
            "replayed": len(items),
            "not_replayed": len(plan.not_replayed),
            "unreadable_lines": len(plan.unreadable),
        },
        "not_replayed": list(plan.not_replayed[:_LISTED]),
        "unreadable_lines": list(plan.unreadable[:_LISTED]),
        "noise": _noise_description(ab, sampled_noise, recording is not None),
        "legacy": f"baseline recording {ab.baseline}" if recording else _shown(legacy),
        "new": new.display_url,
        "timing": {
            "wall_seconds": round(timing.wall, 3),
            "comparing_seconds": round(timing.handling, 3),
            "comparing_share": round(timing.handling / timing.wall, 4) if timing.wall else None,
            "pairs_per_second": round(len(items) / timing.wall, 1) if timing.wall else None,
        },
    }
    return judge.results(extra)


def _shown(system: System | None) -> str | None:
    return system.display_url if system else None


def _noise_description(ab: AbConfig, sampled: bool, from_baseline: bool) -> str:
    if not ab.noise:
        return "off: every difference counts as real"
    if not sampled:
        return "requested, but the baseline recording has one answer per request: off"
    if from_baseline:
        return "second recorded legacy answer"
    return (
        f"second legacy instance {redact_url(ab.noise_base_url)}"
        if ab.noise_base_url
        else "legacy asked twice"
    )


@dataclass(frozen=True)
class _Caps:
    """One system's rate and in-flight caps, shared by every source that sends to it."""

    limiter: RateLimiter
    in_flight: asyncio.Semaphore

    @classmethod
    def of(cls, ab: AbConfig) -> _Caps:
        return cls(RateLimiter(ab.rate), asyncio.Semaphore(ab.concurrency))


class _Sources:
    """The sources of one replay and the HTTP clients behind them, one client per system so
    the caps hold per system however many sources share it."""

    def __init__(
        self,
        ab: AbConfig,
        legacy: System | None,
        new: System,
        recording: Recording | None,
        sampled_noise: bool,
        output: Output,
    ) -> None:
        self.ab = ab
        self.legacy = legacy
        self.new = new
        self.recording = recording
        self.sampled_noise = sampled_noise
        self.output = output
        self.closing: list[tuple[ThreadPoolExecutor, Wire, httpx.Client]] = []
        self.contexts: dict[bool, ssl.SSLContext] = {}

    async def __aenter__(self) -> Sequence[Source]:
        ab = self.ab
        if self.recording is not None:
            legacy_source: Source = RecordedSource("legacy", self.recording, 0)
            noise: Source | None = RecordedSource("legacy (second answer)", self.recording, 1)
        else:
            assert self.legacy is not None
            legacy_target = Target(
                "legacy", self.legacy.base_url, ab.legacy, self.legacy.config.headers
            )
            caps = _Caps(RateLimiter(ab.rate), asyncio.Semaphore(ab.concurrency))
            legacy_source = self._http(legacy_target, self.legacy, caps)
            if ab.noise_base_url:
                second = Target(
                    "legacy (second instance)",
                    ab.noise_base_url,
                    ab.legacy,
                    self.legacy.config.headers,
                )
                noise = self._http(second, self.legacy, _Caps.of(ab))
            else:
                # Legacy's caps, but never a kept-alive connection: what varies per connection
                # (the client's port) must vary between the two legacy answers as it does
                # between legacy and new, or it is taken for a real difference.
                noise = self._http(legacy_target, self.legacy, caps, fresh_connections=True)
        new_target = Target("new", self.new.base_url, ab.new, self.new.config.headers)
        new_source: Source = self._http(new_target, self.new, _Caps.of(ab))
        if self.recording is not None:
            new_source = MaskedSource(new_source, self.output)
        sources = [legacy_source, new_source]
        if self.sampled_noise and noise is not None:
            sources.append(noise)
        return sources

    def _http(
        self, target: Target, system: System, caps: _Caps, fresh_connections: bool = False
    ) -> HttpSource:
        ab = self.ab
        context = self._context(system.config.verify_tls)
        client = httpx.Client(
            verify=context,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=ab.concurrency,
                max_keepalive_connections=0 if fresh_connections else None,
            ),
        )
        timeout = httpx.Timeout(ab.timeout, connect=min(ab.timeout, system.config.connect_timeout))
        wire = Wire(
            target.base_url,
            context,
            timeout,
            keep_alive=not fresh_connections,
            max_body=ab.max_body,
        )
        pool = ThreadPoolExecutor(ab.concurrency, thread_name_prefix=f"ab-{target.name}")
        self.closing.append((pool, wire, client))
        return HttpSource(target, client, wire, caps.limiter, caps.in_flight, pool)

    def _context(self, verify: bool) -> ssl.SSLContext:
        """One TLS context per setting, shared by the clients: loading the CA bundle takes a
        tenth of a second each time."""
        if verify not in self.contexts:
            self.contexts[verify] = httpx.create_ssl_context(verify=verify)
        return self.contexts[verify]

    async def __aexit__(self, *_exc: object) -> None:
        for pool, wire, client in self.closing:
            pool.shutdown(wait=True, cancel_futures=True)
            wire.close()
            client.close()


def record_baseline(
    ab: AbConfig, legacy: System, plan: Plan, directory: Path, output: Output
) -> int:
    """Ask legacy every planned request (twice with noise on) and keep the answers."""
    answers: list[tuple[CapturedRequest, tuple[Answer, ...]]] = []

    def keep(index: int, found: tuple[Answer, ...]) -> None:
        answers.append((plan.replay[index].request, found))

    async def go() -> None:
        async with _Sources(ab, legacy, legacy, None, ab.noise, output) as sources:
            # sources[1] (the "new" side) is never asked: a recording is legacy's alone.
            chosen = [sources[0], sources[2]] if ab.noise else [sources[0]]
            await replay([p.request for p in plan.replay], chosen, ab.concurrency, keep)

    asyncio.run(go())
    manifest = {"legacy": legacy.display_url, "noise": ab.noise}
    write_recording(output, directory, answers, manifest)
    return len(answers)
