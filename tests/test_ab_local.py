"""Placeholders for where an answer was made: what is replaced and, as much, what is not."""

from __future__ import annotations

from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.local import CLIENT, CLIENT_PORT, ORIGIN, Local


def answer(url: str, client_port: int = 40123) -> Answer:
    return Answer(
        "GET", url, (("Host", "shop.example:8443"),), None, 200, client=("10.1.2.3", client_port)
    )


def test_the_answers_own_origin_and_connection_become_placeholders() -> None:
    local = Local.of(answer("http://127.0.0.1:8001/api/x"))
    document = {
        "self": "http://127.0.0.1:8001/api/x?page=2",
        "host": "127.0.0.1:8001",
        "sent_host": "shop.example:8443",
        "seen_from": "10.1.2.3:40123",
        "port": 40123,
        "port_text": "40123",
        "links": ["<http://127.0.0.1:8001/a>; rel=self"],
    }
    assert local.value(document) == {
        "self": f"{ORIGIN}/api/x?page=2",
        "host": ORIGIN,
        "sent_host": ORIGIN,
        "seen_from": CLIENT,
        "port": CLIENT_PORT,
        "port_text": CLIENT_PORT,
        "links": [f"<{ORIGIN}/a>; rel=self"],
    }


def test_only_whole_origins_and_whole_values_are_replaced() -> None:
    local = Local.of(answer("http://10.0.0.1:80/"))
    assert local.text("http://10.0.0.1:8080/x") == "http://10.0.0.1:8080/x"
    assert local.text("110.0.0.1:80") == "110.0.0.1:80"
    assert local.text("order 40123 shipped") == "order 40123 shipped"
    assert local.value(40124) == 40124
    assert local.value(["http://10.0.0.1:80/x"]) == [f"{ORIGIN}/x"]


def test_a_path_prefix_belongs_to_the_origin() -> None:
    prefixed = Answer("GET", "https://api.example/v2/users/1", (), None, 200, prefix="/v2")
    local = Local.of(prefixed)
    assert local.text("https://api.example/v2/users/1") == f"{ORIGIN}/users/1"
    assert local.text("https://api.example/v20/users/1") == f"{ORIGIN}/v20/users/1"
