"""Load gate figures: its overhead against plain `locust --headless` with the same locustfile
against the same server, the highest rate one core of locust reaches with FastHttpUser, and how
often relative thresholds judge right (A/A false NO-GO, detection of +100 ms on 20%).

    .venv/bin/python -m bench.bench_load [--runs 3] [--seconds 10] [--verdict-runs 20]
        [--verdict-seconds 4] [--only-verdicts]

Part 1 runs the demo's new system (as the main job does) and alternates plain locust and the
gate, same profile, users and target rate; part 2 points FastHttpUser with no wait at nginx
(Debian's nginx-light, one worker, loopback) so the server is never the limit; part 3 runs the
gate with the README's relative budget (tests/load_support.py RELATIVE) against two app
processes on loopback (tests/load_support.py), one locust run loading both, identical (A/A) or
new with +100 ms on every fifth request, each with and without a CPU hog pinned to one core
beside the gate; a wrong verdict's reasons are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_cutover.config import load_config
from pytest_cutover.gates.load.config import LoadConfig
from pytest_cutover.gates.load.gate import OVERALL, LoadGate, run_load
from pytest_cutover.gates.load.profile import Pacing, make_profile
from pytest_cutover.gates.load.stats import read_stats
from pytest_cutover.gates.result import Outcome
from pytest_cutover.launcher import SystemPool, free_port
from tests.load_support import FaultServer, judge_relative

REPO = Path(__file__).resolve().parent.parent
USERS, RATE = 10, 200.0
NO_WAIT_LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class NoWait(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location / {{ default_type application/json; return 200 '{{"ok": true}}'; }}
    }}
}}
"""


def plain_locust(
    locustfile: Path, host: str, seconds: int, folder: Path, env: dict[str, str], users: int = USERS
) -> tuple[float, float, float]:
    """Achieved rps, p95 (ms) and locust's CPU share of one plain headless run."""
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
         "-r", str(users), "-t", f"{seconds}s", "--host", host, "--json-file",
         str(folder / "plain"), "--only-summary", "--loglevel", "WARNING"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.time() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    total = read_stats(folder / "plain.json")["new"][""].measurements()
    return total["rps"], total["p95"] * 1000, (usage.ru_utime + usage.ru_stime) / wall


def overhead(runs: int, seconds: int) -> None:
    base = load_config(REPO / "cutover.toml")
    settings = {"users": USERS, "rate": RATE, "duration": seconds, "thresholds": ["p95 < 10s"]}
    config = base.model_copy(update={"load": LoadConfig.model_validate(settings)})
    plan = LoadGate().section(config)
    assert plan is not None
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        pool = SystemPool(base, folder / "systems")
        try:
            new = pool.get("new")
            locustfile = folder / "cutover_profile.py"
            make_profile(plan, config.base_dir, config.redactor).write_locustfile(
                [new], config.ab, Pacing(RATE / USERS, 10.0), locustfile
            )
            env = dict(os.environ)
            plain, gated = [], []
            for _ in range(runs):
                plain.append(plain_locust(locustfile, new.base_url, seconds, folder, env))
                result = run_load(
                    plan, config.base_dir, config.redactor, new, None, None, folder / "gate"
                )[0]
                assert result.name == OVERALL
                gated.append((result.measurements["rps"], result.measurements["p95"] * 1000))
        finally:
            pool.stop_all()
    rps_plain = statistics.median(r for r, _, _ in plain)
    rps_gate = statistics.median(r for r, _ in gated)
    p95_plain = statistics.median(p for _, p, _ in plain)
    p95_gate = statistics.median(p for _, p in gated)
    print(f"overhead: target {RATE:g} rps, {USERS} users, {seconds} s, demo new system, "
          f"medians of {runs} alternating runs")  # fmt: skip
    print(f"  plain locust: {rps_plain:7.1f} rps  p95 {p95_plain:6.1f} ms")
    print(f"  load gate:    {rps_gate:7.1f} rps  p95 {p95_gate:6.1f} ms")
    print(f"  gate / plain: rps {rps_gate / rps_plain:.3f}  p95 {p95_gate / p95_plain:.3f}")


def single_core(seconds: int) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("single core: skipped, nginx is not installed (apt-get install nginx-light)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        port = free_port()
        (folder / "nginx.conf").write_text(NGINX_CONF.format(folder=folder, port=port))
        server = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)])
        try:
            for _ in range(50):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            locustfile = folder / "nowait.py"
            locustfile.write_text(NO_WAIT_LOCUSTFILE)
            host = f"http://127.0.0.1:{port}"
            rps, p95, cpu = plain_locust(locustfile, host, seconds, folder, dict(os.environ), 50)
        finally:
            server.terminate()
            server.wait()
    print(
        f"single core: FastHttpUser, no wait, 50 users, 1 process, nginx on loopback: "
        f"{rps:.0f} rps (p95 {p95:.1f} ms, locust CPU {cpu:.0%} of one core)"
    )


def verdicts(runs: int, seconds: int) -> None:
    """Outcomes of `runs` A/A and `runs` +100 ms-on-20% gate runs of `seconds` at 80
    requests/s, without and with a hog."""
    for hogged in (False, True):
        hog = None
        if hogged:
            hog = subprocess.Popen(
                [sys.executable, "-c", "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"]
            )
        try:
            started = time.monotonic()
            counts: dict[str, dict[Outcome, int]] = {}
            for case, faults in (("A/A", {}), ("+100 ms on 20%", {"slow_every": 5})):
                found = dict.fromkeys(Outcome, 0)
                for _ in range(runs):
                    with tempfile.TemporaryDirectory() as scratch:
                        folder = Path(scratch)
                        legacy = FaultServer("legacy", folder)
                        new = FaultServer("new", folder, **faults)
                        try:
                            judged = judge_relative(new.system, legacy.system, folder, seconds)
                            found[judged.outcome] += 1
                            wrong = Outcome.FAIL if not faults else Outcome.PASS
                            if judged.outcome in (wrong, Outcome.INCONCLUSIVE):
                                print(f"  {case}: {judged.outcome.value}: {judged.reasons}")
                        finally:
                            new.close()
                            legacy.close()
                counts[case] = found
            wall = time.monotonic() - started
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        aa, slow = counts["A/A"], counts["+100 ms on 20%"]
        print(
            f"verdicts {'with a CPU hog on core 0' if hogged else 'no hog'} ({runs} runs each "
            f"of {seconds} s at 80 requests/s, "
            f"{wall:.0f} s): A/A false NO-GO {aa[Outcome.FAIL]}/{runs} "
            f"(PASS {aa[Outcome.PASS]}, INCONCLUSIVE {aa[Outcome.INCONCLUSIVE]}); "
            f"+100 ms on 20% detected {slow[Outcome.FAIL]}/{runs} "
            f"(PASS {slow[Outcome.PASS]}, INCONCLUSIVE {slow[Outcome.INCONCLUSIVE]})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--verdict-runs", type=int, default=20)
    parser.add_argument("--verdict-seconds", type=int, default=4)
    parser.add_argument("--only-verdicts", action="store_true")
    args = parser.parse_args()
    if not args.only_verdicts:
        overhead(args.runs, args.seconds)
        single_core(args.seconds)
    verdicts(args.verdict_runs, args.verdict_seconds)


if __name__ == "__main__":
    main()
