"""Self-contained HTML reports of scans: thumbnails, per-person verdicts, timelines, heatmaps."""

from __future__ import annotations

from dfdetect.report.html import render_report, write_report
from dfdetect.report.timeline import timeline_svg

__all__ = ["render_report", "timeline_svg", "write_report"]
