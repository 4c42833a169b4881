"""Send each captured request to every source at once, politely.

Production is on the other end: each system gets at most `concurrency` requests in flight and
at most `rate` requests per second, however many sources or workers share it.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import httpx

from pytest_cutover.corpus import CapturedRequest
from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.config import SideRequest
from pytest_cutover.gates.ab.wire import Exchange, Wire, read_limited


class Source(Protocol):
    name: str

    async def answer(self, request: CapturedRequest) -> Answer: ...


class RateLimiter:
    """Evenly spaced start times: a burst of queued requests cannot exceed the rate."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True)
class Target:
    """Where one source sends requests and how it adapts them (prefix, rewrites, headers)."""

    name: str
    base_url: str
    side: SideRequest
    headers: Mapping[str, str]

    def prepare(self, request: CapturedRequest) -> tuple[str, tuple[tuple[str, str], ...]]:
        path = request.path
        for rule in self.side.rewrite:
            path = re.sub(rule.pattern, rule.replacement, path, count=1)
        path = self.side.path_prefix.rstrip("/") + path
        url = self.base_url + (f"{path}?{request.query}" if request.query else path)
        dropped = {name.lower() for name in self.side.drop_headers}
        overrides = {**self.headers, **self.side.headers}
        replaced = {name.lower() for name in overrides}
        kept = [(k, v) for k, v in request.headers if k.lower() not in dropped | replaced]
        return url, (*kept, *overrides.items())


class HttpSource:
    """One system behind one HTTP client. The rate limiter and the in-flight cap belong to the
    system, so two sources of one system (legacy and its noise sample) share them.

    The event loop only schedules: each exchange runs on a thread of the source's pool (as
    many threads as the in-flight cap), over that thread's own connection (pytest_cutover.
    gates.ab.wire), so the client's work is a fraction of what an async httpx client spends."""

    def __init__(
        self,
        target: Target,
        client: httpx.Client,
        wire: Wire,
        limiter: RateLimiter,
        in_flight: asyncio.Semaphore,
        pool: Executor,
    ) -> None:
        self.name = target.name
        self.target = target
        self.client = client
        self.wire = wire
        self.limiter = limiter
        self.in_flight = in_flight
        self.pool = pool

    async def answer(self, request: CapturedRequest) -> Answer:
        url, headers = self.target.prepare(request)
        # Built first so that what is recorded (and shown as curl) is every header httpx sends,
        # its own defaults included, even when no answer comes back.
        timeout = self.wire.timeout
        built = self.client.build_request(
            request.method, url, headers=list(headers), content=request.body, timeout=timeout
        )
        sent_headers = tuple(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in built.headers.raw
        )
        prefix = self.target.side.path_prefix.rstrip("/")
        sent = Answer(request.method, url, sent_headers, request.body, status=None, prefix=prefix)
        loop = asyncio.get_running_loop()
        async with self.in_flight:
            await self.limiter.wait()
            started = time.perf_counter()
            try:
                found = await loop.run_in_executor(self.pool, self._exchange, built)
            except (TimeoutError, httpx.TimeoutException):
                return _failed(sent, f"timed out after {timeout.read:g} s", started)
            except (OSError, http.client.HTTPException, httpx.HTTPError) as err:
                return _failed(sent, f"{type(err).__name__}: {err}", started)
        return Answer(
            request.method,
            url,
            sent.sent_headers,
            request.body,
            status=found.status,
            headers=found.headers,
            content=found.content,
            elapsed=time.perf_counter() - started,
            client=found.client,
            oversize=found.oversize,
            prefix=prefix,
        )

    def _exchange(self, built: httpx.Request) -> Exchange:
        if not self.wire.plain:
            return self._through_proxy(built)
        found = self.wire.exchange(built)
        if any(name == "set-cookie" for name, _ in found.headers):
            # The client keeps cookies from one answer to the next request, as httpx would.
            answer = httpx.Response(found.status, headers=found.headers, request=built)
            self.client.cookies.extract_cookies(answer)
        return found

    def _through_proxy(self, built: httpx.Request) -> Exchange:
        response = self.client.send(built, stream=True)
        try:
            client = _client_address(response)
            content, oversize = read_limited(response.iter_bytes(), self.wire.max_body)
        finally:
            response.close()
        headers = tuple(response.headers.multi_items())
        return Exchange(response.status_code, headers, content, oversize, client)


def _client_address(response: httpx.Response) -> tuple[str, int] | None:
    """The gate's end of the connection, read while the connection is surely still open."""
    stream = response.extensions.get("network_stream")
    found = stream.get_extra_info("client_addr") if stream is not None else None
    if isinstance(found, tuple) and len(found) >= 2:
        return str(found[0]), int(found[1])
    return None


def _failed(sent: Answer, error: str, started: float) -> Answer:
    return Answer(
        sent.method,
        sent.url,
        sent.sent_headers,
        sent.sent_body,
        status=None,
        elapsed=time.perf_counter() - started,
        error=error,
        prefix=sent.prefix,
    )


@dataclass(frozen=True)
class ReplayTiming:
    wall: float
    handling: float


async def replay(
    requests: Sequence[CapturedRequest],
    sources: Sequence[Source],
    workers: int,
    handle: Callable[[int, tuple[Answer, ...]], None],
) -> ReplayTiming:
    """Each request goes to all sources concurrently (close in time, so data changes between
    the answers are rare); `handle` runs as each exchange completes, overlapping the network."""
    pending = iter(range(len(requests)))
    handling = 0.0
    started = time.perf_counter()

    async def work() -> None:
        nonlocal handling
        for index in pending:
            request = requests[index]
            answers = await asyncio.gather(*(source.answer(request) for source in sources))
            began = time.perf_counter()
            handle(index, tuple(answers))
            handling += time.perf_counter() - began

    await asyncio.gather(*(work() for _ in range(max(1, min(workers, len(requests))))))
    return ReplayTiming(time.perf_counter() - started, handling)
