"""A `curl` command that sends exactly what the gate sent, so a difference can be reproduced by
hand; secrets become environment variables the reader fills in, never their values.

Every header the gate's client sent is listed (Host, User-Agent, Accept-Encoding and the rest:
services echo them), except Content-Length, which curl computes from the body it sends. An
answer that came compressed gets `--compressed`, so curl shows the body the gate compared."""

from __future__ import annotations

import re
import shlex

from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.redact import Redactor, is_sensitive_name, redact_url


def curl_command(answer: Answer, redactor: Redactor) -> str:
    parts = ["curl", "-sS", "-i"]
    if answer.method == "HEAD":
        parts.append("--head")
    elif answer.method != "GET":
        parts.extend(["-X", answer.method])
    if answer.header("content-encoding"):
        parts.append("--compressed")
    parts.append(shlex.quote(redactor.text(redact_url(answer.url))))
    for name, value in answer.sent_headers:
        if name.lower() == "content-length":
            continue
        if is_sensitive_name(name):
            variable = "CUTOVER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
            parts.extend(["-H", f'"{name}: ${variable}"'])
        else:
            parts.extend(["-H", shlex.quote(f"{name}: {redactor.text(value)}")])
    if answer.sent_body:
        parts.extend(
            [
                "--data-binary",
                shlex.quote(redactor.text(answer.sent_body.decode("utf-8", "replace"))),
            ]
        )
    return " ".join(parts)
