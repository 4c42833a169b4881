"""The nginx driver: one include file the plugin owns, changed so a failure leaves traffic as is.

nginx cannot test a file other than the one its config includes, so a change goes: keep the
current file (`.prev` and a history folder), put the new one in place atomically (temp file,
fsync, rename), `nginx -t`; if that fails the previous file goes straight back and nothing was
reloaded. Then `nginx -s reload`, which only sends a signal: whether the new config was loaded is
invisible to it (a failed reload just leaves the old workers serving). So the include also holds
a tiny status server that answers the generation of the file it was loaded from, and the change
counts only when a fresh connection gets the new generation. On any failure after the reload
the previous file is restored and reloaded too, and the error says both what failed and what
state traffic was left in.

Weight 0 is not valid nginx, so 0% and 100% leave the other side's servers out altogether.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pytest_cutover.actions.calls import run_command
from pytest_cutover.actions.config import NginxDriverConfig
from pytest_cutover.actions.driver import Change, DriverError
from pytest_cutover.reports.atomic import write_text_atomically

STATUS_PATH = "/cutover-status"
_STATE_PREFIX = "# cutover-state: "
_FILE_MODE = 0o644
_POLL_S = 0.02
_SETTLE_S = 0.3
_ACCEPTING = "nginx: worker process"


def render(config: NginxDriverConfig, percent: float, generation: str) -> str:
    """The whole include file for this weight: upstreams (or a split_clients map) and the status
    server, headed by a machine-readable state line."""
    state = {"generation": generation, "percent": percent, "mode": config.mode}
    lines = [
        "# Written by pytest-cutover: `cutover shift` and the gate's actions change this file;",
        "# edits by hand are overwritten. The previous version is kept beside it (.prev).",
        _STATE_PREFIX + json.dumps(state),
        "",
    ]
    name = config.upstream
    if config.mode == "weights":
        lines += _upstream(name, _weighted_servers(config, percent), config.server_options)
    else:
        lines += _upstream(
            f"{name}_legacy", [(a, None) for a in config.legacy], config.server_options
        )
        lines += _upstream(f"{name}_new", [(a, None) for a in config.new], config.server_options)
        lines.append(f'split_clients "{config.split_key}" ${name} {{')
        if 0 < percent < 100:
            lines.append(f"    {_split_percent(percent)}% {name}_new;")
        lines.append(f"    * {name}_{'new' if percent >= 100 else 'legacy'};")
        lines += ["}", ""]
    lines += [
        "server {",
        f"    listen {config.status_listen};",
        "    access_log off;",
        f"    location = {STATUS_PATH} {{",
        "        default_type application/json;",
        # $pid: which worker answered, so the driver can tell old workers from new ones.
        f"        return 200 '{json.dumps(state)[:-1]}, \"worker\": $pid}}';",
        "    }",
        "    location / {",
        "        return 404;",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def _split_percent(percent: float) -> str:
    return f"{percent:.2f}".rstrip("0").rstrip(".")


def _weighted_servers(config: NginxDriverConfig, percent: float) -> list[tuple[str, int | None]]:
    """Integer weights per server so the sides' totals are in the ratio percent : 100 - percent
    (to 0.01%), reduced to the smallest integers; a side with no share is left out."""
    new_share = round(percent * 100)
    legacy_share = 10_000 - new_share
    if new_share == 0:
        return [(a, None) for a in config.legacy]
    if legacy_share == 0:
        return [(a, None) for a in config.new]
    legacy_weight = legacy_share * len(config.new)
    new_weight = new_share * len(config.legacy)
    common = math.gcd(legacy_weight, new_weight)
    servers: list[tuple[str, int | None]] = [(a, legacy_weight // common) for a in config.legacy]
    return servers + [(a, new_weight // common) for a in config.new]


def _upstream(name: str, servers: list[tuple[str, int | None]], options: str) -> list[str]:
    lines = [f"upstream {name} {{"]
    for address, weight in servers:
        parts = [f"server {address}"]
        if weight is not None and weight != 1:
            parts.append(f"weight={weight}")
        if options:
            parts.append(options)
        lines.append("    " + " ".join(parts) + ";")
    return [*lines, "}", ""]


class NginxDriver:
    name = "nginx"

    def __init__(self, config: NginxDriverConfig, base_dir: Path) -> None:
        self.config = config
        self.base_dir = base_dir
        self.include = base_dir / config.include_file
        self.previous = self.include.with_name(self.include.name + ".prev")
        # Hidden, and named so no `include conf.d/*.conf` can pick a history file up.
        self.history_dir = self.include.with_name(f".{self.include.name}.history")
        self.status_url = f"http://{config.status_listen}{STATUS_PATH}"

    def live(self) -> dict[str, Any]:
        """What nginx serves now, from its status server, over a fresh connection."""
        try:
            response = httpx.get(self.status_url, timeout=min(2.0, self.config.timeout))
            response.raise_for_status()
            state: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise DriverError(f"nginx status server {self.status_url}: {err}") from None
        return state

    def _live_or_none(self) -> dict[str, Any] | None:
        try:
            return self.live()
        except DriverError:
            return None

    def file_state(self) -> dict[str, Any] | None:
        try:
            text = self.include.read_text(encoding="utf-8")
        except OSError:
            return None
        return _state_of(text)

    def current(self) -> float:
        return float(self.live()["percent"])

    def set(self, percent: float, current: float | None = None) -> Change:
        """`current` is not needed: whether nginx already serves `percent` from the file on disk
        is asked of nginx itself (a failed ask only means the change is made)."""
        on_disk = self.file_state()
        serving = self._live_or_none()
        if _same(on_disk, serving) and serving is not None and serving["percent"] == percent:
            return Change(False, f"nginx already serves {percent:g}% ({serving['generation']})")
        if not self.include.parent.is_dir():
            raise DriverError(f"{self.include.parent}: no such folder for the include file")
        previous_text = self._read_previous()
        generation = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self._keep(previous_text)
        write_text_atomically(self.include, render(self.config, percent, generation), _FILE_MODE)
        try:
            self._nginx("-t")
        except DriverError as err:
            self._put_back(previous_text)
            raise DriverError(
                f"nginx -t refused the config for {percent:g}%, so nothing was reloaded and "
                f"traffic is as it was (previous {self.include.name} put back): {err}"
            ) from None
        try:
            self._reload(generation)
        except DriverError as err:
            raise DriverError(
                f"nginx did not take {percent:g}%: {err}; {self._restore(previous_text)}"
            ) from None
        return Change(True, f"nginx serves {percent:g}% (generation {generation})")

    def describe(self) -> dict[str, Any]:
        on_disk = self.file_state()
        described: dict[str, Any] = {
            "driver": self.name,
            "include_file": str(self.include),
            "mode": self.config.mode,
            "file_percent": on_disk["percent"] if on_disk else None,
        }
        try:
            serving = self.live()
        except DriverError as err:
            described.update(percent=None, error=str(err))
            return described
        described["percent"] = serving["percent"]
        if not _same(on_disk, serving):
            described["warning"] = (
                f"{self.include.name} says {described['file_percent']}% but nginx serves "
                f"{serving['percent']}%: a change was interrupted; the next reload would apply "
                "the file"
            )
        return described

    def _read_previous(self) -> str | None:
        try:
            return self.include.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise DriverError(f"{self.include}: cannot be read: {err}") from None

    def _keep(self, previous_text: str | None) -> None:
        """The current file becomes `.prev` and one more entry in the history folder."""
        if previous_text is None:
            return
        write_text_atomically(self.previous, previous_text, _FILE_MODE)
        state = _state_of(previous_text) or {}
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
        name = f"{stamp}-{state.get('generation', 'unknown')}.conf.bak"
        write_text_atomically(self.history_dir / name, previous_text, _FILE_MODE)
        for old in sorted(self.history_dir.glob("*.conf.bak"))[: -self.config.history]:
            old.unlink(missing_ok=True)

    def _put_back(self, previous_text: str | None) -> None:
        if previous_text is None:
            self.include.unlink(missing_ok=True)
        else:
            write_text_atomically(self.include, previous_text, _FILE_MODE)

    def _restore(self, previous_text: str | None) -> str:
        """Put the previous file back and reload it; says what state that left, never raises."""
        state = _state_of(previous_text or "")
        try:
            self._put_back(previous_text)
            if state is not None and _same(state, self._live_or_none()):
                percent = f"{state['percent']:g}%"
                return f"the previous file is back; nginx never stopped serving it ({percent})"
            self._nginx("-t")
            self._reload(None if state is None else str(state["generation"]))
            if state is None:
                return "the previous config was restored and reloaded"
        except (DriverError, OSError) as err:
            return (
                f"RESTORING THE PREVIOUS CONFIG FAILED TOO ({err}): check nginx by hand, "
                f"previous file {self.previous}"
            )
        return f"the previous config ({state['percent']:g}%) was restored and nginx serves it"

    def _nginx(self, *args: str) -> None:
        argv = [*self.config.nginx, *args]
        result = run_command(argv, timeout=self.config.timeout, cwd=self.base_dir)
        if not result.ok:
            raise DriverError(f"`{' '.join(argv)}` {result.summary}: {result.output.strip()}")

    def _reload(self, generation: str | None) -> None:
        """Reload, then wait until the new config answers and every worker of the old one has
        stopped accepting: nginx starts the new workers first and tells the old ones to quit
        about 100 ms later, and in between both take new connections."""
        old = self._accepting_workers()
        self._nginx("-s", "reload")
        if generation is not None:
            self._await(generation)
        if old is None:
            time.sleep(_SETTLE_S)
            return
        deadline = time.monotonic() + self.config.timeout
        while any(_title(pid) == _ACCEPTING for pid in old):
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"old nginx workers {sorted(old)} still accept connections "
                    f"{self.config.timeout:g}s after the reload"
                )
            time.sleep(_POLL_S)

    def _accepting_workers(self) -> frozenset[int] | None:
        """The workers taking connections now (found from the one that answers the status
        server, through /proc); None when that cannot be seen (nginx elsewhere, no /proc)."""
        try:
            master = _parent(int(self.live()["worker"]))
        except (DriverError, KeyError, TypeError, ValueError, OSError):
            return None
        try:
            children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
        except OSError:
            return None
        found: list[int] = []
        for pid in children:
            try:
                if _parent(pid) == master and _title(pid) == _ACCEPTING:
                    found.append(pid)
            except OSError:
                continue
        return frozenset(found) or None

    def _await(self, generation: str) -> None:
        """Wait until a fresh connection is answered from the config with this generation."""
        deadline = time.monotonic() + self.config.timeout
        seen = "nothing"
        while True:
            try:
                serving = self.live()
                if serving.get("generation") == generation:
                    return
                seen = f"generation {serving.get('generation')}"
            except DriverError as err:
                seen = str(err)
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"the reload did not take effect within {self.config.timeout:g}s "
                    f"(still serving {seen}; see nginx's error log)"
                )
            time.sleep(_POLL_S)


def _same(on_disk: dict[str, Any] | None, serving: dict[str, Any] | None) -> bool:
    return bool(on_disk and serving and on_disk.get("generation") == serving.get("generation"))


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _title(pid: int) -> str:
    """nginx writes its process title over argv: "nginx: worker process", or "... is shutting
    down" once told to quit (it then stops accepting and closes idle connections)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
    except OSError:
        return ""


def _state_of(text: str) -> dict[str, Any] | None:
    for line in text.splitlines()[:10]:
        if line.startswith(_STATE_PREFIX):
            try:
                state: dict[str, Any] = json.loads(line.removeprefix(_STATE_PREFIX))
            except ValueError:
                return None
            return state
    return None
