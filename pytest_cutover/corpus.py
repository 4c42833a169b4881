"""Captured requests, read from JSON Lines, HAR or a combined-format access log, and sampled.

Sampling is a seeded hash of each request (or of its user, when one user's journey must stay
whole), not a random draw: the same corpus and seed give the same sample on every machine, and a
request stays in the sample when the corpus grows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from pytest_cutover.redact import is_sensitive_name

CorpusFormat = Literal["jsonl", "har", "access_log"]

# Headers that describe one hop or one capture, not the request: replaying them would be wrong.
NOT_REPLAYED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "accept-encoding",
    }
)
_JSONL_KEYS = frozenset(
    {"method", "path", "query", "headers", "body", "body_base64", "name", "tags", "replay"}
)
_COMBINED = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[[^\]]*\] "(?P<request>[^"]*)" \d{3} \S+'
    r'(?: "(?:[^"\\]|\\.)*" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)


class CorpusError(Exception):
    """The corpus cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    safe_to_replay: bool = False
    client: str | None = None
    origin: str = ""

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def query_value(self, name: str) -> str | None:
        return next((v for k, v in parse_qsl(self.query, True) if k == name), None)

    def fingerprint(self) -> str:
        """Identifies the request in a recorded baseline: method, target and body."""
        digest = hashlib.sha256(self.method.encode() + b" " + self.target.encode() + b"\0")
        digest.update(self.body or b"")
        return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Corpus:
    requests: tuple[CapturedRequest, ...]
    unreadable: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.requests)


def corpus_secrets(requests: Iterable[CapturedRequest]) -> set[str]:
    """What the redactor must know before anything of a replay is written: the values of
    secret-named headers, cookies and query parameters, as captured and decoded, whatever the
    format the corpus came in (a request echoed back, or a URL in an error, shows them without
    the name beside them)."""
    found: set[str] = set()
    for request in requests:
        for name, value in request.headers:
            if is_sensitive_name(name):
                found.add(value)
            if name.lower() == "cookie":
                found.update(_cookie_secrets(value))
        for pair in request.query.split("&"):
            name, _, value = pair.partition("=")
            if value and is_sensitive_name(unquote_plus(name)):
                found.update({value, unquote_plus(value)})
    return found


def _cookie_secrets(header: str) -> Iterator[str]:
    for pair in header.split(";"):
        name, _, value = pair.strip().partition("=")
        if value and is_sensitive_name(name):
            yield value.strip('"')


def detect_format(path: Path) -> CorpusFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".har":
        return "har"
    if suffix in (".log", ".txt") or ".log." in path.name:
        return "access_log"
    raise CorpusError(
        f"{path}: cannot tell the corpus format from the name; set ab.format to jsonl, har or "
        "access_log"
    )


def load_corpus(path: Path, corpus_format: str = "auto") -> Corpus:
    chosen: CorpusFormat = (
        detect_format(path) if corpus_format == "auto" else corpus_format  # type: ignore[assignment]
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such corpus file (ab.corpus)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CorpusError(f"{path}: cannot be read: {err}") from None
    if chosen == "jsonl":
        return Corpus(tuple(_from_jsonl(text, path)))
    if chosen == "har":
        return Corpus(tuple(_from_har(text, path)))
    return _from_access_log(text, path)


def _from_jsonl(text: str, path: Path) -> Iterator[CapturedRequest]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.name}:{number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(f"{where}: not valid JSON: {err.msg}") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise CorpusError(f'{where}: expected an object with a "path", such as {{"path": "/"}}')
        unknown = sorted(set(entry) - _JSONL_KEYS)
        if unknown:
            raise CorpusError(
                f"{where}: unknown key {', '.join(unknown)} "
                f"(expected: {', '.join(sorted(_JSONL_KEYS))})"
            )
        yield _jsonl_request(entry, where)


def _jsonl_request(entry: Mapping[str, Any], where: str) -> CapturedRequest:
    path, _, inline_query = entry["path"].partition("?")
    if not path.startswith("/"):
        raise CorpusError(f"{where}: path {entry['path']!r} must start with '/'")
    query = entry.get("query", inline_query)
    if isinstance(query, Mapping):
        query = urlencode(list(query.items()), doseq=True)
    headers = entry.get("headers", {})
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    body = entry.get("body")
    if "body_base64" in entry:
        raw_body: bytes | None = base64.b64decode(entry["body_base64"])
    elif body is None:
        raw_body = None
    elif isinstance(body, str):
        raw_body = body.encode()
    else:
        raw_body = json.dumps(body, separators=(",", ":")).encode()
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", "application/json"))
    return CapturedRequest(
        method=str(entry.get("method", "GET")).upper(),
        path=path,
        query=str(query),
        headers=_replayable(pairs),
        body=raw_body,
        name=entry.get("name"),
        tags=tuple(entry.get("tags", ())),
        safe_to_replay=entry.get("replay") is True,
        origin=where,
    )


def _replayable(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(k), str(v))
        for k, v in pairs
        if not str(k).startswith(":") and str(k).lower() not in NOT_REPLAYED_HEADERS
    )


