"""Turn compared answer pairs into one verdict per endpoint group and one for the whole corpus.

Counting happens as exchanges arrive; only the first few examples per field keep their bodies,
so memory stays flat however large the corpus is.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_cutover.corpus import CapturedRequest
from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.compare import LARGE, Comparer, Comparison, FieldDiff
from pytest_cutover.gates.ab.config import AbConfig, Accepted, EndpointRule
from pytest_cutover.gates.ab.curl import curl_command
from pytest_cutover.gates.ab.fields import FieldMatcher
from pytest_cutover.gates.ab.noise import FieldCounts, NoiseVerdict, judge_field
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.redact import MASK, Redactor, is_sensitive_name, redact_headers
from pytest_cutover.thresholds import Threshold, fold
from pytest_cutover.units import Kind, Quantity

GATE = "ab"
OVERALL = "all endpoints"
_BODY_EXCERPT = 2000
_REDACT_MARGIN = 1000
_LISTED = 50
_NAMED_IN_REASON = 10
_RATIOS = frozenset({"match_rate"})
_TABLE_COLUMNS = ("requests", "compared", "match_rate", "critical")
_COUNTS = (
    "requests",
    "compared",
    "matched",
    "mismatched",
    "critical",
    "incomparable",
    "accepted",
    "real_fields",
    "noise_fields",
)


@dataclass
class Tally:
    """What one endpoint group has seen so far."""

    group: str
    comparer: Comparer
    thresholds: Sequence[Threshold]
    requests: int = 0
    exchanges: list[tuple[frozenset[str], frozenset[str] | None, bool]] = field(
        default_factory=list
    )
    incomparable: list[dict[str, str]] = field(default_factory=list)
    incomparable_count: int = 0
    critical: list[dict[str, Any]] = field(default_factory=list)
    critical_count: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    noise_examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldJudgement:
    field: str
    status: str
    counts: FieldCounts
    verdict: NoiseVerdict
    accepted: Accepted | None

    @property
    def fails(self) -> bool:
        return self.status in ("real", "acceptance expired")


class Judge:
    def __init__(
        self, config: AbConfig, redactor: Redactor, today: dt.date, sampled_noise: bool
    ) -> None:
        self.config = config
        self.redactor = redactor
        self.today = today
        self.sampled_noise = sampled_noise
        self.tallies: dict[str, Tally] = {}
        self.global_comparer = Comparer(config)

    def tally(self, group: str, rule: EndpointRule | None) -> Tally:
        if group not in self.tallies:
            comparer, thresholds = self.global_comparer, self.config.endpoint_thresholds
            if rule is not None:
                comparer = Comparer(_merged(self.config, rule))
                # An explicit `thresholds = []` means none for this endpoint, not the default.
                thresholds = thresholds if rule.thresholds is None else rule.thresholds
            self.tallies[group] = Tally(group, comparer, thresholds)
        return self.tallies[group]

    def add(
        self,
        group: str,
        rule: EndpointRule | None,
        request: CapturedRequest,
        answers: Sequence[Answer],
    ) -> None:
        tally = self.tally(group, rule)
        tally.requests += 1
        legacy, new, *second = answers
        if legacy.status is None:
            tally.incomparable_count += 1
            if len(tally.incomparable) < _LISTED:
                tally.incomparable.append(
                    {
                        "request": self.redactor.text(f"{request.method} {request.target}"),
                        "legacy": self.redactor.text(legacy.error or "no answer"),
                        "curl": curl_command(legacy, self.redactor),
                    }
                )
            return
        found = tally.comparer.compare(legacy, new)
        noise: Comparison | None = None
        if second and second[0].status is not None:
            noise = tally.comparer.compare(legacy, second[0])
        fields = frozenset(d.field for d in found.diffs)
        noise_fields = frozenset(d.field for d in noise.diffs) if noise else None
        tally.exchanges.append((fields, noise_fields, found.critical is not None))
        shown: dict[int, str] = {}
        if found.critical:
            tally.critical_count += 1
            if len(tally.critical) < max(1, self.config.examples):
                example = self._example(tally, shown, request, legacy, new, found.diffs)
                tally.critical.append({"problem": found.critical, **example})
        for name in fields:
            kept = tally.examples.setdefault(name, [])
            if len(kept) < self.config.examples:
                mine = [d for d in found.diffs if d.field == name]
                kept.append(self._example(tally, shown, request, legacy, new, mine))
        if noise:
            for name in noise_fields or ():
                if name not in tally.noise_examples:
                    mine = [d for d in noise.diffs if d.field == name]
                    tally.noise_examples[name] = self._example(
                        tally, shown, request, legacy, second[0], mine, other_name="legacy_again"
                    )

    def _example(
        self,
        tally: Tally,
        shown: dict[int, str],
        request: CapturedRequest,
        legacy: Answer,
        other: Answer,
        diffs: Sequence[FieldDiff],
        other_name: str = "new",
    ) -> dict[str, Any]:
        """One example of a difference; its answers go to the endpoint's `answers`, once per
        exchange, and the example names them: one request differing in ten fields is ten
        examples but one copy of each body. `shown` maps the answers of this exchange (by
        identity) to the names they were stored under."""

        def stored(answer: Answer) -> str:
            if id(answer) not in shown:
                name = f"a{len(tally.answers) + 1}"
                tally.answers[name] = self._shown_answer(answer)
                shown[id(answer)] = name
            return shown[id(answer)]

        return {
            "request": f"{request.method} {self.redactor.text(request.target)}",
            "origin": request.origin,
            "differences": [self._shown_diff(d) for d in diffs[:10]],
            "answers": {"legacy": stored(legacy), other_name: stored(other)},
            "curl": {
                "legacy": curl_command(legacy, self.redactor),
                other_name: curl_command(other, self.redactor),
            },
        }

    def _shown_diff(self, diff: FieldDiff) -> Any:
        shown = diff.to_dict()
        last = diff.path.rsplit(".", 1)[-1].strip('[]"')
        if is_sensitive_name(last):
            shown["legacy"] = shown["new"] = MASK
        for side in ("legacy", "new"):
            # A whole added or removed subtree can be most of a body: shown as an excerpt.
            text = json.dumps(shown[side], ensure_ascii=False, default=str)
            if len(text) > _BODY_EXCERPT:
                cut = self.redactor.text(text[: _BODY_EXCERPT + _REDACT_MARGIN])[:_BODY_EXCERPT]
                shown[side] = f"{cut}... ({len(text)} characters)"
        return self.redactor.value(shown)

    def _shown_answer(self, answer: Answer) -> dict[str, Any]:
        """The answer as received, cut to an excerpt before anything else touches it, so a
        50 MB body costs what a 2 KB one does. The cut keeps a margin while redacting: a
        secret that straddles the excerpt's end is still recognised whole and masked."""
        if answer.status is None:
            return {"error": self.redactor.text(answer.error or "no answer")}
        body = answer.body
        shown: dict[str, Any] = {
            "status": answer.status,
            "headers": redact_headers(dict(answer.headers)),
        }
        if body.kind == "binary":
            shown["body"] = json.dumps(body.value)
        else:
            head = answer.content[: _BODY_EXCERPT + _REDACT_MARGIN]
            text = self.redactor.text(head.decode("utf-8", "replace"))[:_BODY_EXCERPT]
            if body.size > _BODY_EXCERPT:
                text += f"... ({body.size} bytes in all)"
            shown["body"] = text
        if body.kind == "large":
            shown["body_compared_by"] = {**body.value, "why": LARGE}
        shown["elapsed_ms"] = round(answer.elapsed * 1000, 1)
        return shown

    def results(self, extra: Mapping[str, Any]) -> list[GateResult]:
        """One result per endpoint group, then the overall one carrying `extra` evidence."""
        counts = {g: _field_counts(t) for g, t in self.tallies.items()}
        tested = sum(1 for c in counts.values() for f in c.values() if f.legacy_differs)
        alpha = self.config.noise_alpha / max(1, tested)
        results = []
        totals: Counter[str] = Counter()
        rows = []
        for group, tally in sorted(self.tallies.items()):
            judged = [
                self._judge_field(group, name, c, alpha)
                for name, c in sorted(counts[group].items())
            ]
            result = self._group_result(tally, judged, totals)
            results.append(result)
            rows.append(
                {
                    "endpoint": group,
                    "outcome": result.outcome.value,
                    **{k: result.measurements.get(k) for k in _TABLE_COLUMNS},
                    "real_fields": [j.field for j in judged if j.fails],
                    "noise_fields": [j.field for j in judged if j.status == "noise"],
                }
            )
        results.append(self._overall(totals, rows, extra))
        return results

    def _judge_field(
        self, group: str, name: str, counts: FieldCounts, alpha: float
    ) -> FieldJudgement:
        verdict = judge_field(counts, self.sampled_noise, alpha)
        accepted = self._accepted(group, name)
        if not verdict.real:
            status = "noise"
        elif accepted is None:
            status = "real"
        elif accepted.expires < self.today:
            status = "acceptance expired"
        else:
            status = "accepted"
        return FieldJudgement(name, status, counts, verdict, accepted)

    def _accepted(self, group: str, name: str) -> Accepted | None:
        for rule in self.config.accept:
            if rule.endpoint and not fnmatch.fnmatchcase(group, rule.endpoint):
                continue
            if FieldMatcher.compile([rule.field]).matches(name):
                return rule
        return None

    def _group_result(
        self, tally: Tally, judged: list[FieldJudgement], totals: Counter[str]
    ) -> GateResult:
        failing = {j.field for j in judged if j.fails}
        accepted = {j.field for j in judged if j.status == "accepted"}
        mismatched = accepted_requests = 0
        for fields, _noise, critical in tally.exchanges:
            if critical or fields & failing:
                mismatched += 1
            elif fields & accepted:
                accepted_requests += 1
        compared = len(tally.exchanges)
        counted = {
            "requests": tally.requests,
            "compared": compared,
            "matched": compared - mismatched,
            "mismatched": mismatched,
            "critical": tally.critical_count,
            "incomparable": tally.incomparable_count,
            "accepted": accepted_requests,
            "real_fields": len(failing),
            "noise_fields": sum(1 for j in judged if j.status == "noise"),
        }
        totals.update(counted)
        evidence = {
            "endpoint": tally.group,
            "fields": [self._field_evidence(tally, j) for j in judged],
            "critical": tally.critical,
            "incomparable": tally.incomparable,
            "answers": tally.answers,
        }
        reasons = [
            f"{j.field}: {j.status} in {j.counts.new_differs} of {compared} requests"
            + (f" (accepted until {j.accepted.expires})" if j.accepted and j.fails else "")
            for j in judged
            if j.fails
        ]
        return self._verdict(
            tally.group, counted, tally.thresholds, reasons, evidence, tally.critical
        )

    def _field_evidence(self, tally: Tally, judged: FieldJudgement) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "field": judged.field,
            "status": judged.status,
            "new_differs": judged.counts.new_differs,
            "legacy_differs": judged.counts.legacy_differs,
            "why": judged.verdict.explanation,
            "examples": tally.examples.get(judged.field, []),
        }
        if judged.verdict.p_value is not None:
            shown["p_value"] = judged.verdict.p_value
        if judged.accepted is not None:
            shown["accepted"] = {
                "reason": judged.accepted.reason,
                "expires": judged.accepted.expires.isoformat(),
            }
        if judged.field in tally.noise_examples:
            shown["noise_example"] = tally.noise_examples[judged.field]
        return shown

    def _overall(
        self, totals: Counter[str], rows: list[dict[str, Any]], extra: Mapping[str, Any]
    ) -> GateResult:
        counted = {name: totals[name] for name in _COUNTS}
        reasons = []
        failing_groups = [r["endpoint"] for r in rows if r["outcome"] == Outcome.FAIL.value]
        if failing_groups:
            named = ", ".join(failing_groups[:_NAMED_IN_REASON])
            more = len(failing_groups) - _NAMED_IN_REASON
            reasons.append(
                f"{len(failing_groups)} endpoint(s) differ: {named}"
                + (f" and {more} more" if more > 0 else "")
            )
        evidence = {"endpoints": rows, **extra}
        return self._verdict(OVERALL, counted, self.config.thresholds, reasons, evidence, [])

    def _verdict(
        self,
        name: str,
        counted: Mapping[str, int],
        thresholds: Sequence[Threshold],
        reasons: list[str],
        evidence: dict[str, Any],
        critical: Sequence[Mapping[str, Any]],
    ) -> GateResult:
        compared = counted["compared"]
        # Nothing compared has no match rate at all: left out, thresholds on it are "no data"
        # (never a pass), and no NaN reaches a JSON file that other parsers must read.
        measurements: dict[str, float] = dict(counted)
        if compared:
            measurements["match_rate"] = counted["matched"] / compared
        quantities = {
            k: Quantity(v, Kind.RATIO if k in _RATIOS else Kind.NUMBER)
            for k, v in measurements.items()
        }
        failed = bool(counted["critical"])
        unsure: list[str] = []
        if counted["critical"]:
            shown = "; ".join(f"{c['problem']} ({c['request']})" for c in critical[:3])
            reasons.insert(
                0,
                f"{counted['critical']} critical (new fails where legacy works)"
                + (f": {shown}" if shown else ""),
            )
        folded = fold(thresholds, quantities)
        failed = failed or bool(folded.failed)
        reasons.extend(folded.failed)
        unsure.extend(folded.unsure)
        requests = counted["requests"]
        if requests and counted["incomparable"] / requests > self.config.max_incomparable:
            unsure.append(
                f"legacy gave no answer to {counted['incomparable']} of {requests} requests "
                f"(more than max_incomparable = {self.config.max_incomparable:.0%}): "
                "too little was compared"
            )
        if requests == 0:
            unsure.append("no request was replayed")
        evidence["thresholds"] = list(folded.checked)
        outcome = Outcome.FAIL if failed else Outcome.INCONCLUSIVE if unsure else Outcome.PASS
        return GateResult(
            GATE,
            name,
            outcome,
            tuple(reasons + unsure) if outcome is not Outcome.PASS else (),
            measurements,
            evidence,
        )


