"""Start and stop the systems the plugin runs itself (the embedded demo, a local build).

A started system must never outlive the run: it gets its own process group (stopped as a whole),
the kernel stops it if the runner dies (Linux parent-death signal), and its output is kept in a
log file so a failed start can show why. The log goes through the run's Output, line by line:
a system that prints its environment or a connection URL never puts a secret on disk.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from pytest_cutover.config import CutoverConfig, SystemConfig
from pytest_cutover.output import ChildLog, Output
from pytest_cutover.systems import System

_PR_SET_PDEATHSIG = 1


class StartError(Exception):
    """A system could not be started or never became ready; the message says why."""


@dataclass
class StartedSystem:
    system: System
    process: subprocess.Popen[bytes]
    log_path: Path
    log: ChildLog

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after `grace` seconds."""
        if self.process.poll() is not None:
            return
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=grace)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_system(
    name: str,
    config: SystemConfig,
    base_dir: Path,
    log_dir: Path,
    output: Output,
    extra_env: Mapping[str, str] | None = None,
) -> StartedSystem:
    """Run the system's start command and wait until it serves: its ready path (or declared
    readiness, or health path) answers 2xx, or, with none of them, its base URL answers at all.
    `name` is the system's, or `legacy/SERVICE` for one of its services (not `legacy.auth`:
    the redactor reads `auth: ...` in a message as a credential)."""
    assert config.start is not None, f"{name} has no [start] section"
    assert config.base_url is not None, f"{name} has [start] but no base_url"
    start = config.start
    port = str(free_port())

    def fill(text: str) -> str:
        return text.replace("{python}", sys.executable).replace("{port}", port)

    argv = [fill(part) for part in start.command]
    base_url = fill(config.base_url)
    ready = start.ready or config.health.ready_path()
    ready_url = fill(ready or "/")
    if not ready_url.startswith(("http://", "https://")):
        ready_url = base_url + ready_url
    cwd = base_dir / start.cwd if start.cwd else base_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    log_name = name.replace("/", ".")
    log_path = log_dir / f"{log_name}.{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    env = {**os.environ, **start.env, **(extra_env or {})}
    log = output.child_log(log_path)
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log.fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    except OSError as err:
        raise StartError(
            f"{name}: cannot run {argv[0]!r} (from [{_section(name)}.start] command): {err}"
        ) from None
    finally:
        log.started()
    started = StartedSystem(System(name, config, base_url, base_dir), process, log_path, log)
    try:
        _wait_ready(started, ready_url, start.timeout, any_answer=ready is None)
    except BaseException:
        started.stop()
        raise
    return started


def _section(name: str) -> str:
    system, _, service = name.partition("/")
    return f"systems.{system}.services.{service}" if service else f"systems.{system}"


def _wait_ready(
    started: StartedSystem, ready_url: str, timeout: float, any_answer: bool = False
) -> None:
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = started.process.poll()
            if code is not None:
                started.log.wait(timeout=2.0)  # what it printed before it exited
                raise StartError(
                    f"{started.system.name}: start command exited with status {code} before "
                    f"{ready_url} answered; its output ({started.log_path}):\n"
                    f"{_tail(started.log_path)}"
                )
            try:
                response = client.get(ready_url)
                if response.is_success or any_answer:
                    return
                last_problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as err:
                last_problem = f"{type(err).__name__}: {err}"
            if time.monotonic() >= deadline:
                raise StartError(
                    f"{started.system.name}: not ready after {timeout:g} s: {ready_url} "
                    f"({last_problem}); its output ({started.log_path}):\n"
                    f"{_tail(started.log_path)}"
                )
            time.sleep(0.05)


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace").rstrip()
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"
    return "(no output)"


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM it when pytest dies,
    # even by SIGKILL, which no finalizer or atexit handler survives.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class SystemPool:
    """The systems of one run: a system with [start] is started on first use, once per process.

    Under pytest-xdist each worker starts its own copy on its own free port (so workers never
    share state); a system without [start] is only described, never touched.
    """

    def __init__(self, config: CutoverConfig, log_dir: Path) -> None:
        self._config = config
        self._log_dir = log_dir
        self._started: dict[str, StartedSystem] = {}
        self._systems: dict[str, System] = {}
        atexit.register(self.stop_all)

    def get(self, name: str) -> System:
        """The system, with its own process and each of its services' started first where
        they have [start]. A database-only system has no base URL ("")."""
        if name not in self._systems:
            config = self._config.system(name)
            services = {
                service: self._reach(f"{name}/{service}", config.service(service))
                for service in config.services
            }
            system = self._reach(name, config)
            self._systems[name] = replace(system, services=services)
        return self._systems[name]

    def _reach(self, name: str, config: SystemConfig) -> System:
        if config.start is None:
            return System(name, config, config.base_url or "", self._config.base_dir)
        started = start_system(
            name, config, self._config.base_dir, self._log_dir, self._config.output
        )
        self._started[name] = started
        return started.system

    def stop_all(self) -> None:
        while self._started:
            _, started = self._started.popitem()
            started.stop()
        atexit.unregister(self.stop_all)
