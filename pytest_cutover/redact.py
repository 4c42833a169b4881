"""Keep secrets out of every report, log line and decision file (DESIGN rule 5).

A gate run holds production credentials, and its outputs go to CI logs, Allure reports and audit
files that many people read. Everything bound for an output passes through `Redactor.text` (or
`Redactor.value` for JSON-like data), which masks three kinds of secret in any text:

1. Known values: every secret the config held (URL passwords, `${VAR}` values in credential
   places, secret-named header values, values marked `secret = true`), fed in with `add`. Every
   occurrence becomes `***`, also when two secrets overlap or one is a prefix of another.
2. URL passwords by shape: `scheme://user:pw@host` becomes `scheme://user:***@host`.
3. Values by the name they stand under, wherever the name appears: query strings and form
   bodies (`api_key=***`, also inside URLs in messages, curl commands and JSON strings), header
   lines (`Authorization: ***`, `X-Api-Key: ***`, `Cookie: ***`), JSON and Python mappings
   (`"password": "***"`) and `name="value"` assignments. The name stays, so the evidence still
   says what was there.

Which names hold secrets (`is_sensitive_name`): the name is split into words at `-`, `_`, `.`,
spaces and camelCase humps; it holds a secret when one word is a secret word (password, pass,
pwd, secret, token, auth, authorization, credential(s), cookie, session, sessionid, signature,
sig, bearer, jwt, apikey, or a word ending in password, secret, token, apikey, sessionid, cookie,
e.g. `csrftoken`, `PHPSESSID`), or a pair like `api key`, `private key`, `access key`. Two kinds
of name only talk about a secret and stay visible: a word after the last secret word describes it
(`token_type`, `auth_method`, `password_min_length`, `token_expires_in`, `auth_url`,
`cookie_domain`, `secret_name`: see `_DESCRIPTORS`), or a word before the first one makes it a
flag (`access-control-allow-credentials`, `withCredentials`, `has_password`, `requires_auth`).

Which values are harmless (`is_harmless_value`), and stay visible even under a secret name:
empty, `true false null none nil undefined yes no on off enabled disabled required optional`,
an auth scheme on its own (`bearer basic digest negotiate ntlm`), a number of at most three
digits, a mask (`***`), and a placeholder (`${VAR}`, `$VAR` in capitals). A number or a flag
cannot be a credential worth hiding, and a secret shorter than four characters would mask
ordinary words, which is also why `add` ignores such values. In JSON-like text (a quoted name)
a bare number, `true`, `false` or `null` is data, never a secret: `Redactor.value` masks only
strings, and the text form of the same document must agree with it.

Linear time, by construction: every detector sweeps forward once, looks back or ahead only a
bounded distance (a name at most 64 characters, user info at most 256) and never rescans what it
has passed; the spans of all detectors are merged and the text is rebuilt once. Known secrets are
found with `str.find` (one trie regex per first character once there are more than 64), secret
names by a literal search for each of a dozen trigger words in the lower-cased text, URL
passwords from each `://`. The cost grows with the number of known secrets and with how densely
a text holds secret-looking names; bench/bench_redact.py prints the throughput.
"""

from __future__ import annotations

import base64
import functools
import operator
import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias
from urllib.parse import unquote, unquote_plus

MASK = "***"

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)

_SECRET_WORDS = frozenset(
    {
        "pass",
        "passwd",
        "password",
        "passwords",
        "passphrase",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "apikey",
        "apikeys",
        "session",
        "sessionid",
        "sessid",
        "signature",
        "sig",
        "bearer",
        "jwt",
    }
)
# Glued names: `csrftoken`, `dbpassword`, `PHPSESSID`, `JSESSIONID`, `setcookie`.
_SECRET_SUFFIXES = (
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "apikeys",
    "sessionid",
    "sessid",
    "cookie",
    "cookies",
)
# `key` alone is too common a name (a table's key, a sort key); these make it a secret.
_KEY_QUALIFIERS = frozenset(
    {"api", "private", "access", "signing", "encryption", "master", "client", "license"}
)
_DESCRIPTORS = frozenset(
    {
        "type",
        "types",
        "method",
        "methods",
        "mode",
        "scheme",
        "kind",
        "style",
        "format",
        "alg",
        "algorithm",
        "expires",
        "expiry",
        "expiration",
        "ttl",
        "timeout",
        "lifetime",
        "age",
        "at",
        "length",
        "len",
        "size",
        "count",
        "min",
        "max",
        "url",
        "uri",
        "endpoint",
        "host",
        "domain",
        "path",
        "file",
        "dir",
        "env",
        "var",
        "name",
        "header",
        "field",
        "param",
        "ref",
        "policy",
        "required",
        "enabled",
        "provider",
        "hint",
        "prompt",
        "location",
        "label",
        "strength",
        "version",
        "samesite",
        "secure",
        "httponly",
        "user",
        "username",
        "realm",
    }
)
_FLAG_PREFIXES = frozenset({"allow", "has", "is", "with", "require", "requires"})
_NAME_PARTS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_HARMLESS = re.compile(
    r"(?:true|false|null|none|nil|undefined|yes|no|on|off|enabled|disabled|required|optional"
    r"|bearer|basic|digest|negotiate|ntlm|\d{1,3}|\*+"
    r"|(?-i:\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Z_][A-Z0-9_]*))?",
    re.I,
)
_SCHEME_PREFIX = re.compile(r"(?:bearer|basic|digest|token|negotiate|ntlm)\s+(?=\S)", re.I)
_MIN_SECRET = 4


