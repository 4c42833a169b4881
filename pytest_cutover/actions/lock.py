"""One actor at a time: two overlapping gate runs (or a gate run and a person at the CLI) must
never both change traffic. An flock is held for the whole action; the kernel drops it when the
holder dies, so a killed run never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pytest_cutover.actions.audit import who

LOCK_FILE = "cutover.lock"


class LockBusy(Exception):
    """Someone else is acting; the message says who, since when, and what to do."""


@contextmanager
def action_lock(path: Path, purpose: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            raise LockBusy(
                f"another cutover action is running ({_describe(holder)}), so this one "
                f"({purpose}) was not taken; wait for it to finish, then check `cutover status` "
                f"(lock file {path})"
            ) from None
        os.ftruncate(fd, 0)
        me = {"who": who(), "since": datetime.now(UTC).isoformat(), "purpose": purpose}
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        os.close(fd)


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"{info['purpose']} by {info['who']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
