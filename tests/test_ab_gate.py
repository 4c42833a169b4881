"""The A/B gate end to end against the real demo systems (uvicorn processes on loopback), one
demo fault at a time, as a team would see it before a traffic step."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.config import CutoverConfig
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import AbSetupError, make_plan, record_baseline, run_ab
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.launcher import StartedSystem
from pytest_cutover.systems import System

StartDemo = Callable[[str, str], StartedSystem]
TODAY = dt.date(2026, 11, 22)


def write_corpus(tmp_path: Path, entries: list[dict[str, Any]]) -> str:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return str(path)


def configured(demo_config: CutoverConfig, **ab: Any) -> CutoverConfig:
    settings = {"concurrency": 8, "rate": 2000, **ab}
    return demo_config.model_copy(update={"ab": AbConfig.model_validate(settings)})


def gate(
    config: CutoverConfig, demo_system: StartDemo, faults: str = "", legacy: System | None = None
) -> dict[str, GateResult]:
    legacy = legacy or demo_system("legacy", "").system
    new = demo_system("new", faults).system
    results = run_ab(
        config.ab,
        config.base_dir,
        config.redactor,
        legacy,
        new,
        make_plan(config.ab, config.base_dir, config.redactor),
        today=TODAY,
    )
    return {r.name: r for r in results}


def fields(result: GateResult) -> dict[str, str]:
    return {f["field"]: f["status"] for f in result.evidence["fields"]}


USERS = [{"path": f"/api/users/{i}"} for i in range(1, 41)]
LISTINGS = [{"path": "/api/users", "query": {"limit": 10, "offset": i * 10}} for i in range(10)]


def test_identical_systems_pass_every_endpoint(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    results = gate(
        configured(
            demo_config,
            max_requests=300,
            noise=True,
            normalise=["timestamps"],
            corpus="fixtures/demo/corpus.jsonl",
        ),
        demo_system,
    )
    assert {name: r.reasons for name, r in results.items() if not r.passed} == {}
    overall = results[OVERALL]
    assert overall.measurements["compared"] == overall.measurements["requests"] > 250
    assert overall.evidence["timing"]["pairs_per_second"] > 0


def test_a_changed_field_fails_with_examples_and_curl(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(demo_config, corpus=write_corpus(tmp_path, USERS))
    result = gate(config, demo_system, "field_changed")["GET /api/users/{id}"]
    assert result.outcome is Outcome.FAIL
    assert fields(result) == {"body.email": "real"}
    assert result.measurements["match_rate"] == 0.0
    example = result.evidence["fields"][0]["examples"][0]
    difference = example["differences"][0]
    assert difference["path"] == "body.email"
    assert difference["new"] == difference["legacy"].upper()
    curl = shlex.split(example["curl"]["new"])
    assert curl[:3] == ["curl", "-sS", "-i"]
    assert curl[3].startswith("http://127.0.0.1:")
    assert curl[3].endswith(example["request"].split(" ", 1)[1])


def test_a_missing_field_names_the_side_that_lacks_it(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    config = configured(demo_config, corpus=write_corpus(tmp_path, USERS[:5]))
    result = gate(config, demo_system, "field_missing")["GET /api/users/{id}"]
    assert fields(result) == {"body.created_at": "real"}
    difference = result.evidence["fields"][0]["examples"][0]["differences"][0]
    assert difference["absent_in"] == "new"


@pytest.mark.parametrize(
    ("rules", "outcome"),
    [
        ({}, Outcome.FAIL),
        ({"list_keys": {"body.items": "id"}}, Outcome.PASS),
        ({"unordered": ["body.items"]}, Outcome.PASS),
    ],
    ids=["by position", "by key", "unordered"],
)
def test_a_reordered_list_is_equal_only_when_told_how_to_match_items(
    demo_config: CutoverConfig,
    demo_system: StartDemo,
    tmp_path: Path,
    rules: dict[str, Any],
    outcome: Outcome,
) -> None:
    config = configured(demo_config, corpus=write_corpus(tmp_path, LISTINGS), **rules)
    result = gate(config, demo_system, "list_reordered")["GET /api/users"]
    assert result.outcome is outcome, result.reasons


@pytest.mark.parametrize(
    ("normalise", "outcome"), [([], Outcome.FAIL), (["timestamps"], Outcome.PASS)]
)
def test_a_timestamp_format_change_is_accepted_by_the_normaliser(
    demo_config: CutoverConfig,
    demo_system: StartDemo,
    tmp_path: Path,
    normalise: list[str],
    outcome: Outcome,
) -> None:
    config = configured(demo_config, corpus=write_corpus(tmp_path, USERS[:10]), normalise=normalise)
    result = gate(config, demo_system, "timestamp_format")["GET /api/users/{id}"]
    assert result.outcome is outcome
    if outcome is Outcome.FAIL:
        assert fields(result) == {"body.created_at": "real"}


def test_5xx_where_legacy_answered_is_critical_and_cannot_be_accepted(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path, [{"path": f"/api/orders/{i}"} for i in (1, 2, 3)] + USERS[:3])
    accept = [{"field": "status", "reason": "known", "expires": "2099-01-01"}]
    config = configured(
        demo_config, corpus=corpus, accept=accept, thresholds=[], endpoint_thresholds=[]
    )
    results = gate(config, demo_system, "orders_500")
    orders = results["GET /api/orders/{id}"]
    assert orders.outcome is Outcome.FAIL
    assert orders.measurements["critical"] == 3
    assert orders.reasons[0].startswith(
        "3 critical (new fails where legacy works): new answered 500"
    )
    assert results["GET /api/users/{id}"].passed
    assert results[OVERALL].outcome is Outcome.FAIL


def test_noise_fields_are_reported_as_noise_and_do_not_fail(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path, [{"path": "/api/analytics/revenue"}] * 30)
    noisy = gate(configured(demo_config, corpus=corpus, noise=True), demo_system)
    revenue = noisy["GET /api/analytics/revenue"]
    assert revenue.passed, revenue.reasons
    assert fields(revenue) == {"body.generated_at": "noise", "body.request_id": "noise"}
    assert "noise_example" in revenue.evidence["fields"][0]
    without_noise = gate(configured(demo_config, corpus=corpus), demo_system)
    assert without_noise["GET /api/analytics/revenue"].outcome is Outcome.FAIL


def test_a_rare_real_difference_fails_the_gate_despite_noise(
    demo_config: CutoverConfig, demo_system: StartDemo
) -> None:
    """One request of the demo's 2,000 sees user 1337; noise sampling is on, as in the demo."""
    config = configured(
        demo_config,
        corpus="fixtures/demo/corpus.jsonl",
        noise=True,
        normalise=["timestamps"],
        endpoints=[{"pattern": "GET /api/users", "list_keys": {"body.items": "id"}}],
    )
    results = gate(config, demo_system, "rare_diff")
    users = results["GET /api/users/{id}"]
    assert users.outcome is Outcome.FAIL
    assert fields(users) == {"body.name": "real"}
    assert users.measurements["mismatched"] == 1
    assert users.evidence["fields"][0]["examples"][0]["request"] == "GET /api/users/1337"
    assert results[OVERALL].measurements["requests"] == 1971
    failing = {name for name, r in results.items() if not r.passed}
    assert failing == {"GET /api/users/{id}", OVERALL}