def is_sensitive_name(name: str) -> bool:
    """Header, query parameter, JSON key or environment variable names whose values are
    secrets (the rule is in the module docstring)."""
    if name.lower() in SENSITIVE_HEADERS:
        return True
    words = [w.lower() for w in _NAME_PARTS.split(name) if w]
    found = [
        i
        for i, word in enumerate(words)
        if word in _SECRET_WORDS
        or word.endswith(_SECRET_SUFFIXES)
        or (word in {"key", "keys"} and i > 0 and words[i - 1] in _KEY_QUALIFIERS)
    ]
    if not found:
        return False
    describes = any(w in _DESCRIPTORS for w in words[found[-1] + 1 :])
    flags = any(w in _FLAG_PREFIXES for w in words[: found[0]])
    return not (describes or flags)


# The same few names come back in every record of a large text: judge each once.
_holds_secret = functools.lru_cache(maxsize=4096)(is_sensitive_name)


def is_harmless_value(value: str) -> bool:
    """A flag, a small number, a mask or a placeholder: visible even under a secret name."""
    return _HARMLESS.fullmatch(value.strip()) is not None


# User info ends at the last `@` of the authority, as urllib reads it, so `p@ss` is masked whole.
# Both parts are bounded (longer ones are not credentials), so each `://` costs at most a few
# hundred steps whatever follows it.
_USERINFO = re.compile(r"://(?P<user>[^:/?#@\s\"'<>\\]{0,256}+):(?P<pw>[^/?#\s\"'<>\\]{0,256})@")


