"""Every figure a person reads carries its unit: the formatting the reports share."""

from __future__ import annotations

import math

import pytest

from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.reports.attachments import summary
from pytest_cutover.units import format_bytes, format_measurement, format_rate


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("p95", 0.4875, "487.5 ms"),
        ("legacy.p99", 12.5, "12.5 s"),
        ("avg", 0.0, "0 ms"),
        ("error_rate", 0.004, "0.4 %"),
        ("match_rate", 0.995, "99.5 %"),
        ("rps", 219.43, "219.4 /s"),
        ("target_rps", 50.0, "50 /s"),
        ("p95_ms", 487.5, "487.5 ms"),
        ("body_bytes", 1_500_000, "1.5 MB"),
        ("requests", 1200.0, "1200"),
        ("p95", math.nan, "no data"),
        ("request_rate", 39.9, "39.9 /s"),
        ("legacy.memory", 182.5, "182.5 MB"),
        ("memory_growth", 12.0, "12 MB/h"),
        ("cpu", 0.42, "42 %"),
    ],
)
def test_a_measurement_is_shown_with_its_unit(name: str, value: float, shown: str) -> None:
    assert format_measurement(name, value) == shown


def test_sizes_and_rates() -> None:
    assert [format_bytes(n) for n in (999, 1000, 52_428_800, 3e12)] == [
        "999 B", "1 KB", "52.43 MB", "3 TB"
    ]  # fmt: skip
    assert format_rate(math.nan) == "no data"


def test_the_allure_summary_shows_units_beside_the_reason() -> None:
    result = GateResult(
        "metrics", "latency", Outcome.FAIL, ("p95 = 487.5 ms, limit < 300 ms",),
        {"p95": 0.4875, "error_rate": 0.004, "rps": 12.0},
    )  # fmt: skip
    text = summary(result)
    assert "  p95 = 487.5 ms\n" in text
    assert "  error_rate = 0.4 %\n" in text
    assert "  rps = 12 /s\n" in text
    assert "0.4875" not in text


def test_json_results_name_the_unit_of_each_measurement() -> None:
    result = GateResult(
        "load", "all endpoints", Outcome.PASS, (),
        {"p95": 0.06, "legacy.p95": 0.058, "error_rate": 0.0, "rps": 102.3, "requests": 480.0},
    )  # fmt: skip
    assert result.to_dict()["units"] == {
        "p95": "s", "legacy.p95": "s", "error_rate": "fraction", "rps": "/s"
    }  # fmt: skip
    assert GateResult.from_dict(result.to_dict()) == result
