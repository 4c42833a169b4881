"""Sampling a system's processes: resident memory and CPU time, every interval, with psutil.

A system is a process tree: the processes named by pid, or the one listening on a local port,
with all their children (a uvicorn or gunicorn master and its workers). Each sample is the sum
over the tree as it is at that moment; CPU is the growth of user + system time between samples
(children that came and went between two samples are not seen: a short interval sees more).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"})


class ProcessNotFound(Exception):
    """Nothing to sample: the message says where the gate looked."""


@dataclass
class Series:
    """One system's samples: (seconds since start, RSS bytes, CPU seconds used so far)."""

    samples: list[tuple[float, float, float]] = field(default_factory=list)
    gone: str | None = None  # why sampling stopped early: the system's processes ended

    def memory_mb(self) -> list[float]:
        return [rss / 1e6 for _, rss, _ in self.samples]

    def cpu_shares(self) -> list[float]:
        """The share of one core used in each interval."""
        pairs = zip(self.samples, self.samples[1:], strict=False)
        return [(c2 - c1) / (t2 - t1) for (t1, _, c1), (t2, _, c2) in pairs if t2 > t1]


def listening_pids(port: int) -> list[int]:
    """The processes with a listening socket on `port` on this machine."""
    found = {
        conn.pid
        for conn in psutil.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid
    }
    return sorted(found)


def cgroup_pids(path: Path) -> list[int]:
    """The processes in a cgroup directory when the window starts (`cgroup.procs`, the same
    file in cgroup v1 and v2); ProcessNotFound when it cannot be read."""
    try:
        text = (path / "cgroup.procs").read_text(encoding="ascii")
    except OSError as err:
        raise ProcessNotFound(f"cannot read {path / 'cgroup.procs'}: {err.strerror}") from None
    return [int(line) for line in text.split() if line.isdigit()]


def is_local(host: str | None) -> bool:
    return host is not None and host.lower() in _LOCAL_HOSTS


def processes(pids: Iterable[int]) -> list[psutil.Process]:
    """The named processes, each once, that exist now; ProcessNotFound for none."""
    found: list[psutil.Process] = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    if not found:
        raise ProcessNotFound(f"no process with pid {', '.join(str(p) for p in pids) or '(none)'}")
    return found


def sample(roots: list[psutil.Process]) -> tuple[float, float] | None:
    """RSS bytes and CPU seconds of the trees under `roots`; None when every root has ended."""
    rss = cpu = 0.0
    alive = False
    for root in roots:
        try:
            # A process that ended and was not reaped yet (a crashed child of this very run) is
            # a zombie: it has ended.
            if root.status() == psutil.STATUS_ZOMBIE:
                continue
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        alive = True
        for process in tree:
            try:
                with process.oneshot():
                    rss += process.memory_info().rss
                    times = process.cpu_times()
                    cpu += times.user + times.system
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
    return (rss, cpu) if alive else None


def watch(
    systems: dict[str, list[psutil.Process]],
    duration: float,
    interval: float,
    tick: Callable[[float], None] = lambda _elapsed: None,
) -> dict[str, Series]:
    """Sample every system at the same moments, every `interval`, for `duration`."""
    series = {name: Series() for name in systems}
    started = time.monotonic()
    deadline = started + duration
    while True:
        now = time.monotonic()
        for name, roots in systems.items():
            found = series[name]
            if found.gone is not None:
                continue
            measured = sample(roots)
            if measured is None:
                found.gone = f"its processes ended {now - started:.1f} s into the window"
            else:
                found.samples.append((now - started, *measured))
        tick(now - started)
        if now >= deadline:
            return series
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
