"""One HTML file holding a whole scan: summary, per-file verdicts, images as data URIs (JPEGs
no larger than they are shown, each file's images once however many paths hold it)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import cv2
import numpy as np

from dfdetect.atomic import write_text_atomic
from dfdetect.explain import encode_image
from dfdetect.report.timeline import timeline_svg
from dfdetect.scan.results import FileResult

FAKE, REAL, MUTED = "#dc2626", "#16a34a", "#64748b"

CSS = f"""
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #0f172a; background: #fff; }}
h1 {{ margin: 0 0 4px; }} h2 {{ margin: 0 0 8px; font-size: 18px; word-break: break-all; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; }}
th, td {{ border-bottom: 1px solid #e2e8f0; padding: 4px 10px; text-align: left; }}
.badge {{ display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff;
  font-weight: 600; }}
.fake {{ background: {FAKE}; }} .real {{ background: {REAL}; }} .muted {{ background: {MUTED}; }}
.file {{ border: 1px solid #e2e8f0; border-left: 8px solid {MUTED}; border-radius: 6px;
  padding: 12px 16px; margin: 16px 0; }}
.file.fake {{ border-left-color: {FAKE}; background: #fff; }}
.file.real {{ border-left-color: {REAL}; background: #fff; }}
.images {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: {MUTED}; }}
img.thumb {{ max-width: 480px; }} img.heat {{ max-width: 320px; }} img.crop {{ width: 160px; }}
"""


# longest side of each kind of image in the report (its CSS width), and the JPEG quality
SHOWN_SIDE = {"thumbnail": 480, "heatmap": 320, "crop": 160}
JPEG_QUALITY = 80


def _data_uri(data: bytes, side: int) -> str:
    """A stored image (PNG or JPEG) as a JPEG data URI at most ``side`` pixels long."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    scale = side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    jpeg = encode_image(image, ".jpg", JPEG_QUALITY)
    return f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}"


def _badge(result: FileResult) -> str:
    if result.status == "ok":
        return f'<span class="badge {result.label}">{escape(str(result.label)).upper()}</span>'
    reason = (result.error or {}).get("reason", result.status)
    return f'<span class="badge muted">{escape(reason)}</span>'


def _prob(p: float | None) -> str:
    return "" if p is None else f"{p:.3f}"


def _file_section(
    n: int, result: FileResult, images: dict[str, bytes], same_as: tuple[int, str] | None = None
) -> str:
    cls = result.label if result.status == "ok" else "muted"
    out = [f'<section class="file {cls}" id="file-{n}">']
    out.append(f"<h2>{escape(result.path)} {_badge(result)}</h2>")
    if result.status != "ok":
        detail = (result.error or {}).get("detail", "")
        out.append(f"<p>{escape(detail)}</p></section>")
        return "".join(out)
    skipped = (
        f" ({result.faces_skipped} more not scored: --max-faces)" if result.faces_skipped else ""
    )
    out.append(
        f"<p>{escape(str(result.kind))}: P(fake) <b>{_prob(result.prob)}</b> "
        f"(threshold {_prob(result.threshold)}), {len(result.persons)} person(s), "
        f"{len(result.faces)} face(s){skipped} in {len(result.frames)} frame(s)</p>"
    )
    for w in result.warnings:
        out.append(f"<p>warning: {escape(w['reason'])}: {escape(w.get('detail', ''))}</p>")
    out.append(
        "<table><tr><th>person</th><th>verdict</th><th>mean P(fake)</th><th>max</th>"
        "<th>faces</th><th>seen</th></tr>"
    )
    for p in result.persons:
        seen = "" if p.first_time_s is None else f"{p.first_time_s:.2f}s - {p.last_time_s:.2f}s"
        out.append(
            f'<tr class="person"><td>{p.id}</td><td><span class="badge {p.label}">'
            f"{p.label.upper()}</span></td><td>{_prob(p.prob)}</td><td>{_prob(p.max_prob)}</td>"
            f"<td>{p.n_faces}</td><td>{seen}</td></tr>"
        )
    out.append("</table>")
    if result.kind == "video":
        out.append(timeline_svg(result))
    if same_as is not None:
        k, path = same_as
        out.append(f'<p>images: the same content as <a href="#file-{k}">{escape(path)}</a></p>')
        images = {}
    figures = []
    if "thumbnail" in images:
        uri = _data_uri(images["thumbnail"], SHOWN_SIDE["thumbnail"])
        figures.append(
            f'<figure><img class="thumb" alt="thumbnail" src="{uri}">'
            "<figcaption>frame with the highest-scoring face</figcaption></figure>"
        )
    for p in result.persons:
        for kind, cls_ in (("heatmap", "heat"), ("crop", "crop")):
            key = f"{kind}/{p.id}"
            if key in images:
                uri = _data_uri(images[key], SHOWN_SIDE[kind])
                figures.append(
                    f'<figure><img class="{cls_}" alt="{key}" src="{uri}">'
                    f"<figcaption>person {p.id}: {kind}</figcaption></figure>"
                )
    if figures:
        out.append(f'<div class="images">{"".join(figures)}</div>')
    out.append("</section>")
    return "".join(out)


def render_report(
    entries: Sequence[tuple[FileResult, dict[str, bytes]]],
    *,
    title: str = "dfdetect scan report",
    model: str = "",
) -> str:
    """The report as one HTML string; ``entries`` pair each result with its encoded images
    (``thumbnail``, ``heatmap/<person>``, ``crop/<person>``)."""
    counts = Counter(r.label if r.status == "ok" else r.status for r, _ in entries)
    rows = "".join(
        f'<tr><td><a href="#file-{n}">{escape(r.path)}</a></td><td>{_badge(r)}</td>'
        f"<td>{_prob(r.prob)}</td><td>{len(r.persons)}</td></tr>"
        for n, (r, _) in enumerate(entries)
    )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    summary = ", ".join(
        f"{counts.get(k, 0)} {name}"
        for k, name in (
            ("fake", "fake"),
            ("real", "real"),
            ("no_face", "without faces"),
            ("error", "failed"),
        )
    )
    first: dict[str, tuple[int, str]] = {}  # sha256 -> the section that shows its images
    sections = []
    for n, (r, imgs) in enumerate(entries):
        same_as = first.get(r.sha256) if r.sha256 else None
        if r.sha256 and same_as is None and imgs:
            first[r.sha256] = (n, r.path)
        sections.append(_file_section(n, r, imgs, same_as))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
        f'<p class="summary">{len(entries)} file(s): {summary}. Model {escape(model)}; {stamp}.</p>'
        "<table><tr><th>file</th><th>verdict</th><th>P(fake)</th><th>persons</th></tr>"
        f"{rows}</table>{''.join(sections)}</body></html>"
    )


def write_report(
    entries: Sequence[tuple[FileResult, dict[str, bytes]]], path: str | Path, **kwargs: str
) -> Path:
    """Write :func:`render_report` to ``path`` atomically."""
    return write_text_atomic(path, render_report(entries, **kwargs))