def _from_har(text: str, path: Path) -> Iterator[CapturedRequest]:
    try:
        entries = json.loads(text)["log"]["entries"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CorpusError(f"{path}: not a HAR file (expected JSON with log.entries)") from None
    for index, entry in enumerate(entries):
        where = f"{path.name}: log.entries[{index}]"
        try:
            request = entry["request"]
            url = urlsplit(request["url"])
            method = request["method"].upper()
        except (KeyError, TypeError, AttributeError):
            raise CorpusError(f"{where}: expected request.method and request.url") from None
        post = request.get("postData") or {}
        body = post.get("text")
        headers = [(h["name"], h["value"]) for h in request.get("headers", [])]
        yield CapturedRequest(
            method=method,
            path=url.path or "/",
            query=url.query,
            headers=_replayable(headers),
            body=body.encode() if isinstance(body, str) else None,
            origin=where,
        )


def _from_access_log(text: str, path: Path) -> Corpus:
    requests: list[CapturedRequest] = []
    unreadable: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        match = _COMBINED.match(line)
        parts = match["request"].split() if match else []
        if match is None or len(parts) != 3 or not parts[1].startswith("/"):
            unreadable.append(f"{where}: {line[:120]}")
            continue
        method, target, _protocol = parts
        route, _, query = target.partition("?")
        agent = match["agent"]
        requests.append(
            CapturedRequest(
                method=method.upper(),
                path=route,
                query=query,
                headers=(("User-Agent", agent),) if agent and agent != "-" else (),
                client=match["client"],
                origin=where,
            )
        )
    return Corpus(tuple(requests), tuple(unreadable))


def sample(
    requests: Iterable[CapturedRequest],
    share: float,
    max_requests: int,
    seed: int,
    keep_together: str | None,
) -> list[CapturedRequest]:
    """Keep `share` of the requests (and at most `max_requests`, 0 for no cap), chosen by a
    seeded hash of the user key when `keep_together` names one, so a journey stays whole."""
    units: dict[str, list[tuple[int, CapturedRequest]]] = {}
    for index, request in enumerate(requests):
        key = _user_key(request, keep_together)
        units.setdefault(key if key is not None else f"#{index}", []).append((index, request))
    chosen: list[tuple[int, CapturedRequest]] = []
    for key, unit in sorted(units.items(), key=lambda item: _unit_hash(seed, item[0])):
        if _unit_hash(seed, key) >= share:
            break
        # A journey is never cut in half; only the first one may exceed the cap on its own.
        if max_requests and chosen and len(chosen) + len(unit) > max_requests:
            break
        chosen.extend(unit)
    return [request for _, request in sorted(chosen, key=lambda pair: pair[0])]


def _user_key(request: CapturedRequest, keep_together: str | None) -> str | None:
    if keep_together is None:
        return None
    kind, _, name = keep_together.partition(":")
    if kind == "header":
        return request.header(name)
    if kind == "query":
        return request.query_value(name)
    return request.client


def _unit_hash(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
