"""Run settings that come from the command line, the environment or the ini file, in that order.

One resolver and one option builder serve the plugin and the `cutover` command, so both always
agree on the config file and the reports folder (a `cutover status` that read another audit log
than the gate wrote would be worse than none). The report header says which source won, so nobody
wonders why a run used step 10.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pytest_cutover.units import parse_duration

CONFIG_FILENAME = "cutover.toml"

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    value: T
    source: str


@dataclass(frozen=True)
class Settings:
    config_path: Setting[Path | None]
    step: Setting[float | None]
    reports_dir: Setting[Path]


def parse_step(text: str) -> float:
    """A traffic step in percent, 0 to 100: "50", "12.5" or "50%"."""
    try:
        value = float(str(text).strip().removesuffix("%"))
    except ValueError:
        raise ValueError(
            f"expected a traffic step in percent from 0 to 100, got {text!r}"
        ) from None
    if math.isnan(value) or not 0 <= value <= 100:
        raise ValueError(f"expected a traffic step in percent from 0 to 100, got {text!r}")
    return value


@dataclass(frozen=True)
class _Named:
    """What every option derives from its name: its environment variable and ini key."""

    name: str

    @property
    def env(self) -> str:
        return f"CUTOVER_{self.name.upper()}"

    @property
    def ini(self) -> str:
        return f"cutover_{self.name}"


@dataclass(frozen=True)
class OptionSpec(_Named):
    metavar: str
    help: str


OPTIONS = (
    OptionSpec(
        "config",
        "PATH",
        "the cutover.toml to use (default: the nearest cutover.toml from the current directory "
        "upward, then the rootdir's)",
    ),
    OptionSpec(
        "step", "PERCENT", "the traffic step, 0-100, this gate run decides on (such as 10 or 50)"
    ),
    OptionSpec(
        "reports",
        "DIR",
        "where decision.json, the audit log and system logs go (default: reports/ beside "
        "cutover.toml)",
    ),
)


@dataclass(frozen=True)
class RunOptionSpec(_Named):
    """A gate run's switch (pytest only): an option, an environment variable and an ini key,
    with the same precedence as the settings."""

    metavar: str | None
    help: str

    @property
    def flag(self) -> str:
        return f"--cutover-{self.name.replace('_', '-')}"

    @property
    def is_switch(self) -> bool:
        return self.metavar is None


RUN_OPTIONS = (
    RunOptionSpec(
        "monitor",
        "DURATION",
        "monitor mode: keep running the smoke checks and metrics rules for this long (such as "
        "5m) and fail as soon as one breaks",
    ),
    RunOptionSpec(
        "interval",
        "DURATION",
        "monitor mode: time between rounds (default: [metrics] interval, 15s)",
    ),
    RunOptionSpec(
        "dry_run",
        None,
        "show (and audit) what the decision would do to traffic, and change nothing",
    ),
    RunOptionSpec(
        "promote",
        None,
        "on GO of a complete gate run, shift the new system's traffic to the --cutover-step "
        "weight (needs a [traffic] driver)",
    ),
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def parse_switch(text: str) -> bool:
    """An on/off setting from the environment or an ini file: 1/true/yes/on or 0/false/no/off."""
    found = text.strip().lower()
    if found in _TRUE:
        return True
    if found in _FALSE:
        return False
    raise ValueError(
        f"expected one of {', '.join(_TRUE)} or {', '.join(_FALSE[:-1])}, got {text!r}"
    )


def parse_positive_duration(text: str) -> float:
    """A duration above zero: "5m", "30s", "250ms"."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"expected a duration above zero, got {text!r}")
    return seconds


def resolve_run_option(
    spec: RunOptionSpec,
    given: object,
    ini: str | None,
    environ: Mapping[str, str],
    parse: Callable[[str], T],
) -> Setting[T | None]:
    """The option if given on the command line, then the environment, then the ini key. A
    ValueError names the source that held the bad value."""
    if given is not None:
        return Setting(given, spec.flag)  # type: ignore[arg-type]  # parsed by the option's type
    for source, raw in ((spec.env, environ.get(spec.env)), (f"ini {spec.ini}", ini)):
        if raw is not None and raw.strip():
            try:
                return Setting(parse(raw), source)
            except ValueError as err:
                raise ValueError(f"{source}: {err}") from None
    return Setting(None, "default")


def with_sources(spec: RunOptionSpec | OptionSpec) -> str:
    return f"{spec.help} [env {spec.env}, ini {spec.ini}]"


def add_setting_options(
    add: Callable[..., Any],
    prefix: str,
    names: tuple[str, ...] = ("config", "step", "reports"),
    types: Mapping[str, Callable[[str], Any]] | None = None,
    *,
    ini: bool = True,
) -> None:
    """Register the settings as options: `--cutover-config` for pytest, `--config` for the CLI
    (which reads no ini file). resolve_settings then applies the precedence and says which
    source won."""
    for spec in OPTIONS:
        if spec.name in names:
            add(
                f"--{prefix}{spec.name}",
                dest=f"cutover_{spec.name}",
                metavar=spec.metavar,
                default=None,
                type=(types or {}).get(spec.name),
                help=with_sources(spec) if ini else f"{spec.help} [env {spec.env}]",
            )


def find_config(start: Path) -> Path | None:
    """The nearest cutover.toml in `start` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def parse_steps(text: str) -> list[float]:
    """ "10,50,100": rising weights above 0, each 0-100."""
    steps = [parse_step(part) for part in text.split(",") if part.strip()]
    if not steps or any(s <= 0 for s in steps) or steps != sorted(set(steps)):
        raise ValueError(f"expected rising steps above 0 such as '10,50,100', got {text!r}")
    return steps


def resolve_settings(
    *,
    option: Mapping[str, str | None],
    ini: Mapping[str, str | None],
    environ: Mapping[str, str],
    rootdir: Path,
    invocation_dir: Path,
) -> Settings:
    """Apply the precedence: command line, then environment, then ini, then the default.

    Paths on the command line or in the environment are relative to where pytest was started;
    paths in the ini file are relative to the rootdir, like pytest's own ini paths.
    """

    def pick(name: str, parse: Callable[[str, Path], T], default: Setting[T]) -> Setting[T]:
        env = f"CUTOVER_{name.upper()}"
        sources = (
            (f"--cutover-{name}", option.get(name), invocation_dir),
            (env, environ.get(env), invocation_dir),
            (f"ini cutover_{name}", ini.get(name), rootdir),
        )
        for source, raw, base in sources:
            if raw:
                try:
                    return Setting(parse(raw, base), source)
                except ValueError as err:
                    raise ValueError(f"{source}: {err}") from None
        return default

    found = find_config(invocation_dir)
    if found is not None:
        config_default: Setting[Path | None] = Setting(found.resolve(), "found")
    elif (rootdir / CONFIG_FILENAME).is_file():
        config_default = Setting((rootdir / CONFIG_FILENAME).resolve(), "rootdir")
    else:
        config_default = Setting(None, "none")
    config_path = pick("config", _path, config_default)
    home = config_path.value.parent if config_path.value is not None else rootdir
    return Settings(
        config_path=config_path,
        step=pick("step", lambda raw, _base: parse_step(raw), Setting(None, "none")),
        reports_dir=pick("reports", _path, Setting(home / "reports", "default")),
    )


def _path(raw: str, base: Path) -> Path:
    return (base / os.path.expanduser(raw)).resolve()
