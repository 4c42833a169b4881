"""Field paths as people write them: `status`, `headers.etag`, `body.items[id=42].email`.

One syntax serves the config (ignore, list_keys, accept) and the report, so a path copied from a
report into cutover.toml means exactly what the report showed. Statistics use the collapsed form
(`body.items[*].email`), which is the same field across all requests of an endpoint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_BRACKET = re.compile(r"\[(?:[0-9]+|[^\]\"=]+=[^\]]*)\]")


class ItemKey(str):
    """The key of a list item matched by a field (list_keys): rendered as `[id=42]`."""

    __slots__ = ()


def child(path: str, key: object) -> str:
    if isinstance(key, ItemKey):
        return f"{path}[{key}]"
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    return f"{path}.{text}" if _PLAIN_KEY.match(text) else f"{path}[{json.dumps(text)}]"


def render(parts: Iterable[object], root: str = "body") -> str:
    path = root
    for part in parts:
        path = child(path, part)
    return path


def collapse(path: str) -> str:
    """`body.items[3].tags[0]` -> `body.items[*].tags[*]`; `[id=42]` -> `[id=*]`."""
    return _BRACKET.sub(_star, path)


def _star(match: re.Match[str]) -> str:
    inner = match.group()[1:-1]
    return f"[{inner.partition('=')[0]}=*]" if "=" in inner else "[*]"


@dataclass(frozen=True)
class FieldMatcher:
    """Matches concrete paths against exact, glob (`*`, `**`, `[*]`) or `re:` patterns; with
    `below`, a match on a path also covers everything under it (what ignoring a field means)."""

    patterns: tuple[str, ...]
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, patterns: Sequence[str], below: bool = True) -> FieldMatcher:
        if not patterns:
            return cls((), None)
        end = r"(?:$|[.\[])" if below else "$"
        alternatives = [_pattern_regex(p) + ("" if p.startswith("re:") else end) for p in patterns]
        return cls(tuple(patterns), re.compile("|".join(f"(?:{a})" for a in alternatives)))

    def matches(self, path: str) -> bool:
        return self.regex is not None and self.regex.match(path) is not None

    def __bool__(self) -> bool:
        return self.regex is not None


def _pattern_regex(pattern: str) -> str:
    if pattern.startswith("re:"):
        return f".*?(?:{pattern[3:]})"
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("[*]", index):
            out.append(r"\[[^\]]*\]")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append(r"[^.\[]*")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)
