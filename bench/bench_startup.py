"""What the plugin costs every pytest run in an environment where it is installed.

Prints the plugin's import time (over pytest's own), the median wall time of a trivial pytest run
with and without the plugin (alternating, so machine noise falls on both alike), their ratio, and
how fast `cutover --version` answers. Run: python -m bench.bench_startup [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def plugin_import_seconds(cwd: Path) -> float:
    """The plugin's own import, pytest already loaded: what -X importtime says it cost."""
    code = "import pytest; import pytest_cutover.plugin"
    found = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=cwd, check=True, capture_output=True, text=True,
    )  # fmt: skip
    line = next(row for row in found.stderr.splitlines() if row.endswith("| pytest_cutover.plugin"))
    return int(line.split("|")[1]) / 1e6


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        (here / "test_trivial.py").write_text("def test_one() -> None:\n    assert True\n")
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        plain: list[float] = []
        loaded: list[float] = []
        imports: list[float] = []
        version: list[float] = []
        for _ in range(runs):
            plain.append(timed([*pytest, "-p", "no:cutover"], here))
            loaded.append(timed(pytest, here))
            imports.append(plugin_import_seconds(here))
            version.append(timed([str(BIN / "cutover"), "--version"], here))
    print(f"medians of {runs} runs, alternating")
    print(
        f"import pytest_cutover.plugin, pytest loaded: {statistics.median(imports) * 1000:.0f} ms"
    )
    with_plugin, without = statistics.median(loaded), statistics.median(plain)
    print(f"trivial pytest run without the plugin (-p no:cutover): {without:.3f} s")
    print(f"trivial pytest run with the plugin:                    {with_plugin:.3f} s")
    print(f"ratio: {with_plugin / without:.3f} (goal: at most 1.30)")
    print(f"cutover --version: {statistics.median(version):.3f} s (goal: under 1 s)")


if __name__ == "__main__":
    main()
