"""A stored baseline of legacy's load figures, for the steps after legacy stops serving the
whole load (issue 14): captured once, with the same generated profile and shape the gate uses,
then read instead of loading legacy when `[load] baseline` names the file.

The file keeps each endpoint's whole per-request histogram, not just its percentiles, so the
thresholds on `legacy.*` are judged with the same confidence intervals as a live legacy.

    cutover baseline [--config cutover.toml] FILE
    python -m pytest_cutover.gates.load.baseline [--config cutover.toml] FILE
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_cutover.gates.load.stats import EndpointStats

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

FORMAT = "pytest-cutover load baseline 1"


class BaselineError(Exception):
    """The baseline file cannot be read or holds nothing to judge against."""


@dataclass(frozen=True)
class StoredBaseline:
    path: Path
    captured_at: str
    users: int
    rate: float
    duration: float
    stats: dict[str, EndpointStats]  # per endpoint name, the aggregate under ""

    def describe(self) -> dict[str, Any]:
        """For the evidence: where legacy's figures came from, and when."""
        return {
            "file": str(self.path),
            "captured_at": self.captured_at,
            "users": self.users,
            "target_rps": self.rate or None,
            "duration_seconds": self.duration,
        }


def document(stats: dict[str, EndpointStats], users: int, rate: float, duration: float) -> Any:
    """What the file holds (strict JSON: only endpoints that completed requests)."""
    return {
        "format": FORMAT,
        "system": "legacy",
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": users,
        "rate": rate,
        "duration_seconds": duration,
        "endpoints": {
            name: {
                "requests": found.requests,
                "failures": found.failures,
                "total_ms": found.total_ms,
                "max_ms": found.max_ms,
                "histogram": {f"{k:g}": v for k, v in sorted(found.histogram.items())},
                "per_second": {str(k): v for k, v in sorted(found.per_second.items())},
                "start": found.start,
                "end": found.end,
            }
            for name, found in stats.items()
            if found.requests and math.isfinite(found.start) and math.isfinite(found.end)
        },
    }


def read_baseline(path: Path) -> StoredBaseline:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (load.baseline)") from None
    except (OSError, ValueError) as err:
        raise BaselineError(f"{path}: not a baseline file (load.baseline): {err}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BaselineError(f"{path}: not a {FORMAT!r} file (load.baseline)")
    try:
        stats = {
            name: EndpointStats(
                name,
                requests=int(entry["requests"]),
                failures=int(entry["failures"]),
                total_ms=float(entry["total_ms"]),
                max_ms=float(entry["max_ms"]),
                histogram=Counter({float(k): int(v) for k, v in entry["histogram"].items()}),
                start=float(entry["start"]),
                end=float(entry["end"]),
                per_second=Counter({int(k): int(v) for k, v in entry["per_second"].items()}),
            )
            for name, entry in raw["endpoints"].items()
        }
        found = StoredBaseline(
            path, str(raw["captured_at"]), int(raw["users"]), float(raw["rate"]),
            float(raw["duration_seconds"]), stats,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BaselineError(f"{path}: a damaged baseline file (load.baseline): {err!r}") from None
    if "" not in stats:
        raise BaselineError(f"{path}: the baseline holds no request (load.baseline)")
    return found


def store(config: CutoverConfig, path: Path, reports: Path) -> StoredBaseline:
    """Start legacy if the config says how, load it with the configured profile, store it in
    `path`. Shared by `cutover baseline` and this module's own command line."""
    from pytest_cutover.gates.load.gate import LoadGate, capture_baseline
    from pytest_cutover.launcher import SystemPool

    plan = LoadGate().section(config)
    if plan is None:
        raise ValueError(f"{config.path}: no [load] section to capture")
    pool = SystemPool(config, reports / "systems")
    try:
        legacy = pool.get("legacy")
        return capture_baseline(plan, config.base_dir, config.redactor, legacy, reports, path)
    finally:
        pool.stop_all()


def stored_line(stored: StoredBaseline) -> str:
    total = stored.stats[""]
    return (
        f"stored legacy's baseline in {stored.path}: {total.requests:,} requests, "
        f"captured {stored.captured_at}"
    )


def main(argv: list[str] | None = None) -> int:
    from pytest_cutover.config import ConfigError, load_config
    from pytest_cutover.gates.load.gate import LoadSetupError
    from pytest_cutover.output import Output
    from pytest_cutover.redact import Redactor

    parser = argparse.ArgumentParser(prog="python -m pytest_cutover.gates.load.baseline")
    parser.add_argument("file", type=Path, help="the baseline file to write")
    parser.add_argument(
        "--config", type=Path, default=Path("cutover.toml"), help="default: cutover.toml here"
    )
    arguments = parser.parse_args(argv)
    try:
        config = load_config(arguments.config)
    except ConfigError as err:
        Output(Redactor()).print(f"cutover: {err}", stderr=True)
        return 2
    output = Output(config.redactor)
    try:
        stored = store(config, arguments.file, config.base_dir / "reports")
    except (ValueError, LoadSetupError) as err:
        output.print(f"cutover: {err}", stderr=True)
        return 2
    output.print(stored_line(stored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
