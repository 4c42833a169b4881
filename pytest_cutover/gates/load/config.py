"""The `[load]` section: what load to generate, for how long, and the budget it must stay in.

The budget is data in the shared threshold language, over the new system's measurements and,
for relative budgets, legacy's (`p95 <= 1.2 * legacy.p95`), measured in the same run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pytest_cutover.section import CommandLine, Duration, Section
from pytest_cutover.thresholds import Threshold, Thresholds, check_names, reads_legacy

STATISTICS = ("rps", "error_rate", "p50", "p90", "p95", "p99", "max", "avg", "requests", "failures")
MEASUREMENTS = (*STATISTICS, "target_rps", *(f"legacy.{name}" for name in STATISTICS))


class LoadConfig(Section):
    locustfile: str | None = None
    # How to start locust; by default the running interpreter's (`python -m locust`). Another
    # virtualenv keeps locust's gevent and its pins out of the one pytest runs in.
    locust_command: CommandLine = []
    profile: Literal["auto", "corpus", "smoke"] = "auto"
    users: int = Field(default=10, ge=1)
    spawn_rate: float = Field(default=10.0, gt=0)
    duration: Duration = 30.0
    rate: float = Field(default=0.0, ge=0)
    scale_with_step: bool = True
    processes: int = Field(default=1, ge=1, le=64)
    timeout: Duration = 10.0
    abort_delay: Duration = 10.0
    # legacy's figures stored by `python -m pytest_cutover.gates.load.baseline FILE`: thresholds
    # on legacy.* read them instead of loading legacy (once it no longer serves the whole load).
    baseline: str | None = None
    thresholds: Thresholds = Field(min_length=1)
    abort_on_fail: Thresholds = []
    endpoint_thresholds: dict[str, Thresholds] = {}

    @field_validator("thresholds", "abort_on_fail")
    @classmethod
    def _thresholds(cls, values: list[Threshold]) -> list[Threshold]:
        check_names(values, MEASUREMENTS)
        return values

    @field_validator("endpoint_thresholds")
    @classmethod
    def _endpoint_thresholds(
        cls, mapping: dict[str, list[Threshold]]
    ) -> dict[str, list[Threshold]]:
        for values in mapping.values():
            check_names(values, MEASUREMENTS)
        return mapping

    @model_validator(mode="after")
    def _rate_needs_generated_profile(self) -> LoadConfig:
        if self.rate and self.locustfile:
            raise ValueError(
                "rate applies to the generated profile; with your own locustfile, pace users "
                "in it (for example wait_time = constant_throughput(N))"
            )
        return self

    @model_validator(mode="after")
    def _legacy_needs_generated_profile(self) -> LoadConfig:
        if self.locustfile and reads_legacy(self.all_thresholds) and not self.baseline:
            raise ValueError(
                "thresholds on legacy.* need the generated profile, whose users send each "
                "request to both systems in one run; a locustfile of your own loads one host "
                "(remove locustfile, or judge new with absolute thresholds)"
            )
        return self

    @property
    def all_thresholds(self) -> list[Threshold]:
        return [
            *self.thresholds,
            *self.abort_on_fail,
            *(t for values in self.endpoint_thresholds.values() for t in values),
        ]
