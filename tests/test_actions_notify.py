"""Notifications on each decision and action, received by a real HTTP server on loopback: what
a Slack webhook would get, and that a receiver that is down changes nothing but its own line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.actions_support import actions_toml, audit, decision_json, lines, make_project
from tests.http_support import JsonHandler, serve
from tests.test_cli import cutover

NO_GO = "import pytest\n@pytest.mark.canary_gate\ndef test_x():\n    assert False, 'p95 \"3s\"'\n"


class Receiver:
    """A chat webhook: records every POST; answers 500 while `failing` is set."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failing = False
        receiver = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.posts.append({"path": self.path, "body": json.loads(body)})
                self.answer(500 if receiver.failing else 200, {"ok": not receiver.failing})

        self.server, self.url = serve(Handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def notify_toml(url: str) -> str:
    slack = (
        '{"text": "Cutover {decision} at step {step}% ({outcome}): {reasons}", '
        '"attachments": [{"text": "{event}: {action}"}]}'
    )
    return actions_toml() + (
        f'\n[[actions.notify]]\nname = "slack"\nurl = "{url}/services/T0/B0/${{SLACK_KEY}}"\n'
        f"body = '{slack}'\nretries = 0\n"
    )


def test_each_decision_and_action_is_posted_as_a_slack_message(
    pytester: pytest.Pytester, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_KEY", "xoxb-hook-4471")
    folder = make_project(pytester.path, notify_toml(receiver.url))
    pytester.makepyfile(test_gate=NO_GO)
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 1
    assert [post["path"] for post in receiver.posts] == ["/services/T0/B0/xoxb-hook-4471"] * 2
    decided, acted = (post["body"] for post in receiver.posts)
    assert decided["text"].startswith("Cutover NO-GO at step 50% (ROLLBACK): custom: ")
    assert 'p95 \\"3s\\"' not in decided["text"]
    assert 'p95 "3s"' in decided["text"]
    assert decided["attachments"][0]["text"] == "decision: none"
    assert acted["attachments"][0]["text"].startswith("action: rollback 50% -> 0%: done")
    assert lines(folder / "traffic.log") == ["0"]
    sent = [r for r in audit(folder) if r["event"] == "notify"]
    assert [(r["about"], r["result"]) for r in sent] == [("decision", "sent"), ("action", "sent")]
    text = (folder / "reports" / "audit.jsonl").read_text()
    assert "xoxb-hook-4471" not in text
    assert "xoxb-hook-4471" not in result.stdout.str()


def test_a_receiver_that_fails_changes_nothing_but_its_line(
    pytester: pytest.Pytester, receiver: Receiver
) -> None:
    receiver.failing = True
    toml = notify_toml(receiver.url).replace("${SLACK_KEY}", "k")
    folder = make_project(pytester.path, toml)
    pytester.makepyfile(test_gate=NO_GO)
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 1  # NO-GO, rolled back: not 11 or 12
    assert len(receiver.posts) == 2
    decision = decision_json(folder)
    assert "action_failure" not in decision
    assert decision["actions"][0]["status"] == "done"
    assert [a["status"] for a in decision["actions"][1:]] == ["failed", "failed"]
    result.stdout.fnmatch_lines(["*notify slack (decision): failed: HTTP 500 (expected *"])
    failed = [r for r in audit(folder) if r["event"] == "notify"]
    assert [r["result"] for r in failed] == ["failed", "failed"]


def test_a_receiver_that_is_down_is_audited(pytester: pytest.Pytester) -> None:
    toml = notify_toml("http://127.0.0.1:9").replace("${SLACK_KEY}", "k")
    folder = make_project(pytester.path, toml)
    pytester.makepyfile(test_gate=NO_GO)
    result = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert result.ret == 1
    assert (folder / "weight.txt").read_text() == "0"
    sent = [r for r in audit(folder) if r["event"] == "notify"]
    assert [r["result"] for r in sent] == ["failed", "failed"]
    assert "failed" in sent[0]["summary"]


def test_a_manual_rollback_is_notified_too(tmp_path: Path, receiver: Receiver) -> None:
    folder = make_project(tmp_path, notify_toml(receiver.url).replace("${SLACK_KEY}", "k"))
    rolled = cutover("rollback", "--reason", "p95 over budget", cwd=folder)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "note: notify slack (action): sent: HTTP 200" in rolled.stdout
    (posted,) = receiver.posts
    assert posted["body"]["text"] == "Cutover manual at step none% (MANUAL): p95 over budget"
    assert posted["body"]["attachments"][0]["text"].startswith("action: rollback 50% -> 0%: done")
