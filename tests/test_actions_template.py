"""Placeholders filled for where they land: what a hostile reason turns into in each place."""

from __future__ import annotations

import json
import shlex

from pytest_cutover.actions.history import last_go_below
from pytest_cutover.actions.template import body_quoting, clean, fill, fill_command

HOSTILE = '--force "x" $(rm -rf ~); `id` & a=b/c?d'
VALUES = {"reason": HOSTILE, "step": "50"}


def test_a_command_argument_is_the_value_itself_never_an_option() -> None:
    argv = fill_command(
        ["./rollback.sh", "{reason}", "--step={step}"], {"reason": HOSTILE, "step": "50"}
    )
    assert argv == ["./rollback.sh", HOSTILE.lstrip("-"), "--step=50"]


def test_the_script_of_sh_c_gets_a_shell_quoted_value() -> None:
    argv = fill_command(
        ["/bin/bash", "-c", "notify {reason} {step}", "{reason}"], {"reason": HOSTILE, "step": "50"}
    )
    assert shlex.split(argv[2]) == ["notify", HOSTILE, "50"]
    assert argv[3] == HOSTILE.lstrip("-")  # $1 of the script: an argument, not shell text


def test_a_json_body_stays_json_and_a_url_stays_one_url() -> None:
    body = '{"text": "{reason}", "step": {step}}'
    filled = fill(body, VALUES, body_quoting(body, {}))
    assert json.loads(filled) == {"text": HOSTILE, "step": 50}
    url = fill("https://hooks/x?why={reason}", {"reason": HOSTILE}, "url")
    assert url.count("?") == 1
    assert "&" not in url.split("?")[1]
    assert body_quoting("reason={reason}", {"Content-Type": "application/json"}) == "json"
    assert body_quoting("reason={reason}", {}) == "text"


def test_unknown_braces_stay_as_written_and_a_reason_is_one_short_line() -> None:
    assert fill("{a} {b} {}", {"a": "1"}, "text") == "1 {b} {}"
    assert clean("one\nline\ttwo\x00") == "one line two"
    assert len(clean("x" * 1000)) == 300


def test_the_last_go_step_forgets_steps_a_rollback_went_below() -> None:
    def shift(to: float, decision: str | None = "GO") -> dict[str, object]:
        return {
            "event": "finished",
            "action": "shift",
            "result": "done",
            "to": to,
            "decision": decision,
        }

    def back(to: float) -> dict[str, object]:
        return {"event": "finished", "action": "traffic", "result": "done", "to": to}

    history = [shift(10), shift(50), shift(100), back(50), shift(75, None)]
    assert last_go_below(history, 100) == 50
    assert last_go_below(history, 50) == 10
    assert last_go_below(history, 10) == 0
    assert last_go_below([*history, back(0)], 100) == 0
    failed = {**shift(100), "result": "failed"}
    assert last_go_below([shift(10), failed], 200) == 10
