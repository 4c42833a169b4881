"""The base every cutover.toml section model builds on, shared by config.py and each gate's own
section module (so a gate's config lives beside the gate without importing config.py)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

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


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("expected a path that starts with '/', such as '/api/users'")
    return value


# A path asked of a system's base_url (its prefix and query are the config's own).
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]


class Section(BaseModel):
    """Unknown keys are errors: a typo in a gate's config must never silently weaken the gate.

    Each section declares which of its fields carry credentials: URLs (a password, a secret
    query parameter; a field may hold one URL, a list or a mapping of them) and name-to-value
    mappings (headers, environments), so the redactor learns every secret from the section that
    holds it, and a new section cannot be forgotten. The same declarations say where a `${VAR}`
    is a credential (`credential_kind`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_urls: ClassVar[tuple[str, ...]] = ()
    secret_mappings: ClassVar[tuple[str, ...]] = ()

    def secrets(self) -> set[str]:
        """The secret values this section and the sections inside it hold."""
        found: set[str] = set()
        for name in self.secret_urls:
            for url in _urls(getattr(self, name)):
                found |= url_secrets(url)
        for name in self.secret_mappings:
            mapping: Mapping[str, str] = getattr(self, name)
            found.update(v for k, v in mapping.items() if v and is_sensitive_name(k))
        for inner in _sections(dict(self)):
            found |= inner.secrets()
        return found

    def credential_kind(self, key: Sequence[str | int]) -> Literal["url", "mapping"] | None:
        """What the value at `key` (a path of TOML keys below this section) is, when it sits in
        a field declared to carry credentials: one of its URLs, or a value of its mapping."""
        node: object = self
        for part in key:
            if isinstance(node, Section):
                name = _field_named(type(node), part)
                if name in node.secret_urls:
                    return "url"
                if name in node.secret_mappings:
                    return "mapping"
                node = getattr(node, name) if name else None
            elif isinstance(node, Mapping):
                node = node.get(part)
            elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return None


def _field_named(model: type[Section], key: str | int) -> str | None:
    """The field a TOML key fills, aliases (`for`, `from`) included."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def _urls(value: object) -> list[str]:
    if isinstance(value, Mapping):
        value = list(value.values())
    items = value if isinstance(value, list | tuple) else [value]
    return [url for url in items if isinstance(url, str) and url]


def _sections(value: object) -> Iterator[Section]:
    if isinstance(value, Section):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _sections(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sections(item)
