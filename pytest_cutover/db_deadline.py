"""A client-side deadline for PostgreSQL round trips: what gives up on a frozen server.

statement_timeout is enforced by the server, so a server that cannot run at all (stopped,
swapped out, a proxy or load balancer that hangs) never sends its error. TCP keepalives do not
help either while the server's kernel is alive: it acknowledges every packet on behalf of the
frozen process. Only the client can tell that no answer came in time.

psycopg 3 sends every blocking round trip on an open connection (queries, fetches, commit,
rollback, SQLAlchemy's pre-ping) through `Connection.wait`; opening one is bounded by
connect_timeout instead. Here `wait` is armed with a deadline: one watchdog thread for the whole
process shuts the socket down when a round trip outlives it, which ends the wait at once with an
error. The connection is then broken, and SQLAlchemy's pool throws it away.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen

RV = TypeVar("RV")


class DeadlineExceeded(psycopg.OperationalError, TimeoutError):
    """The server sent no answer within the client-side deadline; the connection was closed.

    Also a TimeoutError, so code that knows nothing of psycopg can still tell a timeout."""


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every round trip gives up after `deadline_s` seconds."""

    deadline_s: float | None = None

    def wait(self, gen: PQGen[RV], *args: Any, **kwargs: Any) -> RV:
        if self.deadline_s is None:
            return super().wait(gen, *args, **kwargs)
        token = _WATCHDOG.arm(self.pgconn.socket, self.deadline_s)
        try:
            return super().wait(gen, *args, **kwargs)
        except psycopg.OperationalError as err:
            if _WATCHDOG.disarm(token):
                raise DeadlineExceeded(
                    f"no answer from the database server within {self.deadline_s:g} s "
                    "(client-side deadline: the server or the network to it is frozen); "
                    "the connection was closed"
                ) from err
            raise
        finally:
            _WATCHDOG.disarm(token)


class _Watchdog:
    """One daemon thread for every connection in the process: it shuts down the socket of any
    round trip that outlived its deadline. It does so holding the lock `disarm` takes, so a
    round trip that has already ended (and might have closed its socket, freeing the number for
    another file) is never touched."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}  # token -> (deadline, socket fd)
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (time.monotonic() + seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="cutover-db-deadline", daemon=True
                )
                self._thread.start()
            self._lock.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Stop watching; True when the deadline had passed and the socket was shut down."""
        with self._lock:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._fired.add(token)
                        _shut_down(fd)
                soonest = min((deadline for deadline, _ in self._armed.values()), default=None)
                self._lock.wait(None if soonest is None else max(0.0, soonest - now))


def _shut_down(fd: int) -> None:
    """Both directions of the socket: the blocked read sees the end of the stream at once."""
    # OSError: already closed by the server, so nothing is left to end.
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
