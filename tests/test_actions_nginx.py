"""The nginx driver against a real nginx on loopback in front of two real backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cutover.actions.driver import DriverError
from pytest_cutover.actions.nginx import NginxDriver, render
from tests.conftest import require_service
from tests.nginx_support import Nginx, answers, nginx_available, who_answers


def start_nginx(folder: Path, mode: str) -> Iterator[Nginx]:
    if not nginx_available():
        require_service("nginx is not installed (apt-get install nginx-light)")
    nginx = Nginx(folder, mode)
    yield nginx
    nginx.stop()


@pytest.fixture
def weighted(tmp_path: Path) -> Iterator[Nginx]:
    yield from start_nginx(tmp_path, "weights")


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Nginx]:
    yield from start_nginx(tmp_path, "split_clients")


def test_weights_move_traffic_step_by_step_and_back(weighted: Nginx) -> None:
    driver = NginxDriver(weighted.driver_config(), Path("/"))
    assert who_answers(weighted.url, 200) == {"legacy": 200}
    assert driver.set(10).changed
    assert driver.current() == 10
    at_10 = who_answers(weighted.url, 2000)
    # Binomial(2000, 0.1): mean 200, sd 13.4; these bounds are more than four sd away.
    assert 140 <= at_10["new"] <= 260, at_10
    driver.set(50)
    at_50 = who_answers(weighted.url, 1000)
    assert 420 <= at_50["new"] <= 580, at_50
    driver.set(100)
    assert who_answers(weighted.url, 300) == {"new": 300}
    driver.set(0)
    assert who_answers(weighted.url, 300) == {"legacy": 300}
    assert driver.current() == 0
    history = list(driver.history_dir.glob("*.conf.bak"))
    assert len(history) == 4
    assert "weight=" not in weighted.include.read_text()  # 0% leaves new out: no weight=0
    assert '"percent": 100' in driver.previous.read_text()


def test_setting_the_weight_it_has_is_a_no_op(weighted: Nginx) -> None:
    driver = NginxDriver(weighted.driver_config(), Path("/"))
    first = driver.set(10)
    text = weighted.include.read_text()
    again = driver.set(10)
    assert first.changed
    assert not again.changed
    assert "already serves 10%" in again.detail
    assert weighted.include.read_text() == text


def test_a_config_nginx_refuses_leaves_the_old_one_serving(weighted: Nginx) -> None:
    NginxDriver(weighted.driver_config(), Path("/")).set(10)
    before = weighted.include.read_text()
    broken = NginxDriver(weighted.driver_config(new=["no-such-host.invalid:80"]), Path("/"))
    with pytest.raises(DriverError, match=r"nginx -t refused .* traffic is as it was"):
        broken.set(50)
    assert weighted.include.read_text() == before
    assert broken.current() == 10
    at_10 = who_answers(weighted.url, 500)
    assert 20 <= at_10["new"] <= 90, at_10


def test_a_reload_that_does_not_take_effect_is_undone_loudly(weighted: Nginx) -> None:
    NginxDriver(weighted.driver_config(), Path("/")).set(10)
    before = weighted.include.read_text()
    # A reload that reports success and loads nothing: what a wrong pid file looks like.
    wrapper = weighted.folder / "nginx-without-reload.sh"
    wrapper.write_text('#!/bin/sh\ncase "$*" in *reload*) exit 0;; esac\nexec "$@"\n')
    wrapper.chmod(0o755)
    deaf = NginxDriver(
        weighted.driver_config(nginx=[str(wrapper), *weighted.command], timeout="1s"), Path("/")
    )
    with pytest.raises(DriverError) as raised:
        deaf.set(50)
    message = str(raised.value)
    assert "did not take effect within 1s" in message
    assert "the previous file is back; nginx never stopped serving it (10%)" in message
    assert weighted.include.read_text() == before
    assert deaf.current() == 10


def test_status_tells_an_interrupted_change_from_what_nginx_serves(weighted: Nginx) -> None:
    driver = NginxDriver(weighted.driver_config(), Path("/"))
    driver.set(10)
    # A change killed after the file was written and before the reload.
    weighted.include.write_text(render(weighted.driver_config(), 50.0, "interrupted"))
    described = driver.describe()
    assert described["percent"] == 10
    assert described["file_percent"] == 50
    assert "a change was interrupted" in described["warning"]
    assert driver.set(10).changed  # the file is put right, not trusted


def test_split_clients_keeps_each_client_on_one_side(split: Nginx) -> None:
    driver = NginxDriver(split.driver_config(), Path("/"))
    driver.set(10)
    clients = [f"user-{n}" for n in range(400)]
    sides: dict[str, set[str]] = {}
    for client, answer in answers(split.url, clients * 3):
        sides.setdefault(client, set()).add(answer)
    assert all(len(answered) == 1 for answered in sides.values())
    on_new = {c for c, answered in sides.items() if answered == {"new"}}
    # Binomial(400, 0.1): mean 40, sd 6.
    assert 16 <= len(on_new) <= 64, len(on_new)
    driver.set(50)
    at_50 = dict(answers(split.url, clients))
    assert {
        c for c in on_new if at_50[c] == "new"
    } == on_new  # promotion never moves a client back to legacy
    driver.set(0)
    assert who_answers(split.url, 100, clients) == {"legacy": 100}
