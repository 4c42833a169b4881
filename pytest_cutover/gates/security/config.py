"""The [security] section: what must be refused, and to whom, on both systems."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from pytest_cutover.gates.smoke.config import (
    HeaderNames,
    HeaderRules,
    Method,
    check_header_rules,
    check_method_is_safe,
    status_list,
)
from pytest_cutover.section import AbsolutePath, Duration, Section

Statuses = Annotated[list[int], BeforeValidator(status_list)]
InjectionKind = Literal["sql", "traversal", "oversized"]
INJECTION_KINDS: tuple[InjectionKind, ...] = ("sql", "traversal", "oversized")


class Probe(Section):
    """Where a security check asks: a path on the system's base_url, or on one of its services.
    A request that may change data goes out only with `safe = true`: if new is open, it runs."""

    secret_urls = ("path",)
    secret_mappings = ("headers",)

    path: AbsolutePath
    name: str | None = None
    service: str | None = None
    safe: bool = False  # before method, whose check reads it
    method: Method = "GET"
    headers: dict[str, str] = {}

    @field_validator("method")
    @classmethod
    def _safe_to_send(cls, value: str, info: ValidationInfo) -> str:
        return check_method_is_safe(value, bool(info.data.get("safe")))

    def where(self) -> str:
        service = f"{self.service} " if self.service else ""
        return f"{service}{self.method} {self.path}"


class Authentication(Probe):
    """Refused without credentials, and with a bad one, in `header` (removed from the system's
    own headers for these requests)."""

    header: str = "Authorization"
    bad_token: str = "Bearer cutover-invalid-token"
    status: Statuses = [401]


class Authorisation(Probe):
    """Refused for a role that may not: `headers` carry that role's credentials."""

    role: str
    status: Statuses = [403]


class Cors(Probe):
    """A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): each allowed
    origin gets Access-Control-Allow-Origin, a foreign origin does not."""

    method: Method = "OPTIONS"
    allowed_origins: list[str] = Field(min_length=1)
    foreign_origin: str = "https://cutover-foreign-origin.example"
    request_method: str = "GET"
    request_headers: list[str] = []


class Injection(Probe):
    """Hostile input appended to the path as one segment, and to each named query parameter:
    the answer must be a refusal (any 4xx unless `status` says which), never a 5xx, never a
    file's or a database's contents."""

    params: list[str] = []
    segment: bool = True
    kinds: list[InjectionKind] = list(INJECTION_KINDS)
    status: Statuses | None = None
    oversized_length: int = Field(default=8192, ge=256)

    @field_validator("kinds")
    @classmethod
    def _some_kind(cls, value: list[InjectionKind]) -> list[InjectionKind]:
        if not value:
            raise ValueError(f"expected one or more of {', '.join(INJECTION_KINDS)}")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Injection:
        # A check that sends nothing would pass without judging anything.
        if not self.params and not self.segment:
            raise ValueError("with segment = false, name the query parameters to probe")
        return self


class Headers(Probe):
    """Security headers of an answer: `required` as in smoke's response_headers (exact, or
    `re:PATTERN` searched), `absent` must not be sent."""

    required: HeaderRules = {}
    absent: HeaderNames = []

    @field_validator("required")
    @classmethod
    def _rules_compile(cls, value: dict[str, str]) -> dict[str, str]:
        return check_header_rules(value)

    @model_validator(mode="after")
    def _some_rule(self) -> Headers:
        if not self.required and not self.absent:
            raise ValueError("give required headers, absent ones, or both: nothing to judge")
        return self


class SecurityConfig(Section):
    """`judge = "absolute"`: every rule must hold on new, and legacy is asked too so the report
    says where new is more open than legacy and where legacy is itself open. `"parity"`: new
    fails only where legacy keeps the rule and new does not."""

    judge: Literal["absolute", "parity"] = "absolute"
    retry_deadline: Duration = 10.0
    authentication: list[Authentication] = []
    authorisation: list[Authorisation] = []
    cors: list[Cors] = []
    injection: list[Injection] = []
    headers: list[Headers] = []

    def probes(self) -> list[tuple[str, Probe]]:
        """Every declared check with its kind, in report order."""
        kinds: list[tuple[str, list[Probe]]] = [
            ("authentication", list(self.authentication)),
            ("authorisation", list(self.authorisation)),
            ("cors", list(self.cors)),
            ("injection", list(self.injection)),
            ("headers", list(self.headers)),
        ]
        return [(kind, probe) for kind, probes in kinds for probe in probes]
