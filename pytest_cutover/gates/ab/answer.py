"""One system's answer to one replayed request, and its body in a comparable form.

Every content type gets a form: JSON is parsed, text-like bodies are compared as normalised
text, anything else by length and hash. Nothing is dropped and nothing can crash the comparison.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal
from xml.etree import ElementTree

BodyKind = Literal["empty", "json", "xml", "text", "binary", "large"]
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(.*\+)?xml|application/(x-)?javascript|"
    r"application/x-www-form-urlencoded|application/(.*\+)?yaml|image/svg\+xml)$"
)
_MARKUP_TYPES = re.compile(r"(html|xml)")
_XML_TYPES = re.compile(r"^(application|text)/(.*\+)?xml$")
_BETWEEN_TAGS = re.compile(r">\s*<")
_WHITESPACE_RUN = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Body:
    kind: BodyKind
    value: Any
    size: int


@dataclass(frozen=True)
class Oversize:
    """A body longer than `max_body`: only its first bytes were kept (in `content`), the whole
    was measured and hashed as it streamed in, so memory and comparison time stay bounded."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, or the reason there was none (`error`), with what was sent, for curl.

    `client` is the gate's own end of the connection (address, port): services echo it, and it
    is the only way to tell such an echo from data. `oversize` is set when the body was too
    large to keep whole. `prefix` is the path prefix the system's side config put in front
    (`[ab.new] path_prefix`): part of where the system runs, as its origin is."""

    method: str
    url: str
    sent_headers: tuple[tuple[str, str], ...]
    sent_body: bytes | None
    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes = b""
    elapsed: float = 0.0
    error: str | None = None
    client: tuple[str, int] | None = None
    oversize: Oversize | None = None
    prefix: str = ""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else None

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @cached_property
    def body(self) -> Body:
        if self.oversize is not None:
            found = self.oversize
            return Body("large", {"bytes": found.size, "sha256": found.sha256}, found.size)
        return read_body(self.content, self.media_type, self.header("content-type") or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "sent_headers": [list(pair) for pair in self.sent_headers],
            "sent_body": self.sent_body.decode("utf-8", "replace") if self.sent_body else None,
            "status": self.status,
            "headers": [list(pair) for pair in self.headers],
            "content": self.content.decode("latin-1"),
            "elapsed": self.elapsed,
            "error": self.error,
            "client": list(self.client) if self.client else None,
            "oversize": [self.oversize.size, self.oversize.sha256] if self.oversize else None,
            "prefix": self.prefix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        sent_body = data.get("sent_body")
        client = data.get("client")
        oversize = data.get("oversize")
        return cls(
            method=data["method"],
            url=data["url"],
            sent_headers=tuple((k, v) for k, v in data["sent_headers"]),
            sent_body=sent_body.encode() if sent_body is not None else None,
            status=data["status"],
            headers=tuple((k, v) for k, v in data["headers"]),
            content=data["content"].encode("latin-1"),
            elapsed=data["elapsed"],
            error=data["error"],
            client=(client[0], client[1]) if client else None,
            oversize=Oversize(oversize[0], oversize[1]) if oversize else None,
            prefix=data.get("prefix", ""),
        )


def read_body(content: bytes, media_type: str, content_type: str) -> Body:
    if not content:
        return Body("empty", None, 0)
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return Body("json", json.loads(content), len(content))
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass  # a JSON content type with a body that is not JSON: compared as text below
    if _XML_TYPES.match(media_type):
        tree = read_xml(content)
        if tree is not None:
            return Body("xml", tree, len(content))
    if _TEXT_TYPES.match(media_type) or media_type.endswith("json"):
        return Body(
            "text", normalise_text(_decode(content, content_type), media_type), len(content)
        )
    return Body(
        "binary",
        {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()},
        len(content),
    )


def read_xml(content: bytes) -> dict[str, Any] | None:
    """An XML document as nested elements ({tag, attributes, text, children, tail}), so it is
    compared, ignored and reported by the same field paths as JSON: an element or attribute
    change is real, indentation, attribute order and namespace prefixes are not. None when
    it is not well-formed (or nested too deep to walk): then it is compared as text."""
    try:
        return _element(ElementTree.fromstring(content))
    except (ElementTree.ParseError, RecursionError, ValueError):
        return None


def _element(element: ElementTree.Element) -> dict[str, Any]:
    shown: dict[str, Any] = {"tag": element.tag}
    if element.attrib:
        shown["attributes"] = dict(element.attrib)
    text = (element.text or "").strip()
    if text:
        shown["text"] = text
    if len(element):
        shown["children"] = [_element(child) for child in element]
    tail = (element.tail or "").strip()
    if tail:
        shown["tail"] = tail
    return shown


def _decode(content: bytes, content_type: str) -> str:
    match = re.search(r"charset=\"?([\w\-]+)", content_type, re.I)
    try:
        return content.decode(match[1] if match else "utf-8", "replace")
    except LookupError:
        return content.decode("utf-8", "replace")


def normalise_text(text: str, media_type: str) -> str:
    """Line endings and trailing blanks never matter; in markup, neither does indentation."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    normalised = "\n".join(lines).strip("\n")
    if _MARKUP_TYPES.search(media_type):
        # One tag per line: indentation and wrapping vanish, and diffs stay line by line.
        normalised = _WHITESPACE_RUN.sub(" ", _BETWEEN_TAGS.sub(">\n<", normalised))
    return normalised
