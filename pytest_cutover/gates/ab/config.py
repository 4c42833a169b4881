"""The `[ab]` section: where the requests come from, how to replay them, and what counts as equal.

Rules are data, per endpoint pattern, so a reviewer can read in cutover.toml exactly which
differences the gate was told to overlook, why, and until when.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from pytest_cutover.section import Duration, Section
from pytest_cutover.thresholds import Threshold, Thresholds, check_names, parse_threshold
from pytest_cutover.units import Kind, parse_literal

Normaliser = Literal["timestamps", "uuid_case", "bool_int", "null_missing", "numbers"]
MEASUREMENTS = (
    "requests",
    "compared",
    "matched",
    "mismatched",
    "match_rate",
    "critical",
    "incomparable",
    "accepted",
    "real_fields",
    "noise_fields",
)


def _fraction(value: object) -> object:
    """ "10%" or 0.1 -> 0.1, so shares read the same way they do in thresholds."""
    if isinstance(value, str):
        quantity = parse_literal(value)
        if quantity.kind is Kind.DURATION:
            raise ValueError(f"expected a share such as '10%' or 0.1, got {value!r}")
        return quantity.value
    return value


Share = Annotated[float, BeforeValidator(_fraction), Field(ge=0.0, le=1.0)]

_SIZE = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>B|KB|MB|GB)?\s*$", re.I)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def _bytes(value: object) -> object:
    """ "10MB", "500KB" or a number of bytes -> bytes, so a size reads as people write it."""
    if isinstance(value, str):
        found = _SIZE.match(value)
        if not found:
            raise ValueError(f"expected a size such as '10MB', '500KB' or 1000000, got {value!r}")
        return int(float(found["number"]) * _UNITS[(found["unit"] or "b").lower()])
    return value


Size = Annotated[int, BeforeValidator(_bytes), Field(ge=1)]


_ALL_MATCH = "match_rate >= 100%"
_BARE_RATE = re.compile(r"match_rate\s*[<>=!]=?\s*(?P<number>[0-9.]+)\s*$")


def _thresholds(values: list[Threshold]) -> list[Threshold]:
    check_names(values, MEASUREMENTS)
    for threshold in values:
        source = threshold.source
        bare = _BARE_RATE.search(source)
        if bare and float(bare["number"]) > 1:
            # A share compared with 99.5 can never pass: the user meant 99.5%.
            raise ValueError(f"{source!r}: match_rate is a share; write {bare['number']}%")
    return values


class ComparisonRules(Section):
    """What counts as equal; set for all endpoints in [ab] and added to per [[ab.endpoints]]."""

    ignore: list[str] = []
    normalise: list[Normaliser] = []
    tolerance: float = Field(default=0.0, ge=0.0)
    list_keys: dict[str, str] = {}
    unordered: list[str] = []
    compare_headers: list[str] = ["content-type"]
    ignore_headers: list[str] = []
    placeholders: bool = True

    @field_validator("ignore", "unordered")
    @classmethod
    def _field_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _check_field_pattern(pattern)
        return patterns

    @field_validator("list_keys")
    @classmethod
    def _list_key_patterns(cls, mapping: dict[str, str]) -> dict[str, str]:
        for pattern in mapping:
            _check_field_pattern(pattern)
        return mapping

    @field_validator("compare_headers", "ignore_headers")
    @classmethod
    def _lower(cls, names: list[str]) -> list[str]:
        return [name.lower() for name in names]


def _check_field_pattern(pattern: str) -> None:
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as err:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {err}") from None
    elif not re.match(r"^(status|headers|body)(\b|$)", pattern):
        raise ValueError(
            f"{pattern!r}: a field path starts with status, headers or body, such as "
            "'body.items[*].updated_at' (or 're:' for a regular expression)"
        )


class EndpointRule(ComparisonRules):
    """Rules for the requests whose method and path match `pattern` ('GET /users/{id}')."""

    pattern: str
    name: str | None = None
    safe_to_replay: bool = False
    thresholds: Thresholds | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        method, _, path = value.partition(" ") if " " in value else ("", "", value)
        if not (path.startswith("/") or path.startswith("re:")):
            raise ValueError(
                "expected a path pattern such as '/api/users/{id}', 'GET /api/users/{id}', "
                "'/api/**' or 're:^/api/v[0-9]+/'"
            )
        if method and not method.isalpha():
            raise ValueError(f"{method!r} is not an HTTP method")
        return value

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, values: list[Threshold] | None) -> list[Threshold] | None:
        return None if values is None else _thresholds(values)


class Rewrite(Section):
    pattern: str = Field(alias="from")
    replacement: str = Field(alias="to")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return value


class SideRequest(Section):
    """How requests are adapted for one system: the new API may live under another prefix, and
    each system may need its own credentials."""

    secret_mappings = ("headers",)

    path_prefix: str = ""
    rewrite: list[Rewrite] = []
    headers: dict[str, str] = {}
    drop_headers: list[str] = []


class Accepted(Section):
    """A known difference a person has signed off, until a date: then it fails the gate again."""

    field: str
    reason: str = Field(min_length=3)
    expires: dt.date
    endpoint: str | None = None

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        _check_field_pattern(value)
        return value


class AbConfig(ComparisonRules):
    secret_urls = ("noise_base_url",)

    corpus: str | None = None
    format: Literal["auto", "jsonl", "har", "access_log"] = "auto"
    sample: Share = 1.0
    max_requests: int = Field(default=0, ge=0)
    seed: int = 1
    keep_together: str | None = None
    concurrency: int = Field(default=4, ge=1, le=256)
    rate: float = Field(default=20.0, gt=0.0)
    timeout: Duration = 10.0
    noise: bool = False
    noise_base_url: str | None = None
    noise_alpha: Share = 0.01
    max_incomparable: Share = 0.05
    examples: int = Field(default=3, ge=0, le=50)
    max_body: Size = 1_000_000
    openapi: str | None = None
    baseline: str | None = None
    legacy_from_baseline: bool = False
    thresholds: Thresholds = Field(default_factory=lambda: [parse_threshold(_ALL_MATCH)])
    endpoint_thresholds: Thresholds = Field(default_factory=lambda: [parse_threshold(_ALL_MATCH)])
    legacy: SideRequest = SideRequest()
    new: SideRequest = SideRequest()
    endpoints: list[EndpointRule] = []
    accept: list[Accepted] = []

    @field_validator("thresholds", "endpoint_thresholds")
    @classmethod
    def _valid_thresholds(cls, values: list[Threshold]) -> list[Threshold]:
        return _thresholds(values)

    @field_validator("keep_together")
    @classmethod
    def _keep_together(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(header:.+|query:.+|client)$", value):
            raise ValueError(
                "expected 'header:NAME', 'query:NAME' or 'client' (the access log's remote "
                "address) to keep one user's requests together"
            )
        return value

    @field_validator("noise_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL of a second legacy instance")
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _baseline_needs_dir(self) -> AbConfig:
        if self.legacy_from_baseline and not self.baseline:
            raise ValueError("legacy_from_baseline = true needs baseline = 'DIR' (the recording)")
        return self
