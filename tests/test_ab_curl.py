"""The curl commands in the A/B evidence, run for real: they send what the gate sent, so a
service that echoes its request headers answers curl as it answered the gate."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.gates.result import GateResult
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .http_support import JsonHandler, serve

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl program")
TOKEN = "Bearer s3cret-token-value"


def echoing(side: str) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/gone") and side == "legacy":
                self.close_connection = True
                return
            document = {"side": side, "sent": {k.lower(): v for k, v in self.headers.items()}}
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def systems() -> Iterator[tuple[System, System]]:
    started = [serve(echoing("legacy")), serve(echoing("new"))]
    legacy, new = (
        System(side, SystemConfig(base_url=url, headers={"Authorization": TOKEN}), url, Path.cwd())
        for side, (_server, url) in zip(("legacy", "new"), started, strict=True)
    )
    yield legacy, new
    for server, _url in started:
        server.shutdown()
        server.server_close()


def gate(tmp_path: Path, legacy: System, new: System) -> dict[str, GateResult]:
    corpus = tmp_path / "corpus.jsonl"
    entries: list[dict[str, Any]] = [
        {"path": "/orders/1", "headers": {"X-Tenant": "acme"}},
        {"path": "/gone/1"},
    ]
    corpus.write_text("".join(json.dumps(e) + "\n" for e in entries))
    ab = AbConfig.model_validate({"corpus": str(corpus), "rate": 1000})
    redactor = Redactor([TOKEN])
    plan = make_plan(ab, tmp_path, redactor)
    results = run_ab(ab, tmp_path, redactor, legacy, new, plan, today=dt.date(2026, 12, 1))
    return {r.name: r for r in results}


def run_curl(command: str) -> str:
    """The command as a reader pastes it, with the credential variable filled in."""
    environment = {**os.environ, "CUTOVER_AUTHORIZATION": TOKEN}
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=environment, check=True
    )
    return done.stdout


def test_curl_sends_every_header_the_gate_sent_and_decompresses(
    tmp_path: Path, systems: tuple[System, System]
) -> None:
    results = gate(tmp_path, *systems)
    evidence = results["GET /orders/{id}"].evidence
    example = evidence["fields"][0]["examples"][0]
    command = example["curl"]["new"]
    assert "--compressed" in command
    assert "s3cret" not in command
    assert '"Authorization: $CUTOVER_AUTHORIZATION"' in command
    output = run_curl(command)
    echoed = json.loads(output.split("\n\n", 1)[1])
    shown = json.loads(evidence["answers"][example["answers"]["new"]]["body"])
    assert echoed["sent"] == {
        **shown["sent"],
        "authorization": TOKEN,  # the excerpt masks it; curl sent the real one
    }
    assert echoed["sent"]["user-agent"].startswith("python-httpx/")
    assert echoed["sent"]["x-tenant"] == "acme"


def test_incomparable_requests_have_a_curl_too(
    tmp_path: Path, systems: tuple[System, System]
) -> None:
    results = gate(tmp_path, *systems)
    [incomparable] = results["GET /gone/{id}"].evidence["incomparable"]
    assert incomparable["request"] == "GET /gone/1"
    assert "/gone/1" in incomparable["curl"]
    assert '"Authorization: $CUTOVER_AUTHORIZATION"' in incomparable["curl"]
