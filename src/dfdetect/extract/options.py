"""Settings of one extraction run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExtractOptions:
    """What ``dfdetect extract`` was asked to do (see ``dfdetect extract --help``)."""

    out: Path
    dataset: str = "custom"
    source: str | None = None  # None: each file's parent folder name
    frames: int = 32
    sampling: str = "max-spread"
    stride: int | None = None
    seek: str = "exact"  # "keyframe": nearby frames cheap to decode (media.keyframe_positions)
    preset: str = "gend"
    size: int | None = 256  # None: native resolution
    face: str = "largest"
    mask_dir: Path | None = None
    detector: str = "mtcnn"
    min_face_size: int = 40
    threshold: float | None = None
    device: str | None = None
    batch_size: int = 8
    workers: int = 1
