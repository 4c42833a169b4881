"""A/B answers of several megabytes that differ: the gate ends with a decision and shows an
excerpt, over real HTTP on loopback; bench/bench_ab.py --large prints the seconds per MB."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.config import SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .http_support import JsonHandler, serve

ITEMS = 40_000  # about 4 MB of JSON


def big_document(side: str) -> bytes:
    items = [{"id": i, "name": "x" * 60, "side": side, "api_key": "k-123"} for i in range(ITEMS)]
    return json.dumps({"items": items}).encode()


@pytest.fixture
def big_systems() -> Iterator[Callable[[], tuple[System, System]]]:
    servers = []

    def start() -> tuple[System, System]:
        systems = []
        for side in ("legacy", "new"):

            class Handler(JsonHandler):
                body = big_document(side)

                def do_GET(self) -> None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(self.body)))
                    self.end_headers()
                    self.wfile.write(self.body)

            server, url = serve(Handler)
            servers.append(server)
            systems.append(System(side, SystemConfig(base_url=url), url, Path.cwd()))
        return systems[0], systems[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def gate(tmp_path: Path, legacy: System, new: System, **settings: Any) -> dict[str, GateResult]:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"path": "/export"}) + "\n")
    ab = AbConfig.model_validate({"corpus": str(corpus), "rate": 1000, **settings})
    redactor = Redactor()
    plan = make_plan(ab, tmp_path, redactor)
    results = run_ab(ab, tmp_path, redactor, legacy, new, plan, today=dt.date(2026, 12, 1))
    return {r.name: r for r in results}


def test_a_body_beyond_max_body_is_no_go_by_length_and_hash(
    tmp_path: Path, big_systems: Callable[[], tuple[System, System]]
) -> None:
    results = gate(tmp_path, *big_systems())
    assert results[OVERALL].outcome is Outcome.FAIL
    endpoint = results["GET /export"]
    field = endpoint.evidence["fields"][0]
    assert (field["field"], field["status"]) == ("body", "real")
    example = field["examples"][0]
    difference = example["differences"][0]
    assert "SHA-256" in difference["diff"]
    assert difference["legacy"]["bytes"] == len(big_document("legacy"))
    for side in ("legacy", "new"):
        assert difference[side]["sha256"] == hashlib.sha256(big_document(side)).hexdigest()
    new_answer = endpoint.evidence["answers"][example["answers"]["new"]]
    shown = new_answer["body"]
    assert shown.startswith('{"items": [{"id": 0, "name": "xxx')
    assert shown.endswith(f"... ({len(big_document('new'))} bytes in all)")
    assert len(shown) < 2100
    assert "k-123" not in shown
    assert "SHA-256" in new_answer["body_compared_by"]["why"]


def test_a_large_body_within_max_body_is_diffed_field_by_field(
    tmp_path: Path, big_systems: Callable[[], tuple[System, System]]
) -> None:
    results = gate(tmp_path, *big_systems(), max_body="10MB")
    endpoint = results["GET /export"]
    assert endpoint.outcome is Outcome.FAIL
    assert [f["field"] for f in endpoint.evidence["fields"]] == ["body.items[*].side"]
    assert all(len(answer["body"]) < 2100 for answer in endpoint.evidence["answers"].values())
