"""Values that say where an answer was made, not what it says, replaced by placeholders.

Services echo where they run (their own URL in `url` fields, self links, `Location`, `Link`,
with the path prefix the side config gives them)
and what they were sent (the `Host` header), and the client's address and port. Two
deployments of one build differ in exactly those, so a comparison that keeps them fails
identical systems. Each answer is rewritten with its own origin and its own connection: an
echo of "where I run" then reads the same on both sides, while anything else, including a
string that became a list where a host used to be, is still a difference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pytest_cutover.gates.ab.answer import Answer

ORIGIN = "{origin}"
CLIENT = "{client}"
CLIENT_ADDRESS = "{client-address}"
CLIENT_PORT = "{client-port}"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Local:
    """One answer's own origin and connection, ready to be replaced in its headers and body."""

    replacements: tuple[tuple[str, str], ...]
    whole: dict[str, str]
    port: int | None

    @classmethod
    def of(cls, answer: Answer) -> Local:
        parts = urlsplit(answer.url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(scheme)
        replacements: dict[str, str] = {}
        if host:
            for shown in _hosts(host):
                with_port = f"{shown}:{port}"
                origins = [f"{scheme}://{with_port}", with_port]
                if port == _DEFAULT_PORTS.get(scheme):
                    origins.append(f"{scheme}://{shown}")
                for origin in origins:
                    replacements[origin] = ORIGIN
                    if answer.prefix:
                        replacements[origin + answer.prefix] = ORIGIN
        sent_host = next((v for k, v in answer.sent_headers if k.lower() == "host"), None)
        if sent_host:
            replacements.setdefault(f"{scheme}://{sent_host}", ORIGIN)
            replacements.setdefault(sent_host, ORIGIN)
        whole: dict[str, str] = {}
        client_port = None
        if answer.client is not None:
            address, client_port = answer.client
            for shown in _hosts(address):
                replacements[f"{shown}:{client_port}"] = CLIENT
            whole[address] = CLIENT_ADDRESS
            whole[str(client_port)] = CLIENT_PORT
        # Longest first, so a scheme://host:port is replaced whole before its host:port part.
        ordered = sorted(replacements.items(), key=lambda pair: len(pair[0]), reverse=True)
        return cls(tuple(ordered), whole, client_port)

    def text(self, text: str) -> str:
        """Origins anywhere in the text; the client's address or port only as the whole value,
        since a port number inside other text is as likely to be anything else."""
        if text in self.whole:
            return self.whole[text]
        for needle, placeholder in self.replacements:
            if needle in text:
                text = _replace(text, needle, placeholder)
        return text

    def value(self, value: Any) -> Any:
        """A parsed JSON document with every string (keys too) and the client's port rewritten;
        containers keep their shape, so a change of type stays a difference."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if type(value) is int and value == self.port:
            return CLIENT_PORT
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        return tuple((name, self.text(value)) for name, value in headers)


def _replace(text: str, needle: str, placeholder: str) -> str:
    """Every occurrence of `needle` that stands alone: `127.0.0.1:80` is not the start of
    `127.0.0.1:8080`, `http://host` not the start of `http://host:8080`, nor `10.0.0.1:80`
    the end of `110.0.0.1:80`."""
    pieces = []
    start = found = 0
    while (found := text.find(needle, found)) >= 0:
        end = found + len(needle)
        before = text[found - 1] if found else ""
        after = text[end] if end < len(text) else ""
        if _joins(before) or after.isalnum() or after == ":":
            found += 1
            continue
        pieces += [text[start:found], placeholder]
        start = found = end
    pieces.append(text[start:])
    return "".join(pieces)


def _joins(character: str) -> bool:
    """Whether a character before a host makes it part of a longer name or address."""
    return character.isalnum() or character in (".", "-")


def _hosts(host: str) -> tuple[str, ...]:
    """A host as it appears in text: IPv6 addresses are bracketed before a port."""
    return (f"[{host}]",) if ":" in host else (host,)
