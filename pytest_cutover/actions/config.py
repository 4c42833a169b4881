"""The `[traffic]` and `[actions]` sections: how traffic is split, and what each decision does.

Every mistake is a config error at load time, because an action that finds out at 3 a.m. that
its script path was wrong has already failed the people relying on it.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from pytest_cutover.section import CommandLine, Duration, Section

PLACEHOLDERS = ("{percent}", "{legacy_percent}")
# A helper serves these triggers: a decision's verdict, a GO held by warnings, or a person.
Trigger = Literal["NO-GO", "INCONCLUSIVE", "WARNING", "manual"]
TRIGGERS: tuple[Trigger, ...] = ("NO-GO", "INCONCLUSIVE", "WARNING", "manual")
# What a notification is about, and for which outcomes of the run (HOLD: a GO held by warnings).
Event = Literal["decision", "action"]
EVENTS: tuple[Event, ...] = ("decision", "action")
# MANUAL: an action a person took with `cutover shift` or `cutover rollback`.
Outcome = Literal["GO", "NO-GO", "INCONCLUSIVE", "HOLD", "MANUAL"]
OUTCOMES: tuple[Outcome, ...] = ("GO", "NO-GO", "INCONCLUSIVE", "HOLD", "MANUAL")
MAX_RETRIES = 5
_NGINX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A server address or option may not end the directive or open a block: it is pasted into nginx.
_NGINX_UNSAFE = re.compile(r"[;{}'\"\s#$]")


def _statuses(value: object) -> object:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


Command = Annotated[CommandLine, Field(min_length=1)]
Statuses = Annotated[list[int], BeforeValidator(_statuses), Field(min_length=1)]
Retries = Annotated[int, Field(ge=0, le=MAX_RETRIES)]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL such as 'http://lb.internal/api'")
    return value


class HttpCall(Section):
    """One HTTP request to an admin API or webhook; `{percent}` and `{legacy_percent}` in the
    URL and body are filled in with the weights."""

    secret_urls: ClassVar[tuple[str, ...]] = ("url",)
    secret_mappings = ("headers",)

    url: str
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expected_status: Statuses = Field(default_factory=lambda: [200, 201, 202, 204])
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class NginxDriverConfig(Section):
    """nginx: one include file the plugin owns, with either weighted upstream servers or a
    split_clients map (which keeps one client on one side), plus a tiny status server on
    `status_listen` that proves which version nginx is serving."""

    include_file: str
    mode: Literal["weights", "split_clients"] = "weights"
    upstream: str = "cutover_backend"
    legacy: list[str] = Field(min_length=1)
    new: list[str] = Field(min_length=1)
    server_options: str = ""
    # `$name`, not `${name}`: cutover.toml fills `${...}` from the environment.
    split_key: str = "$remote_addr"
    status_listen: str
    nginx: Command = Field(default_factory=lambda: ["nginx"])
    timeout: Duration = 10.0
    history: int = Field(default=20, ge=1, le=1000)

    @field_validator("upstream")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NGINX_NAME.match(value):
            raise ValueError("expected an nginx name of letters, digits and '_'")
        return value

    @field_validator("legacy", "new")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value or _NGINX_UNSAFE.search(value):
                raise ValueError(f"{value!r} is not a server address such as '10.0.0.5:8080'")
        return values

    @field_validator("server_options")
    @classmethod
    def _options(cls, value: str) -> str:
        if re.search(r"[;{}'\"#$]", value) or re.search(r"\bweight=", value):
            raise ValueError("expected server parameters such as 'max_fails=3' (no weight=)")
        return value

    @field_validator("split_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value or re.search(r"[\"';\\\n]", value):
            raise ValueError("expected an nginx variable such as '$remote_addr' or '$cookie_user'")
        return value

    @field_validator("status_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if not re.match(r"^[0-9A-Za-z.\-\[\]:]+:[0-9]{1,5}$", value):
            raise ValueError("expected host:port, such as '127.0.0.1:9901'")
        return value


class CommandDriverConfig(Section):
    """The team's own script, as in the runbooks: `configure-traffic-split.sh {percent}`."""

    secret_mappings = ("env",)

    set: Command
    get: Command | None = None
    timeout: Duration = 60.0
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("set")
    @classmethod
    def _has_placeholder(cls, value: list[str]) -> list[str]:
        if not any(p in part for part in value for p in PLACEHOLDERS):
            raise ValueError(
                "the set command must say where the weight goes: {percent} (the new "
                "system's share) or {legacy_percent}, e.g. './configure-traffic-split.sh {percent}'"
            )
        return value


