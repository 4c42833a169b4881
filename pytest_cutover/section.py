"""The base every cutover.toml section model builds on, shared by config.py and each gate's own
section module (so a gate's config lives beside the gate without importing config.py)."""

from __future__ import annotations

import shlex
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from pytest_cutover.units import parse_duration

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
    """Unknown keys are errors: a typo in a gate's config must never silently weaken the gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
