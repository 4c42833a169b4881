"""The base every cutover.toml section model builds on, shared by config.py and each gate's own
section module (so a gate's config lives beside the gate without importing config.py)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from pytest_cutover.redact import is_sensitive_name, url_secrets
from pytest_cutover.units import parse_duration

SystemName = Literal["legacy", "new"]
SYSTEM_NAMES: tuple[SystemName, SystemName] = ("legacy", "new")
# Methods that cannot change data: the only ones a gate sends unless a request is marked safe.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Duration = Annotated[float, BeforeValidator(parse_duration)]


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _shell_words(value: object) -> object:
    return shlex.split(value) if isinstance(value, str) else value


# `key = "x"` and `key = ["x", "y"]` alike: one threshold or key column is the common case.
StrList = Annotated[list[str], BeforeValidator(_one_or_many)]
# A command as a list of arguments, or one string split the way a shell would split it.
CommandLine = Annotated[list[str], BeforeValidator(_shell_words)]


class Section(BaseModel):
    """Unknown keys are errors: a typo in a gate's config must never silently weaken the gate.

    Each section declares which of its fields carry credentials: URLs (a password, a secret
    query parameter) and name-to-value mappings (headers, environments), so the redactor learns
    every secret from the section that holds it, and a new section cannot be forgotten.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_urls: ClassVar[tuple[str, ...]] = ()
    secret_mappings: ClassVar[tuple[str, ...]] = ()

    def secrets(self) -> set[str]:
        """The secret values this section and the sections inside it hold."""
        found: set[str] = set()
        for name in self.secret_urls:
            value = getattr(self, name)
            urls = value.values() if isinstance(value, Mapping) else [value]
            found.update(secret for url in urls if url for secret in url_secrets(url))
        for name in self.secret_mappings:
            mapping: Mapping[str, str] = getattr(self, name)
            found.update(v for k, v in mapping.items() if v and is_sensitive_name(k))
        for inner in _sections(dict(self)):
            found |= inner.secrets()
        return found


def _sections(value: object) -> Iterator[Section]:
    if isinstance(value, Section):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _sections(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sections(item)
