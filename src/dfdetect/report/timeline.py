"""Inline SVG plot of each person's fake probability over a video's time."""

from __future__ import annotations

from collections import defaultdict
from html import escape

from dfdetect.scan.results import FileResult

PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#b45309")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 110, 12, 30


def timeline_svg(result: FileResult) -> str:
    """An SVG (string) with one line per person: P(fake) against time (frame index when the
    file has no timestamps), the threshold dashed; empty string for a file without faces."""
    if not result.faces:
        return ""
    use_time = all(f.time_s is not None for f in result.faces)
    points: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for f in result.faces:
        points[f.person].append((f.time_s if use_time else f.frame_index, f.prob))
    xs = [x for series in points.values() for x, _ in series]
    x0, x1 = min(xs), max(xs)
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def sy(p: float) -> float:
        return TOP + (1.0 - p) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="fake probability over time">',
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#f8fafc" stroke="#cbd5e1"/>',
    ]
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = sy(p)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{p:.2f}</text>'
        )
    for k in range(5):
        x = x0 + (x1 - x0) * k / 4
        label = f"{x:.1f}s" if use_time else f"#{x:.0f}"
        parts.append(
            f'<text x="{sx(x):.1f}" y="{HEIGHT - 10}" font-size="11" '
            f'text-anchor="middle">{label}</text>'
        )
    if result.threshold is not None:
        y = sy(result.threshold)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dc2626" '
            f'stroke-dasharray="5,4"/><text x="{LEFT + pw + 6}" y="{y + 4:.1f}" font-size="11" '
            f'fill="#dc2626">threshold</text>'
        )
    for n, (pid, series) in enumerate(sorted(points.items())):
        colour = PALETTE[n % len(PALETTE)]
        series.sort()
        coords = " ".join(f"{sx(x):.1f},{sy(p):.1f}" for x, p in series)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle cx="{sx(x):.1f}" cy="{sy(p):.1f}" r="3" fill="{colour}"/>' for x, p in series
        )
        ly = TOP + 14 + 16 * n
        parts.append(
            f'<text x="{LEFT + pw + 6}" y="{ly + 18}" font-size="12" fill="{colour}">'
            f"{escape(f'person {pid}')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
