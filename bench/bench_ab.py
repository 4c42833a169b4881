"""A/B gate throughput on the demo: request pairs per second, and how much of the wall time the
differ takes versus waiting on the network. The differ must never be the bottleneck.

    .venv/bin/python -m bench.bench_ab [--runs 3] [--concurrency 8]
    .venv/bin/python -m bench.bench_ab --large 1,10,50 [--max-body 1MB]

Starts the demo systems on loopback (as the main job does), replays the demo corpus (1,971
replayable requests) with noise sampling off and on, and prints medians over the runs.

With --large, two loopback servers instead answer one request with a JSON body of each size
(in MB) that differs between them, and the gate's seconds per MB are printed: the work on a
body must be linear in its size (by length and SHA-256 beyond max_body, else field by field).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_cutover.config import SystemConfig, load_config
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.launcher import SystemPool
from pytest_cutover.redact import Redactor
from pytest_cutover.systems import System

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--large", help="body sizes in MB, comma-separated, e.g. 1,10,50")
    parser.add_argument("--max-body", default="1MB")
    args = parser.parse_args()
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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


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


if __name__ == "__main__":
    main()
