"""Settings of one extraction run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dfdetect.faces.presets import CropPreset, get_preset


@dataclass(frozen=True)
class ExtractOptions:
    """What ``dfdetect extract`` was asked to do (see ``dfdetect extract --help``).

    ``crop`` (a model's recorded crop preset) overrides ``preset`` and ``size``;
    ``detector_options`` go to the face detector (e.g. SCRFD's weights and NMS)."""

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
    crop: CropPreset | None = None
    detector_options: tuple[tuple[str, object], ...] = ()
    overwrite: bool = False  # replace finished video folders instead of keeping them

    def crop_preset(self) -> CropPreset:
        """The crop geometry to align with."""
        return self.crop or get_preset(self.preset, size=self.size)
