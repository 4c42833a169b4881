"""The [smoke] section: the endpoints a person would check by hand after a deploy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator

from pytest_cutover.section import SYSTEM_NAMES, Duration, Section


def _status_list(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return value
    raise ValueError("expected a status code such as 200, or a list of them such as [200, 204]")


class SmokeEndpoint(Section):
    """One declared endpoint check: what a person would look at by hand after a deploy."""

    secret_urls = ("path",)  # `/api/item/1?api_key=${KEY}`
    secret_mappings = ("headers",)

    path: str
    name: str | None = None
    method: Literal["GET", "HEAD", "OPTIONS"] = "GET"
    status: Annotated[list[int], BeforeValidator(_status_list)] = [200]
    content_type: str | None = None
    json_keys: list[str] = []
    json_schema: dict[str, Any] | str | None = None
    max_latency: Duration | None = None
    headers: dict[str, str] = {}
    systems: list[Literal["legacy", "new"]] = list(SYSTEM_NAMES)

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path that starts with '/', such as '/api/users'")
        return value

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.path}"


class SmokeConfig(Section):
    retry_deadline: Duration = 10.0
    max_latency: Duration | None = None
    endpoints: list[SmokeEndpoint] = []
