"""Training augmentations of the method (as the paper lists them) on uint8 RGB crops, driven
by a seeded RNG."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from dfdetect.data.samples import DatasetError


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges. Defaults follow the papers: h-flip 0.5; affine rotate +-10 deg,
    translate 0.1, scale 0.9-1.1; Gaussian blur p 0.1 kernel 7; brightness/contrast 0.1; JPEG
    quality 40-100. The papers give no probability for affine, jitter and JPEG: 0.5 here."""

    hflip: float = 0.5
    affine_p: float = 0.5
    rotate: float = 10.0
    translate: float = 0.1
    scale: tuple[float, float] = (0.9, 1.1)
    blur_p: float = 0.1
    blur_kernel: int = 7
    jitter_p: float = 0.5
    brightness: float = 0.1
    contrast: float = 0.1
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (40, 100)

    def __post_init__(self) -> None:
        for name in ("hflip", "affine_p", "blur_p", "jitter_p", "jpeg_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DatasetError(
                    f"augment.{name} must be a probability, got {getattr(self, name)}"
                )
        if self.blur_kernel < 1 or self.blur_kernel % 2 == 0:
            raise DatasetError(f"augment.blur_kernel must be odd and >= 1, got {self.blur_kernel}")
        lo, hi = self.jpeg_quality
        if not 1 <= lo <= hi <= 100:
            raise DatasetError(f"augment.jpeg_quality must be within 1..100, got {[lo, hi]}")
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        object.__setattr__(self, "jpeg_quality", (int(lo), int(hi)))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AugmentConfig | None:
        """From a config mapping; ``None`` or ``{"enabled": false}`` turns augmentation off."""
        if data is None or data.get("enabled", True) is False:
            return None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"enabled"})
        if unknown:
            raise DatasetError(f"augment: unknown keys {unknown} (known: {sorted(known)})")
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready mapping."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def augment(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """One augmented copy of an RGB uint8 (H, W, 3) image; the same ``rng`` state gives the same
    result. Order: flip, affine (reflected borders), blur, brightness/contrast, JPEG."""
    out = image
    if rng.random() < config.hflip:
        out = out[:, ::-1]
    if rng.random() < config.affine_p:
        h, w = out.shape[:2]
        angle = rng.uniform(-config.rotate, config.rotate)
        scale = rng.uniform(*config.scale)
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
        matrix[:, 2] += rng.uniform(-config.translate, config.translate, size=2) * (w, h)
        out = cv2.warpAffine(
            np.ascontiguousarray(out),
            matrix,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    if rng.random() < config.blur_p:
        k = config.blur_kernel
        out = cv2.GaussianBlur(np.ascontiguousarray(out), (k, k), 0)
    if rng.random() < config.jitter_p:
        b = rng.uniform(1 - config.brightness, 1 + config.brightness)
        c = rng.uniform(1 - config.contrast, 1 + config.contrast)
        x = out.astype(np.float32) * b
        grey = float(x.mean())
        out = np.clip((x - grey) * c + grey, 0, 255).round().astype(np.uint8)
    if rng.random() < config.jpeg_p:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        bgr = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # cv2 fails only on invalid input, which the checks above rule out
            raise RuntimeError("JPEG encoding failed")
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)