def redact_url(url: str) -> str:
    """`postgresql://app:s3cret@db/x?password=y` -> `postgresql://app:***@db/x?password=***`,
    the rest of the URL exactly as written."""
    return _redact(url, ())


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Secret-named headers masked unless harmless; URLs in the others (`Location`) scrubbed."""
    return {name: _header_value(name, value) for name, value in headers.items()}


def _header_value(name: str, value: str) -> str:
    if not is_sensitive_name(name):
        return _redact(value, ())
    return value if is_harmless_value(value) else MASK


def url_password(url: str) -> str | None:
    match = _USERINFO.search(url)
    return match["pw"] if match and match["pw"] else None


def url_secrets(url: str) -> set[str]:
    """The password and the values of secret-named query or fragment parameters
    (`?access_token=...`), each as written and decoded, since an error message may show either;
    and the `Authorization: Basic` credentials an HTTP client derives from the user info, which
    a service may echo anywhere (a body, a log line), not only after a header name."""
    found: set[str] = set()
    match = _USERINFO.search(url)
    if match and match["pw"]:
        user, password = match["user"], match["pw"]
        found.update({password, unquote(password)})
        found.update(basic_credentials(user, password))
    address, _, fragment = url.partition("#")
    for pair in re.split(r"[&;]", f"{address.partition('?')[2]}&{fragment}"):
        name, _, raw = pair.partition("=")
        if is_sensitive_name(unquote_plus(name)):
            found.update({raw, unquote_plus(raw)})
    return {secret for secret in found if not is_harmless_value(secret)}


def basic_credentials(user: str, password: str) -> set[str]:
    """`base64(user:password)` as clients send it: from the user info as written and decoded,
    in UTF-8 (httpx) and Latin-1 (requests, curl)."""
    found: set[str] = set()
    for pair in {f"{user}:{password}", f"{unquote(user)}:{unquote(password)}"}:
        for encoding in ("utf-8", "latin-1"):
            try:
                found.add(base64.b64encode(pair.encode(encoding)).decode("ascii"))
            except UnicodeEncodeError:
                continue
    return found


_PARAMETER = re.compile(r"[^&;]+")


def credential_spans(url: str) -> list[tuple[int, int]]:
    """Where a URL (or a path with a query) can carry a credential, whatever its name: the
    password and the value of every query or fragment parameter. A `${VAR}` that lands in one
    of them makes that value a secret; one in the host or the path does not."""
    spans: list[tuple[int, int]] = []
    match = _USERINFO.search(url)
    if match and match["pw"]:
        spans.append(match.span("pw"))
    hash_at = url.find("#")
    address_end = hash_at if hash_at >= 0 else len(url)
    query_at = url.find("?", 0, address_end)
    regions = [(query_at + 1, address_end)] if query_at >= 0 else []
    if hash_at >= 0:
        regions.append((hash_at + 1, len(url)))
    for start, end in regions:
        for pair in _PARAMETER.finditer(url, start, end):
            equals = url.find("=", pair.start(), pair.end())
            if 0 <= equals < pair.end() - 1:
                spans.append((equals + 1, pair.end()))
    return spans


class Redactor:
    """Masks known secret values and secret-shaped text in anything bound for an output.

    `add` is cheap and safe from any thread: it records the values and bumps a version; the
    search patterns are rebuilt once, on the next `text` call that sees a new version.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._version = 0
        self._compiled: tuple[int, tuple[_Find, ...]] = (0, ())
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Remember values to mask. Values shorter than four characters and harmless ones are
        skipped (they would mask ordinary words); `Bearer x` also remembers `x` on its own."""
        fresh: set[str] = set()
        for secret in secrets:
            scheme = _SCHEME_PREFIX.match(secret)
            for value in (secret, secret[scheme.end() :] if scheme else ""):
                if len(value) >= _MIN_SECRET and not is_harmless_value(value):
                    fresh.add(value)
        with self._lock:
            if not fresh <= self._secrets:
                self._secrets |= fresh
                self._version += 1

    def text(self, text: str) -> str:
        return _redact(text, self._finders())

    def value(self, value: object) -> object:
        """Redact a JSON-like structure: keys and strings scrubbed like text, and under a
        secret-named key every string that is not harmless masked, however deep."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return self._mapping(value, hidden=False)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _hidden(self, value: object) -> object:
        if isinstance(value, str):
            return value if is_harmless_value(value) else MASK
        if isinstance(value, Mapping):
            return self._mapping(value, hidden=True)
        if isinstance(value, list | tuple):
            return [self._hidden(v) for v in value]
        return value

    def _mapping(self, mapping: Mapping[Any, Any], hidden: bool) -> dict[Any, Any]:
        """Two keys that differed only by a secret (`GET /x?token=a`, `GET /x?token=b`) stay two
        entries, the repeat numbered, so masking never silently drops evidence."""
        shown: dict[Any, Any] = {}
        for key, item in mapping.items():
            secret = hidden or (isinstance(key, str) and is_sensitive_name(key))
            value = self._hidden(item) if secret else self.value(item)
            if not isinstance(key, str):
                shown[key] = value
                continue
            label = masked = self.text(key)
            repeat = 1
            while label in shown:
                repeat += 1
                label = f"{masked} ({repeat})"
            shown[label] = value
        return shown

    def _finders(self) -> tuple[_Find, ...]:
        version, finders = self._compiled
        if version == self._version:
            return finders
        with self._lock:
            version, secrets = self._version, tuple(self._secrets)
        finders = _secret_finders(secrets)
        self._compiled = (version, finders)
        return finders


# A finder returns the first (start, end) of its secret at or after a position.
_Find: TypeAlias = Callable[[str, int], "tuple[int, int] | None"]
# Up to this many known secrets each is looked for with `str.find`, the fastest search Python
# has; beyond it one trie regex per first character keeps the number of sweeps bounded.
_ONE_SEARCH_EACH = 64


def _secret_finders(secrets: Iterable[str]) -> tuple[_Find, ...]:
    ordered = sorted(secrets)
    if len(ordered) <= _ONE_SEARCH_EACH:
        return tuple(_literal_finder(s) for s in ordered)
    groups: dict[str, list[str]] = {}
    for secret in ordered:
        groups.setdefault(secret[0], []).append(secret)
    return tuple(_pattern_finder(re.compile(_trie(group))) for group in groups.values())


