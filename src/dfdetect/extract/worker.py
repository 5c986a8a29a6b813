"""Extracting the face crops of one video or image into its output folder, all or nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfdetect.errors import MediaError
from dfdetect.extract.jobs import ExtractJob
from dfdetect.extract.manifest import MANIFEST_COLUMNS, VIDEO_MANIFEST, crop_row
from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.report import Failure, write_csv
from dfdetect.extract.settings import write_settings
from dfdetect.faces.crops import crop_faces
from dfdetect.faces.face import FaceDetector
from dfdetect.faces.select import mask_from_frame
from dfdetect.media.animation import Animation, is_animation
from dfdetect.media.image import load_image
from dfdetect.media.sampling import keyframe_positions, sample_frame_indices
from dfdetect.media.sniff import sniff_media_kind
from dfdetect.media.video import VideoReader

Frame = tuple[int, float, np.ndarray]  # index, time in seconds, RGB frame


@dataclass
class JobResult:
    """``status``: ``done``, ``skipped`` (finished by an earlier run) or ``failed``."""

    job: ExtractJob
    status: str
    n_crops: int = 0
    n_frames: int = 0
    failures: list[Failure] = field(default_factory=list)


def run_job(job: ExtractJob, detector: FaceDetector, options: ExtractOptions) -> JobResult:
    """Extract one input; never raises for bad media (the result carries the failure). A
    finished folder is kept (``skipped``), or with ``options.overwrite`` replaced: its old crops
    go even when the input gives none this time."""
    final = options.out / job.relative_dir()
    if final.is_dir() and not options.overwrite:
        return JobResult(job, "skipped")
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{job.video}.partial-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    partial = final.parent / f".{job.video}.partial-{os.getpid()}"
    partial.mkdir()
    try:
        try:
            result = _extract(job, detector, options, partial)
        except MediaError as exc:
            result = JobResult(job, "failed", failures=[_media_failure(job, exc)])
        if final.is_dir():  # --overwrite
            replaced = final.parent / f".{job.video}.partial-{os.getpid()}-replaced"
            os.rename(final, replaced)
            shutil.rmtree(replaced)
        if result.status == "done":
            os.rename(partial, final)
        return result
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _media_failure(job: ExtractJob, exc: MediaError) -> Failure:
    if exc.path == str(job.path):
        return Failure(exc.path, exc.reason, exc.detail)
    return Failure(str(job.path), f"mask_{exc.reason}", f"{exc.path}: {exc.detail}")  # the mask


def _extract(
    job: ExtractJob, detector: FaceDetector, options: ExtractOptions, folder: Path
) -> JobResult:
    preset = options.crop_preset()
    result = JobResult(job, "failed")
    rows: list[dict[str, Any]] = []
    sampled = _Sampled()
    for batch, masks in _batches(job, options, sampled):
        result.n_frames += len(batch)
        images = [frame for _, _, frame in batch]
        for (index, time_s, frame), crops in zip(
            batch, crop_faces(images, detector, preset, options.face, masks), strict=True
        ):
            if not crops:
                result.failures.append(Failure(str(job.path), "no_face", "", index))
            for k, crop in enumerate(crops):
                name = f"{index:03d}.png" if k == 0 else f"{index:03d}_{k}.png"
                _write_png(folder / name, crop.aligned.crop)
                rows.append(
                    crop_row(
                        crop,
                        crop_path=str(job.relative_dir() / name),
                        dataset=job.dataset,
                        source=job.source,
                        video=job.video,
                        source_file=str(job.path),
                        frame_index=index,
                        time_s=time_s,
                        face_index=k,
                        frame_shape=frame.shape,
                        detector=detector.name,
                        preset=preset,
                    )
                )
    decoded = {f.frame_index for f in result.failures} | {r["frame_index"] for r in rows}
    lost = "truncated" if sampled.truncated else "undecodable"
    for index in sorted(set(sampled.indices) - decoded):
        result.failures.append(Failure(str(job.path), lost, "frame data missing or damaged", index))
    result.n_crops = len(rows)
    if not rows:
        if result.n_frames:
            failure = Failure(str(job.path), "no_face", f"in {result.n_frames} sampled frames")
        else:
            failure = Failure(str(job.path), lost, "no sampled frame could be decoded")
        result.failures = [failure]
        return result
    write_csv(folder / VIDEO_MANIFEST, rows, MANIFEST_COLUMNS)
    write_settings(folder, options)
    result.status = "done"
    return result


@dataclass
class _Sampled:
    indices: list[int] = field(default_factory=list)
    truncated: bool = False


def _batches(
    job: ExtractJob, options: ExtractOptions, sampled: _Sampled
) -> Iterator[tuple[list[Frame], list[np.ndarray | None] | None]]:
    """Batches of sampled frames with their masks (None when no mask is used); records the
    sampled indices in ``sampled``."""
    kind = sniff_media_kind(job.path)
    if kind == "image" and not is_animation(job.path):
        sampled.indices.append(0)
        image = load_image(job.path)
        masks = {0: mask_from_frame(load_image(job.mask))} if job.mask else None
        yield [(0, 0.0, image)], _masks_for([(0, 0.0, image)], masks)
        return
    with Animation(job.path) if kind == "image" else VideoReader(job.path) as reader:
        sampled.truncated = reader.truncated
        wanted = sample_frame_indices(
            reader.n_frames,
            options.frames,
            options.sampling,  # type: ignore[arg-type]
            options.stride,
        )
        if options.seek == "keyframe":
            wanted = keyframe_positions(wanted, reader.keyframes, reader.n_frames)
        sampled.indices.extend(int(i) for i in wanted)
        mask_frames = _read_masks(job.mask, sampled.indices) if job.mask else None
        batch: list[Frame] = []
        for frame in reader.read(sampled.indices):
            batch.append(frame)
            if len(batch) == options.batch_size:
                yield batch, _masks_for(batch, mask_frames)
                batch = []
        if batch:
            yield batch, _masks_for(batch, mask_frames)


def _read_masks(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Boolean masks of the mask video at the wanted frame indices (those it has)."""
    with VideoReader(path) as masks:
        usable = [i for i in indices if i < masks.n_frames]
        return {i: mask_from_frame(frame) for i, _, frame in masks.read(usable)}


def _masks_for(
    batch: list[Frame], masks: dict[int, np.ndarray] | None
) -> list[np.ndarray | None] | None:
    """The mask of each frame of the batch, resized to the frame when sizes differ."""
    if masks is None:
        return None
    out: list[np.ndarray | None] = []
    for index, _, frame in batch:
        mask = masks.get(index)
        if mask is not None and mask.shape != frame.shape[:2]:
            size = (frame.shape[1], frame.shape[0])
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        out.append(mask)
    return out


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    path.write_bytes(data.tobytes())
