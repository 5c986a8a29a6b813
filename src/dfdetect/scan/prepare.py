"""The CPU half of a scan: read a file, sample frames, detect and align every face.

Runs in worker threads; everything it finds (crops, boxes, frame times, problems) is held in a
:class:`Prepared` until the model has scored the crops.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dfdetect.errors import Cancelled, MediaError
from dfdetect.faces import CropPreset, Face, crop_faces
from dfdetect.media import keyframe_positions, sample_frame_indices, sniff_media_kind
from dfdetect.media.animation import Animation, is_animation, is_multipage
from dfdetect.media.image import decode_image

if TYPE_CHECKING:
    from dfdetect.media.video import VideoReader
from dfdetect.media.sniff import require_regular_file
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.walk import symlink_target


@dataclass
class PreparedFace:
    """An aligned face waiting for its score."""

    frame_index: int
    time_s: float | None
    box: np.ndarray
    score: float
    crop: np.ndarray
    matrix: np.ndarray


@dataclass
class Prepared:
    """A file after decoding and face detection: its faces, or why it failed."""

    path: str
    kind: str | None = None
    frames: list[tuple[int, float | None]] = field(default_factory=list)
    faces: list[PreparedFace] = field(default_factory=list)
    media: dict = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    target: str | None = None  # where ``path`` points when it is a symbolic link
    scale: float = 1.0  # decoded / stored size: boxes are divided by it in the results
    skipped: dict[int, int] = field(default_factory=dict)  # frame -> faces over max_faces
    # frames downscaled to ``ScanOptions.thumbnail_size`` (kept only when explaining)
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)
    thumb_scale: float = 1.0


def media_error(exc: MediaError | OSError) -> dict[str, str]:
    """The ``{"reason", "detail"}`` a file gets for a problem reading it."""
    if isinstance(exc, MediaError):
        return {"reason": exc.reason, "detail": exc.detail}
    if isinstance(exc, FileNotFoundError):
        return {"reason": "missing", "detail": str(exc)}
    return {"reason": "unreadable", "detail": str(exc)}


def check_size(path: str | Path, size: int, max_file_mb: float) -> None:
    """Raise :class:`MediaError` ``too_large`` when ``size`` bytes exceed ``max_file_mb``."""
    limit = int(max_file_mb * 1024 * 1024)
    if size > limit:
        raise MediaError(path, "too_large", f"{size} bytes > {limit}")


def prepare_safely(prepare: Callable[..., Prepared], source, *args, **kwargs) -> Prepared:
    """``prepare(source, *args, **kwargs)``; an unexpected exception (a decoder or detector
    bug) becomes this file's error instead of stopping a scan of many files (a cancelled job's
    :class:`~dfdetect.errors.Cancelled` goes through)."""
    try:
        return prepare(source, *args, **kwargs)
    except Cancelled:
        raise
    except Exception as exc:
        name = args[0] if args else str(source)
        return Prepared(path=name, error={"reason": "unexpected", "detail": repr(exc)})


class FacePreparer:
    """Detects and aligns faces in images and sampled video frames."""

    def __init__(self, face_detector, preset: CropPreset, options: ScanOptions) -> None:
        self.face_detector = face_detector
        self.preset = preset
        self.options = options

    def prepare_path(self, path: str | Path, cancel: threading.Event | None = None) -> Prepared:
        """Read and process one file; every problem becomes ``Prepared.error``, never raises
        for bad media. Raises :class:`Cancelled` between frames once ``cancel`` is set."""
        prepared = Prepared(path=str(path), target=symlink_target(path))
        try:
            check_size(path, require_regular_file(path).st_size, self.options.max_file_mb)
            if not os.access(path, os.R_OK):
                raise MediaError(path, "unreadable", "permission denied")
            prepared.kind = sniff_media_kind(path)
            max_pixels = self.options.max_pixels
            if prepared.kind == "image" and is_animation(path):  # a short video
                prepared.kind = "video"
                self._prepare_video(prepared, Animation(path, max_frame_pixels=max_pixels), cancel)
            elif prepared.kind == "image" and is_multipage(path):  # pages, scanned like frames
                self._prepare_video(prepared, Animation(path, max_frame_pixels=max_pixels), cancel)
            elif prepared.kind == "image":
                self._prepare_still(prepared, path)
            else:
                from dfdetect.media.video import VideoReader  # PyAV only when a video comes

                reader = VideoReader(path, max_frame_pixels=max_pixels)
                self._prepare_video(prepared, reader, cancel)
        except (MediaError, OSError) as exc:
            prepared.error = media_error(exc)
        return prepared

    def prepare_image(self, image: np.ndarray, name: str) -> Prepared:
        """Process an in-memory RGB uint8 image (H, W, 3)."""
        prepared = Prepared(path=name, kind="image")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            prepared.error = {
                "reason": "bad_array",
                "detail": f"expected RGB uint8 (H, W, 3), got {image.dtype} {image.shape}",
            }
            return prepared
        prepared.media = {"width": image.shape[1], "height": image.shape[0]}
        self._add_frames(prepared, [(0, None, image)])
        return prepared

    def _prepare_still(self, prepared: Prepared, path: str | Path) -> None:
        """A still image, decoded reduced when it is over ``max_pixels`` and can be."""
        picture = decode_image(path, max_pixels=self.options.max_pixels)
        (width, height), prepared.scale = picture.size, picture.scale
        prepared.media = {"width": width, "height": height}
        if picture.scale < 1.0:
            decoded = picture.pixels.shape
            prepared.warnings.append(
                {
                    "reason": "decoded_reduced",
                    "detail": f"{width}x{height} decoded at {decoded[1]}x{decoded[0]} to fit "
                    f"{self.options.max_pixels / 1e6:g} MP (--max-pixels); boxes are in the "
                    "file's own pixels",
                }
            )
        self._add_frames(prepared, [(0, None, picture.pixels)])

    def _prepare_video(
        self, prepared: Prepared, reader: VideoReader | Animation, cancel: threading.Event | None
    ) -> None:
        """Sampled frames of a video or animation; every page of a multi-page image up to
        ``frames`` (a warning names the pages left out)."""
        opts = self.options
        path = prepared.path
        with reader:
            fps, duration = reader.fps, reader.duration
            prepared.media = {
                "n_frames": reader.n_frames,
                "fps": round(fps, 3) if fps else fps,  # 25.0, not 24.999999999999996
                "duration_s": round(duration, 3) if duration else duration,
                "width": reader.width,
                "height": reader.height,
            }
            if getattr(reader, "paged", False):
                wanted = np.arange(min(reader.n_frames, opts.frames))
                if reader.n_frames > opts.frames:
                    prepared.warnings.append(
                        {
                            "reason": "pages_skipped",
                            "detail": f"scanned the first {opts.frames} of "
                            f"{reader.n_frames} pages (--frames)",
                        }
                    )
            else:
                wanted = np.sort(
                    sample_frame_indices(reader.n_frames, opts.frames, opts.sampling, opts.stride)
                )
                if opts.seek == "keyframe":
                    wanted = keyframe_positions(wanted, reader.keyframes, reader.n_frames)
            batch: list[tuple[int, float | None, np.ndarray]] = []
            for index, time_s, frame in reader.read(wanted.tolist()):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{path}: cancelled after {len(prepared.frames)} frames")
                batch.append((int(index), None if time_s is None else float(time_s), frame))
                if len(batch) >= opts.detect_batch:
                    self._add_frames(prepared, batch)
                    batch = []
            if batch:
                self._add_frames(prepared, batch)
            if reader.truncated:
                prepared.warnings.append(
                    {
                        "reason": "truncated",
                        "detail": "the file ends early; frames up to the damage",
                    }
                )
        if not prepared.frames:
            raise MediaError(path, "no_frames", "no frame could be decoded")
        if len(prepared.frames) < len(wanted):
            prepared.warnings.append(
                {
                    "reason": "frames_missing",
                    "detail": f"decoded {len(prepared.frames)} of {len(wanted)} sampled frames",
                }
            )

    def _add_frames(
        self, prepared: Prepared, batch: list[tuple[int, float | None, np.ndarray]]
    ) -> None:
        """Detect faces in a batch of frames and align those of at least ``min_face_size``
        pixels, every one or the largest ``max_faces`` (the others counted per frame in
        ``prepared.skipped``); faces with unusable landmarks become warnings."""
        opts = self.options

        def bad_landmarks(_image: int, _face: Face, exc: ValueError) -> None:
            prepared.warnings.append({"reason": "bad_landmarks", "detail": str(exc)})

        def capped(image: int, left_out: int) -> None:
            prepared.skipped[batch[image][0]] = left_out

        crops = crop_faces(
            [frame for _, _, frame in batch],
            self.face_detector,
            self.preset,
            "all",
            min_size=opts.min_face_size,
            max_faces=opts.max_faces,
            on_unaligned=bad_landmarks,
            on_capped=capped,
        )
        for (index, time_s, frame), found in zip(batch, crops, strict=True):
            prepared.frames.append((index, time_s))
            for crop in found:
                prepared.faces.append(
                    PreparedFace(
                        index,
                        time_s,
                        np.asarray(crop.face.box, np.float32),
                        float(crop.face.score),
                        crop.aligned.crop,
                        np.asarray(crop.aligned.matrix, np.float32),
                    )
                )
            if opts.explain:
                scale = min(1.0, opts.thumbnail_size / max(frame.shape[:2]))
                prepared.thumb_scale = scale
                prepared.thumbnails[index] = (
                    cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                    if scale < 1.0
                    else frame.copy()
                )