def test_non_json_bodies_are_compared_by_kind(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(
        tmp_path,
        [
            {"path": "/api/users/7/avatar.png"},
            {"path": "/api/users/7/card"},
            {"path": "/api/export/users.csv?country=DE"},
            {"path": "/metrics"},
        ],
    )
    config = configured(demo_config, corpus=corpus, ignore=["re:^body$"], thresholds=[])
    assert all(r.passed for r in gate(config, demo_system, "avatar_changed").values())
    results = gate(
        configured(demo_config, corpus=corpus), demo_system, "avatar_changed,field_changed"
    )
    avatar = results["GET /api/users/{id}/avatar.png"].evidence["fields"][0]
    assert avatar["field"] == "body"
    assert avatar["examples"][0]["differences"][0]["new"]["bytes"] == 264
    card = results["GET /api/users/{id}/card"].evidence["fields"][0]
    text_diff = card["examples"][0]["differences"][0]["diff"]
    assert '+<p class="email">USER7@EXAMPLE.COM</p>' in text_diff
    assert not results["GET /api/export/users.csv"].passed


def test_unsafe_methods_are_listed_not_replayed(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(
        tmp_path,
        [
            {"method": "POST", "path": "/api/orders", "body": {"total": 1}},
            {"method": "DELETE", "path": "/api/orders/9"},
            {"method": "POST", "path": "/api/search", "replay": True},
            *USERS[:2],
        ],
    )
    results = gate(configured(demo_config, corpus=corpus), demo_system)
    overall = results[OVERALL]
    listed = {entry["request"] for entry in overall.evidence["not_replayed"]}
    assert listed == {"POST /api/orders", "DELETE /api/orders/9"}
    assert overall.evidence["corpus"]["replayed"] == 3
    assert "POST /api/search" in results  # marked safe: replayed (the demo answers 404 or 405)


def test_accepted_difference_passes_until_it_expires(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path, USERS[:5])
    for expires, outcome, status in (
        ("2026-12-31", Outcome.PASS, "accepted"),
        ("2026-11-21", Outcome.FAIL, "acceptance expired"),
    ):
        accept = [
            {
                "field": "body.email",
                "reason": "lower-cased in v2",
                "expires": expires,
                "endpoint": "GET /api/users/*",
            }
        ]
        result = gate(
            configured(demo_config, corpus=corpus, accept=accept), demo_system, "field_changed"
        )["GET /api/users/{id}"]
        assert result.outcome is outcome
        assert fields(result) == {"body.email": status}


def test_per_system_rewrites_and_headers(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    """The corpus speaks of /people; both systems serve /api/users, and only new gets a token."""
    corpus = write_corpus(tmp_path, [{"path": "/people/3"}, {"path": "/admin-stats"}])
    rewrite = [
        {"from": "^/people/", "to": "/users/"},
        {"from": "^/admin-stats$", "to": "/admin/stats"},
    ]
    config = configured(
        demo_config,
        corpus=corpus,
        legacy={"path_prefix": "/api", "rewrite": rewrite},
        new={
            "path_prefix": "/api/",
            "rewrite": rewrite,
            "headers": {"Authorization": "Bearer demo-token"},
        },
    )
    results = gate(config, demo_system)
    assert results["GET /people/{id}"].passed
    stats = results["GET /admin-stats"]
    assert fields(stats) == {"status": "real"}
    example = stats.evidence["fields"][0]["examples"][0]
    shown = stats.evidence["answers"]
    legacy_answer, new_answer = (shown[example["answers"][side]] for side in ("legacy", "new"))
    assert (legacy_answer["status"], new_answer["status"]) == (401, 200)
    assert '-H "Authorization: $CUTOVER_AUTHORIZATION"' in example["curl"]["new"]
    assert "demo-token" not in json.dumps(stats.to_dict())


def test_baseline_recording_stands_in_for_legacy(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path, [*USERS[:5], {"path": "/api/analytics/revenue"}])
    recording = tmp_path / "baseline"
    config = configured(demo_config, corpus=corpus, noise=True, baseline=str(recording))
    assert (
        record_baseline(
            config.ab,
            demo_system("legacy", "").system,
            make_plan(config.ab, config.base_dir, config.redactor),
            recording,
            config.output,
        )
        == 6
    )
    replaying = configured(
        demo_config, corpus=corpus, noise=True, baseline=str(recording), legacy_from_baseline=True
    )
    new = demo_system("new", "field_changed").system
    results = {
        r.name: r
        for r in run_ab(
            replaying.ab,
            replaying.base_dir,
            replaying.redactor,
            None,
            new,
            make_plan(replaying.ab, replaying.base_dir, replaying.redactor),
            TODAY,
        )
    }
    assert fields(results["GET /api/users/{id}"]) == {"body.email": "real"}
    assert results["GET /api/analytics/revenue"].passed
    assert results[OVERALL].evidence["legacy"] == f"baseline recording {recording}"


def test_missing_baseline_or_corpus_is_a_clear_setup_error(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    broken = configured(demo_config, corpus=str(tmp_path / "corpus.jsonl"))
    with pytest.raises(AbSetupError, match=r"corpus.jsonl: no such corpus file \(ab.corpus\)"):
        make_plan(broken.ab, broken.base_dir, broken.redactor)
    config = configured(
        demo_config,
        corpus=write_corpus(tmp_path, USERS[:1]),
        baseline=str(tmp_path / "none"),
        legacy_from_baseline=True,
    )
    with pytest.raises(AbSetupError, match=r"no baseline recording .* `cutover ab-record`"):
        run_ab(
            config.ab,
            config.base_dir,
            config.redactor,
            None,
            demo_system("new", "").system,
            make_plan(config.ab, config.base_dir, config.redactor),
            TODAY,
        )


def test_the_rate_cap_spaces_requests_out(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    """A lower bound only: a slow machine makes the replay slower, never faster than the cap."""
    config = configured(demo_config, corpus=write_corpus(tmp_path, USERS[:21]), rate=40)
    started = time.perf_counter()
    gate(config, demo_system)
    assert time.perf_counter() - started >= 20 / 40


def test_endpoint_thresholds_override_the_default_but_not_the_overall_ones(
    demo_config: CutoverConfig, demo_system: StartDemo, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path, USERS[:4] + [{"path": "/api/orders/1"}] * 4)
    relaxed = [{"pattern": "/api/users/{id}", "thresholds": ["mismatched <= 4"]}]
    config = configured(demo_config, corpus=corpus, endpoints=relaxed)
    results = gate(config, demo_system, "field_changed")
    assert results["GET /api/users/{id}"].passed
    assert results["GET /api/orders/{id}"].passed
    overall = results[OVERALL]
    assert overall.outcome is Outcome.FAIL
    assert overall.reasons == ("match_rate = 50 %, limit >= 100 %: FAIL",)
