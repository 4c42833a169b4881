"""Endpoint groups: `/users/123` and `/users/456` are one endpoint, `GET /users/{id}`.

Statistics only mean something per endpoint (a noisy field on one endpoint says nothing about
another), and a reviewer reads a report by endpoint; so every request gets a group, from the
config's patterns first, then an OpenAPI file, then by collapsing segments that look like ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pytest_cutover.gates.ab.config import EndpointRule

_HTTP_METHODS = ("get", "head", "options", "post", "put", "patch", "delete", "trace")
_ID_SEGMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("{id}", re.compile(r"^-?[0-9]+$")),
    (
        "{uuid}",
        re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I),
    ),
    ("{hash}", re.compile(r"^(?=.*[0-9])[0-9a-f]{12,}$", re.I)),
    ("{date}", re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")),
    ("{email}", re.compile(r"^[^@/]+@[^@/]+\.[a-z]{2,}$", re.I)),
    ("{token}", re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_\-]{20,}$")),
)


class OpenApiError(Exception):
    """The OpenAPI file named by ab.openapi cannot be used; the message says why."""


@dataclass(frozen=True)
class PathPattern:
    """'GET /users/{id}', '/static/**' or 're:^/v[0-9]+/' (the method part is optional)."""

    source: str
    method: str | None
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, source: str) -> PathPattern:
        method, _, path = source.partition(" ") if " " in source else ("", "", source)
        if path.startswith("re:"):
            regex = re.compile(path[3:])
        else:
            regex = re.compile("^" + "/".join(_segment_regex(s) for s in path.split("/")) + "$")
        return cls(source, method.upper() or None, regex)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.regex.search(path) is not None

    def group(self, method: str) -> str:
        return self.source if self.method else f"{method} {self.source}"


def _segment_regex(segment: str) -> str:
    if segment == "**":
        return ".*"
    if re.fullmatch(r"\{[^}/]+\}", segment):
        return "[^/]+"
    return ".*".join("[^/]*".join(map(re.escape, part.split("*"))) for part in segment.split("**"))


@dataclass(frozen=True)
class Grouper:
    rules: tuple[tuple[PathPattern, EndpointRule], ...]
    templates: tuple[PathPattern, ...]

    @classmethod
    def build(cls, rules: Sequence[EndpointRule], openapi: Path | None) -> Grouper:
        return cls(
            tuple((PathPattern.parse(rule.pattern), rule) for rule in rules),
            tuple(load_openapi_templates(openapi)) if openapi else (),
        )

    def classify(self, method: str, path: str) -> tuple[str, EndpointRule | None]:
        """The group name and the first endpoint rule (in config order) that matches."""
        for pattern, rule in self.rules:
            if pattern.matches(method, path):
                return rule.name or pattern.group(method), rule
        for template in self.templates:
            if template.matches(method, path):
                return template.group(method), None
        return f"{method} {collapse(path)}", None


def collapse(path: str) -> str:
    """Replace segments that look like identifiers with a placeholder naming their shape."""
    return "/".join(_placeholder(segment) for segment in path.split("/"))


def _placeholder(segment: str) -> str:
    for name, shape in _ID_SEGMENTS:
        if shape.match(segment):
            return name
    return segment


def load_openapi_templates(path: Path) -> Iterable[PathPattern]:
    """Path templates from an OpenAPI 3 / Swagger 2 JSON file, most specific first, with the
    server's base path in front (the spec's paths are relative to it)."""
    if path.suffix.lower() in (".yaml", ".yml"):
        raise OpenApiError(f"{path}: only JSON OpenAPI files are read; convert it to JSON first")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        paths = spec["paths"]
    except FileNotFoundError:
        raise OpenApiError(f"{path}: no such OpenAPI file (ab.openapi)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise OpenApiError(f"{path}: not a readable OpenAPI JSON file with paths: {err}") from None
    servers = spec.get("servers") or [{}]
    base = spec.get("basePath") or urlsplit(str(servers[0].get("url", ""))).path
    base = base.rstrip("/")
    found: list[PathPattern] = []
    for template, item in paths.items():
        methods = [m.upper() for m in item if m in _HTTP_METHODS] or ["GET"]
        found.extend(PathPattern.parse(f"{m} {base}{template}") for m in methods)
    # Literal segments beat placeholders: /users/me must not fall into /users/{id}.
    return sorted(found, key=lambda p: (p.source.count("{"), -len(p.source)))