def _merged(config: AbConfig, rule: EndpointRule) -> EndpointRule:
    """An endpoint's rules on top of the global ones (lists add up, the tolerance is the larger)."""
    return rule.model_copy(
        update={
            "ignore": [*config.ignore, *rule.ignore],
            "normalise": sorted({*config.normalise, *rule.normalise}),
            "tolerance": max(config.tolerance, rule.tolerance),
            "list_keys": {**config.list_keys, **rule.list_keys},
            "unordered": [*config.unordered, *rule.unordered],
            "compare_headers": sorted({*config.compare_headers, *rule.compare_headers}),
            "ignore_headers": [*config.ignore_headers, *rule.ignore_headers],
            "placeholders": (
                rule.placeholders
                if "placeholders" in rule.model_fields_set
                else config.placeholders
            ),
        }
    )


def _field_counts(tally: Tally) -> dict[str, FieldCounts]:
    new_differs: Counter[str] = Counter()
    legacy_differs: Counter[str] = Counter()
    only_new: Counter[str] = Counter()
    only_legacy: Counter[str] = Counter()
    for fields, noise, _critical in tally.exchanges:
        new_differs.update(fields)
        if noise is not None:
            legacy_differs.update(noise)
            only_new.update(fields - noise)
            only_legacy.update(noise - fields)
        else:
            only_new.update(fields)
    return {
        name: FieldCounts(
            new_differs[name], legacy_differs[name], only_new[name], only_legacy[name]
        )
        for name in new_differs
    }
