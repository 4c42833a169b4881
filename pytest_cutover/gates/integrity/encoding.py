"""The canonical encoding every side agrees on, and its in-process (SQLite) implementation.

A row is compared as the md5 of its encoding. Each value is first put in a canonical text form
for its kind (so 949.6 and 949.60, or true and 1, encode alike), then written so that no two
different rows share an encoding ('a|','b' vs 'a','|b'; NULL vs '' vs the text '<null>'):

    text, bytes, uuid, json   length-prefixed, `<chars>:<text>`; NULL is `-` (lengths are digits)
    number, timestamp, date   `<text>|`; NULL is `N|`. These forms never hold a '|' and are never
                              'N', so the terminator is unambiguous and the value is computed once
                              (a length prefix costs a second evaluation in SQL). A value that
                              breaks that rule (only SQLite can store one, as text in a numeric
                              column) is written `!<chars>:<text>`, which nothing else starts with.

dialects.py builds the very same text with SQL; tests prove the three agree byte for byte.

Canonical forms:
    number     plain decimal notation, no exponent, no trailing fractional zeros, '0' for any zero;
               a float is first written as its shortest round-trip decimal, so every digit of
               the double counts (float4 widened to float8 keeps its lost digits visible)
    boolean    '1' / '0' (so it equals an integer 0/1 column)
    text       the text itself
    timestamp  UTC, 'YYYY-MM-DDTHH:MM:SS.ffffff' cut to the configured precision; a naive value
               is read in the configured time zone (default UTC)
    date       'YYYY-MM-DD'
    uuid       lower-case, hyphenated
    json       PostgreSQL's jsonb text form (keys ordered by length then bytes, ', ' and ': ')
    bytes      lower-case hex
    set        the members comma-joined in the order stored ('red,blue'; '' for no member)
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

Canonical = str | None
Canonicalizer = Callable[[Any], Canonical]
HASH_HEX_DIGITS = 15  # 60 bits: a sum of millions of them stays exact in NUMERIC/DECIMAL
TIMESTAMP_LENGTH = 26  # 'YYYY-MM-DDTHH:MM:SS.ffffff'


TERMINATED_KINDS = frozenset({"number", "timestamp", "date"})


def prefixed(value: Canonical) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def terminated(value: Canonical) -> str:
    if value is None:
        return "N|"
    if "|" in value or value == "N" or value.startswith("!"):
        return f"!{len(value)}:{value}"
    return value + "|"


def token_writer(kind: str) -> Callable[[Canonical], str]:
    """How one column's canonical value is written into the row encoding."""
    return terminated if kind in TERMINATED_KINDS else prefixed


def encode_row(values: Sequence[Canonical], kinds: Sequence[str] | None = None) -> str:
    """The unambiguous row encoding; without kinds every value is length-prefixed."""
    if kinds is None:
        return "".join(map(prefixed, values))
    return "".join(token_writer(kind)(value) for kind, value in zip(kinds, values, strict=True))


def row_hash(encoded: str) -> int:
    """The first 60 bits of md5, as the integer the databases compute; summed, never XORed."""
    return int(hashlib.md5(encoded.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS], 16)


# Primes just under 16^digits: an integer key is bucketed by key mod prime, so regular strides
# in the keys (every 16th id, say) still spread over all buckets.
MODULI = {1: 13, 2: 251, 3: 4093, 4: 65521, 5: 1048573}
Bucket = str | int


def key_bucket(encoded_key: str, digits: int) -> str:
    """Rows are grouped by a hash of the key, never by key ranges: no collation can disturb it."""
    return hashlib.md5(encoded_key.encode("utf-8")).hexdigest()[:digits]


def integer_bucket(value: object, digits: int) -> int:
    """An integer key's bucket, as ((k % m) + m) % m computes it in SQL; -1 for a non-integer."""
    return value % MODULI[digits] if type(value) is int else -1


def bucket_count(digits: int, integer_key: bool) -> int:
    return MODULI[digits] if integer_key else 16**digits


def timestamp_length(precision: int) -> int:
    return 19 + (precision + 1 if precision else 0)


