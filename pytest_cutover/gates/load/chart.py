"""Latency over the run as a small SVG (no plotting library): p50 and p95 per second, new and
legacy on one time axis, so a reviewer sees at a glance whether latency crept up under load."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from pytest_cutover.gates.load.stats import LiveSample

WIDTH, HEIGHT, MARGIN = 640, 280, 48
COLOURS = {("new", "p95"): "#d62728", ("new", "p50"): "#ff9896",
           ("legacy", "p95"): "#1f77b4", ("legacy", "p50"): "#aec7e8"}  # fmt: skip


def latency_chart(histories: Mapping[str, Sequence[LiveSample]]) -> str | None:
    lines = {
        (system, stat): [(s.elapsed, s.measurements[stat] * 1000) for s in samples
                         if not math.isnan(s.measurements[stat])]
        for system, samples in histories.items()
        for stat in ("p50", "p95")
    }  # fmt: skip
    points = [p for line in lines.values() for p in line]
    if not points:
        return None
    right = max(x for x, _ in points) or 1.0
    top = max(y for _, y in points) * 1.1 or 1.0

    def place(x: float, y: float) -> str:
        px = MARGIN + x / right * (WIDTH - 2 * MARGIN)
        py = HEIGHT - MARGIN - y / top * (HEIGHT - 2 * MARGIN)
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="black"/>',
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>',
        f'<text x="{MARGIN}" y="{MARGIN - 8}">latency (ms), max {top / 1.1:.0f}</text>',
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 16}" text-anchor="end">'
        f"seconds into the run ({right:.0f})</text>",
    ]
    legend_y = MARGIN
    for (system, stat), line in lines.items():
        if not line:
            continue
        colour = COLOURS[(system, stat)]
        path = " ".join(place(x, y) for x, y in line)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(
            f'<text x="{WIDTH - MARGIN + 4}" y="{legend_y}" fill="{colour}">'
            f"{escape(system)} {stat}</text>"
        )
        legend_y += 14
    parts.append("</svg>")
    return "\n".join(parts)
