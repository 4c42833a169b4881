"""The A/B gate between two real deployments of one build, as a new user runs it: the README's
minimal config (two base URLs, a corpus, noise on) against echo services on two loopback ports
that say where they run and who asked, over HTTP/1.1 keep-alive like real services."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.config import CutoverConfig, SystemConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import StartedSystem
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

from .http_support import JsonHandler, serve

Document = Callable[[JsonHandler, str], dict[str, Any]]


def echo(handler: JsonHandler, own: str) -> dict[str, Any]:
    """What real services echo: the Host they were sent, their own URL and self link, the
    client's address and port, the request headers, and an id that is new every time."""
    client_address, client_port = handler.connection.getpeername()[:2]
    return {
        "host": handler.headers["Host"],
        "url": own + handler.path,
        "links": {"self": own + handler.path, "items": [f"{own}/items?page=2"]},
        "client": f"{client_address}:{client_port}",
        "client_address": client_address,
        "client_port": client_port,
        "headers": dict(handler.headers.items()),
        "request_id": str(uuid.uuid4()),
        "plan": "basic",
    }


def echo_server(document: Document) -> tuple[ThreadingHTTPServer, str]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as deployed services do

        def do_GET(self) -> None:
            own = f"http://127.0.0.1:{self.connection.getsockname()[1]}"
            body = json.dumps(document(self, own)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Location", own + self.path)
            self.send_header("Link", f'<{own}{self.path}>; rel="self"')
            self.end_headers()
            self.wfile.write(body)

    return serve(Handler)


@pytest.fixture
def deploy() -> Iterator[Callable[[Document], System]]:
    """Start an echo deployment; each is shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(document: Document) -> System:
        server, url = echo_server(document)
        servers.append(server)
        return System("deployment", SystemConfig(base_url=url), url, Path.cwd())

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


ACCOUNTS = tuple(f"/api/accounts/{i}" for i in range(30))


def gate(
    tmp_path: Path,
    legacy_system: System,
    new_system: System,
    paths: Sequence[str] = ACCOUNTS,
    **settings: Any,
) -> dict[str, GateResult]:
    """Run the gate with the minimal config plus `settings` (an [ab] section's keys)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"path": path}) + "\n" for path in paths))
    settings = {"corpus": str(corpus), "noise": True, "rate": 1000, **settings}
    ab = AbConfig.model_validate(settings)
    redactor = Redactor()
    plan = make_plan(ab, tmp_path, redactor)
    today = dt.date(2026, 12, 1)
    results = run_ab(ab, tmp_path, redactor, legacy_system, new_system, plan, today=today)
    return {r.name: r for r in results}


def statuses(result: GateResult) -> dict[str, str]:
    return {f["field"]: f["status"] for f in result.evidence["fields"]}


@pytest.mark.parametrize(
    "headers", [{}, {"compare_headers": ["*"]}], ids=["minimal config", "all headers"]
)
def test_two_deployments_of_one_build_are_go(
    tmp_path: Path, deploy: Callable[[Document], System], headers: dict[str, Any]
) -> None:
    results = gate(tmp_path, deploy(echo), deploy(echo), **headers)
    assert {n: r.reasons for n, r in results.items() if not r.passed} == {}
    endpoint = results["GET /api/accounts/{id}"]
    assert statuses(endpoint) == {"body.request_id": "noise"}
    assert results[OVERALL].measurements["compared"] == 30


def changed_plan(handler: JsonHandler, own: str) -> dict[str, Any]:
    return {**echo(handler, own), "plan": "premium"}


def url_as_list(handler: JsonHandler, own: str) -> dict[str, Any]:
    document = echo(handler, own)
    return {**document, "url": [document["url"]]}


def other_host_in_link(handler: JsonHandler, own: str) -> dict[str, Any]:
    document = echo(handler, own)
    return {**document, "links": {**document["links"], "self": "http://127.0.0.1:1/elsewhere"}}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (changed_plan, "body.plan"),
        (url_as_list, "body.url"),
        (other_host_in_link, "body.links.self"),
    ],
    ids=["changed value", "string became a list", "link to another host"],
)
def test_a_real_difference_between_echoing_deployments_is_no_go_naming_it(
    tmp_path: Path, deploy: Callable[[Document], System], document: Document, field: str
) -> None:
    results = gate(tmp_path, deploy(echo), deploy(document))
    endpoint = results["GET /api/accounts/{id}"]
    assert endpoint.outcome is Outcome.FAIL
    assert statuses(endpoint) == {field: "real", "body.request_id": "noise"}
    assert results[OVERALL].outcome is Outcome.FAIL


