"""SQLite's bucket checksums, hashed in this process or, for a large table, in worker processes
over rowid ranges so that every core hashes (SQLite has no hash function; the Python loop is
the whole cost of its side, and one interpreter runs it on one core).

A worker reads with its own read-only connection. That is the same data as the gate's snapshot
only because the gate's open read transaction holds SQLite's shared lock, which no writer can
pass in rollback-journal mode; in WAL mode a writer could commit between the two, so a WAL
database is hashed in the gate's own snapshot, in-process.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import call
from typing import Any

from pytest_cutover.gates.integrity.encoding import HASH_HEX_DIGITS, MODULI, python_token

Sums = dict[Any, list[int]]  # bucket -> [rows, sum of 60-bit row hashes]
Token = Callable[[Any], str]
# kind, timestamp precision, time zone, decimals, native family: python_token's arguments.
TokenSpec = tuple[str, int, str | None, int | None, str]
_PROGRESS_EVERY = 10_000
# The first HASH_HEX_DIGITS hex digits of md5 are its first 8 bytes less the last 4 bits: read
# from the digest, without building and parsing a hex text per row.
_DROP_BITS = 64 - 4 * HASH_HEX_DIGITS


def bucket_sums(
    rows: Iterable[Sequence[Any]],
    tokens: Sequence[Token],
    integer_key: bool,
    key_width: int,
    digits: int,
) -> Sums:
    """Per bucket, the row count and the exact sum of 60-bit row hashes."""
    md5 = hashlib.md5
    found: Sums = {}
    get = found.get
    if integer_key:
        modulus = MODULI[digits]
        for row in rows:
            key = row[0]
            bucket = key % modulus if type(key) is int else -1
            encoded = "".join(map(call, tokens, row)).encode()
            row_hash = int.from_bytes(md5(encoded).digest()[:8]) >> _DROP_BITS
            slot = get(bucket)
            if slot is None:
                found[bucket] = [1, row_hash]
            else:
                slot[0] += 1
                slot[1] += row_hash
        return found
    for row in rows:
        parts = list(map(call, tokens, row))
        key_text = "".join(parts[:key_width])
        encoded = (key_text + "".join(parts[key_width:])).encode()
        text_bucket = md5(key_text.encode()).hexdigest()[:digits]
        row_hash = int.from_bytes(md5(encoded).digest()[:8]) >> _DROP_BITS
        slot = get(text_bucket)
        if slot is None:
            found[text_bucket] = [1, row_hash]
        else:
            slot[0] += 1
            slot[1] += row_hash
    return found


def merge(parts: Iterable[Sums]) -> Sums:
    merged: Sums = {}
    for part in parts:
        for bucket, (rows, total) in part.items():
            slot = merged.setdefault(bucket, [0, 0])
            slot[0] += rows
            slot[1] += total
    return merged


@dataclass(frozen=True)
class RangeJob:
    """One worker's share: the rows whose rowid is in [low, high], hashed as the gate would."""

    database: str  # the read-only `file:...?mode=ro` URI the gate's engine opens
    select: str  # the gate's SELECT, ending in `rowid BETWEEN ? AND ?`
    low: int
    high: int
    specs: tuple[TokenSpec, ...]
    integer_key: bool
    key_width: int
    digits: int
    seconds: float  # integrity.statement_timeout, as the in-process path applies it


def hash_range(job: RangeJob) -> Sums:
    """A worker process's whole job (module level, so a spawned process can import it)."""
    tokens = [python_token(*spec) for spec in job.specs]
    db = sqlite3.connect(job.database, uri=True)
    deadline = time.monotonic() + job.seconds
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_EVERY)
    try:
        rows = db.execute(job.select, (job.low, job.high))
        return bucket_sums(rows, tokens, job.integer_key, job.key_width, job.digits)
    finally:
        db.close()


def split(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """[low, high] cut into `parts` contiguous ranges that cover it exactly."""
    size = (high - low + 1 + parts - 1) // parts
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


def parallel_sums(jobs: Sequence[RangeJob]) -> Sums:
    """Each job in its own `python -m` process, all at once. Not multiprocessing: its spawned
    children re-run the caller's main script, and forking a process that runs threads is
    unsafe. A worker's failure is a sqlite3 error here, with the worker's message."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", __name__, base64.b64encode(pickle.dumps(job)).decode()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for job in jobs
    ]
    try:
        parts = []
        for worker in workers:
            out, err = worker.communicate()
            if worker.returncode != 0 or not out:
                lines = err.decode(errors="replace").strip().splitlines()
                raise sqlite3.OperationalError(
                    f"a hashing process failed: {lines[-1] if lines else worker.returncode}"
                )
            status, found = pickle.loads(out)  # our own child's answer, never outside data
            if status != "ok":
                raise sqlite3.OperationalError(found)
            parts.append(found)
        return merge(parts)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def _worker() -> None:
    job: RangeJob = pickle.loads(base64.b64decode(sys.argv[1]))
    try:
        answer: tuple[str, Any] = ("ok", hash_range(job))
    except sqlite3.Error as err:
        answer = ("error", str(err))
    # The answer is bucket sums for the parent process on a private pipe, never an output a
    # person reads: no value or secret is in it.
    sys.stdout.buffer.write(pickle.dumps(answer))


if __name__ == "__main__":
    _worker()
