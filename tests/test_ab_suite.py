"""The A/B suite as users run it: through pytest, with pytest-xdist, against counting servers
(real HTTP on loopback), to show production sees the corpus once per gate run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from .http_support import JsonHandler, serve


class CountingServer:
    """Answers every GET with the path as JSON, and counts what it was asked."""

    def __init__(self) -> None:
        counts = self.counts = {"requests": 0}
        lock = threading.Lock()

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                with lock:
                    counts["requests"] += 1
                self.answer(200, {"path": self.path})

        self.server, self.url = serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[CountingServer, CountingServer]]:
    pair = (CountingServer(), CountingServer())
    yield pair
    for server in pair:
        server.close()


def project(pytester: pytest.Pytester, legacy: str, new: str, corpus: str) -> None:
    pytester.makefile(
        ".toml",
        cutover=f"""
[systems.legacy]
base_url = "{legacy}"
[systems.new]
base_url = "{new}"
[ab]
corpus = "corpus.jsonl"
rate = 1000
noise = true
""",
    )
    pytester.makefile(".jsonl", corpus=corpus)


CORPUS = "\n".join(json.dumps({"path": f"/{kind}/{i}"}) for kind in "abcd" for i in range(5))


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_replay_happens_once_per_run_and_each_endpoint_is_a_test(
    pytester: pytest.Pytester, servers: tuple[CountingServer, CountingServer], workers: list[str]
) -> None:
    legacy, new = servers
    project(pytester, legacy.url, new.url, CORPUS)
    result = pytester.runpytest_subprocess("-m", "ab", "-p", "xdist", *workers, "-v")
    result.assert_outcomes(passed=5)
    output = result.stdout.str()
    assert all(f"test_ab[GET /{group}/{{id}}]" in output for group in "abcd")
    assert (legacy.counts["requests"], new.counts["requests"]) == (40, 20)
    result.stdout.fnmatch_lines(["CUTOVER DECISION: GO*"])


def test_an_unreadable_corpus_is_inconclusive_with_the_reason(
    pytester: pytest.Pytester, servers: tuple[CountingServer, CountingServer]
) -> None:
    legacy, new = servers
    project(pytester, legacy.url, new.url, '{"path": "/a"}\n{"url": "/b"}')
    result = pytester.runpytest_subprocess("-m", "ab")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            '*ab: all endpoints: cannot run: corpus.jsonl:2: expected an object with a "path"*',
            "CUTOVER DECISION: INCONCLUSIVE*",
        ]
    )
    assert legacy.counts["requests"] == new.counts["requests"] == 0
