"""What a scan does with each file: frame sampling, face limits, batching, size bounds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dfdetect.faces.sampling import SCAN_SAMPLING
from dfdetect.media.limits import MAX_PIXELS
from dfdetect.media.sampling import SAMPLING_MODES, SEEK_MODES


@dataclass(frozen=True)
class ScanOptions:
    """Options of :class:`~dfdetect.scan.pipeline.ScanPipeline` (how faces are sampled and
    found: :data:`dfdetect.faces.sampling.SCAN_SAMPLING` unless given).

    ``frames`` frames are sampled per video (``sampling`` as in
    :func:`dfdetect.media.sample_frame_indices`), then with ``seek="keyframe"`` moved to
    nearby frames that are cheap to decode (:func:`dfdetect.media.keyframe_positions`;
    ``"exact"`` decodes the sampled frames themselves); every face of at least ``min_face_size``
    pixels is scored, or with ``max_faces`` the largest that many per frame (the others are
    counted as ``faces_skipped``). Faces are tracked into
    persons when their boxes overlap by ``track_iou`` or their centres lie within
    ``track_distance`` box sizes. Files over ``max_file_mb`` are refused (``too_large``);
    images and frames over ``max_pixels`` are decoded reduced where the format allows (JPEG),
    else refused (see :data:`dfdetect.media.limits.MAX_PIXELS`).
    ``workers`` threads decode and detect while the model scores ``batch_size`` crops at a
    time; ``detect_batch`` frames go through the face detector at once.
    ``file_timeout_s`` (None: no limit) bounds the decoding and face detection of one file in
    :meth:`~dfdetect.scan.pipeline.ScanPipeline.scan`: past it the file gets reason
    ``timeout`` and the scan goes on.
    ``explain`` keeps a thumbnail per file (frames downscaled to ``thumbnail_size``) and
    computes heatmaps for the highest-scoring face of each of the ``max_heatmaps`` most
    suspicious persons (needs the real Detector).
    """

    frames: int = SCAN_SAMPLING.frames
    sampling: str = SCAN_SAMPLING.sampling
    stride: int | None = SCAN_SAMPLING.stride
    seek: str = SCAN_SAMPLING.seek
    min_face_size: int = SCAN_SAMPLING.min_face_size
    max_faces: int | None = SCAN_SAMPLING.max_faces
    track_iou: float = 0.3
    track_distance: float = 0.5
    max_file_mb: float = 4096.0
    max_pixels: int = MAX_PIXELS
    batch_size: int = 32  # the model batch of scan and serve
    detect_batch: int = SCAN_SAMPLING.detect_batch
    workers: int = 2
    queue_size: int = 4
    file_timeout_s: float | None = None
    explain: bool = False
    max_heatmaps: int = 8
    thumbnail_size: int = 640

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}")
        if self.sampling == "stride" and not self.stride:
            raise ValueError("sampling='stride' needs stride >= 1")
        if self.seek not in SEEK_MODES:
            raise ValueError(f"seek must be one of {SEEK_MODES}, got {self.seek!r}")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {self.max_faces}")
        for name in (
            "max_pixels",
            "batch_size",
            "detect_batch",
            "workers",
            "queue_size",
            "max_heatmaps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.track_iou <= 1.0:
            raise ValueError(f"track_iou must be in (0, 1], got {self.track_iou}")
        if self.file_timeout_s is not None and self.file_timeout_s <= 0:
            raise ValueError(f"file_timeout_s must be > 0, got {self.file_timeout_s}")
        if self.max_file_mb <= 0:
            raise ValueError(f"max_file_mb must be > 0, got {self.max_file_mb}")

    def result_fingerprint(self) -> dict[str, Any]:
        """The options that change a file's result (not speed knobs like workers)."""
        keys = ("frames", "sampling", "stride", "seek", "min_face_size", "max_faces", "track_iou",
                "track_distance", "max_pixels")  # fmt: skip
        return {k: getattr(self, k) for k in keys}


def stable_hash(data: Any, length: int = 16) -> str:
    """Short sha256 of the canonical JSON of ``data`` (dict key order does not matter)."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