def plain_number(value: Decimal) -> str:
    """949.60 -> '949.6', 1E+2 -> '100', -0.0 -> '0': the form trim_scale(numeric)::text gives."""
    if value.is_nan():  # NaN, -NaN and sNaN alike, as the databases write them
        return "NaN"
    if value.is_infinite():
        return "-Infinity" if value.is_signed() else "Infinity"
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def round_number(text: str, decimals: int) -> str:
    """Half away from zero, as PostgreSQL round(numeric, n) and MariaDB ROUND(decimal, n) do."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    return plain_number(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _float(value: float) -> str:
    text = repr(value)  # the shortest text that reads back as the same double
    if value != value:
        return "NaN"
    if abs(value) == INF:
        return "Infinity" if value > 0 else "-Infinity"
    if "e" in text:
        return plain_number(Decimal(text))
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


INF = float("inf")


def _number(value: Any) -> Canonical:
    if value is None:
        return None
    if type(value) is float:
        return _float(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return plain_number(value)
    text = _text(value)
    try:
        return plain_number(Decimal(text.strip())) if text is not None else None
    except InvalidOperation:
        return text  # not a number: kept as written, so it differs from any number


def _boolean(value: Any) -> Canonical:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "t", "yes", "y"):
            return "1"
        if lowered in ("false", "f", "no", "n"):
            return "0"
    return _number(value)


def _text(value: Any) -> Canonical:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "\\x" + value.hex()
    if isinstance(value, bool | int | float | Decimal):
        return _number(value)
    return str(value)


def _zone(name: str | None) -> tzinfo:
    if name is None or name.upper() == "UTC":
        return UTC
    if name[0] in "+-":
        sign = 1 if name[0] == "+" else -1
        hours, minutes = name[1:].split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return ZoneInfo(name)


def _timestamp(precision: int, zone_name: str | None) -> Canonicalizer:
    zone = _zone(zone_name)
    length = timestamp_length(precision)
    utc_text = zone is UTC

    def canonical(value: Any) -> Canonical:
        if value is None:
            return None
        if type(value) is str and utc_text:
            fast = _iso_utc(value)
            if fast is not None:
                return fast[:length]
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)  # SQLite's unix-epoch convention
        elif isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            text = _text(value) or ""
            try:
                moment = datetime.fromisoformat(text.strip())
            except ValueError:
                return text  # unparsable: kept as written, so it differs from any timestamp
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        utc = moment.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds")[:length]

    return canonical


_ISO_UTC = re.compile(
    r"(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))[T ]"
    r"((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)(\.\d{6})?(?:\+00:00|Z)?"
)


def _iso_utc(text: str) -> str | None:
    """The canonical form of an ISO text already in UTC (or naive, read as UTC) without parsing
    it: the common case of SQLite-stored timestamps. None sends anything else to the parser."""
    match = _ISO_UTC.fullmatch(text)
    if match is None:
        return None
    day, clock, fraction = match.groups()
    return f"{day}T{clock}{fraction or '.000000'}"


def _date(value: Any) -> Canonical:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value) or ""
    try:
        return datetime.fromisoformat(text.strip()).date().isoformat()
    except ValueError:
        return text


def _uuid(value: Any) -> Canonical:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes=value))
    text = _text(value) or ""
    return text.lower()


def _bytes(value: Any) -> Canonical:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return (_text(value) or "").encode("utf-8").hex()


def _set(value: Any) -> Canonical:
    """A SET's members comma-joined, as MySQL writes them: ['red', 'blue'] -> 'red,blue'."""
    if isinstance(value, list | tuple):
        return ",".join("" if member is None else str(member) for member in value)
    return _text(value)


def _json(value: Any) -> Canonical:
    if value is None:
        return None
    text = _text(value) or ""
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        return text
    return jsonb_text(document)


def jsonb_text(document: Any) -> str:
    """PostgreSQL's jsonb output: object keys by (byte length, bytes), numbers as numeric."""
    if isinstance(document, dict):
        keys = sorted(document, key=lambda k: (len(k.encode("utf-8")), k.encode("utf-8")))
        items = (f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(document[k])}" for k in keys)
        return "{" + ", ".join(items) + "}"
    if isinstance(document, list):
        return "[" + ", ".join(jsonb_text(item) for item in document) + "]"
    if isinstance(document, Decimal):
        text = format(document, "f")  # numeric keeps its scale in jsonb: 1.50 stays 1.50
        return text.lstrip("-") if document.is_zero() else text
    return json.dumps(document, ensure_ascii=False)


def python_canonicalizer(
    kind: str,
    precision: int = 6,
    zone: str | None = None,
    decimals: int | None = None,
    native: str | None = None,
) -> Canonicalizer:
    """The in-process twin of the dialects' canonical SQL, for values as sqlite3 returns them.

    `native` only picks a fast path for the type the column usually holds; SQLite may store any
    type in any column, and every other type still takes the general route.
    """
    if kind == "number" and decimals is None and native == "integer":
        return lambda value: str(value) if type(value) is int else _number(value)
    if kind == "text" and native == "text":
        return lambda value: value if type(value) is str else _text(value)
    if kind == "number" and decimals is not None:
        places = decimals

        def rounded(value: Any) -> Canonical:
            text = _number(value)
            return None if text is None else round_number(text, places)

        return rounded
    if kind == "timestamp":
        return _timestamp(precision, zone)
    simple: dict[str, Canonicalizer] = {
        "number": _number,
        "boolean": _boolean,
        "text": _text,
        "date": _date,
        "uuid": _uuid,
        "json": _json,
        "bytes": _bytes,
        "set": _set,
    }
    return simple[kind]


def python_token(
    kind: str,
    precision: int = 6,
    zone: str | None = None,
    decimals: int | None = None,
    native: str | None = None,
) -> Callable[[Any], str]:
    """Canonical value and its encoding in one call: the SQLite path runs this per value."""
    if kind == "number" and decimals is None:
        return _number_token
    if kind == "timestamp" and _zone(zone) is UTC:
        return _utc_timestamp_token(precision)
    if kind == "text" and native == "text":
        return lambda value: (
            f"{len(value)}:{value}" if type(value) is str else prefixed(_text(value))
        )
    canonical = python_canonicalizer(kind, precision, zone, decimals, native)
    write = token_writer(kind)
    return lambda value: write(canonical(value))


def _number_token(value: Any) -> str:
    """The number token, with the common int and plain-float cases inline (hot loop)."""
    kind = type(value)
    if kind is int:
        return f"{value}|"
    if kind is float and value == value and abs(value) != INF:
        text = repr(value)
        if "e" not in text:
            if text.endswith(".0"):
                text = text[:-2]
            return "0|" if text == "-0" else text + "|"
    return terminated(_number(value))


def _utc_timestamp_token(precision: int) -> Callable[[Any], str]:
    """The timestamp token, with ISO texts already in UTC handled by one regex match."""
    slow = _timestamp(precision, None)
    length = timestamp_length(precision)
    match = _ISO_UTC.fullmatch

    def token(value: Any) -> str:
        if type(value) is str:
            found = match(value)
            if found is not None:
                day, clock, fraction = found.groups()
                return f"{day}T{clock}{fraction or '.000000'}"[:length] + "|"
        return terminated(slow(value))

    return token
