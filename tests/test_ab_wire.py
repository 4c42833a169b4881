"""The A/B replay's own HTTP path (pytest_cutover.gates.ab.wire) against real loopback servers:
what reaches a server is byte for byte what httpx itself sends, the per-system in-flight cap
holds with the noise sample sharing legacy's, and a kept-alive connection the server dropped
while idle costs one resend, not an error."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.gates.ab.wire import Wire
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .http_support import JsonHandler, serve

TIMEOUT = httpx.Timeout(10.0)
CONTEXT = httpx.create_ssl_context()


class Recorder(JsonHandler):
    """Answers with the request line and header lines exactly as they arrived."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[list[tuple[str, str]]]] = []

    def do_GET(self) -> None:
        pairs = [(k, v) for k, v in self.headers.raw_items()]
        type(self).seen.append(pairs)
        self.answer(200, {"path": self.path, "headers": pairs})


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.seen = []
    server, url = serve(Recorder)
    yield url
    server.shutdown()
    server.server_close()


def test_a_server_receives_exactly_what_httpx_would_send(recorder: str) -> None:
    url = recorder.replace("http://", "http://svc:p%40ss@") + "/api/x?a=1&b=%20"
    headers = [("X-Trace", "t-1"), ("Cookie", "a=b"), ("accept", "application/json")]
    with httpx.Client() as client:
        client.get(url, headers=headers).raise_for_status()
        built = client.build_request("GET", url, headers=headers)
    wire = Wire(recorder, CONTEXT, timeout=TIMEOUT, keep_alive=True, max_body=1 << 20)
    try:
        found = wire.exchange(built)
    finally:
        wire.close()
    by_httpx, by_wire = Recorder.seen
    assert by_wire == by_httpx
    assert ("Authorization", "Basic " + base64.b64encode(b"svc:p@ss").decode()) in by_wire
    assert json.loads(found.content)["path"] == "/api/x?a=1&b=%20"
    assert ("content-type", "application/json") in found.headers  # named as httpx names them


class DropsIdle(JsonHandler):
    """Keeps the connection open after answering, then drops it without a word, as a server
    whose keep-alive timeout passed does."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address[1])
        self.answer(200, {"ok": True})
        self.close_connection = True  # closes after this answer, no Connection: close sent


def test_a_connection_the_server_dropped_while_idle_is_replaced_once() -> None:
    DropsIdle.connections = set()
    server, url = serve(DropsIdle)
    wire = Wire(url, CONTEXT, timeout=TIMEOUT, keep_alive=True, max_body=1 << 20)
    try:
        with httpx.Client() as client:
            for _ in range(3):
                time.sleep(0.05)  # the server has closed its end by now
                found = wire.exchange(client.build_request("GET", url + "/x"))
                assert found.status == 200
    finally:
        wire.close()
        server.shutdown()
        server.server_close()
    assert len(DropsIdle.connections) == 3


class Slow(JsonHandler):
    """Counts the requests in flight at once, per server."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    in_flight = 0
    most = 0

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
        time.sleep(0.03)
        with cls.lock:
            cls.in_flight -= 1
        self.answer(200, {"id": self.path})


def slow_server() -> tuple[type[Slow], ThreadingHTTPServer, str]:
    handler = type("SlowServer", (Slow,), {"lock": threading.Lock(), "in_flight": 0, "most": 0})
    server, url = serve(handler)
    return handler, server, url


def test_the_in_flight_cap_holds_per_system_with_the_noise_sample(tmp_path: Path) -> None:
    """Legacy is asked twice per request (noise on) and shares one cap of 3 between both asks;
    new has its own. However the threads are scheduled, neither server sees more than 3."""
    (legacy_handler, legacy_server, legacy_url), (new_handler, new_server, new_url) = (
        slow_server(),
        slow_server(),
    )
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"path": f"/api/item/{i}"}) + "\n" for i in range(24)))
    ab = AbConfig.model_validate(
        {"corpus": str(corpus), "noise": True, "rate": 10_000, "concurrency": 3}
    )
    legacy, new = (
        System(name, SystemConfig(base_url=url), url, tmp_path)
        for name, url in (("legacy", legacy_url), ("new", new_url))
    )
    redactor = Redactor()
    try:
        results = run_ab(ab, tmp_path, redactor, legacy, new, make_plan(ab, tmp_path, redactor))
    finally:
        for server in (legacy_server, new_server):
            server.shutdown()
            server.server_close()
    overall = next(r for r in results if r.name == OVERALL)
    assert overall.measurements["compared"] == 24
    assert 1 <= legacy_handler.most <= 3
    assert 1 <= new_handler.most <= 3
