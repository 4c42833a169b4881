"""The [smoke] section: the endpoints a person would check by hand after a deploy."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from pytest_cutover.section import SAFE_METHODS, SYSTEM_NAMES, AbsolutePath, Duration, Section

Method = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
REGEX_PREFIX = "re:"


def status_list(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return value
    raise ValueError("expected a status code such as 200, or a list of them such as [200, 204]")


def _lower_keys(value: object) -> object:
    # Header names are case-insensitive: `Strict-Transport-Security` and the lower-case form
    # are one rule.
    if isinstance(value, dict):
        return {str(k).lower(): v for k, v in value.items()}
    if isinstance(value, list):
        return [str(v).lower() if isinstance(v, str) else v for v in value]
    return value


def check_header_rules(rules: dict[str, str]) -> dict[str, str]:
    """A `re:` rule must compile now, not fail a gate run later."""
    for name, rule in rules.items():
        if rule.startswith(REGEX_PREFIX):
            try:
                re.compile(rule.removeprefix(REGEX_PREFIX))
            except re.error as err:
                raise ValueError(f"header {name!r}: {rule!r} is not a valid regex: {err}") from None
    return rules


def header_rule_holds(rule: str, value: str | None) -> bool:
    """`re:PATTERN` is searched in the value (anchor it with ^...$); anything else must equal it."""
    if value is None:
        return False
    if rule.startswith(REGEX_PREFIX):
        return re.search(rule.removeprefix(REGEX_PREFIX), value) is not None
    return value == rule


HeaderRules = Annotated[dict[str, str], BeforeValidator(_lower_keys)]
HeaderNames = Annotated[list[str], BeforeValidator(_lower_keys)]


def check_method_is_safe(method: str, safe: bool) -> str:
    """The gates run before every traffic step, against production: a request that may change
    data goes out only when the config says it may."""
    if method not in SAFE_METHODS and not safe:
        raise ValueError(
            f"{method} may change data on the live system, and gate checks run on every "
            f"gate run; add safe = true if this endpoint is a sandbox or harmless to repeat"
        )
    return method


class SmokeEndpoint(Section):
    """One declared endpoint check: what a person would look at by hand after a deploy."""

    secret_urls = ("path",)  # `/api/item/1?api_key=${KEY}`
    secret_mappings = ("headers",)

    path: AbsolutePath
    name: str | None = None
    service: str | None = None
    safe: bool = False  # before method, whose check reads it
    method: Method = "GET"
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    status: Annotated[list[int], BeforeValidator(status_list)] = [200]
    content_type: str | None = None
    json_keys: list[str] = []
    json_schema: dict[str, Any] | str | None = None
    response_headers: HeaderRules = {}
    absent_headers: HeaderNames = []
    max_latency: Duration | None = None
    headers: dict[str, str] = {}
    systems: list[Literal["legacy", "new"]] = list(SYSTEM_NAMES)

    @field_validator("response_headers")
    @classmethod
    def _rules_compile(cls, value: dict[str, str]) -> dict[str, str]:
        return check_header_rules(value)

    @field_validator("method")
    @classmethod
    def _safe_to_send(cls, value: str, info: ValidationInfo) -> str:
        return check_method_is_safe(value, bool(info.data.get("safe")))

    @model_validator(mode="after")
    def _one_body(self) -> SmokeEndpoint:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give body (text) or json (a TOML value sent as JSON), not both")
        return self

    @property
    def label(self) -> str:
        where = f"{self.service} " if self.service else ""
        return self.name or f"{where}{self.method} {self.path}"


class SmokeConfig(Section):
    retry_deadline: Duration = 10.0
    max_latency: Duration | None = None
    endpoints: list[SmokeEndpoint] = []
