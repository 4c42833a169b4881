"""A real nginx on loopback, run as this test's own process (never the system service), in
front of two real backends that say who answered: what the traffic actions are tested against.

The backends are two more nginx servers of the same process, each answering with its name:
real HTTP on loopback, and fast enough that thousands of requests take a second, not ten."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from pytest_cutover.actions.config import NginxDriverConfig
from pytest_cutover.actions.nginx import render

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
_CLIENTS = 8


def nginx_available() -> bool:
    return Path(NGINX).is_file()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Nginx:
    """nginx with a temp prefix: the main config includes the file the driver owns."""

    def __init__(self, folder: Path, mode: str) -> None:
        self.folder = folder
        self.port = free_port()
        backends = {"legacy": free_port(), "new": free_port()}
        self.url = f"http://127.0.0.1:{self.port}/"
        self.include = folder / "conf.d" / "cutover-split.conf"
        self.include.parent.mkdir(parents=True)
        (folder / "tmp").mkdir()
        self.conf = folder / "nginx.conf"
        self.command = [NGINX, "-p", str(folder), "-c", str(self.conf), "-e", "error.log"]
        self.settings = {
            "include_file": str(self.include),
            "mode": mode,
            "legacy": [f"127.0.0.1:{backends['legacy']}"],
            "new": [f"127.0.0.1:{backends['new']}"],
            "split_key": "$http_x_client_id",
            "status_listen": f"127.0.0.1:{free_port()}",
            "nginx": self.command,
            "timeout": "5s",
        }
        upstream = "$cutover_backend" if mode == "split_clients" else "cutover_backend"
        self.conf.write_text(
            f"""
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log notice;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    include {self.include};
    server {{
        listen 127.0.0.1:{self.port};
        location / {{ proxy_pass http://{upstream}; }}
    }}
    server {{
        listen 127.0.0.1:{backends["legacy"]};
        location / {{ return 200 "legacy"; }}
    }}
    server {{
        listen 127.0.0.1:{backends["new"]};
        location / {{ return 200 "new"; }}
    }}
}}
"""
        )
        # nginx needs the include to start: the first version puts everything on legacy.
        self.include.write_text(render(self.driver_config(), 0.0, "boot"))
        output = folder / "nginx.out"
        with output.open("w") as sink:
            self.process = subprocess.Popen(self.command, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start: {output.read_text()}")
            time.sleep(0.02)

    def driver_config(self, **changes: object) -> NginxDriverConfig:
        return NginxDriverConfig.model_validate({**self.settings, **changes})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def who_answers(url: str, count: int, client_ids: Iterable[str] = ()) -> Counter[str]:
    """Send `count` requests (request i with client id i, when ids are given); count answers."""
    ids = list(client_ids)
    return Counter(
        answer
        for _, answer in answers(url, [ids[i % len(ids)] if ids else "" for i in range(count)])
    )


def answers(url: str, client_ids: list[str]) -> list[tuple[str, str]]:
    """One request per entry, from 8 keep-alive connections at once: (client id, who answered)."""
    parts = urlsplit(url)

    def send(share: list[str]) -> list[tuple[str, str]]:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        seen = []
        try:
            for client in share:
                connection.request("GET", parts.path, headers={"X-Client-Id": client})
                seen.append((client, connection.getresponse().read().decode()))
        finally:
            connection.close()
        return seen

    with ThreadPoolExecutor(_CLIENTS) as pool:
        shares = pool.map(send, (client_ids[n::_CLIENTS] for n in range(_CLIENTS)))
        return [pair for share in shares for pair in share]
