"""A/B gate throughput on the demo: request pairs per second, and how much of the wall time the
differ takes versus waiting on the network. The differ must never be the bottleneck.

    .venv/bin/python -m bench.bench_ab [--runs 3] [--concurrency 8]
    .venv/bin/python -m bench.bench_ab --large 1,10,50 [--max-body 1MB]
    .venv/bin/python -m bench.bench_ab --static 5000 --concurrency 16

Starts the demo systems on loopback (as the main job does), replays the demo corpus (1,971
replayable requests) with noise sampling off and on, and prints medians over the runs.

With --large, two loopback servers instead answer one request with a JSON body of each size
(in MB) that differs between them, and the gate's seconds per MB are printed: the work on a
body must be linear in its size (by length and SHA-256 beyond max_body, else field by field).

With --static, two nginx instances on loopback serve one static JSON document; the gate replays
that many GETs (noise off, no rate cap) and its pairs/s are printed beside a plain sync httpx
loop on one thread asking both servers in turn, in the same run (what the client costs), with
the ratio and the differ's share of the wall time. Then two servers that take 50 ms per answer:
the gate's pairs/s beside the most the in-flight cap allows (concurrency / 0.05 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import socket
import statistics
import subprocess
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from pytest_cutover.config import SystemConfig, load_config
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.launcher import SystemPool
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System
from tests.http_support import serve
from tests.nginx_support import NGINX

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--large", help="body sizes in MB, comma-separated, e.g. 1,10,50")
    parser.add_argument("--max-body", default="1MB")
    parser.add_argument(
        "--static", type=int, help="GETs to replay against two nginx servers (e.g. 5000)"
    )
    args = parser.parse_args()
    if args.static:
        static_servers(args.static, args.concurrency)
        return
    if args.large:
        large_bodies([float(size) for size in args.large.split(",")], args.max_body)
        return
    base = load_config(REPO / "cutover.toml")
    with tempfile.TemporaryDirectory() as logs:
        pool = SystemPool(base, Path(logs))
        try:
            legacy, new = pool.get("legacy"), pool.get("new")
            print(
                f"{'noise':<6} {'pairs':>6} {'pairs/s':>8} {'wall s':>7} {'diff s':>7} "
                f"{'diff share':>10} {'differ pairs/s':>14} {'headroom':>8}"
            )
            for noise in (False, True):
                settings = base.ab.model_dump(by_alias=True) | {
                    "noise": noise,
                    "rate": 100_000,
                    "concurrency": args.concurrency,
                }
                config = base.model_copy(update={"ab": AbConfig.model_validate(settings)})
                plan = make_plan(config.ab, config.base_dir, config.redactor)
                timings = []
                for _ in range(args.runs):
                    results = run_ab(
                        config.ab,
                        config.base_dir,
                        config.redactor,
                        legacy,
                        new,
                        plan,
                        dt.date.today(),
                    )
                    timings.append(next(r for r in results if r.name == OVERALL).evidence["timing"])
                wall = statistics.median(t["wall_seconds"] for t in timings)
                diff = statistics.median(t["comparing_seconds"] for t in timings)
                pairs = len(plan.replay)
                print(
                    f"{'on' if noise else 'off':<6} {pairs:>6} {pairs / wall:>8.0f} {wall:>7.2f} "
                    f"{diff:>7.2f} {diff / wall:>10.1%} {pairs / diff:>14.0f} "
                    f"{wall / diff:>7.1f}x"
                )
        finally:
            pool.stop_all()
    print(
        f"medians of {args.runs} runs; headroom = how many times faster the differ is than "
        "the replay it keeps up with"
    )


def _big_json(megabytes: float, side: str) -> bytes:
    item = {"id": 0, "name": "x" * 60, "side": side}
    count = int(megabytes * 1_000_000 / (len(json.dumps(item)) + 2)) + 1
    return json.dumps([{**item, "id": i} for i in range(count)]).encode()


def _serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    return serve(Handler)


def large_bodies(sizes: list[float], max_body: str) -> None:
    print(
        f"{'MB':>6} {'outcome':>8} {'gate s':>7} {'s per MB':>8}  compared by (max_body {max_body})"
    )
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "corpus.jsonl").write_text(json.dumps({"path": "/export"}) + "\n")
        ab = AbConfig.model_validate({"corpus": "corpus.jsonl", "max_body": max_body})
        for size in sizes:
            started = [_serve(_big_json(size, side)) for side in ("legacy", "new")]
            legacy, new = (
                System(name, SystemConfig(base_url=url), url, base)
                for name, (_server, url) in zip(("legacy", "new"), started, strict=True)
            )
            redactor = Redactor()
            plan = make_plan(ab, base, redactor)
            began = time.perf_counter()
            results = run_ab(ab, base, redactor, legacy, new, plan, dt.date.today())
            wall = time.perf_counter() - began
            endpoint = results[0]
            answer = next(iter(endpoint.evidence["answers"].values()))
            how = "length and SHA-256" if "body_compared_by" in answer else "field by field"
            print(f"{size:>6g} {endpoint.outcome.value:>8} {wall:>7.2f} {wall / size:>8.3f}  {how}")
            for server, _url in started:
                server.shutdown()
                server.server_close()


_NGINX = """
daemon off;
master_process off;
pid {folder}/nginx-{port}.pid;
error_log {folder}/error-{port}.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ default_type application/json; try_files /doc.json =404; root {folder}; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def static_servers(count: int, concurrency: int) -> None:
    """The client's cost: the gate against a plain sync httpx loop on one thread, in one run;
    then the network's: servers that take 50 ms per answer, where the in-flight cap must hide
    the latency (the gate can reach concurrency / 0.05 s pairs per second, no more)."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        document = {"items": [{"id": i, "name": f"user {i}"} for i in range(20)]}
        (base / "doc.json").write_text(json.dumps(document))
        processes = []
        urls = []
        for _ in range(2):
            port = _free_port()
            config = base / f"nginx-{port}.conf"
            config.write_text(_NGINX.format(folder=folder, port=port))
            processes.append(subprocess.Popen([NGINX, "-c", str(config), "-p", folder]))
            urls.append(f"http://127.0.0.1:{port}")
        try:
            for url in urls:
                _wait_for(url)
            paths = [f"/users/{i}" for i in range(count)]
            gate_rate, share, outcome = _gate_rate(base, urls, paths, concurrency)
            began = time.perf_counter()
            with httpx.Client() as client:
                for path in paths:
                    for url in urls:
                        client.get(url + path).raise_for_status()
            loop_rate = count / (time.perf_counter() - began)
        finally:
            for process in processes:
                process.terminate()
                process.wait()
        print(f"{count} GET pairs on two nginx, concurrency {concurrency}, noise off, {outcome}")
        print(f"gate                  {gate_rate:>7.0f} pairs/s (differ {share:.1%} of wall)")
        print(f"sync httpx, 1 thread  {loop_rate:>7.0f} pairs/s")
        print(f"gate / loop           {gate_rate / loop_rate:>7.2f}x")
        # In processes of their own: the servers' Python must not share the gate's GIL.
        slow = [_SlowServer(document, 0.05) for _ in range(2)]
        try:
            bound = concurrency / 0.05
            count = int(bound * 3)  # about three seconds at the bound
            slow_urls = [server.url for server in slow]
            rate, share, outcome = _gate_rate(base, slow_urls, paths[:count], concurrency)
        finally:
            for server in slow:
                server.stop()
        print(f"{count} GET pairs, 50 ms per answer, concurrency {concurrency}, {outcome}")
        print(
            f"gate                  {rate:>7.0f} pairs/s of at most {bound:.0f} "
            f"({rate / bound:.0%}; differ {share:.1%} of wall)"
        )


def _gate_rate(
    base: Path, urls: list[str], paths: list[str], concurrency: int
) -> tuple[float, float, str]:
    """Pairs per second of one gate run (noise off, no rate cap), the differ's share, outcome."""
    (base / "corpus.jsonl").write_text("".join(json.dumps({"path": p}) + "\n" for p in paths))
    settings = {"corpus": "corpus.jsonl", "concurrency": concurrency, "rate": 1_000_000}
    ab = AbConfig.model_validate(settings)
    legacy, new = (
        System(n, SystemConfig(base_url=u), u, base)
        for n, u in zip(("legacy", "new"), urls, strict=True)
    )
    redactor = Redactor()
    plan = make_plan(ab, base, redactor)
    began = time.perf_counter()
    results = run_ab(ab, base, redactor, legacy, new, plan, dt.date.today())
    rate = len(paths) / (time.perf_counter() - began)
    overall = next(r for r in results if r.name == OVERALL)
    return rate, overall.evidence["timing"]["comparing_share"], overall.outcome.value


class _SlowServer:
    """A keep-alive JSON server that waits `delay` seconds before each answer, in a process."""

    def __init__(self, document: object, delay: float) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = multiprocessing.Process(
            target=_serve_slowly, args=(json.dumps(document).encode(), delay, self.port)
        )
        self.process.start()
        _wait_for(self.url)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


def _serve_slowly(body: bytes, delay: float, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as nginx
        # Headers and body leave in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK would add 40 ms to every answer, which nginx never does.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url + "/").raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    main()
