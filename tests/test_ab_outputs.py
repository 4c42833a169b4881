"""What the A/B gate writes, read as another program would: every JSON file under reports/
parses with a strict parser, also when an endpoint had nothing comparable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .http_support import JsonHandler, serve
from .test_ab_suite import project


class LegacyWithAGap(JsonHandler):
    """Answers /a/..., and hangs up on /gone/... without a word: legacy cannot answer those."""

    def do_GET(self) -> None:
        if self.path.startswith("/gone/"):
            self.close_connection = True
            return
        self.answer(200, {"path": self.path})


class Answering(JsonHandler):
    def do_GET(self) -> None:
        self.answer(200, {"path": self.path})


@pytest.fixture
def systems() -> Iterator[tuple[str, str]]:
    started = [serve(LegacyWithAGap), serve(Answering)]
    yield started[0][1], started[1][1]
    for server, _url in started:
        server.shutdown()
        server.server_close()


def refuse(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def test_every_json_report_parses_strictly_when_nothing_was_comparable(
    pytester: pytest.Pytester, systems: tuple[str, str]
) -> None:
    legacy, new = systems
    paths = [f"/a/{i}" for i in range(5)] + [f"/gone/{i}" for i in range(5)]
    project(pytester, legacy, new, "\n".join(json.dumps({"path": p}) for p in paths))
    result = pytester.runpytest_subprocess("-m", "ab")
    result.stdout.fnmatch_lines(["CUTOVER DECISION: INCONCLUSIVE*"])
    written = sorted((pytester.path / "reports").rglob("*.json"))
    names = {path.name for path in written}
    assert "report.json" in names
    assert any(name.startswith("decision") for name in names)
    for path in written:
        json.loads(path.read_text(), parse_constant=refuse)
    report = json.loads((pytester.path / "reports" / "ab" / "report.json").read_text())
    gone = next(r for r in report if r["name"] == "GET /gone/{id}")
    assert "match_rate" not in gone["measurements"]
    assert any("no data for match_rate" in reason for reason in gone["reasons"])
