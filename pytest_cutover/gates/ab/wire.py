"""Put a request httpx built on the wire with the standard library's http.client.

Replay speed is bounded by the client's CPU, not by the servers: on loopback httpx spends about
five times the CPU per request that http.client does (its pure-Python HTTP/1.1 parser and its
layers of hooks, auth and cookies). httpx still builds every request, so what is sent, recorded
and shown as curl is exactly what httpx sends (its default headers included), and httpx decodes
compressed bodies; only the exchange itself goes through http.client, one kept-alive
connection per worker thread. A system reached through a proxy from the environment is sent to
by httpx itself (`Wire.plain` is false), as http.client knows no proxies.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pytest_cutover.gates.ab.answer import Oversize

_CHUNK = 1 << 16
# A kept-alive connection the server closed while idle fails on first use; the request is sent
# again once, on a new connection (as urllib3 does), and only then.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Exchange:
    """What came back: headers as httpx reads them (names lower-cased), the decoded body (or its
    first `max_body` bytes and the length and SHA-256 of all of it), the gate's own address."""

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    oversize: Oversize | None
    client: tuple[str, int] | None


class Wire:
    """Connections to one system: one kept alive per thread, or a new one for every request
    (`keep_alive=False`: what varies per connection then varies between answers)."""

    def __init__(
        self,
        base_url: str,
        context: ssl.SSLContext,
        timeout: httpx.Timeout,
        keep_alive: bool,
        max_body: int,
    ) -> None:
        parts = urlsplit(base_url)
        self.https = parts.scheme.lower() == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.context = context
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.max_body = max_body
        self.plain = not _proxied(base_url)
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def exchange(self, request: httpx.Request) -> Exchange:
        """Raises OSError (TimeoutError for a timeout) or http.client.HTTPException."""
        connection, reused = self._connection()
        try:
            try:
                return self._exchange(connection, request)
            except _STALE:
                if not reused:
                    raise
                self._drop(connection)
                connection, _ = self._connection()
                return self._exchange(connection, request)
        except BaseException:
            self._drop(connection)
            raise

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _exchange(self, connection: http.client.HTTPConnection, request: httpx.Request) -> Exchange:
        if connection.sock is None:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(self.timeout.read)
        connection.putrequest(
            request.method,
            request.url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in _with_url_credentials(request):
            connection.putheader(name, value)
        connection.endheaders(request.content or None)
        response = connection.getresponse()
        client = _address(connection.sock)
        headers = httpx.Headers(
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()]
        )
        if "content-encoding" in headers:
            decoded = httpx.Response(response.status, headers=headers, stream=_Raw(response))
            content, oversize = read_limited(decoded.iter_bytes(), self.max_body)
        else:
            content, oversize = read_limited(_chunks(response), self.max_body)
        if response.will_close or not self.keep_alive:
            self._drop(connection)
        return Exchange(response.status, tuple(headers.multi_items()), content, oversize, client)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept-alive connection (and True), or a new one (and False)."""
        kept: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if kept is not None and self.keep_alive:
            return kept, True
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout.connect, context=self.context
            )
        else:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout.connect
            )
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection, False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            if connection in self._opened:
                self._opened.remove(connection)


def read_limited(chunks: Iterable[bytes], max_body: int) -> tuple[bytes, Oversize | None]:
    """The whole body, or beyond `max_body` its first `max_body` bytes with the length and
    SHA-256 of all of it: a 50 MB answer costs one streamed hash, not 50 MB held and diffed."""
    kept = bytearray()
    digest = None  # hashing starts only once the body outgrows max_body
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if digest is None and size > max_body:
            digest = hashlib.sha256(kept)  # every earlier byte was kept whole
        if digest is not None:
            digest.update(chunk)
        if len(kept) < max_body:
            kept.extend(chunk[: max_body - len(kept)])
    if digest is None:
        return bytes(kept), None
    return bytes(kept), Oversize(size, digest.hexdigest())


def _chunks(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while chunk := response.read(_CHUNK):
        yield chunk


class _Raw(httpx.SyncByteStream):
    """The body as it came off the wire, for httpx to decode."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        return _chunks(self.response)


def _with_url_credentials(request: httpx.Request) -> list[tuple[bytes, bytes]]:
    """The headers to send: httpx adds `Authorization: Basic` from the URL's user info when it
    sends (not when it builds), so the record and the curl command keep the URL's form."""
    url = request.url
    if not (url.username or url.password):
        return list(request.headers.raw)
    signed = httpx.Request(request.method, url, headers=request.headers)
    next(httpx.BasicAuth(url.username, url.password).sync_auth_flow(signed))
    return list(signed.headers.raw)


def _address(sock: socket.socket | None) -> tuple[str, int] | None:
    """The gate's end of the connection, read while the connection is surely still open."""
    if sock is None:
        return None
    found = sock.getsockname()
    if isinstance(found, tuple) and len(found) >= 2:
        return str(found[0]), int(found[1])
    return None


def _proxied(base_url: str) -> bool:
    """Whether httpx (trust_env) would send to this URL through a proxy from the environment."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    scheme = parts.scheme.lower()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.netloc)