class HttpDriverConfig(HttpCall):
    """A load balancer's or service mesh's admin API; `status_url` answers the current weight."""

    secret_urls = ("url", "status_url")

    timeout: Duration = 10.0
    retries: Retries = 2
    status_url: str | None = None
    status_field: str = "weight"

    @field_validator("status_url")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class TrafficConfig(Section):
    driver: Literal["nginx", "command", "http"]
    nginx: NginxDriverConfig | None = None
    command: CommandDriverConfig | None = None
    http: HttpDriverConfig | None = None

    @model_validator(mode="after")
    def _one_driver(self) -> TrafficConfig:
        if getattr(self, self.driver) is None:
            raise ValueError(f"driver = {self.driver!r} needs a [traffic.{self.driver}] table")
        others = [n for n in ("nginx", "command", "http") if n != self.driver and getattr(self, n)]
        if others:
            raise ValueError(
                f"driver = {self.driver!r} but [traffic.{others[0]}] is also set: remove it, "
                "so nobody reads a setting that is not used"
            )
        return self


class RollbackConfig(Section):
    """A rollback helper: a command (the runbook's quick-rollback.sh) or an HTTP call. With
    several, `on` and `gates` say which serve a rollback, tried in the order written."""

    secret_mappings = ("env",)

    name: str | None = None
    on: list[Trigger] = Field(default_factory=lambda: list(TRIGGERS), min_length=1)
    gates: list[str] = Field(default_factory=list)
    command: Command | None = None
    http: HttpCall | None = None
    timeout: Duration = 60.0
    retries: Retries = 1
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one(self) -> RollbackConfig:
        if (self.command is None) == (self.http is None):
            raise ValueError("expected exactly one of command = '...' or [actions.rollback.http]")
        return self

    def serves(self, trigger: Trigger, gates: frozenset[str]) -> bool:
        """Whether this helper runs for a rollback caused by `trigger`, where `gates` failed
        (empty for a manual rollback, which every helper with `on` "manual" serves)."""
        if trigger not in self.on:
            return False
        return not self.gates or trigger == "manual" or bool(gates & set(self.gates))


class NotifyConfig(HttpCall):
    """An HTTP notification (a Slack or PagerDuty webhook) on each decision and action. Its
    whole URL is a secret, because chat webhooks carry their key in the path."""

    name: str | None = None
    events: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    on: list[Outcome] = Field(default_factory=lambda: list(OUTCOMES), min_length=1)
    timeout: Duration = 5.0
    retries: Retries = 1

    def secrets(self) -> set[str]:
        return super().secrets() | {self.url}


def _listed(value: object) -> object:
    """`[actions.rollback]` (one helper) and `[[actions.rollback]]` (several) alike."""
    return [value] if isinstance(value, dict) else value


def _rollback_to(value: object) -> object:
    if value == "last_go" or (isinstance(value, int | float) and value == 0):
        return value
    raise ValueError('expected "last_go" (the last step a GO promoted to, below this one) or 0')


class ActionsConfig(Section):
    """What each decision does. Absent, the plugin only reports; present, it acts."""

    on_no_go: Literal["rollback", "hold"] = "rollback"
    on_inconclusive: Literal["hold", "rollback"] = "hold"
    # A GO whose gates reported a warning-level breach (runbook 003's "hold the step").
    on_warning: Literal["hold", "promote", "rollback"] = "hold"
    rollback: Annotated[list[RollbackConfig], BeforeValidator(_listed)] = Field(
        default_factory=list
    )
    # "first_success": the helpers that serve the rollback, in order, until one succeeds;
    # "all": every one of them, each once.
    helpers: Literal["first_success", "all"] = "first_success"
    rollback_to: Annotated[str | float, BeforeValidator(_rollback_to)] = 0.0
    lock_file: str | None = None
    notify: Annotated[list[NotifyConfig], BeforeValidator(_listed)] = Field(default_factory=list)
