"""The base every cutover.toml section model builds on, shared by config.py and each gate's own
section module (so a gate's config lives beside the gate without importing config.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from pytest_cutover.units import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]


class Section(BaseModel):
    """Unknown keys are errors: a typo in a gate's config must never silently weaken the gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
