"""The [resources] section: whose processes to watch, for how long, and what must hold.

Sizes in a threshold (`memory < 200MB`) are turned into megabytes before the shared threshold
language parses it: `memory` and `memory_growth` are measured in MB (10^6 bytes; MiB is 2^20),
`cpu` is a share of one core (`cpu < 50%`: half a core on average over the window).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from pytest_cutover.section import Duration, Section
from pytest_cutover.thresholds import LEGACY_PREFIX, Thresholds, check_names, reads_legacy

# memory: the peak RSS in the window; memory_avg its mean; memory_growth: the least-squares
# slope of RSS over the window, in MB per hour (a leak); cpu: the mean share of one core over
# the window; cpu_max: the busiest interval's.
MEASUREMENTS = ("memory", "memory_avg", "memory_growth", "cpu", "cpu_max")
_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[KMG]i?B|B)\b", re.I)


def _megabytes(match: re.Match[str]) -> str:
    return f"{float(match['number']) * _BYTES[match['unit'].lower()] / 1e6:g}"


def _sizes(value: object) -> object:
    """`memory < 200MB` -> `memory < 200`, in every threshold given as text."""
    if isinstance(value, str):
        return _SIZE.sub(_megabytes, value)
    if isinstance(value, list):
        return [_sizes(item) for item in value]
    return value


class Processes(Section):
    """Which processes are a system: `pids`, the processes of a `cgroup` directory (v1 or
    v2, such as a systemd service's), or by default the one listening on its base_url's port
    (on this machine: a system the plugin started, or one running beside the gate); each
    with its children."""

    pids: list[int] = Field(default_factory=list)
    cgroup: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)


class ResourcesConfig(Section):
    duration: Duration = 30.0
    interval: Duration = 1.0
    thresholds: Annotated[Thresholds, BeforeValidator(_sizes)] = Field(min_length=1)
    new: Processes = Processes()
    legacy: Processes = Processes()

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: Thresholds) -> Thresholds:
        check_names(value, [*MEASUREMENTS, *(LEGACY_PREFIX + name for name in MEASUREMENTS)])
        return value

    @model_validator(mode="after")
    def _samples(self) -> ResourcesConfig:
        if self.interval <= 0 or self.duration < 2 * self.interval:
            raise ValueError("expected a duration of at least two intervals (3 samples or more)")
        return self

    @property
    def reads_legacy(self) -> bool:
        return reads_legacy(self.thresholds)
