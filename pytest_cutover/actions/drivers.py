"""The command and http traffic-split drivers, and the choice of driver from [traffic].

command runs the team's own script (the runbooks' `configure-traffic-split.sh 10`); http calls a
load balancer's or service mesh's admin API. nginx, which the plugin drives itself, is nginx.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from pytest_cutover.actions.calls import CallResult, call_http, fill, run_command, with_retries
from pytest_cutover.actions.config import CommandDriverConfig, HttpDriverConfig, TrafficConfig
from pytest_cutover.actions.driver import (
    Change,
    DriverError,
    NoReading,
    TrafficDriver,
    parse_percent,
)
from pytest_cutover.actions.nginx import NginxDriver


class CommandDriver:
    """Runs the team's own script; `get` (optional) prints the current weight."""

    name = "command"

    def __init__(self, config: CommandDriverConfig, base_dir: Path) -> None:
        self.config = config
        self.cwd = base_dir / config.cwd if config.cwd else base_dir

    def _run(self, argv: list[str]) -> CallResult:
        return run_command(argv, timeout=self.config.timeout, cwd=self.cwd, env=self.config.env)

    def current(self) -> float:
        if self.config.get is None:
            raise NoReading("unknown: [traffic.command] has no get command to ask")
        result = self._run(self.config.get)
        if not result.ok:
            raise DriverError(f"get command {result.summary}: {result.output.strip()[-300:]}")
        return parse_percent(result.output, "get command")

    def set(self, percent: float, current: float | None = None) -> Change:
        if current == percent:
            return Change(False, f"already at {percent:g}% (get command)")
        result = self._run([fill(part, percent) for part in self.config.set])
        if not result.ok:
            raise DriverError(
                f"set command {result.summary}; traffic may be as it was or half-changed, "
                f"check by hand: {result.output.strip()[-500:]}"
            )
        return Change(True, f"set command {result.summary}", result)

    def describe(self) -> dict[str, Any]:
        return {"driver": self.name, "set": self.config.set, "get": self.config.get}


class HttpDriver:
    """Calls a load balancer's or mesh's admin API with the weight, with retries."""

    name = "http"

    def __init__(self, config: HttpDriverConfig) -> None:
        self.config = config

    def current(self) -> float:
        url = self.config.status_url
        if url is None:
            raise NoReading("unknown: [traffic.http] has no status_url to ask")
        try:
            response = httpx.get(
                url,
                headers=self.config.headers,
                timeout=self.config.timeout,
                verify=self.config.verify_tls,
            )
            response.raise_for_status()
            value: Any = response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as err:
            raise DriverError(f"status_url {url}: {err}") from None
        for key in self.config.status_field.split("."):
            if not isinstance(value, dict) or key not in value:
                raise DriverError(f"status_url {url}: no {self.config.status_field!r} in answer")
            value = value[key]
        return parse_percent(str(value), f"status_url {url}")

    def set(self, percent: float, current: float | None = None) -> Change:
        if current == percent:
            return Change(False, f"already at {percent:g}% (status_url)")
        config = self.config
        result = with_retries(
            lambda: call_http(
                method=config.method,
                url=fill(config.url, percent),
                body=None if config.body is None else fill(config.body, percent),
                headers=config.headers,
                expected_status=config.expected_status,
                timeout=config.timeout,
                verify_tls=config.verify_tls,
            ),
            config.retries,
        )
        if not result.ok:
            raise DriverError(f"{config.method} {config.url}: {result.summary}: {result.output}")
        return Change(True, result.summary, result)

    def describe(self) -> dict[str, Any]:
        return {"driver": self.name, "url": self.config.url, "status_url": self.config.status_url}


def make_driver(traffic: TrafficConfig, base_dir: Path) -> TrafficDriver:
    """The configured driver; relative paths in its config are relative to cutover.toml."""
    if traffic.nginx is not None:
        return NginxDriver(traffic.nginx, base_dir)
    if traffic.command is not None:
        return CommandDriver(traffic.command, base_dir)
    assert traffic.http is not None  # TrafficConfig guarantees the chosen driver's table
    return HttpDriver(traffic.http)