def _literal_finder(secret: str) -> _Find:
    def find(text: str, position: int) -> tuple[int, int] | None:
        start = text.find(secret, position)
        return None if start < 0 else (start, start + len(secret))

    return find


def _pattern_finder(pattern: re.Pattern[str]) -> _Find:
    def find(text: str, position: int) -> tuple[int, int] | None:
        match = pattern.search(text, position)
        return match.span() if match else None

    return find


_Trie: TypeAlias = "dict[str, _Trie]"


def _trie(words: list[str]) -> str:
    """One regex for many literals that shares their prefixes, so the engine follows a single
    path per position instead of trying every literal; the longest match at a position wins."""
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: _Trie) -> str:
        branches = [re.escape(c) + build(child) for c, child in node.items() if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?"

    return build(root)


def _redact(text: str, finders: tuple[_Find, ...]) -> str:
    """Mask the union of every detector's spans, rebuilding the text once.

    Each detector appends its spans to one list in a tight loop and the list is sorted once
    (mostly sorted runs, which the sort merges in linear time), so the Python work grows with
    the number of secrets found, not with the length of the text."""
    spans: list[tuple[int, int]] = []
    for find in finders:
        _add_secret_spans(find, text, spans)
    if "://" in text:
        _add_userinfo_spans(text, spans)
    if "=" in text or ":" in text:
        _add_name_value_spans(text, spans)
    if not spans:
        return text
    spans.sort()
    pieces: list[str] = []
    done = 0
    start, end = spans[0]
    for span_start, span_end in spans:
        if span_start <= end:
            if span_end > end:
                end = span_end
            continue
        pieces += (text[done:start], MASK)
        done = end
        start, end = span_start, span_end
    pieces += (text[done:start], MASK, text[end:])
    return "".join(pieces)


def _add_secret_spans(find: _Find, text: str, spans: list[tuple[int, int]]) -> None:
    """Each stretch covered by occurrences of a secret, overlapping ones merged.

    After a match the next search starts one character later, so an occurrence that begins
    inside this one and reaches past it extends the stretch; the search that finds none inside
    is the next stretch's start, so the text is swept once."""
    found = find(text, 0)
    while found:
        start, end = found
        found = find(text, start + 1)
        while found and found[0] < end:
            end = max(end, found[1])
            found = find(text, found[0] + 1)
        spans.append((start, end))


def _add_userinfo_spans(text: str, spans: list[tuple[int, int]]) -> None:
    for match in _USERINFO.finditer(text):
        if match["pw"] and match["pw"] != MASK:
            spans.append(match.span("pw"))


# Every secret word of `is_sensitive_name` contains one of these, so a search for each in the
# lower-cased text finds every candidate name; the name's tail (at most 63 characters) and its
# `=` or `:` must follow. Each pattern starts with its word, which the regex engine finds by a
# fast literal search (one alternation of all twelve has no literal prefix and is several times
# slower); look-arounds drop the commonest near misses (`author`, `signed`, a bare `key`) before
# Python sees them. Possessive quantifiers: no backtracking across long runs.
_TRIGGERS = (
    ("auth", "(?!or(?!ization))"),
    ("bearer", ""),
    ("cookie", ""),
    ("credential", ""),
    ("jwt", ""),
    ("key", r"(?<=[a-z0-9\-_. ]key)"),
    ("pass", ""),
    ("pwd", ""),
    ("secret", ""),
    ("sess", ""),
    ("sig", "(?!n(?!ature))"),
    ("token", ""),
)
_CANDIDATES = tuple(
    (
        word,
        re.compile(rf"{word}{guard}[\w.\-]{{0,63}}+([\"']?)[ \t]{{0,8}}+([=:])((?<==)=)?[ \t]*+"),
    )
    for word, guard in _TRIGGERS
)
_CANDIDATE_LENGTH = 96  # the longest word, 63 name characters, a quote, 8 blanks, a separator
_WINDOW = 1 << 16
_START = operator.methodcaller("start")
_NAME_CHARS = frozenset(string.ascii_lowercase + string.digits + "_.-")
_NAME_RUN = re.compile(r"[\w.\-]*")
_QUOTED_NAME = re.compile(r"[\w.\- ]*")
_NAME_REACH = 64
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_QUOTED = {q: re.compile(rf"{q}((?:[^{q}\\\r\n]|\\.)*+)") for q in "\"'"}
# A header line's value runs to the end of the line, or of the quoted string it sits in; an
# escaped newline (`\n` inside a JSON string) ends it too.
_LINE = {q: re.compile(rf"((?:[^{q}\r\n\\]|\\(?![nr]).)*+)") for q in ("", '"', "'", "`")}
_QUERY_VALUE = re.compile(
    r"((?:(?i:bearer|basic|digest|token)[ \t]+)?(?:[^\s&\"'`<>;,\\]|[;,](?!\s))*+)"
)
_WORD_VALUE = re.compile(r"([^\s\"'`<>,;&\\]*+)")
_BARE_VALUE = re.compile(r"([^\s,}\]]*+)")
_JSON_SCALAR = re.compile(r"true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _add_name_value_spans(text: str, spans: list[tuple[int, int]]) -> None:
    """The values that stand under secret names, in order.

    A trigger word absent from the text costs one `str.find` sweep, several times faster than
    the regex engine's. The text is taken in windows: the candidates of the present triggers
    that start in the window are found by the regex engine, sorted, and judged in order. A
    masked value moves the cursor past it, and the next window starts at the cursor, so a
    masked stretch is not searched again; memory stays bounded by one window's candidates."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters lower to two characters
        low = text.translate(_ASCII_LOWER)
    present = [pattern for word, pattern in _CANDIDATES if word in low]
    if not present:
        return
    cursor = judged = 0
    for window in range(0, len(text), _WINDOW):
        first, stop = max(window, cursor), window + _WINDOW
        found = [
            match
            for pattern in present
            for match in pattern.finditer(low, first, stop + _CANDIDATE_LENGTH)
            if match.start() < stop
        ]
        if len(present) > 1:
            found.sort(key=_START)
        for match in found:
            regs = match.regs
            separator = regs[2][0]
            if separator <= judged or regs[0][0] < cursor:
                continue  # another trigger in a name already judged, or inside a masked value
            judged = separator
            span = _value_of(text, low, regs, cursor)
            if span is not None:
                spans.append(span)
                cursor = span[1]


def _value_of(
    text: str, low: str, regs: tuple[tuple[int, int], ...], masked: int
) -> tuple[int, int] | None:
    """The span to mask for one candidate `name=`/`name:`, or None when the name holds no
    secret, the value is harmless, or the `:` belongs to a URL or a `host:port`. The name
    never reaches back into a value masked before (`masked` is where that ended)."""
    (trigger, rest), (name_end, quote_end), (separator, _), (comparison, _) = regs
    floor = max(masked, trigger - _NAME_REACH)
    start = trigger
    if trigger > floor and low[trigger - 1] in _NAME_CHARS:
        start -= _name_run_before(low, floor, trigger)
    before = text[start - 1] if start > 0 else ""
    quote = text[name_end:quote_end]
    if quote and before != quote:  # a quoted name with spaces: `"API Key": "..."`
        opening = text.rfind(quote, floor, start)
        if opening >= 0 and _QUOTED_NAME.fullmatch(text, opening + 1, start):
            start, before = opening + 1, quote
    if not _holds_secret(text[start:name_end]):
        return None
    equals = text[separator] == "="
    if comparison >= 0:
        return None  # `token == x` is a comparison
    found: re.Match[str] | None
    if text.startswith(('"', "'"), rest):
        found = _QUOTED[text[rest]].match(text, rest)
    elif quote and before == quote:
        found = _BARE_VALUE.match(text, rest)
        # A JSON scalar is no secret, and an object opens members judged by their own names.
        if found and (_JSON_SCALAR.fullmatch(found[1]) or found[1].startswith("{")):
            return None
    elif equals:
        found = _QUERY_VALUE.match(text, rest)
    elif before == "/" or (rest == separator + 1 and "." in text[start:name_end]):
        return None  # `scheme://user:` or `auth.example.com:8443`
    elif rest == separator + 1:
        found = _WORD_VALUE.match(text, rest)
    else:
        found = _LINE[before if before in "\"'`" else ""].match(text, rest)
    if found is None:
        return None
    value_start, value_end = found.span(1)
    value = text[value_start:value_end].rstrip()
    if not value or is_harmless_value(value):
        return None
    return value_start, value_start + len(value)


def _name_run_before(low: str, floor: int, end: int) -> int:
    """How many name characters precede `end` (not reaching below `floor`): the regex reads the
    short window reversed, since Python's lookbehind cannot have a variable width."""
    run = _NAME_RUN.match(low[floor:end][::-1])
    return run.end() if run else 0
