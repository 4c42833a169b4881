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
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from pytest_cutover.actions.config import ActionsConfig, TrafficConfig, action_secrets
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.integrity.config import IntegrityConfig
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.metrics.config import MetricsConfig
from pytest_cutover.gates.smoke.config import SmokeConfig
from pytest_cutover.redact import (
    Redactor,
    is_sensitive_name,
    redact_headers,
    redact_url,
)
from pytest_cutover.section import SYSTEM_NAMES, CommandLine, Duration, Section
from pytest_cutover.settings import CONFIG_FILENAME


class ConfigError(Exception):
    """A user mistake in cutover.toml: shown as a usage error, never as a traceback."""


class HealthPaths(Section):
    health: str = "/health"
    readiness: str = "/health/readiness"
    liveness: str = "/health/liveness"


class StartSpec(Section):
    """How the plugin starts a system itself (the embedded demo, or a local build under test)."""

    command: CommandLine = Field(min_length=1)
    ready: str | None = None
    timeout: Duration = 30.0
    env: dict[str, str] = {}
    cwd: str | None = None

    secret_mappings = ("env",)


class SystemConfig(Section):
    secret_urls = ("base_url", "database")
    secret_mappings = ("headers",)

    base_url: str
    database: str | None = None
    headers: dict[str, str] = {}
    timeout: Duration = 10.0
    connect_timeout: Duration = 5.0
    verify_tls: bool = True
    health: HealthPaths = HealthPaths()
    start: StartSpec | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL such as 'http://127.0.0.1:8000'")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _port_placeholder_needs_start(self) -> SystemConfig:
        if "{port}" in self.base_url and self.start is None:
            raise ValueError("'{port}' in base_url is only filled in for a system with [start]")
        return self


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
    traffic: TrafficConfig | None = None
    actions: ActionsConfig | None = None

    _path: Path = PrivateAttr(default=Path(CONFIG_FILENAME))
    _redactor: Redactor = PrivateAttr(default_factory=Redactor)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (start cwd, SQLite files, schemas) are relative to this."""
        return self._path.parent

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def secrets(self) -> set[str]:
        return super().secrets() | action_secrets(self.traffic, self.actions)

    def system(self, name: str) -> SystemConfig:
        config: SystemConfig = getattr(self.systems, name)
        return config

    def describe_systems(self) -> dict[str, dict[str, Any]]:
        """What reports say about the systems: URLs and headers, with every secret masked."""
        described: dict[str, dict[str, Any]] = {}
        for name in SYSTEM_NAMES:
            system = self.system(name)
            described[name] = {
                "base_url": redact_url(system.base_url),
                "database": redact_url(system.database) if system.database else None,
                "headers": redact_headers(system.headers),
                "started_by_plugin": system.start is not None,
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
    secrets: set[str] = set()
    data = _interpolate(raw, (), environ, secrets, path)
    try:
        config = CutoverConfig.model_validate(data)
    except ValidationError as err:
        lines = [_explain(error) for error in err.errors(include_url=False)]
        raise ConfigError(f"{path}: invalid configuration:\n  " + "\n  ".join(lines)) from None
    config._path = path.resolve()
    config._redactor = Redactor(secrets | config.secrets())
    _check_schemas(config)
    return config


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


def _interpolate(
    value: Any,
    key: tuple[str | int, ...],
    environ: Mapping[str, str],
    secrets: set[str],
    path: Path,
) -> Any:
    """Fill `${VAR}` and `${VAR:-default}` in every string; `$$` is a literal dollar."""
    if isinstance(value, dict):
        return {k: _interpolate(v, (*key, k), environ, secrets, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*key, i), environ, secrets, path) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        name, default = match["name"], match["default"]
        found = environ.get(name)
        if found is None and default is None:
            raise ConfigError(
                f"{path}: {_dotted(key)} = {value!r}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
        result = found if found is not None else default
        if is_sensitive_name(name) and result:
            secrets.add(result)
        return result

    return _VARIABLE.sub(substitute, value)


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
