"""A recording of legacy's answers, for when legacy is read-only, overloaded or already gone.

Recorded once with `cutover ab-record`; the gate then compares new against it. Two answers per
request are kept when noise sampling is on, so noise can still be told from real differences.
The recording is a file on disk, like a report, so it goes through the run's Output: secrets
in what was sent and answered are masked, and new's answers are masked the same way before
they are compared with it (`MaskedSource`), so a secret both sides hold still compares equal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_cutover.corpus import CapturedRequest
from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.replay import Source
from pytest_cutover.output import Output
from pytest_cutover.redact import redact_headers

ANSWERS_FILE = "answers.jsonl"
MANIFEST_FILE = "manifest.json"


class BaselineError(Exception):
    """The recording is missing or unreadable; the message names the directory."""


def write_recording(
    output: Output,
    directory: Path,
    exchanges: Sequence[tuple[CapturedRequest, Sequence[Answer]]],
    manifest: Mapping[str, Any],
) -> None:
    output.write_lines(
        directory / ANSWERS_FILE,
        (
            json.dumps(
                {
                    "fingerprint": request.fingerprint(),
                    "request": f"{request.method} {request.target}",
                    "answers": [masked(answer, output).to_dict() for answer in answers],
                }
            )
            for request, answers in exchanges
        ),
    )
    output.write_json(
        directory / MANIFEST_FILE,
        {
            **manifest,
            "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "requests": len(exchanges),
        },
    )


def masked(answer: Answer, output: Output) -> Answer:
    """The answer as a recording holds it: credentials sent, and secrets answered, masked."""
    shown = replace(
        answer,
        sent_headers=tuple(redact_headers(dict(answer.sent_headers)).items()),
        headers=tuple(redact_headers(dict(answer.headers)).items()),
    )
    return Answer.from_dict(output.value(shown.to_dict()))


class MaskedSource:
    """New's answers masked as a recording's were, for a fair comparison with the recording."""

    def __init__(self, source: Source, output: Output) -> None:
        self.name = source.name
        self.source = source
        self.output = output

    async def answer(self, request: CapturedRequest) -> Answer:
        return masked(await self.source.answer(request), self.output)


@dataclass(frozen=True)
class Recording:
    answers: Mapping[str, tuple[Answer, ...]]
    manifest: Mapping[str, Any]

    @property
    def has_noise_sample(self) -> bool:
        return all(len(found) > 1 for found in self.answers.values()) and bool(self.answers)


def load_recording(directory: Path) -> Recording:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
        lines = (directory / ANSWERS_FILE).read_text(encoding="utf-8").splitlines()
        answers = {}
        for line in lines:
            entry = json.loads(line)
            answers[entry["fingerprint"]] = tuple(Answer.from_dict(a) for a in entry["answers"])
    except FileNotFoundError as err:
        raise BaselineError(
            f"{directory}: no baseline recording ({err.filename} is missing); record one with "
            "`cutover ab-record`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BaselineError(f"{directory}: the baseline recording cannot be read: {err}") from None
    return Recording(answers, manifest)


class RecordedSource:
    """Answers from a recording, as if legacy had just been asked (answer `which` of each)."""

    def __init__(self, name: str, recording: Recording, which: int) -> None:
        self.name = name
        self.recording = recording
        self.which = which

    async def answer(self, request: CapturedRequest) -> Answer:
        found = self.recording.answers.get(request.fingerprint())
        if found is None or len(found) <= self.which:
            return Answer(
                request.method,
                request.target,
                request.headers,
                request.body,
                status=None,
                error="not in the baseline recording",
            )
        return found[self.which]
