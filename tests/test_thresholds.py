"""The threshold language: what users write in cutover.toml and what they read back."""

from __future__ import annotations

import math

import pytest

from pytest_cutover.thresholds import ThresholdError, Verdict, parse_threshold
from pytest_cutover.units import Kind, Quantity

MS = Kind.DURATION


def q(value: float, kind: Kind = Kind.NUMBER) -> Quantity:
    return Quantity(value, kind)


@pytest.mark.parametrize(
    ("expression", "measurements", "verdict", "explanation"),
    [
        ("p95 < 200ms", {"p95": q(0.231, MS)}, Verdict.FAIL, "p95 = 231 ms, limit < 200 ms: FAIL"),
        ("p95 < 200 ms", {"p95": q(0.150, MS)}, Verdict.PASS, "p95 = 150 ms, limit < 200 ms: PASS"),
        (
            "error_rate < 1%",
            {"error_rate": q(0.004, Kind.RATIO)},
            Verdict.PASS,
            "error_rate = 0.4 %, limit < 1 %: PASS",
        ),
        (
            "match_rate >= 99.5%",
            {"match_rate": q(0.99, Kind.RATIO)},
            Verdict.FAIL,
            "match_rate = 99 %, limit >= 99.5 %: FAIL",
        ),
        (
            "rps >= 1.5 * legacy.rps",
            {"rps": q(120), "legacy.rps": q(100)},
            Verdict.FAIL,
            "rps = 120, limit >= 1.5 * legacy.rps = 150: FAIL",
        ),
        (
            "p95 <= 1.2 * legacy.p95",
            {"p95": q(0.110, MS), "legacy.p95": q(0.1, MS)},
            Verdict.PASS,
            "p95 = 110 ms, limit <= 1.2 * legacy.p95 = 120 ms: PASS",
        ),
        (
            "p99 - legacy.p99 < 50ms",
            {"p99": q(0.3, MS), "legacy.p99": q(0.2, MS)},
            Verdict.FAIL,
            "p99 - legacy.p99 = 100 ms, limit < 50 ms: FAIL",
        ),
        (
            "timeout_total < 2m",
            {"timeout_total": q(90.0, MS)},
            Verdict.PASS,
            "timeout_total = 90 s, limit < 120 s: PASS",
        ),
    ],
)
def test_evaluation_verdict_and_explanation(
    expression: str, measurements: dict[str, Quantity], verdict: Verdict, explanation: str
) -> None:
    result = parse_threshold(expression).evaluate(measurements)
    assert (result.verdict, result.explanation) == (verdict, explanation)


@pytest.mark.parametrize(
    ("expression", "measurements"),
    [
        ("p95 < 200ms", {}),
        ("rps >= 1.5 * legacy.rps", {"rps": q(120)}),
        ("p95 < 200ms", {"p95": q(float("nan"), MS)}),
    ],
)
def test_missing_measurement_is_no_data_never_a_pass(
    expression: str, measurements: dict[str, Quantity]
) -> None:
    result = parse_threshold(expression).evaluate(measurements)
    assert result.verdict is Verdict.NO_DATA
    assert "not a pass" in result.explanation


def test_duration_compared_with_a_bare_number_is_not_judged() -> None:
    result = parse_threshold("p95 < 200").evaluate({"p95": q(0.1, MS)})
    assert result.verdict is Verdict.NO_DATA
    assert "write the limit with a unit" in result.explanation


def test_division_by_zero_is_not_judged() -> None:
    result = parse_threshold("rps / legacy.rps > 1").evaluate({"rps": q(5), "legacy.rps": q(0)})
    assert result.verdict is Verdict.NO_DATA


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("p95 200ms", "expected a comparison"),
        ("p95 <", "ends too early"),
        ("p95 < 200parsecs", "unexpected"),
        ("p95 < 200ms extra", "after the limit"),
        ("", "expected a threshold"),
        ("p95 < (200ms", "missing ')'"),
        ("p95 < 2 $", "unexpected"),
    ],
)
def test_malformed_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_threshold(expression)


def test_unknown_measurement_is_rejected_when_the_gate_names_its_vocabulary() -> None:
    with pytest.raises(ThresholdError, match=r"unknown measurement p96 .*known: p50, p95"):
        parse_threshold("p96 < 1s", known_names={"p50", "p95"})
    assert parse_threshold("p95 < 1s", known_names={"p95"}).names == {"p95"}


def test_excess_is_how_far_beyond_the_limit_in_the_failing_direction() -> None:
    """The one number a gate moves to judge a threshold with confidence intervals."""
    upper = parse_threshold("p95 <= 1.2 * legacy.p95 + 5ms")
    found = upper.excess({"p95": q(0.030, MS), "legacy.p95": q(0.020, MS)})
    assert found.value == pytest.approx(0.001)
    assert found.kind is MS
    lower = parse_threshold("rps >= 0.9 * target_rps")
    assert lower.excess({"rps": q(80), "target_rps": q(100)}).value == pytest.approx(10)
    assert math.isnan(parse_threshold("incomparable == 0").excess({"incomparable": q(1)}).value)
