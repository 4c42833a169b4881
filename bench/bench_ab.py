"""A/B gate throughput on the demo: request pairs per second, and how much of the wall time the
differ takes versus waiting on the network. The differ must never be the bottleneck.

    .venv/bin/python -m bench.bench_ab [--runs 3] [--concurrency 8]

Starts the demo systems on loopback (as the main job does), replays the demo corpus (1,971
replayable requests) with noise sampling off and on, and prints medians over the runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
from pathlib import Path

from pytest_cutover.config import load_config
from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import OVERALL
from pytest_cutover.gates.ab.run import make_plan, run_ab
from pytest_cutover.launcher import SystemPool

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