def test_placeholders_can_be_switched_off(
    tmp_path: Path, deploy: Callable[[Document], System]
) -> None:
    results = gate(tmp_path, deploy(echo), deploy(echo), placeholders=False)
    real = {
        f for f, status in statuses(results["GET /api/accounts/{id}"]).items() if status == "real"
    }
    assert {"body.url", "body.host", "body.links.self"} <= real


def client_port_only(handler: JsonHandler, _own: str) -> dict[str, Any]:
    return {"client_port": handler.connection.getpeername()[1]}


def test_the_noise_sample_goes_over_its_own_connection(
    tmp_path: Path, deploy: Callable[[Document], System]
) -> None:
    """Without placeholders the client's port differs between legacy and new on every request;
    legacy asked a second time over a fresh connection shows that this is noise. One request at
    a time, rate-limited, the second legacy call starts when the first call's kept-alive
    connection is free for reuse."""
    legacy, new = deploy(client_port_only), deploy(client_port_only)
    results = gate(tmp_path, legacy, new, placeholders=False, rate=20, concurrency=1)
    endpoint = results["GET /api/accounts/{id}"]
    assert statuses(endpoint) == {"body.client_port": "noise"}
    assert endpoint.outcome is Outcome.PASS


MARKER = "a note that only the bodies carry"


def three_changes(handler: JsonHandler, own: str) -> dict[str, Any]:
    return {**echo(handler, own), "plan": "premium", "tier": 2, "region": "eu", "note": MARKER}


def with_marker(handler: JsonHandler, own: str) -> dict[str, Any]:
    return {**echo(handler, own), "note": MARKER}


def test_the_report_holds_each_body_once_per_example(
    tmp_path: Path, deploy: Callable[[Document], System]
) -> None:
    """Three fields differ in every request: three fields' examples share one copy of each
    exchange's bodies instead of one per field."""
    results = gate(tmp_path, deploy(with_marker), deploy(three_changes))
    evidence = results["GET /api/accounts/{id}"].evidence
    assert {f["field"] for f in evidence["fields"] if f["status"] == "real"} == {
        "body.plan",
        "body.tier",
        "body.region",
    }
    referenced = {
        name
        for f in evidence["fields"]
        for example in [*f["examples"], *([f["noise_example"]] if "noise_example" in f else [])]
        for name in example["answers"].values()
    }
    assert referenced == set(evidence["answers"])
    examples = AbConfig().examples
    assert len(evidence["answers"]) <= 2 * examples + 1
    assert json.dumps(evidence).count(MARKER) == len(evidence["answers"])


def test_two_legacy_deployments_of_the_demo_are_go(
    demo_config: CutoverConfig, demo_system: Callable[[str, str], StartedSystem]
) -> None:
    """The README's minimal config between two instances of the demo's legacy build (each with
    its own database, seeded alike), as a team would try the gate before trusting it."""
    first = demo_system("legacy", "").system
    second = demo_system("legacy", "second deployment").system
    settings = {
        "corpus": "fixtures/demo/corpus.jsonl",
        "noise": True,
        "max_requests": 300,
        "rate": 2000,
        "concurrency": 8,
    }
    ab = AbConfig.model_validate(settings)
    plan = make_plan(ab, demo_config.base_dir, demo_config.redactor)
    results = run_ab(ab, demo_config.base_dir, demo_config.redactor, first, second, plan)
    assert {r.name: r.reasons for r in results if not r.passed} == {}
    assert next(r for r in results if r.name == OVERALL).measurements["compared"] > 250


def test_the_overall_reason_counts_every_failing_endpoint(
    tmp_path: Path, deploy: Callable[[Document], System]
) -> None:
    paths = [f"/area{area:02d}/{i}" for area in range(13) for i in range(2)]
    results = gate(tmp_path, deploy(echo), deploy(changed_plan), paths=paths)
    [reason] = results[OVERALL].reasons[:1]
    assert reason.startswith("13 endpoint(s) differ: GET /area00/{id}, GET /area01/{id}")
    assert reason.endswith("GET /area09/{id} and 3 more")


def test_the_new_systems_path_prefix_is_part_of_its_origin(
    tmp_path: Path, deploy: Callable[[Document], System]
) -> None:
    """New serves the API under /v2 (`[ab.new] path_prefix`) and links to itself there."""
    results = gate(tmp_path, deploy(echo), deploy(echo), new={"path_prefix": "/v2"})
    assert {n: r.reasons for n, r in results.items() if not r.passed} == {}
