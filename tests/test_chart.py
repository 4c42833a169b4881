"""The load gate's latency chart as a reviewer reads it: axes with units and round ticks, a
legend that is never cut, and the budget's fixed limits drawn as lines."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from pytest_cutover.gates.load.chart import WIDTH, latency_chart, nice_ticks
from pytest_cutover.gates.load.stats import LiveSample
from pytest_cutover.thresholds import parse_threshold

SVG = "{http://www.w3.org/2000/svg}"


def run(p50: float, p95: float, seconds: int = 60) -> list[LiveSample]:
    return [LiveSample(float(t), 10, {"p50": p50, "p95": p95}) for t in range(1, seconds + 1)]


def texts(svg: str) -> list[ElementTree.Element]:
    return list(ElementTree.fromstring(svg).iter(f"{SVG}text"))


def test_axes_legend_and_the_latency_limit() -> None:
    budget = [parse_threshold(t) for t in ("p95 < 300ms", "p95 < 1.2 * legacy.p95", "rps > 5")]
    svg = latency_chart({"new": run(0.18, 0.32), "legacy": run(0.12, 0.22)}, budget)
    assert svg is not None
    shown = [t.text for t in texts(svg)]
    assert "latency (ms)" in shown
    assert "time into the run (s)" in shown
    assert {"0", "100", "200", "300"} <= set(shown)  # round ticks in the axis's unit
    assert {"new p50", "new p95", "legacy p50", "legacy p95"} <= set(shown)
    assert [t for t in shown if t and t.startswith("limit:")] == ["limit: p95 < 300ms"]
    dashed = [e for e in ElementTree.fromstring(svg).iter(f"{SVG}line")
              if e.get("stroke-dasharray")]  # fmt: skip
    assert len(dashed) == 1
    for text in texts(svg):  # no label runs off the picture (the legend used to: "new p5…")
        start = float(text.get("x", 0))
        width = len(text.text or "") * 6.6
        anchor = text.get("text-anchor")
        end = start + (0 if anchor == "end" else width / 2 if anchor == "middle" else width)
        assert end <= WIDTH, text.text


def test_seconds_when_latency_is_long_and_nothing_without_data() -> None:
    svg = latency_chart({"new": run(8.0, 14.0)})
    assert svg is not None
    assert "latency (s)" in [t.text for t in texts(svg)]
    assert latency_chart({"new": []}) is None


def test_round_ticks_cover_the_highest_value() -> None:
    assert nice_ticks(330) == [0, 100, 200, 300, 400]
    assert nice_ticks(60) == [0, 20, 40, 60]
    assert nice_ticks(0.7) == [0, 0.2, 0.4, 0.6, 0.8]


def test_a_limit_far_above_the_lines_is_named_not_drawn() -> None:
    svg = latency_chart({"new": run(0.002, 0.004)}, [parse_threshold("p95 < 250ms")])
    assert svg is not None
    shown = [t.text for t in texts(svg)]
    assert "above the chart: p95 < 250ms" in shown
    assert "latency (ms)" in shown
    labels = [t.text or "" for t in texts(svg) if t.get("text-anchor") == "end"]
    y_ticks = [float(label) for label in labels if label.replace(".", "").isdigit()]
    assert max(y_ticks) < 10  # the lines fill the chart; the axis does not climb to 250
