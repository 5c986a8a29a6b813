"""The frames stage: source frames perturbed (or source videos re-encoded) before face
detection, then detected, aligned and saved as one crop tree per cell, as extraction would.

It needs a dataset whose layout lists raw videos (``DatasetLayout.raw_videos``): the generic
folder layout ``root/<source>/*.mp4`` (``real``/``fake`` or a labels.json) and the raw
FaceForensics++/DFD, Celeb-DF, DFDC... trees. Labels and splits come from the layout.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfdetect.data.layouts import create_dataset
from dfdetect.data.samples import DatasetError, FrameSample, video_key
from dfdetect.data.specs import expand_root
from dfdetect.errors import MediaError
from dfdetect.faces.crops import crop_faces
from dfdetect.faces.face import FaceDetector
from dfdetect.faces.presets import CropPreset
from dfdetect.faces.sampling import EXTRACT_SAMPLING
from dfdetect.media.sampling import sample_frame_indices
from dfdetect.media.video import VideoReader
from dfdetect.robustness.crops import item_seed
from dfdetect.robustness.h264 import reencode_video
from dfdetect.robustness.perturbations import Cell, scaled_bitrate

DONE = "frames.json"  # written last into a finished cell folder


@dataclass(frozen=True)
class SourceVideo:
    """One raw video of a dataset with its label."""

    dataset: str
    source: str
    video: str
    label: int
    path: Path


def source_videos(entry: Mapping[str, Any]) -> list[SourceVideo]:
    """The raw videos of a ``{dataset, root, split, ...}`` entry, in the requested split."""
    options = dict(entry)
    name = options.pop("dataset", "folder")
    layout = create_dataset(name, expand_root(options.pop("root")), **options)
    if not layout.is_raw():
        raise DatasetError(
            f"{layout.root}: --stage frames needs the source videos (e.g. <root>/real/*.mp4, "
            "or a raw FF++ tree), and this folder holds extracted crops: use --stage crops"
        )
    out = []
    for raw in layout.raw_videos():
        info = layout.describe(raw.source, raw.video)
        if layout.split is None or info.split == layout.split:
            out.append(SourceVideo(layout.dataset, raw.source, raw.video, info.label, raw.path))
    if not out:
        raise DatasetError(f"{layout.root}: no source videos in split {layout.split!r}")
    return out


@dataclass
class CellCrops:
    """What one cell's extraction produced: a sample per frame with a face, every sampled
    frame as (source, video, frame, found), and the videos that could not be read."""

    samples: list[FrameSample]
    frames: list[tuple[str, str, str, bool]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def dropped_videos(
    videos: Sequence[SourceVideo],
    failures: Sequence[tuple[str, str]],
    found: set[tuple[str, str, str]],
) -> dict[str, list[str]]:
    """Frames stage: the keys of source videos that could not be read (``video_unreadable``)
    and of those read with no face in any sampled frame (``no_face``)."""
    failed = {path for path, _ in failures}
    with_face = {(source, video) for source, video, _ in found}
    out: dict[str, list[str]] = {"video_unreadable": [], "no_face": []}
    for v in videos:
        if str(v.path) in failed:
            out["video_unreadable"].append(video_key(v.dataset, v.source, v.video))
        elif (v.source, v.video) not in with_face:
            out["no_face"].append(video_key(v.dataset, v.source, v.video))
    return out


def _read(path: Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    with VideoReader(path) as reader:
        usable = [i for i in indices if i < reader.n_frames]
        for index, _, rgb in reader.read(usable):
            yield index, rgb


def _perturbed_frames(
    video: SourceVideo, cell: Cell, n_frames: int, seed: int, scratch: Path
) -> Iterator[tuple[int, np.ndarray]]:
    """The video's sampled frames (max-spread, as extraction samples them) through ``cell``."""
    with VideoReader(video.path) as reader:
        indices = sorted(
            int(i)
            for i in sample_frame_indices(reader.n_frames, n_frames, EXTRACT_SAMPLING.sampling)
        )
    p = cell.perturbation
    if p is not None and p.video is not None:  # re-encode the whole video, then sample it
        encoded = scratch / f"{video.source}-{video.video}.mp4"
        value = p.param(cell.level)
        if p.video == "crf":
            reencode_video(video.path, encoded, crf=int(value))
        else:
            reencode_video(
                video.path, encoded, bitrate_for=lambda h, w: scaled_bitrate(value, h, w)
            )
        yield from _read(encoded, indices)
        encoded.unlink(missing_ok=True)
        return
    for index, rgb in _read(video.path, indices):
        yield index, cell.apply(rgb, item_seed(seed, cell, video.source, video.video, str(index)))


def extract_cell(
    videos: Sequence[SourceVideo],
    cell: Cell,
    folder: Path,
    face_detector: FaceDetector,
    preset: CropPreset,
    *,
    n_frames: int,
    seed: int,
    on_video: Callable[[], None] | None = None,
) -> CellCrops:
    """Crops of ``videos`` under ``cell`` in ``folder`` (``<source>/<video>/<frame>.png``, the
    largest face per frame); a finished folder is reused. ``on_video()`` after each video."""
    done = folder / DONE
    if done.is_file():
        return _load(videos, folder, json.loads(done.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    frames: list[tuple[str, str, str, bool]] = []
    failures: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="dfdetect-robust-") as scratch:
        for video in videos:
            try:
                frames += _video_crops(
                    video, cell, folder, face_detector, preset, n_frames, seed, Path(scratch)
                )
            except MediaError as exc:
                failures.append((str(exc.path), exc.reason))
            if on_video is not None:
                on_video()
    record = {"frames": frames, "failures": failures}
    done.write_text(json.dumps(record) + "\n")
    return _load(videos, folder, record)


def _chunks(items: Iterator[tuple[int, np.ndarray]], n: int) -> Iterator[list]:
    batch: list[tuple[int, np.ndarray]] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _video_crops(
    video: SourceVideo,
    cell: Cell,
    folder: Path,
    face_detector: FaceDetector,
    preset: CropPreset,
    n_frames: int,
    seed: int,
    scratch: Path,
) -> list[tuple[str, str, str, bool]]:
    """Detect, align and save the largest face of each sampled, perturbed frame of a video."""
    rows = []
    for batch in _chunks(
        _perturbed_frames(video, cell, n_frames, seed, scratch),
        EXTRACT_SAMPLING.detect_batch,
    ):
        crops = crop_faces([rgb for _, rgb in batch], face_detector, preset, "largest")
        for (index, _), found in zip(batch, crops, strict=True):
            name = f"{index:03d}"
            if found:
                out = folder / video.source / video.video / f"{name}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out), cv2.cvtColor(found[0].aligned.crop, cv2.COLOR_RGB2BGR))
            rows.append((video.source, video.video, name, bool(found)))
    return rows


def _load(videos: Sequence[SourceVideo], folder: Path, record: dict) -> CellCrops:
    by_key = {(v.source, v.video): v for v in videos}
    samples = []
    for source, name, frame, found in record["frames"]:
        if found:
            v = by_key[(source, name)]
            path = folder / source / name / f"{frame}.png"
            samples.append(FrameSample(v.dataset, source, name, frame, v.label, path))
    frames = [(str(a), str(b), str(c), bool(d)) for a, b, c, d in record["frames"]]
    return CellCrops(samples, frames, [(str(p), str(r)) for p, r in record["failures"]])
