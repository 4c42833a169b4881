"""cutover.toml: find it, read it, fill in `${VAR}`s, validate it, and explain every mistake.

A gate that runs on a wrong config is worse than no gate, so every mistake stops the run with the
file, the key path, the value and what was expected. Each gate owns one section model; adding a
gate's section is one field on `CutoverConfig`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jsonschema
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from pytest_cutover.actions.config import ActionsConfig, TrafficConfig
from pytest_cutover.corpus import CorpusError, corpus_secrets, load_corpus
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.integrity.config import IntegrityConfig
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.gates.security.config import SecurityConfig
from pytest_cutover.gates.smoke.config import SmokeConfig
from pytest_cutover.output import Output
from pytest_cutover.redact import (
    Redactor,
    credential_spans,
    is_sensitive_name,
)
from pytest_cutover.section import SYSTEM_NAMES, CommandLine, Duration, Section
from pytest_cutover.settings import CONFIG_FILENAME


class ConfigError(Exception):
    """A user mistake in cutover.toml: shown as a usage error, never as a traceback."""


def _path_or_off(value: object) -> object:
    """`readiness = false` says in so many words that a probe is off; no path is the same."""
    return None if value is False else value


ProbePath = Annotated[str | None, BeforeValidator(_path_or_off)]


class HealthPaths(Section):
    """The health probes a system or service has. Only a declared path is probed: a service
    without a readiness endpoint must not be judged on one it never had."""

    health: ProbePath = None
    readiness: ProbePath = None
    liveness: ProbePath = None

    @field_validator("health", "readiness", "liveness")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("expected a path that starts with '/', such as '/health', or false")
        return value

    def declared(self) -> dict[str, str]:
        """Probe name to path, for the probes this system or service declares."""
        paths = {"health": self.health, "readiness": self.readiness, "liveness": self.liveness}
        return {probe: path for probe, path in paths.items() if path is not None}

    def ready_path(self) -> str | None:
        """What a started system is waited on when its [start] names no `ready` path."""
        return self.readiness or self.health


class StartSpec(Section):
    """How the plugin starts a system itself (the embedded demo, or a local build under test)."""

    command: CommandLine = Field(min_length=1)
    ready: str | None = None
    timeout: Duration = 30.0
    env: dict[str, str] = {}
    cwd: str | None = None

    secret_mappings = ("env",)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL such as 'http://127.0.0.1:8000'")
    return value.rstrip("/")


_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ServiceConfig(Section):
    """One HTTP service of a system that runs several (an API on :3001, auth on :3002...).
    Headers add to the system's; timeouts and TLS checking are the system's."""

    secret_urls = ("base_url",)
    secret_mappings = ("headers",)

    base_url: str
    headers: dict[str, str] = {}
    health: HealthPaths = HealthPaths()
    start: StartSpec | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _port_placeholder_needs_start(self) -> ServiceConfig:
        if "{port}" in self.base_url and self.start is None:
            raise ValueError("'{port}' in base_url is only filled in for a service with [start]")
        return self


class SystemConfig(Section):
    """One side of the cutover. Without `base_url` (and without services) it is a database
    only: the gates that speak HTTP read "not configured" for it instead of probing anything."""

    secret_urls = ("base_url", "database")
    secret_mappings = ("headers",)

    base_url: str | None = None
    database: str | None = None
    headers: dict[str, str] = {}
    timeout: Duration = 10.0
    connect_timeout: Duration = 5.0
    verify_tls: bool = True
    health: HealthPaths = HealthPaths()
    start: StartSpec | None = None
    services: dict[str, ServiceConfig] = {}

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not _SERVICE_NAME.match(name):
                raise ValueError(
                    f"service name {name!r}: expected letters, digits, '_', '-' or '.', "
                    f"such as 'auth' or 'api-v2'"
                )
        return value

    @model_validator(mode="after")
    def _port_placeholder_needs_start(self) -> SystemConfig:
        if self.base_url is None:
            if self.start is not None:
                raise ValueError(
                    "[start] needs a base_url: it is how the plugin knows the system is serving "
                    "(a service's own [start] goes in [systems.NAME.services.SERVICE.start])"
                )
            if self.health.declared():
                raise ValueError("health paths need a base_url to probe them on")
            return self
        if "{port}" in self.base_url and self.start is None:
            raise ValueError("'{port}' in base_url is only filled in for a system with [start]")
        return self

    @property
    def serves_http(self) -> bool:
        """Whether the gates that speak HTTP have anything to speak to on this system."""
        return self.base_url is not None or bool(self.services)

    def reaches(self, service: str | None) -> bool:
        """Whether a check on `service` (None: the base_url) has something to ask here."""
        return service in self.services if service else self.base_url is not None

    def service(self, name: str) -> SystemConfig:
        """The service as a system of its own: its URL, health and start, the system's headers
        (its own added), timeouts and TLS setting, and no database."""
        service = self.services[name]
        return SystemConfig(
            base_url=service.base_url,
            headers={**self.headers, **service.headers},
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            verify_tls=self.verify_tls,
            health=service.health,
            start=service.start,
        )


class Systems(Section):
    legacy: SystemConfig
    new: SystemConfig


class CutoverConfig(Section):
    systems: Systems
    smoke: SmokeConfig = SmokeConfig()
    ab: AbConfig = AbConfig()
    integrity: IntegrityConfig = IntegrityConfig()
    load: LoadConfig | None = None
    metrics: MetricsConfig = MetricsConfig()
    security: SecurityConfig | None = None
    traffic: TrafficConfig | None = None
    actions: ActionsConfig | None = None

    _path: Path = PrivateAttr(default=Path(CONFIG_FILENAME))
    _redactor: Redactor = PrivateAttr(default_factory=Redactor)
    _corpus_read: bool = PrivateAttr(default=False)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (start cwd, SQLite files, schemas) are relative to this."""
        return self._path.parent

    @property
    def redactor(self) -> Redactor:
        """Every secret of the config and of the A/B corpus. The corpus is read on first use,
        so its secrets are known before anything of a replay or a load run can be written, in
        every process (an xdist controller never replays, yet writes the decision)."""
        if not self._corpus_read:
            self._corpus_read = True
            self._redactor.add(self._corpus_secrets())
        return self._redactor

    @property
    def output(self) -> Output:
        """The one way this run writes and prints (pytest_cutover.output)."""
        return Output(self.redactor)

    def _corpus_secrets(self) -> set[str]:
        if self.ab.corpus is None:
            return set()
        try:
            corpus = load_corpus(self.base_dir / self.ab.corpus, self.ab.format)
        except CorpusError:  # the A/B gate says why, as its own result
            return set()
        return corpus_secrets(corpus.requests)

    def system(self, name: str) -> SystemConfig:
        config: SystemConfig = getattr(self.systems, name)
        return config

    def describe_systems(self) -> dict[str, dict[str, Any]]:
        """What reports say about the systems: URLs and headers, with every secret masked."""
        described: dict[str, dict[str, Any]] = {}
        for name in SYSTEM_NAMES:
            system = self.system(name)
            described[name] = {
                "base_url": self.redactor.text(system.base_url) if system.base_url else None,
                "database": self.redactor.text(system.database) if system.database else None,
                "headers": self.redactor.value(system.headers),
                "started_by_plugin": system.start is not None,
            }
            if system.services:
                described[name]["services"] = {
                    service: {
                        "base_url": self.redactor.text(config.base_url),
                        "headers": self.redactor.value(config.headers),
                        "started_by_plugin": config.start is not None,
                    }
                    for service, config in system.services.items()
                }
        return described


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> CutoverConfig:
    """Read and validate; every failure is a ConfigError that names the file and the key."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (from --cutover-config, CUTOVER_CONFIG or the "
            f"ini key cutover_config)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    filled: list[Filled] = []
    data = _interpolate(raw, (), environ, filled, path)
    try:
        config = CutoverConfig.model_validate(data)
    except ValidationError as err:
        lines = [_explain(error) for error in err.errors(include_url=False)]
        # Which part of a broken config is a credential cannot be known before it validates:
        # an error about it shows no value that came from the environment.
        shown = Redactor(value for f in filled for value in f.values())
        shown.add(f.text for f in filled if f.marked)
        message = f"{path}: invalid configuration:\n  " + "\n  ".join(lines)
        raise ConfigError(shown.text(message)) from None
    config._path = path.resolve()
    config._redactor = Redactor(config.secrets() | _filled_secrets(config, filled))
    _check_schemas(config)
    _check_services(config)
    return config


def _check_services(config: CutoverConfig) -> None:
    """A check names a service each system it asks must have, or asks a base_url each one has.
    A database-only system is simply not asked."""
    targets = [
        (f"smoke.endpoints[{index}]", endpoint.service, endpoint.systems)
        for index, endpoint in enumerate(config.smoke.endpoints)
    ]
    if config.security is not None:
        counts: dict[str, int] = {}
        for kind, probe in config.security.probes():
            index = counts[kind] = counts.get(kind, -1) + 1
            targets.append((f"security.{kind}[{index}]", probe.service, list(SYSTEM_NAMES)))
    for key, service, systems in targets:
        for name in systems:
            system = config.system(name)
            if not system.serves_http or system.reaches(service):
                continue
            has = ", ".join(system.services) or "none"
            if service is None:
                problem = f"no service given, and systems.{name} has no base_url"
            else:
                problem = f"service = {service!r}: systems.{name} has no such service"
            raise ConfigError(f"{config.path}: {key}: {problem} (its services: {has})")


def _check_schemas(config: CutoverConfig) -> None:
    """A schema file is part of the config: a missing or broken one is a config mistake, found
    now rather than as a traceback while tests are collected."""
    for index, endpoint in enumerate(config.smoke.endpoints):
        schema = endpoint.json_schema
        key = f"{config.path}: smoke.endpoints[{index}].json_schema = {schema!r}"
        if isinstance(schema, str):
            try:
                schema = json.loads((config.base_dir / schema).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"{key}: no such file (relative to {config.base_dir})") from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ConfigError(f"{key}: not a readable JSON file: {err}") from None
        if schema is None:
            continue
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as err:
            raise ConfigError(f"{key}: not a valid JSON Schema: {err.message}") from None


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_MARKED = frozenset({"value", "secret"})


@dataclass(frozen=True)
class Filled:
    """A string of cutover.toml after `${VAR}`s were filled in: where each value landed, whether
    its name says it is secret, and whether the config marks the whole value `secret = true`."""

    key: tuple[str | int, ...]
    text: str
    spans: tuple[tuple[int, int], ...]
    named: tuple[str, ...] = ()
    marked: bool = False

    def values(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


def _interpolate(
    value: Any,
    key: tuple[str | int, ...],
    environ: Mapping[str, str],
    filled: list[Filled],
    path: Path,
) -> Any:
    """Fill `${VAR}` and `${VAR:-default}` in every string; `$$` is a literal dollar. A value
    written `{ value = "...", secret = true }` is that string, marked secret wherever it is."""
    if isinstance(value, dict) and set(value) == _MARKED and isinstance(value["secret"], bool):
        if not isinstance(value["value"], str):
            raise ConfigError(
                f"{path}: {_dotted(key)}.value: `secret = true` marks a string value, "
                f"got {type(value['value']).__name__}"
            )
        before = len(filled)
        text = _interpolate(value["value"], key, environ, filled, path)
        if value["secret"]:
            inner = filled[before:]
            del filled[before:]
            first = inner[0] if inner else Filled(key, text, ())
            filled.append(Filled(key, text, first.spans, first.named, marked=True))
        return text
    if isinstance(value, dict):
        return {k: _interpolate(v, (*key, k), environ, filled, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*key, i), environ, filled, path) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    named: list[str] = []
    length = done = 0
    for match in _VARIABLE.finditer(value):
        literal = value[done : match.start()]
        parts.append(literal)
        length += len(literal)
        done = match.end()
        if match.group() == "$$":
            parts.append("$")
            length += 1
            continue
        name, default = match["name"], match["default"]
        found = environ.get(name)
        if found is None and default is None:
            raise ConfigError(
                f"{path}: {_dotted(key)} = {value!r}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
        result = found if found is not None else default
        parts.append(result)
        spans.append((length, length + len(result)))
        length += len(result)
        if is_sensitive_name(name) and result:
            named.append(result)
    parts.append(value[done:])
    text = "".join(parts)
    if spans:
        filled.append(Filled(key, text, tuple(spans), tuple(named)))
    return text


def _filled_secrets(config: CutoverConfig, filled: list[Filled]) -> set[str]:
    """The `${VAR}` values that are secrets: in a credential position (a header or environment
    value, a URL's password or query value), named like a secret (`${DB_PASSWORD}` anywhere),
    or marked `secret = true` (the whole value). A `${VAR}` in a host name or a path is not."""
    found: set[str] = set()
    for item in filled:
        found.update(item.named)
        kind = "marked" if item.marked else config.credential_kind(item.key)
        if kind in ("marked", "mapping"):
            found.update([item.text, *item.values()])
        elif kind == "url":
            for start, end in credential_spans(item.text):
                inside = [(s, e) for s, e in item.spans if s < end and start < e]
                if inside:
                    found.add(item.text[start:end])
                    found.update(item.text[max(s, start) : min(e, end)] for s, e in inside)
    return found


def _dotted(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(top level)"


def _explain(error: Mapping[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
    key = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"{key}: unknown key (expected one of: {', '.join(allowed)}){did_you_mean}"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    if isinstance(shown, str) and is_sensitive_name(str(loc[-1]) if loc else ""):
        shown = "***"
    return f"{key} = {shown!r}: {message}"


def _is_union_tag(part: str | int) -> bool:
    # pydantic names the branch of a union it tried (e.g. "list[int]"); the user never wrote it.
    return isinstance(part, str) and (
        "[" in part or part in {"str", "int", "dict", "function-before"}
    )


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = CutoverConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        inner = _model_in(annotation)
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
