"""ScanPipeline end to end on generated media: real PyAV decoding, the real MTCNN detector
and the tiny-random model; a content-dependent stand-in predictor checks the bookkeeping."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from dfdetect.faces import create_face_detector
from dfdetect.media.synthetic import background, face_image, face_video, paste_face
from dfdetect.scan import ScanOptions, ScanPipeline
from test_scan_media import load_crop


@pytest.fixture(scope="module")
def face_detector():
    return create_face_detector("mtcnn", device="cpu")


@pytest.fixture(scope="module")
def crops(sample_faces):
    return [load_crop(sample_faces["real"][0]), load_crop(sample_faces["fake"][0])]


class BrightnessPredictor:
    """P(fake) = mean crop brightness: a predictor whose scores say which crop they came from.
    Counts its calls; sleeps on the first so that other files queue up behind it."""

    def __init__(self, config, threshold: float = 0.5) -> None:
        self.config = config
        self.threshold = threshold
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def predict(self, crops):
        with self.lock:
            if not self.calls:
                time.sleep(0.5)
            self.calls.append(len(crops))
        return np.array([c.mean() / 255 for c in crops], np.float32)


def test_video_two_people_tracked_and_aggregated(tmp_path, tiny_detector, face_detector, crops):
    path = face_video(tmp_path / "two.mp4", crops, n_frames=6, size=(400, 240), fps=10)
    pipe = ScanPipeline(tiny_detector, face_detector, ScanOptions(frames=4))
    result = pipe.analyze_path(path)
    assert result.status == "ok" and result.kind == "video"
    assert result.media["n_frames"] == 6 and result.media["width"] == 400
    assert [f.index for f in result.frames] == [0, 2, 3, 5]  # 4 evenly spaced of 6
    assert [f.time_s for f in result.frames] == pytest.approx([0.0, 0.2, 0.3, 0.5])
    assert [f.n_faces for f in result.frames] == [2, 2, 2, 2]
    assert len(result.persons) == 2
    for person in result.persons:
        mine = [f for f in result.faces if f.person == person.id]
        assert len(mine) == 4 and person.n_faces == 4
        assert person.prob == pytest.approx(np.mean([f.prob for f in mine]))
        assert person.label == ("fake" if person.prob >= tiny_detector.threshold else "real")
        centres = [(f.box[0] + f.box[2]) / 2 for f in mine]
        assert max(centres) - min(centres) < 30  # one person stays on one side
    assert result.prob == pytest.approx(max(p.prob for p in result.persons))
    # the scores are the model's own on the aligned crops, face by face
    crops_again = [f.crop for f in pipe.preparer.prepare_path(path).faces]
    np.testing.assert_allclose(
        [f.prob for f in result.faces], tiny_detector.predict(crops_again), atol=1e-6
    )
    assert result.to_dict()["persons"][0]["n_faces"] == 4


def test_each_face_gets_its_own_score(tmp_path, tiny_detector, face_detector, crops):
    bright = np.clip(crops[0].astype(int) + 60, 0, 255).astype(np.uint8)
    dark = (crops[1] * 0.5).astype(np.uint8)
    path = face_video(tmp_path / "bd.mp4", [bright, dark], n_frames=4, size=(400, 240))
    predictor = BrightnessPredictor(tiny_detector.config, threshold=0.4)
    result = ScanPipeline(predictor, face_detector, ScanOptions(frames=4)).analyze_path(path)
    by_person = {p.id: p for p in result.persons}
    left = [f for f in result.faces if f.box[0] < 200]
    right = [f for f in result.faces if f.box[0] >= 200]
    assert len(left) == len(right) == 4
    assert {f.person for f in left} != {f.person for f in right}
    assert min(f.prob for f in left) > max(f.prob for f in right)  # bright face, higher score
    assert by_person[left[0].person].label == "fake" and by_person[right[0].person].label == "real"
    assert result.label == "fake" and result.prob == pytest.approx(by_person[left[0].person].prob)


def test_in_memory_image(tiny_detector, face_detector, crops):
    frame = background(240, 320)
    paste_face(frame, crops[1], scale=110 / 256, center=(160, 120))
    pipe = ScanPipeline(tiny_detector, face_detector)
    result = pipe.analyze_image(frame, "upload.png")
    assert (result.path, result.kind, result.status) == ("upload.png", "image", "ok")
    assert len(result.faces) == 1 and result.faces[0].time_s is None
    box = result.faces[0].box
    assert 105 < (box[0] + box[2]) / 2 < 215 and 65 < (box[1] + box[3]) / 2 < 175
    prepared = pipe.preparer.prepare_image(frame, "upload.png")
    assert result.prob == pytest.approx(float(tiny_detector.predict([prepared.faces[0].crop])[0]))
    bad = pipe.analyze_image(frame[..., 0], "grey")
    assert bad.status == "error" and bad.error["reason"] == "bad_array"


class CollapsedLandmarks:
    """The real face detector, except that faces whose box starts right of ``x`` come back
    with their landmarks collapsed to a point (no similarity fits them)."""

    def __init__(self, inner, x: float) -> None:
        self.inner, self.x = inner, x

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def detect(self, images):
        collapsed = np.full((5, 2), 10.0, np.float32)
        return [
            [f if f.box[0] < self.x else replace(f, landmarks=collapsed) for f in faces]
            for faces in self.inner.detect(images)
        ]


def test_face_size_and_count_limits_and_unalignable_faces(tiny_detector, face_detector, crops):
    frame = background(240, 400)
    paste_face(frame, crops[0], scale=150 / 256, center=(110, 120))  # a face box ~75 px wide
    paste_face(frame, crops[1], scale=90 / 256, center=(300, 120))  # one ~45 px wide

    def scan(faces=face_detector, **options):
        pipe = ScanPipeline(tiny_detector, faces, ScanOptions(**options))
        result = pipe.analyze_image(frame, "two.png")
        return sorted("left" if f.box[0] < 200 else "right" for f in result.faces), result

    assert scan()[0] == ["left", "right"]
    assert scan(max_faces=1)[0] == ["left"]  # the largest
    assert scan(min_face_size=60)[0] == ["left"]
    sides, result = scan(CollapsedLandmarks(face_detector, 200))
    assert sides == ["left"] and result.status == "ok"
    assert [w["reason"] for w in result.warnings] == ["bad_landmarks"]
    assert "degenerate" in result.warnings[0]["detail"]
    sides, result = scan(CollapsedLandmarks(face_detector, 200), max_faces=1)
    assert sides == ["left"] and result.faces_skipped == 1  # the right face was never chosen
    assert [w["reason"] for w in result.warnings] == ["faces_skipped"]  # not bad_landmarks


def test_bad_inputs_each_get_a_reason_and_the_scan_goes_on(
    tmp_path, tiny_detector, face_detector, crops
):
    good = face_image(tmp_path / "good.png", crops[0])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not media at all\n" * 10)
    video = face_video(tmp_path / "full.mp4", crops[:1], n_frames=4).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(video[: len(video) // 2])
    png = bytearray(good.read_bytes())
    png[len(png) // 2 : len(png) // 2 + 64] = bytes(64)  # zeroes in the middle of the pixel data
    (tmp_path / "corrupt.png").write_bytes(bytes(png))
    (tmp_path / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    (tmp_path / "big.mp4").write_bytes(video + b"\0" * 300_000)
    noface = background(240, 320)
    Image.fromarray(noface).save(tmp_path / "landscape.jpg")
    names = ["good.png", "empty.mp4", "notes.txt", "truncated.mp4", "corrupt.png", "header.png"]
    names += ["big.mp4", "landscape.jpg"]
    opts = ScanOptions(frames=2, max_file_mb=0.25, workers=2)
    pipe = ScanPipeline(tiny_detector, face_detector, opts)
    results = {os.path.basename(r.path): r for r in pipe.scan([tmp_path / n for n in names])}
    assert sorted(results) == sorted(names)
    reasons = {n: (r.status, (r.error or {}).get("reason")) for n, r in results.items()}
    assert reasons == {
        "good.png": ("ok", None),
        "empty.mp4": ("error", "zero_byte"),
        "notes.txt": ("error", "not_media"),
        "truncated.mp4": ("error", "truncated"),
        "corrupt.png": ("error", "corrupt"),
        "header.png": ("error", "corrupt"),
        "big.mp4": ("error", "too_large"),
        "landscape.jpg": ("no_face", "no_face"),
    }
    assert results["good.png"].label in ("fake", "real")
    assert all(r.error["detail"] for r in results.values() if r.error)


def test_unreadable_file(tmp_path, tiny_detector, face_detector, crops, monkeypatch):
    path = face_image(tmp_path / "locked.png", crops[0])
    path.chmod(0)
    if os.access(path, os.R_OK):  # running as root: make the permission check say no
        monkeypatch.setattr("dfdetect.scan.prepare.os.access", lambda *_: False)
    result = ScanPipeline(tiny_detector, face_detector).analyze_path(path)
    assert (result.status, result.error["reason"]) == ("error", "unreadable")


def test_scan_batches_faces_across_files(tmp_path, tiny_detector, face_detector, crops):
    paths = [face_image(tmp_path / f"{k}.png", crops[k % 2]) for k in range(5)]
    predictor = BrightnessPredictor(tiny_detector.config)
    opts = ScanOptions(workers=2, batch_size=64, queue_size=8)
    results = list(ScanPipeline(predictor, face_detector, opts).scan(paths))
    assert sorted(r.path for r in results) == sorted(str(p) for p in paths)
    assert sum(predictor.calls) == 5  # one face per file, each scored once
    assert len(predictor.calls) < 5  # files that were ready together went in one call
    assert max(predictor.calls) > 1


class NoFaces:
    def detect(self, images):
        return [[] for _ in images]


def test_seek_option_decides_which_frames_a_scan_sees(tmp_path):
    from dfdetect.faces import get_preset
    from dfdetect.media.synthetic import write_video
    from dfdetect.scan.prepare import FacePreparer

    frames = [background(48, 64, seed=i % 5) for i in range(600)]
    path = write_video(
        tmp_path / "v.mp4", frames, gop=100, codec_options={"x264-params": "scenecut=0"}
    )

    def seen(seek: str) -> list[int]:
        options = ScanOptions(frames=4, seek=seek)
        prepared = FacePreparer(NoFaces(), get_preset("gend"), options).prepare_path(path)
        return [index for index, _ in prepared.frames]

    assert seen("exact") == [0, 200, 399, 599]  # sample_frame_indices(600, 4, "even")
    assert seen("keyframe") == [0, 200, 400, 500]  # the keyframes nearest to them
    assert ScanOptions().seek == "keyframe"
    with pytest.raises(ValueError, match="seek"):
        ScanOptions(seek="nearest")


class Crowd:
    """A face detector that finds ``n`` faces in a grid on every image, each ``side`` px, with
    landmarks where a face has them (alignment works on them)."""

    def __init__(self, n: int, side: int = 100) -> None:
        self.n, self.side = n, side

    def detect(self, images):
        from dfdetect.faces import Face

        marks = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])
        out = []
        for image in images:
            cols = image.shape[1] // (self.side + 20)
            faces = []
            for k in range(self.n):
                x, y = 10 + (k % cols) * (self.side + 20), 10 + (k // cols) * (self.side + 20)
                side = self.side - k  # all different sizes: the largest come first
                box = np.array([x, y, x + side, y + side], np.float32)
                landmarks = (marks * side + [x, y]).astype(np.float32)
                faces.append(Face(box, 0.99, landmarks))
            out.append(faces)
        return out


def test_every_face_of_a_crowd_is_scored_and_a_cap_is_counted(tiny_detector):
    frame = background(1080, 1920)  # 1080p, 30 faces of 71-100 px
    predictor = BrightnessPredictor(tiny_detector.config)
    every = ScanPipeline(predictor, Crowd(30)).analyze_image(frame, "group.jpg")
    assert len(every.faces) == 30 and len(every.persons) == 30
    assert every.faces_skipped == 0 and every.frames[0].faces_skipped == 0
    assert predictor.calls == [30]  # one batched model call for the whole crowd
    assert [w["reason"] for w in every.warnings] == []

    capped = ScanPipeline(predictor, Crowd(30), ScanOptions(max_faces=8))
    result = capped.analyze_image(frame, "group.jpg")
    assert len(result.faces) == 8 and result.frames[0].n_faces == 8
    assert result.frames[0].faces_skipped == 22 and result.faces_skipped == 22
    assert min(f.box[2] - f.box[0] for f in result.faces) == 93  # the 8 largest
    assert [w["reason"] for w in result.warnings] == ["faces_skipped"]
    assert "22 face(s) beyond --max-faces 8" in result.warnings[0]["detail"]
    data = result.to_dict()
    assert data["faces_skipped"] == 22 and data["frames"][0]["faces_skipped"] == 22
    assert type(result).from_dict(data).faces_skipped == 22
    assert ScanOptions().max_faces is None
    with pytest.raises(ValueError, match="max_faces"):
        ScanOptions(max_faces=0)


def test_a_large_jpeg_is_decoded_reduced_with_boxes_in_its_own_pixels(
    tmp_path, tiny_detector, face_detector, crops
):
    path = tmp_path / "camera.jpg"
    frame = background(900, 1200)
    paste_face(frame, crops[0], scale=400 / 256, center=(600, 450))
    Image.fromarray(frame).save(path, quality=92)
    full = ScanPipeline(tiny_detector, face_detector).analyze_path(path)
    small = ScanPipeline(tiny_detector, face_detector, ScanOptions(max_pixels=300_000))
    reduced = small.analyze_path(path)  # 1.08 MP stored: decoded at 1/2, 600x450
    assert full.status == reduced.status == "ok" and len(reduced.faces) == 1
    assert reduced.media == {"width": 1200, "height": 900}
    (a, b), (c, d) = np.reshape(reduced.faces[0].box, (2, 2)), np.reshape(full.faces[0].box, (2, 2))
    np.testing.assert_allclose((a + b) / 2, (c + d) / 2, atol=15)  # the same place, not half
    np.testing.assert_allclose(b - a, d - c, rtol=0.1)  # and the same size
    assert [w["reason"] for w in reduced.warnings] == ["decoded_reduced"]
    assert "1200x900 decoded at 600x450" in reduced.warnings[0]["detail"]
    png = tmp_path / "camera.png"
    Image.fromarray(frame).save(png)
    refused = small.analyze_path(png)
    assert (refused.status, refused.error["reason"]) == ("error", "too_many_pixels")


def test_every_page_of_a_multipage_tiff_is_scanned(tmp_path, tiny_detector, face_detector, crops):
    blank = Image.fromarray(background(240, 320, seed=1))
    face = face_image(tmp_path / "face.png", crops[0])
    path = tmp_path / "scan.tiff"
    blank.save(path, save_all=True, append_images=[Image.open(face).convert("RGB")])
    result = ScanPipeline(tiny_detector, face_detector).analyze_path(path)
    assert (result.status, result.kind) == ("ok", "image")
    assert [(f.index, f.time_s, f.n_faces) for f in result.frames] == [(0, None, 0), (1, None, 1)]
    assert result.media["n_frames"] == 2 and result.warnings == []
    one = ScanPipeline(tiny_detector, face_detector, ScanOptions(frames=1)).analyze_path(path)
    assert one.status == "no_face" and [w["reason"] for w in one.warnings] == ["pages_skipped"]
    assert "first 1 of 2 pages" in one.warnings[0]["detail"]


def test_frame_rate_is_reported_as_the_video_says(tmp_path, tiny_detector, face_detector, crops):
    path = face_video(tmp_path / "v.mp4", crops[:1], n_frames=10, fps=25)
    result = ScanPipeline(tiny_detector, face_detector, ScanOptions(frames=2)).analyze_path(path)
    assert result.media["fps"] == 25.0 and result.media["duration_s"] == 0.4
