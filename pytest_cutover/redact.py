"""Keep secrets out of every report, log line and decision file.

Passwords live in database URLs and tokens in headers; both are scrubbed by shape. A secret can
also surface inside free text (a driver's error message that repeats the URL), so every secret
value the config held is remembered and scrubbed from text as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_SENSITIVE_NAME = re.compile(
    r"(^|[-_.])(pass|passwd|password|passphrase|pwd|secret|token|api[-_]?key|auth|authorization"
    r"|credentials?|cookie)([-_.]|$)",
    re.I,
)
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@", re.I
)


def is_sensitive_name(name: str) -> bool:
    """Header, query parameter or environment variable names whose values are secrets."""
    return name.lower() in SENSITIVE_HEADERS or bool(_SENSITIVE_NAME.search(name))


def redact_url(url: str) -> str:
    """`postgresql://app:s3cret@db/x?password=y` -> `postgresql://app:***@db/x?password=***`."""
    masked = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    parts = urlsplit(masked)
    if not parts.query:
        return masked
    query = [(k, MASK if is_sensitive_name(k) else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*/:")))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: MASK if is_sensitive_name(k) else v for k, v in headers.items()}


def url_password(url: str) -> str | None:
    match = _URL_USERINFO.search(url)
    return match["pw"] if match and match["pw"] else None


def url_secrets(url: str) -> set[str]:
    """The password and the values of sensitive query parameters (`?access_token=...`)."""
    found = {url_password(url) or ""}
    query = urlsplit(url).query
    found.update(v for k, v in parse_qsl(query, True) if is_sensitive_name(k))
    return {secret for secret in found if secret}


class Redactor:
    """Scrubs known secret values, and secret-shaped URLs, from any text bound for a report."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Very short values would mask ordinary words; a 3-character secret is not worth that.
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def text(self, text: str) -> str:
        scrubbed = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            scrubbed = scrubbed.replace(secret, MASK)
        return scrubbed

    def value(self, value: object) -> object:
        """Redact a JSON-like structure: sensitive keys masked, every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: MASK if isinstance(k, str) and is_sensitive_name(k) and v else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
