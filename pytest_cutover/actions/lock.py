"""One actor at a time: two overlapping gate runs (or a gate run and a person at the CLI) must
never both change traffic or both run the rollback helper.

An flock is held for the whole action. The kernel drops it when the last descriptor of it is
closed, so a killed run never leaves a stale lock behind; and every process the action starts
(through calls.run_command) inherits the descriptor, so the lock lives exactly as long as the
run or anything it started: a run killed with -9 during a 20 s helper leaves the helper holding
the lock, and a second run is told another run is acting instead of starting a second helper.
A helper that detaches a daemon of its own (`nohup ... &`) keeps the lock for as long as that
daemon lives; the busy message names what still holds it.

The lock file's content says who holds it (run, user, host, since, what it started) for that
message; the lock itself is the flock, never the content.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_cutover.actions.audit import user_at_host

LOCK_FILE = "cutover.lock"
_MAX_CHILDREN = 10


class LockBusy(Exception):
    """Someone else is acting; the message says who, since when, and what to do."""

    def __init__(self, message: str, holder: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.holder = holder


class LockUnavailable(OSError):
    """The lock file cannot be made or locked at all (a read-only or missing folder, a file
    system without flock): nobody holds it, but it cannot guarantee anything either."""


@dataclass
class HeldLock:
    """An flock this process holds; processes started while it is held inherit `fd`."""

    path: Path
    fd: int
    holder: dict[str, Any] = field(default_factory=dict)

    def child_started(self, pid: int, command: str) -> None:
        """Name a process that now holds the lock too, for the next run's busy message."""
        children = self.holder.setdefault("children", [])
        children.append({"pid": pid, "command": command, "since": _now()})
        del children[:-_MAX_CHILDREN]
        self._write()

    def released(self) -> None:
        """An action that ended normally leaves no holder behind: `cutover status` shows one
        only while it (or something it started) may still be acting, as after a kill."""
        self.holder = {}
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)

    def _write(self) -> None:
        """Best effort: the content only names the holder; the flock is the lock."""
        data = json.dumps(self.holder).encode()
        try:
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))
        except OSError:
            return


_HELD: ContextVar[tuple[HeldLock, ...]] = ContextVar("cutover_held_locks", default=())


def held_locks() -> tuple[HeldLock, ...]:
    """The action locks held here now: what a process started now must inherit."""
    return _HELD.get()


@contextmanager
def action_lock(path: Path, purpose: str) -> Iterator[HeldLock]:
    """Hold the lock for the block, or raise LockBusy at once (never wait: a second NO-GO run
    must not queue up a second rollback behind the first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise LockUnavailable(f"the lock file {path} cannot be used: {err}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _parse(os.pread(fd, 65536, 0))
            raise LockBusy(
                f"{describe_holder(holder)}; so this one ({purpose}) was not started: wait for "
                f"it to finish, then check `cutover status` (lock file {path})",
                holder,
            ) from None
        except OSError as err:
            raise LockUnavailable(f"the lock file {path} cannot be locked: {err}") from None
        user, host = user_at_host()
        held = HeldLock(
            path,
            fd,
            {"pid": os.getpid(), "user": user, "host": host, "since": _now(), "purpose": purpose},
        )
        held._write()
        token = _HELD.set((*_HELD.get(), held))
        try:
            yield held
        finally:
            _HELD.reset(token)
        held.released()
    finally:
        os.close(fd)


def describe_holder(holder: dict[str, Any] | None) -> str:
    """Who is acting ("another run (pid N, started at T, by WHO) is acting: PURPOSE") and, when
    that run is gone but processes it started are not, which ones still hold the lock."""
    if not holder or "pid" not in holder:
        return "another run is acting (who is unknown: the lock file has no readable holder)"
    pid, host = holder["pid"], holder.get("host")
    text = (
        f"another run (pid {pid}, started at {holder.get('since')}, by "
        f"{holder.get('user')}@{host}) is acting: {holder.get('purpose')}"
    )
    if host != socket.gethostname() or alive(pid):
        return text
    children = [c for c in holder.get("children", []) if alive(c["pid"])]
    if not children:
        return text + " (that run has ended; something it started still holds the lock)"
    started = ", ".join(f"pid {c['pid']} ({c['command']}, since {c['since']})" for c in children)
    return f"{text} (that run has ended; what it started still runs and holds the lock: {started})"


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acting_now(path: Path) -> dict[str, Any] | None:
    """The holder recorded in the lock file while its run, or something it started, is still
    alive on this host. Read without touching the flock: probing it could make a real action
    that tries it at the same instant give up as busy."""
    try:
        holder = _parse(path.read_bytes())
    except OSError:
        return None
    if holder is None or "pid" not in holder or holder.get("host") != socket.gethostname():
        return holder
    pids = [holder["pid"], *(c["pid"] for c in holder.get("children", []))]
    return holder if any(alive(pid) for pid in pids) else None


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        holder = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def _now() -> str:
    return datetime.now(UTC).isoformat()
