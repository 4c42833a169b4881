"""Filling `{step}`, `{reason}`, `{percent}` and friends into helper commands, URLs and bodies.

A reason is text the gate made from what the systems answered, so it is treated as hostile: it
is redacted first (a secret never reaches a helper or a chat channel), stripped of control
characters, cut short, and then quoted for where it lands. A command argument is passed to the
program as one argument, never through a shell; a leading '-' is dropped so a reason can never
read as an option. Inside the script of `sh -c` / `bash -c` it is shell-quoted. In a JSON body
it is a JSON string's content, in a URL it is percent-encoded.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import PurePath
from typing import Literal
from urllib.parse import quote

MAX_REASON = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})

Quoting = Literal["argument", "shell", "json", "url", "text"]


def clean(text: str, limit: int = MAX_REASON) -> str:
    """One line of plain text, at most `limit` characters."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def fill(template: str, values: Mapping[str, str], quoting: Quoting) -> str:
    """Replace each `{name}` whose name is in `values` (others stay as written: JSON braces)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return _quoted(values[name], quoting)

    return _PLACEHOLDER.sub(replace, template)


def fill_command(argv: list[str], values: Mapping[str, str]) -> list[str]:
    """Each argument filled; the script of `sh -c SCRIPT` gets shell-quoted values."""
    shell = bool(argv) and PurePath(argv[0]).name in _SHELLS
    filled: list[str] = []
    for index, argument in enumerate(argv):
        script = shell and index > 0 and argv[index - 1] == "-c"
        filled.append(fill(argument, values, "shell" if script else "argument"))
    return filled


def body_quoting(body: str, headers: Mapping[str, str]) -> Quoting:
    """JSON escaping for a JSON body (by its Content-Type, or its first character)."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type.lower() or body.lstrip()[:1] in ("{", "["):
        return "json"
    return "text"


def step_text(step: float | None) -> str:
    return "none" if step is None else f"{step:g}"


def _quoted(value: str, quoting: Quoting) -> str:
    if quoting == "argument":
        return value.lstrip("-")
    if quoting == "shell":
        return shlex.quote(value)
    if quoting == "json":
        return json.dumps(value)[1:-1]
    if quoting == "url":
        return quote(value, safe="")
    return value
