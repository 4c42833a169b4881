"""[traffic] and [actions]: what is refused with a clear message, how nginx weights are written,
and the http driver and rollback webhook against a real admin API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cutover.actions.config import HttpDriverConfig, NginxDriverConfig, RollbackConfig
from pytest_cutover.actions.driver import DriverError
from pytest_cutover.actions.drivers import HttpDriver
from pytest_cutover.actions.nginx import render
from pytest_cutover.actions.rollback import run_helper
from pytest_cutover.config import ConfigError, load_config
from tests.conftest import MINIMAL_CONFIG
from tests.http_support import JsonHandler, serve


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Any:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + text)
    return load_config(path, environ or {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[traffic]\ndriver = "command"\n[traffic.command]\nset = "./split.sh"\n',
            "traffic.command.set = './split.sh': the set command must say where the weight goes",
        ),
        (
            '[traffic]\ndriver = "command"\n[traffic.command]\nset = "s {percent}"\n'
            '[traffic.http]\nurl = "http://lb"\n',
            "driver = 'command' but [traffic.http] is also set",
        ),
        (
            '[actions.rollback]\ncommand = "./rollback.sh"\n[actions.rollback.http]\n'
            'url = "http://hooks"\n',
            "expected exactly one of command = '...' or [actions.rollback.http]",
        ),
        (
            '[actions]\non_no_go = "panic"\n',
            "actions.on_no_go = 'panic'",
        ),
        (
            '[actions.rollback]\ncommand = "x"\nretries = 50\n',
            "actions.rollback[0].retries = 50",  # the first (here the only) helper
        ),
        (
            '[traffic]\ndriver = "nginx"\n[traffic.nginx]\ninclude_file = "a.conf"\n'
            'legacy = ["10.0.0.5:80; server evil"]\nnew = ["b:80"]\n'
            'status_listen = "127.0.0.1:9"\n',
            "is not a server address",
        ),
    ],
)
def test_mistakes_name_the_key_and_what_was_expected(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert message in str(raised.value)


def test_admin_api_secrets_are_masked(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[traffic]\ndriver = "http"\n[traffic.http]\nurl = "https://ops:pa55word@lb/split"\n'
        'headers = { Authorization = "Bearer ${LB_TOKEN}" }\n',
        {"LB_TOKEN": "lb-token-123"},
    )
    text = "called https://ops:pa55word@lb/split with Bearer lb-token-123 (pa55word)"
    assert config.redactor.text(text) == "called https://ops:***@lb/split with *** (***)"


def nginx_config(**changes: object) -> NginxDriverConfig:
    settings = {"include_file": "x.conf", "legacy": ["l1:80", "l2:80"], "new": ["n1:80"],
                "status_listen": "127.0.0.1:9901", **changes}  # fmt: skip
    return NginxDriverConfig.model_validate(settings)


def test_weights_keep_the_share_across_uneven_server_counts() -> None:
    text = render(nginx_config(server_options="max_fails=3"), 12.5, "g1")
    # 2 legacy servers at 7 and 1 new at 2: new gets 2 / (7 + 7 + 2) = 12.5%.
    assert "server l1:80 weight=7 max_fails=3;" in text
    assert "server l2:80 weight=7 max_fails=3;" in text
    assert "server n1:80 weight=2 max_fails=3;" in text
    assert "n1:80" not in render(nginx_config(), 0, "g2")
    assert "l1:80" not in render(nginx_config(), 100, "g3")
    assert "weight=" not in render(nginx_config(), 100, "g3")


def test_split_clients_writes_the_share_and_one_catch_all() -> None:
    split = nginx_config(mode="split_clients")
    text = render(split, 33.333, "g1")
    assert 'split_clients "$remote_addr" $cutover_backend {' in text
    assert "    33.33% cutover_backend_new;\n    * cutover_backend_legacy;" in text
    assert "% cutover" not in render(split, 0, "g2")
    assert "    * cutover_backend_new;" in render(split, 100, "g3")


class AdminApi:
    """A load balancer's admin API: POST /split sets the weight, GET /split reports it; the
    first `failures` requests answer 503, as an API does while it restarts."""

    def __init__(self, failures: int = 0) -> None:
        state: dict[str, Any] = {"weight": 0.0, "calls": [], "failures": failures}
        self.state = state

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.answer(200, {"split": {"weight": state["weight"]}})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                state["calls"].append([self.path, body, self.headers.get("Authorization")])
                if state["failures"]:
                    state["failures"] -= 1
                    self.answer(503, {"error": "restarting"})
                    return
                if self.path == "/split":
                    state["weight"] = json.loads(body)["weight"]
                self.answer(200, {"ok": True})

        self.server, self.url = serve(Handler)


@pytest.fixture
def api() -> Iterator[AdminApi]:
    server = AdminApi(failures=2)
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_http_driver_retries_reports_and_is_idempotent(tmp_path: Path, api: AdminApi) -> None:
    config = load(
        tmp_path,
        f'[traffic]\ndriver = "http"\n[traffic.http]\nurl = "{api.url}/split"\n'
        'body = \'{"weight": {percent}, "legacy": {legacy_percent}}\'\n'
        f'headers = {{ Authorization = "Bearer t0ken-value" }}\nstatus_url = "{api.url}/split"\n'
        'status_field = "split.weight"\nretries = 2\n',
    )
    assert config.traffic is not None
    assert config.traffic.http is not None
    driver = HttpDriver(config.traffic.http)
    change = driver.set(10)
    assert change.changed
    assert "after 3 attempts" in change.detail
    assert driver.current() == 10
    assert api.state["calls"][-1] == [
        "/split",
        '{"weight": 10, "legacy": 90}',
        "Bearer t0ken-value",
    ]
    # The caller reads once and hands the reading over: no second set for the same weight.
    assert not driver.set(10, driver.current()).changed
    assert len(api.state["calls"]) == 3


def test_http_driver_gives_up_after_its_retries(api: AdminApi) -> None:
    settings = {"url": f"{api.url}/split", "body": '{"weight": {percent}}', "retries": 1}
    driver = HttpDriver(HttpDriverConfig.model_validate(settings))
    with pytest.raises(DriverError, match=r"HTTP 503 \(expected 200, 201, 202, 204\)"):
        driver.set(50)
    assert len(api.state["calls"]) == 2


def test_rollback_webhook_carries_the_reason(tmp_path: Path) -> None:
    api = AdminApi()
    try:
        helper = RollbackConfig.model_validate(
            {"http": {"url": f"{api.url}/rollback", "body": '{"why": "{reason}"}'}}
        )
        result = run_helper(helper, tmp_path, {"reason": 'p95 "over" budget'})
    finally:
        api.server.shutdown()
        api.server.server_close()
    assert result.ok
    assert result.http_status == 200
    assert api.state["calls"] == [["/rollback", '{"why": "p95 \\"over\\" budget"}', None]]
