"""Bring two JSON answers into one canonical shape before diffing, by the endpoint's rules.

Doing this in one walk of our own (instead of deepdiff's exclude_paths and ignore_order) keeps
the paths in the report identical to the ones in cutover.toml, and sidesteps deepdiff's
exclusions that stop applying when a dictionary's keys differ (deepdiff #487, #509).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pytest_cutover.gates.ab.config import ComparisonRules
from pytest_cutover.gates.ab.fields import FieldMatcher, ItemKey, child

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_HTTP_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class JsonRules:
    """ComparisonRules compiled once per endpoint (patterns are regexes, not strings)."""

    ignore: FieldMatcher
    unordered: FieldMatcher
    list_keys: tuple[tuple[FieldMatcher, str], ...]
    normalisers: frozenset[str]
    tolerance: float

    @classmethod
    def compile(cls, rules: ComparisonRules) -> JsonRules:
        return cls(
            ignore=FieldMatcher.compile(rules.ignore),
            unordered=FieldMatcher.compile(rules.unordered, below=False),
            list_keys=tuple(
                (FieldMatcher.compile([pattern], below=False), key)
                for pattern, key in rules.list_keys.items()
            ),
            normalisers=frozenset(rules.normalise),
            tolerance=rules.tolerance,
        )

    @property
    def rewrites(self) -> bool:
        """Whether canonical() can change anything; if not, the walk is skipped entirely."""
        return bool(
            self.ignore or self.unordered or self.list_keys or self.normalisers or self.tolerance
        )

    def canonical(self, value: Any, path: str = "body") -> Any:
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                if item is None and "null_missing" in self.normalisers:
                    continue
                item_path = child(path, key)
                if not self.ignore.matches(item_path):
                    out[key] = self.canonical(item, item_path)
            return out
        if isinstance(value, list):
            return self._list(value, path)
        return self._scalar(value)

    def _list(self, items: list[Any], path: str) -> Any:
        for matcher, key in self.list_keys:
            if matcher.matches(path):
                keyed = _by_key(items, key)
                if keyed is not None:
                    return {
                        name: self.canonical(item, child(path, name))
                        for name, item in keyed.items()
                    }
        kept = [
            self.canonical(item, child(path, index))
            for index, item in enumerate(items)
            if not self.ignore.matches(child(path, index))
        ]
        if self.unordered.matches(path):
            kept.sort(key=lambda item: json.dumps(item, sort_keys=True, default=str))
        return kept

    def _scalar(self, value: Any) -> Any:
        found = self.normalisers
        if isinstance(value, bool):
            return int(value) if "bool_int" in found else value
        if isinstance(value, int | float):
            if self.tolerance:
                return float(value)
            if "numbers" in found and isinstance(value, float) and value.is_integer():
                return int(value) if abs(value) < 2**53 else value
            return value
        if isinstance(value, str):
            if "uuid_case" in found and _UUID.match(value):
                return value.lower()
            if "timestamps" in found:
                return _timestamp(value)
        return value


def _by_key(items: list[Any], key: str) -> dict[ItemKey, Any] | None:
    """Items by their key value, or None when that cannot be done faithfully (an item without
    the key, or two items with the same one): then the list is compared by position."""
    keyed: dict[ItemKey, Any] = {}
    for item in items:
        if not isinstance(item, dict) or key not in item:
            return None
        name = ItemKey(
            f"{key}={json.dumps(item[key]) if not isinstance(item[key], str) else item[key]}"
        )
        if name in keyed:
            return None
        keyed[name] = item
    return keyed


def _timestamp(text: str) -> str:
    """Any ISO 8601 or HTTP-date timestamp as UTC ISO with microseconds; a time without a zone
    is taken as UTC. Strings that are not timestamps come back unchanged."""
    moment: datetime | None = None
    if _ISO_STAMP.match(text):
        try:
            moment = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
        except ValueError:
            moment = None
    elif _HTTP_DATE.match(text):
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
    if moment is None:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
