"""Settings of one extraction run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dfdetect.faces.presets import CropPreset, get_preset
from dfdetect.faces.sampling import EXTRACT_SAMPLING


@dataclass(frozen=True)
class ExtractOptions:
    """What ``dfdetect extract`` was asked to do (see ``dfdetect extract --help``); how faces
    are sampled and found defaults to :data:`dfdetect.faces.sampling.EXTRACT_SAMPLING`.

    ``crop`` (a model's recorded crop preset) overrides ``preset`` and ``size``;
    ``detector_options`` go to the face detector (e.g. SCRFD's weights and NMS)."""

    out: Path
    dataset: str = "custom"
    source: str | None = None  # None: each file's parent folder name
    frames: int = EXTRACT_SAMPLING.frames
    sampling: str = EXTRACT_SAMPLING.sampling
    stride: int | None = EXTRACT_SAMPLING.stride
    seek: str = EXTRACT_SAMPLING.seek  # "keyframe": nearby frames cheap to decode
    preset: str = "gend"
    size: int | None = 256  # None: native resolution
    face: str = "largest"
    mask_dir: Path | None = None
    detector: str = "mtcnn"
    min_face_size: int = EXTRACT_SAMPLING.min_face_size
    threshold: float | None = None
    device: str | None = None
    batch_size: int = EXTRACT_SAMPLING.detect_batch  # frames per detector call
    workers: int = 1
    crop: CropPreset | None = None
    detector_options: tuple[tuple[str, object], ...] = ()
    overwrite: bool = False  # replace finished video folders instead of keeping them

    def crop_preset(self) -> CropPreset:
        """The crop geometry to align with."""
        return self.crop or get_preset(self.preset, size=self.size)
