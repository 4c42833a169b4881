"""Actions happen exactly once: NO-GO runs under pytest-xdist (-n 4), each in a fresh project
with a command traffic driver and a rollback helper, counting helper runs and traffic changes.

Run: python -m bench.bench_exactly_once [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.actions_support import actions_toml, lines, make_project

TESTS = """
import pytest
pytestmark = pytest.mark.canary_gate

@pytest.mark.parametrize("n", range(8))
def test_fine(n): pass

def test_new_is_broken(): assert False, "new answers 500"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    once, codes, took = 0, set(), []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            project = make_project(Path(folder), actions_toml())
            (project / "test_gate.py").write_text(TESTS)
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-n", "4", "-m", "canary_gate",
                 "--cutover-step", "50", "-q", "-p", "no:cacheprovider"],
                cwd=project, capture_output=True, text=True, check=False,
            )  # fmt: skip
            took.append(time.monotonic() - started)
            codes.add(result.returncode)
            helpers = len(lines(project / "rollbacks.log"))
            traffic = lines(project / "traffic.log")
            weight = (project / "weight.txt").read_text()
            once += helpers == 1 and traffic == ["0"] and weight == "0"
    print(f"exactly once (one helper run, one traffic change to 0%): {once} of {runs}")
    print(
        f"exit statuses: {sorted(codes)}; median wall time per run {statistics.median(took):.1f} s"
    )


if __name__ == "__main__":
    main()
