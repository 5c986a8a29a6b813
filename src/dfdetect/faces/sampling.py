"""How faces are sampled from a file and found in it: the defaults of every entry point (scan,
extract, serve, robustness) are written here once."""

from __future__ import annotations

from dataclasses import dataclass

from dfdetect.media.sampling import SAMPLING_MODES, SEEK_MODES


@dataclass(frozen=True)
class FaceSampling:
    """``frames`` frames per video in ``sampling`` order (``stride`` for ``"stride"``), decoded
    where ``seek`` says (``"exact"``: those frames; ``"keyframe"``: nearby frames that are
    cheap to decode); faces of at least ``min_face_size`` pixels are found ``detect_batch``
    frames per detector call, at most ``max_faces`` per frame (None: every face)."""

    frames: int = 32
    sampling: str = "even"
    stride: int | None = None
    seek: str = "keyframe"
    min_face_size: int = 40
    detect_batch: int = 8
    max_faces: int | None = None

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}")
        if self.seek not in SEEK_MODES:
            raise ValueError(f"seek must be one of {SEEK_MODES}, got {self.seek!r}")
        for name in ("frames", "min_face_size", "detect_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


# scan and serve: users' long videos, so evenly spaced frames moved to nearby keyframes (fast)
SCAN_SAMPLING = FaceSampling()
# extract: reproduce the authors' training frames, so max-spread from the middle frame, decoded
# exactly, as GenD's evaluation samples them
EXTRACT_SAMPLING = FaceSampling(sampling="max-spread", seek="exact")
