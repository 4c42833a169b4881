"""The A/B gate's pieces a reviewer relies on: corpus formats, sampling, comparison rules and
the noise test. Pure functions over real files and answers; the servers are in test_ab_gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.corpus import CorpusError, load_corpus, sample
from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.compare import Comparer
from pytest_cutover.gates.ab.config import AbConfig, ComparisonRules
from pytest_cutover.gates.ab.grouping import Grouper, collapse
from pytest_cutover.gates.ab.noise import FieldCounts, judge_field, one_sided_p

from .conftest import REPO


def answer(
    body: Any,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Answer:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    pairs = (("content-type", content_type), *(headers or {}).items())
    return Answer("GET", "http://x/", (), None, status, pairs, content)


def differing(rules: dict[str, Any], legacy: Answer, new: Answer) -> dict[str, Any]:
    found = Comparer(ComparisonRules.model_validate(rules)).compare(legacy, new)
    return {d.path: (d.legacy, d.new) for d in found.diffs}


def test_jsonl_corpus_reads_queries_headers_and_bodies(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    lines = [
        {"path": "/a?x=1", "headers": {"Host": "old", "X-User": "7"}},
        {"method": "post", "path": "/b", "query": {"q": "a b"}, "body": {"k": 1}, "replay": True},
    ]
    path.write_text("# captured\n" + "\n".join(map(json.dumps, lines)) + "\n\n")
    first, second = load_corpus(path).requests
    assert (first.target, first.headers) == ("/a?x=1", (("X-User", "7"),))
    assert (second.method, second.target, second.body) == ("POST", "/b?q=a+b", b'{"k":1}')
    assert second.safe_to_replay
    assert second.header("content-type") == "application/json"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"c.jsonl:2: not valid JSON"),
        ('{"url": "/x"}', r'c.jsonl:2: expected an object with a "path"'),
        ('{"path": "/x", "verb": "GET"}', r"c.jsonl:2: unknown key verb"),
    ],
)
def test_jsonl_mistakes_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"path": "/ok"}\n' + line + "\n")
    with pytest.raises(CorpusError, match=message):
        load_corpus(path)


def test_har_entries_keep_query_and_drop_capture_only_headers(tmp_path: Path) -> None:
    har = {
        "log": {
            "entries": [
                {
                    "request": {
                        "method": "GET",
                        "url": "https://shop.example/api/users?limit=5",
                        "headers": [
                            {"name": ":authority", "value": "shop.example"},
                            {"name": "Accept", "value": "application/json"},
                            {"name": "Accept-Encoding", "value": "br"},
                        ],
                    }
                },
                {
                    "request": {
                        "method": "PUT",
                        "url": "https://shop.example/api/users/1",
                        "headers": [],
                        "postData": {"text": "{}"},
                    }
                },
            ]
        }
    }
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har))
    first, second = load_corpus(path).requests
    assert (first.target, first.headers) == (
        "/api/users?limit=5",
        (("Accept", "application/json"),),
    )
    assert (second.method, second.body) == ("PUT", b"{}")


def test_access_log_lines_that_cannot_be_read_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text(
        '10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /api/users/1?x=2 HTTP/1.1" 200 512 '
        '"-" "curl/8.5"\n'
        '10.0.0.2 - - [22/Nov/2026:10:00:01 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"\n'
        '10.0.0.2 - bob [22/Nov/2026:10:00:02 +0000] "DELETE /api/orders/3 HTTP/2.0" 204 0\n'
    )
    corpus = load_corpus(path)
    assert [(r.method, r.target, r.client) for r in corpus.requests] == [
        ("GET", "/api/users/1?x=2", "10.0.0.1"),
        ("DELETE", "/api/orders/3", "10.0.0.2"),
    ]
    assert corpus.requests[0].headers == (("User-Agent", "curl/8.5"),)
    assert corpus.unreadable[0].startswith("access.log:2: ")


def test_sampling_is_seeded_and_keeps_journeys_whole() -> None:
    corpus = load_corpus(REPO / "fixtures/demo/corpus.jsonl").requests
    picked = sample(corpus, 0.25, 0, 1, "header:X-User-Id")
    assert picked == sample(corpus, 0.25, 0, 1, "header:X-User-Id")
    assert picked != sample(corpus, 0.25, 0, 2, "header:X-User-Id")
    assert 300 < len(picked) < 700
    users = {r.header("X-User-Id") for r in picked}
    assert [r for r in corpus if r.header("X-User-Id") in users] == picked
    assert len(sample(corpus, 1.0, 100, 1, None)) == 100


def test_endpoints_group_by_collapsed_ids_unless_a_pattern_says_otherwise() -> None:
    assert collapse("/users/123/orders/9f1c2d3e-0000-4000-8000-00000000abcd") == (
        "/users/{id}/orders/{uuid}"
    )
    config = AbConfig.model_validate(
        {"endpoints": [{"pattern": "/users/me"}, {"pattern": "GET /files/**", "name": "files"}]}
    )
    grouper = Grouper.build(config.endpoints, None)
    assert grouper.classify("GET", "/users/me")[0] == "GET /users/me"
    assert grouper.classify("GET", "/files/a/b.txt")[0] == "files"
    assert grouper.classify("HEAD", "/files/a")[0] == "HEAD /files/a"


def test_openapi_templates_group_requests(tmp_path: Path) -> None:
    spec = {
        "servers": [{"url": "https://x/api"}],
        "paths": {"/users/{name}": {"get": {}}, "/users/me": {"get": {}}},
    }
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    grouper = Grouper.build([], tmp_path / "openapi.json")
    assert grouper.classify("GET", "/api/users/ada")[0] == "GET /api/users/{name}"
    assert grouper.classify("GET", "/api/users/me")[0] == "GET /api/users/me"


def test_json_differences_are_strict_by_default() -> None:
    found = differing({}, answer({"a": 1, "b": True, "c": None}), answer({"a": 1.0, "b": 1}))
    assert found == {"body.a": (1, 1.0), "body.b": (True, 1), "body.c": (None, None)}


@pytest.mark.parametrize(
    ("normaliser", "legacy", "new"),
    [
        ("timestamps", "2024-03-01T10:00:00+00:00", "2024-03-01T11:00:00.000+01:00"),
        ("timestamps", "Fri, 01 Mar 2024 10:00:00 GMT", "2024-03-01T10:00:00Z"),
        (
            "uuid_case",
            "9F1C2D3E-0000-4000-8000-00000000ABCD",
            "9f1c2d3e-0000-4000-8000-00000000abcd",
        ),
        ("bool_int", True, 1),
        ("numbers", 1, 1.0),
    ],
)
def test_each_normaliser_makes_one_kind_of_difference_equal(
    normaliser: str, legacy: Any, new: Any
) -> None:
    assert differing({}, answer({"v": legacy}), answer({"v": new})) != {}
    assert differing({"normalise": [normaliser]}, answer({"v": legacy}), answer({"v": new})) == {}


def test_null_and_missing_are_equal_only_when_asked() -> None:
    legacy, new = answer({"a": 1, "b": None}), answer({"a": 1})
    assert differing({}, legacy, new) == {"body.b": (None, None)}
    assert differing({"normalise": ["null_missing"]}, legacy, new) == {}


def test_ignore_patterns_exact_glob_and_regex() -> None:
    legacy = answer({"meta": {"etag": "a", "took": 1}, "items": [{"id": 1, "at": "x"}], "n": 1})
    new = answer({"meta": {"etag": "b", "took": 2}, "items": [{"id": 1, "at": "y"}], "n": 2})
    assert set(differing({}, legacy, new)) == {
        "body.meta.etag",
        "body.meta.took",
        "body.items[0].at",
        "body.n",
    }
    rules = {"ignore": ["body.meta", "body.items[*].at", "re:\\.n$"]}
    assert differing(rules, legacy, new) == {}


def test_tolerance_applies_to_numbers_only_within_it() -> None:
    legacy, new = answer({"total": 949.6, "n": 3}), answer({"total": 949.60000001, "n": 3.5})
    assert differing({"tolerance": 0.001}, legacy, new) == {"body.n": (3.0, 3.5)}


def test_headers_are_compared_by_allowlist_case_insensitively() -> None:
    legacy = answer(
        {}, content_type="application/json; charset=utf-8", headers={"Cache-Control": "no-store"}
    )
    new = answer({}, content_type="application/json", headers={"cache-control": "max-age=60"})
    assert differing({}, legacy, new) == {}
    found = differing({"compare_headers": ["Cache-Control"]}, legacy, new)
    assert found == {"headers.cache-control": ("no-store", "max-age=60")}
    assert (
        differing({"compare_headers": ["*"], "ignore_headers": ["cache-control"]}, legacy, new)
        == {}
    )


def test_bodies_of_every_kind_are_compared_without_crashing() -> None:
    # A JSON content type over a body that is not JSON: compared as text, not a crash.
    assert set(differing({}, answer(b"oops"), answer(b"{oops}"))) == {"body"}
    text = "text/plain"
    assert (
        differing(
            {}, answer(b"a\r\nb  \n", content_type=text), answer(b"a\nb\n", content_type=text)
        )
        == {}
    )
    html = "text/html"
    legacy, new = (
        answer(b"<p>\n  <b>x</b></p>", content_type=html),
        answer(b"<p><b>x</b></p>", content_type=html),
    )
    assert differing({}, legacy, new) == {}
    png = "image/png"
    found = differing(
        {}, answer(b"\x89PNG1", content_type=png), answer(b"\x89PNG2", content_type=png)
    )
    assert found["body"][0]["bytes"] == 5
    assert found["body"][0]["sha256"] != found["body"][1]["sha256"]
    assert differing({}, answer({"a": 1}), answer(b"<html/>", content_type="text/html")) == {
        "headers.content-type": ("application/json", "text/html"),
        "body": ("(json body)", "(text body)"),
    }


def test_exact_binomial_tail() -> None:
    assert one_sided_p(0, 0) == 1.0
    assert one_sided_p(3, 0) == 0.125
    assert one_sided_p(10, 10) == pytest.approx(0.588, abs=1e-3)
    assert one_sided_p(30, 2) < 1e-6


@pytest.mark.parametrize(
    ("counts", "real"),
    [
        (FieldCounts(1, 0, 1, 0), True),  # never differs between legacy answers: real, however rare
        (FieldCounts(100, 100, 0, 0), False),  # differs everywhere on both: noise
        (FieldCounts(95, 30, 65, 0), True),  # a regression in an already noisy field
        (FieldCounts(4, 2, 3, 1), False),  # too few to tell: reported as noise, with its p-value
    ],
)
def test_noise_verdicts(counts: FieldCounts, real: bool) -> None:
    assert judge_field(counts, sampled_noise=True, alpha=0.01).real is real


def test_committed_demo_corpus_matches_its_generator() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "fixtures.demo.corpus"], cwd=REPO, capture_output=True, check=True
    ).stdout
    assert generated == (REPO / "fixtures/demo/corpus.jsonl").read_bytes()
