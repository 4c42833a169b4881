"""Compare two answers field by field: status, chosen headers, and the body by its kind.

The output is a list of differing field paths with both values, so that counting (real versus
noise), accepting and reporting all work on the same small records.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from deepdiff import DeepDiff

from pytest_cutover.gates.ab.answer import Answer, Body
from pytest_cutover.gates.ab.config import ComparisonRules
from pytest_cutover.gates.ab.fields import FieldMatcher, collapse, render
from pytest_cutover.gates.ab.local import Local
from pytest_cutover.gates.ab.normalise import JsonRules

# With compare_headers = ["*"], these still vary per answer by nature and are left out.
VOLATILE_HEADERS = frozenset(
    {
        "date",
        "server",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "via",
        "age",
        "x-request-id",
        "x-trace-id",
        "traceparent",
    }
)
_TEXT_DIFF_LINES = 40
_TEXT_DIFF_WINDOW = 400
# Enough to name every field that differs in any real answer; beyond, a body that differs
# everywhere would cost time and report space for nothing new.
_MAX_DIFFS = 5000
LARGE = (
    "larger than max_body: compared by length and SHA-256 of the whole body, streamed; "
    "raise max_body to compare it field by field"
)


@dataclass(frozen=True)
class FieldDiff:
    """One differing field: its concrete path, its collapsed name for counting, both values
    (None with `absent` naming the side that lacks the field), and a text diff for text bodies."""

    path: str
    legacy: Any
    new: Any
    absent: str | None = None
    detail: str | None = None

    @property
    def field(self) -> str:
        return collapse(self.path)

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"path": self.path, "legacy": self.legacy, "new": self.new}
        if self.absent:
            shown["absent_in"] = self.absent
        if self.detail:
            shown["diff"] = self.detail
        return shown


@dataclass(frozen=True)
class Comparison:
    diffs: tuple[FieldDiff, ...]
    critical: str | None = None


class Comparer:
    """The rules of one endpoint, compiled once and applied to each of its answer pairs."""

    def __init__(self, rules: ComparisonRules) -> None:
        self.json_rules = JsonRules.compile(rules)
        self.ignore = FieldMatcher.compile(rules.ignore)
        self.all_headers = "*" in rules.compare_headers
        self.headers = tuple(h for h in rules.compare_headers if h != "*")
        self.ignore_headers = frozenset(rules.ignore_headers)
        self.placeholders = rules.placeholders
        self._legacy: _View | None = None

    def compare(self, legacy: Answer, new: Answer) -> Comparison:
        """`legacy` must have answered; a missing new answer is itself the finding."""
        diffs: list[FieldDiff] = []
        if legacy.status != new.status:
            diffs.append(FieldDiff("status", legacy.status, new.status))
        if new.status is None:
            problem = f"new gave no answer ({new.error}); legacy answered {legacy.status}"
            return Comparison(tuple(self._kept(diffs)), problem)
        critical = None
        if new.status >= 500 and legacy.status is not None and legacy.status < 500:
            critical = f"new answered {new.status} where legacy answered {legacy.status}"
        old_view, new_view = self._view(legacy), _View(new, self.placeholders)
        diffs.extend(self._headers(old_view.headers, new_view.headers))
        # An error body against a success body says nothing the status does not already say.
        if legacy.status == new.status and legacy.content != new.content:
            diffs.extend(self._body(old_view.body, new_view.body))
        return Comparison(tuple(self._kept(diffs)), critical)

    def _view(self, legacy: Answer) -> _View:
        """Legacy's answer is compared twice in a row (with new, then with its noise sample):
        its rewritten headers and body are made once."""
        if self._legacy is None or self._legacy.answer is not legacy:
            self._legacy = _View(legacy, self.placeholders)
        return self._legacy

    def _kept(self, diffs: list[FieldDiff]) -> list[FieldDiff]:
        return [d for d in diffs if not self.ignore.matches(d.path)] if self.ignore else diffs

    def _headers(self, legacy: Headers, new: Headers) -> list[FieldDiff]:
        names = list(self.headers)
        if self.all_headers:
            seen = {*legacy, *new}
            names.extend(sorted(seen - VOLATILE_HEADERS - set(names)))
        diffs = []
        for name in names:
            if name in self.ignore_headers:
                continue
            old, now = legacy.get(name), new.get(name)
            if old != now:
                absent = "legacy" if old is None else "new" if now is None else None
                diffs.append(FieldDiff(f"headers.{name}", old, now, absent))
        return diffs

    def _body(self, legacy: Body, new: Body) -> list[FieldDiff]:
        if legacy.kind != new.kind:
            return [FieldDiff("body", f"({legacy.kind} body)", f"({new.kind} body)")]
        if legacy.kind in ("json", "xml"):
            return self._json(legacy.value, new.value)
        if legacy.value == new.value:
            return []
        if legacy.kind == "text":
            return [
                FieldDiff(
                    "body",
                    _excerpt(legacy.value),
                    _excerpt(new.value),
                    detail=_text_diff(legacy.value, new.value),
                )
            ]
        if legacy.kind == "large":
            return [FieldDiff("body", legacy.value, new.value, detail=LARGE)]
        return [FieldDiff("body", legacy.value, new.value)]

    def _json(self, legacy: Any, new: Any) -> list[FieldDiff]:
        rules = self.json_rules
        if rules.rewrites:
            legacy, new = rules.canonical(legacy), rules.canonical(new)
        # Strict equality first: json text tells 1 from 1.0 and true from 1, Python's == does not.
        if json.dumps(legacy, sort_keys=True) == json.dumps(new, sort_keys=True):
            return []
        found = DeepDiff(
            legacy,
            new,
            threshold_to_diff_deeper=0,  # else a dict with mostly new keys is one opaque change
            math_epsilon=rules.tolerance or None,
            view="tree",
            max_diffs=_MAX_DIFFS,
        )
        diffs = []
        for report_type, levels in found.items():
            for level in levels:
                path = render(level.path(output_format="list"))
                if report_type.endswith("_added"):
                    diffs.append(FieldDiff(path, None, level.t2, absent="legacy"))
                elif report_type.endswith("_removed"):
                    diffs.append(FieldDiff(path, level.t1, None, absent="new"))
                else:
                    diffs.append(FieldDiff(path, level.t1, level.t2))
        return sorted(diffs, key=lambda d: d.path)


Headers = dict[str, str]


class _View:
    """An answer as compared: with its own origin and connection replaced when placeholders
    are on, each part made only when the comparison gets to it."""

    def __init__(self, answer: Answer, placeholders: bool) -> None:
        self.answer = answer
        self.local = Local.of(answer) if placeholders else None

    @cached_property
    def headers(self) -> Headers:
        return _headers(self.answer, self.local)

    @cached_property
    def body(self) -> Body:
        return _body(self.answer, self.local)


def _headers(answer: Answer, local: Local | None) -> Headers:
    """Header values by lower-case name (repeated headers joined), with the answer's own origin
    and connection replaced when placeholders are on; a content type by its media type only."""
    found: dict[str, list[str]] = {}
    for name, value in local.headers(answer.headers) if local else answer.headers:
        found.setdefault(name.lower(), []).append(value)
    joined = {name: ", ".join(values) for name, values in found.items()}
    if "content-type" in joined:
        joined["content-type"] = joined["content-type"].split(";")[0].strip().lower()
    return joined


def _body(answer: Answer, local: Local | None) -> Body:
    body = answer.body
    if local is None:
        return body
    if body.kind in ("json", "xml"):
        return Body(body.kind, local.value(body.value), body.size)
    if body.kind == "text":
        return Body("text", local.text(body.value), body.size)
    return body


def _excerpt(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _text_diff(legacy: str, new: str) -> str:
    """A unified diff of a bounded window from the first differing line, each line cut short:
    difflib is quadratic in the worst case and one line can be a whole minified body."""
    old_lines, new_lines = legacy.splitlines(), new.splitlines()
    first = next(
        (i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b),
        min(len(old_lines), len(new_lines)),
    )
    start = max(0, first - 1)
    window = slice(start, start + _TEXT_DIFF_WINDOW)
    lines = list(
        difflib.unified_diff(
            [_excerpt(line) for line in old_lines[window]],
            [_excerpt(line) for line in new_lines[window]],
            "legacy",
            "new",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > _TEXT_DIFF_LINES:
        lines = [*lines[:_TEXT_DIFF_LINES], f"... {len(lines) - _TEXT_DIFF_LINES} more lines"]
    return "\n".join(lines)
