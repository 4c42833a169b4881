"""Latency over the run as a small SVG: p50 and p95 per second, new and legacy on one time axis,
with the budget's latency limits drawn as lines, so a reviewer sees at a glance whether latency
crept up under load and how close it came to the limit.

Hand-written rather than drawn by a plotting library: four polylines, two axes and a legend
are about a hundred lines and take a millisecond, where matplotlib would add 177 MB to the
install (numpy, pillow, fonttools) and about 4 s of import and render to every load gate
(measured here; README, "Sign-off").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from pytest_cutover.gates.load.stats import LiveSample
from pytest_cutover.thresholds import Threshold
from pytest_cutover.units import Kind

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 64, 48
COLOURS = {("new", "p95"): "#d62728", ("new", "p50"): "#ff9896",
           ("legacy", "p95"): "#1f77b4", ("legacy", "p50"): "#aec7e8"}  # fmt: skip
LIMIT_COLOUR = "#444444"
FAR_ABOVE = 3.0
STATISTICS = ("p50", "p95")
_CHAR_WIDTH = 6.6  # average width of an 11 px sans-serif character, for laying out the legend


def latency_chart(
    histories: Mapping[str, Sequence[LiveSample]], thresholds: Iterable[Threshold] = ()
) -> str | None:
    """The SVG, or None when no second of the run measured a latency."""
    lines = {
        (system, stat): [(s.elapsed, s.measurements[stat]) for s in samples
                         if not math.isnan(s.measurements.get(stat, math.nan))]
        for system, samples in histories.items()
        for stat in STATISTICS
    }  # fmt: skip
    lines = {key: line for key, line in lines.items() if line}
    if not lines:
        return None
    points = [p for line in lines.values() for p in line]
    measured = max(y for _, y in points)
    # A limit far above what was measured would squash the lines onto the axis: it is named
    # above the chart instead of drawn.
    limits: list[tuple[str, float]] = []
    above: list[tuple[str, float]] = []
    for label, seconds in latency_limits(thresholds):
        (limits if seconds <= FAR_ABOVE * measured else above).append((label, seconds))
    highest = max([measured] + [seconds for _, seconds in limits])
    unit, scale = ("s", 1.0) if highest >= 10 else ("ms", 1000.0)
    y_ticks = nice_ticks(highest * scale * 1.05)
    x_ticks = nice_ticks(max(x for x, _ in points))
    top, right = y_ticks[-1] / scale, x_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x / right * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">'
        "Latency during the load run (per second)</text>",
    ]
    for tick in y_ticks:
        y = py(tick / scale)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                     'stroke="#e5e5e5"/>')  # fmt: skip
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick(tick)}</text>')
    for tick in x_ticks:
        x = px(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" '
                     f'y2="{TOP + plot_h + 4}" stroke="black"/>')  # fmt: skip
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_tick(tick)}</text>'
        )
    parts += [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="black"/>',
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        "time into the run (s)</text>",
        f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        f"latency ({unit})</text>",
    ]
    for label, seconds in limits:
        y = py(seconds)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                     f'stroke="{LIMIT_COLOUR}" stroke-width="1.5" '
                     'stroke-dasharray="6 4"/>')  # fmt: skip
        parts.append(f'<text x="{LEFT + plot_w - 4}" y="{y - 4:.1f}" text-anchor="end" '
                     f'fill="{LIMIT_COLOUR}">limit: {escape(label)}</text>')  # fmt: skip
    if above:
        named = ", ".join(label for label, _ in above)
        parts.append(f'<text x="{LEFT + plot_w}" y="{TOP - 6}" text-anchor="end" '
                     f'fill="{LIMIT_COLOUR}">above the chart: {escape(named)}</text>')  # fmt: skip
    for (system, stat), line in lines.items():
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line)
        parts.append(f'<polyline fill="none" stroke="{COLOURS[(system, stat)]}" '
                     f'stroke-width="2" points="{path}"/>')  # fmt: skip
    parts += _legend([(f"{system} {stat}", COLOURS[(system, stat)]) for system, stat in lines])
    parts.append("</svg>")
    return "\n".join(parts)


def latency_limits(thresholds: Iterable[Threshold]) -> list[tuple[str, float]]:
    """The budget's fixed latency limits ("p95 < 300ms"), as (what was written, seconds). A
    limit relative to legacy ("p95 < 1.2 * legacy.p95") has no one value to draw."""
    found = []
    for threshold in thresholds:
        limit = threshold.right.literal
        if (
            threshold.left.name in STATISTICS
            and limit is not None
            and limit.kind is Kind.DURATION
            and not math.isnan(limit.value)
        ):
            found.append((str(threshold), limit.value))
    return found


def nice_ticks(highest: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least `highest`."""
    if highest <= 0 or math.isnan(highest):
        return [0.0, 1.0]
    rough = highest / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    steps = math.ceil(highest / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _tick(value: float) -> str:
    return f"{value:g}"


def _legend(entries: Sequence[tuple[str, str]]) -> list[str]:
    """Swatches and names in rows under the title, each entry as wide as its text: never cut."""
    parts, x, y = [], float(LEFT), 40.0
    for name, colour in entries:
        width = 24 + len(name) * _CHAR_WIDTH + 16
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 16
        parts.append(f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 18:.1f}" y2="{y - 4}" '
                     f'stroke="{colour}" stroke-width="3"/>')  # fmt: skip
        parts.append(f'<text x="{x + 24:.1f}" y="{y}">{escape(name)}</text>')
        x += width
    return parts
