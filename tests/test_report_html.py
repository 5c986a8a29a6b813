"""The HTML report: built from a real scan with heatmaps, opened in headless Chromium."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from dfdetect.faces import create_face_detector
from dfdetect.media.synthetic import face_image, face_video
from dfdetect.report import render_report, timeline_svg, write_report
from dfdetect.report.timeline import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH
from dfdetect.scan import ScanOptions, ScanPipeline, encode_visuals
from dfdetect.scan.results import FaceResult, FileResult
from test_scan_media import load_crop
from test_scan_pipeline import BrightnessPredictor

FAKE_RGB, REAL_RGB = np.array([220, 38, 38]), np.array([22, 163, 74])


def test_timeline_points_sit_where_the_values_are():
    faces = [
        FaceResult(0, 0.0, [0, 0, 1, 1], 1.0, 0.0, "real", 0),
        FaceResult(9, 2.0, [0, 0, 1, 1], 1.0, 1.0, "fake", 0),
        FaceResult(9, 2.0, [5, 0, 6, 1], 1.0, 0.5, "fake", 1),
    ]
    result = FileResult("v.mp4", "ok", "video", threshold=0.5, faces=faces)
    svg = timeline_svg(result)
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert lines[0] == f"{LEFT:.1f},{bottom:.1f} {right:.1f},{TOP:.1f}"  # (0 s, 0.0) -> (2 s, 1.0)
    mid = (TOP + bottom) / 2
    assert lines[1] == f"{right:.1f},{mid:.1f}"
    assert f'y1="{mid:.1f}" y2="{mid:.1f}" stroke="#dc2626"' in svg  # threshold line at 0.5
    assert "person 0" in svg and "person 1" in svg and "2.0s" in svg
    assert timeline_svg(FileResult("x.png", "no_face")) == ""


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, sample_faces, tiny_detector):
    """A video with a bright (fake) and a dark (real) face, an image, and a failed file."""
    tmp = tmp_path_factory.mktemp("report")
    real, fake = load_crop(sample_faces["real"][0]), load_crop(sample_faces["fake"][0])
    bright = np.clip(fake.astype(int) + 60, 0, 255).astype(np.uint8)
    dark = (real * 0.5).astype(np.uint8)
    paths = [
        face_video(tmp / "interview.mp4", [bright, dark], n_frames=6, size=(400, 240)),
        face_image(tmp / "portrait.png", dark),
        tmp / "broken.mp4",
    ]
    paths[2].write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    predictor = BrightnessPredictor(tiny_detector.config, threshold=0.4)
    pipe = ScanPipeline(
        predictor, create_face_detector("mtcnn", device="cpu"),
        ScanOptions(frames=6, explain=True), explainer=tiny_detector,
    )  # fmt: skip
    results = [pipe.analyze_path(p) for p in paths]
    return [(r, encode_visuals(r.visuals)) for r in results]


def test_report_holds_verdicts_and_only_inline_images(scanned):
    video, image, broken = (r for r, _ in scanned)
    assert video.label == "fake" and {p.label for p in video.persons} == {"fake", "real"}
    assert image.label == "real" and broken.status == "error"
    assert set(scanned[0][1]) == {"thumbnail", "heatmap/0", "heatmap/1", "crop/0", "crop/1"}
    html = render_report(scanned, model="tiny-random")
    assert "<script" not in html and "<link" not in html
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 5 + 3 and all(s.startswith("data:image/") for s in srcs)
    assert not re.search(r'(href|src)="https?:', html)


@pytest.mark.browser
def test_report_in_a_real_browser(scanned, browser, artifacts_dir, tmp_path):
    path = write_report(scanned, tmp_path / "report.html", model="tiny-random")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri())
    text = page.inner_text("body")
    assert "3 file(s): 1 fake, 1 real, 0 without faces, 1 failed" in text
    assert "interview.mp4" in text and "portrait.png" in text and "broken.mp4" in text
    assert text.count("FAKE") >= 3 and text.count("REAL") >= 3  # file and person badges
    assert page.locator("section#file-0 tr.person").count() == 2
    assert page.locator("section#file-0 svg.timeline polyline").count() == 2
    assert "corrupt" in page.locator("section#file-2").inner_text()  # why it failed
    decoded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert len(decoded) == 8 and all(w > 0 for w in decoded)
    assert all(u.startswith(("file:", "data:")) for u in requests)  # nothing fetched from outside
    shot = artifacts_dir / "scan_report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert pixels.std() > 30  # not a blank page
    near = lambda rgb: (np.abs(pixels - rgb).sum(axis=1) < 30).sum()  # noqa: E731
    assert near(FAKE_RGB) > 500 and near(REAL_RGB) > 500  # both verdict colours are shown


def _uris(html: str) -> list[tuple[str, str, str]]:
    """(alt, mime type, base64 data) of every inline image."""
    return re.findall(r'alt="([^"]+)" src="data:([^;]+);base64,([^"]*)"', html)


def test_report_images_are_small_jpegs_shown_once_per_content(scanned):
    import base64
    from dataclasses import replace

    from dfdetect.report.html import SHOWN_SIDE

    html = render_report(scanned, model="tiny-random")
    assert len(_uris(html)) == 8 and {mime for _, mime, _ in _uris(html)} == {"image/jpeg"}
    for alt, _, data in _uris(html):
        decoded = Image.open(io.BytesIO(base64.b64decode(data)))
        assert max(decoded.size) <= SHOWN_SIDE[alt.split("/")[0]]
    assert len(html) < 200_000  # 3 files, 8 images
    portrait, images = scanned[1]
    copies = [(replace(portrait, path=f"copy{k}.png", sha256="ab" * 32), images) for k in range(9)]
    nine = render_report(copies, model="tiny-random")
    one = render_report(copies[:1], model="tiny-random")
    assert len(_uris(nine)) == len(_uris(one)) == 3  # the images of copy0, once
    assert nine.count('the same content as <a href="#file-0">copy0.png</a>') == 8
    assert len(nine) < len(one) + 9 * 2_000


def test_labels_of_a_crowd_never_overlap():
    from dfdetect.scan.visuals import draw_faces, label_spots

    boxes = [(x, y, x + 40, y + 40) for y in range(0, 360, 45) for x in range(0, 640, 45)]
    spots = label_spots(boxes, [(60, 14)] * len(boxes), (480, 640, 3))
    placed = [s for s in spots if s is not None]
    assert 20 <= len(placed) < len(boxes)  # as many as fit, the rest unlabelled
    for k, a in enumerate(placed):
        assert min(a[:2]) >= 0 and a[2] <= 640 and a[3] <= 480
        for b in placed[k + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    faces = [
        FaceResult(0, None, list(map(float, b)), 1.0, 0.9, "fake", k) for k, b in enumerate(boxes)
    ]
    drawn = draw_faces(
        np.zeros((480, 640, 3), np.uint8), FileResult("g.jpg", "ok", faces=faces), 0, 1.0
    )
    assert (np.abs(drawn.reshape(-1, 3).astype(int) - FAKE_RGB).sum(axis=1) < 10).sum() > 5_000
