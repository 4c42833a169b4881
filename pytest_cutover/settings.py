"""Run settings that come from the command line, the environment or the ini file, in that order.

The report header says which source won, so nobody wonders why a run used step 10.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

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

    default_config = rootdir / "cutover.toml"
    config_default: Setting[Path | None] = (
        Setting(default_config, "rootdir") if default_config.is_file() else Setting(None, "none")
    )
    return Settings(
        config_path=pick("config", _path, config_default),
        step=pick("step", lambda raw, _base: parse_step(raw), Setting(None, "none")),
        reports_dir=pick("reports", _path, Setting(rootdir / "reports", "default")),
    )


def _path(raw: str, base: Path) -> Path:
    return (base / os.path.expanduser(raw)).resolve()
