"""Image and video perturbations for robustness tests: the seven DeeperForensics-1.0 types at
their published five levels, plus real JPEG quality, platform-style resizing and H.264 at fixed
bitrates. One table row per type; every level is named 1 (mildest) to 5 (strongest).

Images are RGB uint8 (H, W, 3). Random types (BW, GNC) draw from ``np.random.default_rng`` with
the seed they are given, so the same seed always gives the same pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from dfdetect.robustness.h264 import h264_roundtrip

PerturbFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """DeeperForensics' YCbCr: OpenCV's float conversion, rescaled to the studio ranges."""
    ycrcb = cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2YCrCb)
    ycbcr = ycrcb[:, :, (0, 2, 1)]
    ycbcr[:, :, 0] = (ycbcr[:, :, 0] * (235 - 16) + 16) / 255.0
    ycbcr[:, :, 1:] = (ycbcr[:, :, 1:] * (240 - 16) + 16) / 255.0
    return ycbcr


def _from_ycbcr(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_to_ycbcr` (float RGB, unclipped)."""
    ycbcr = ycbcr.astype(np.float32)
    ycbcr[:, :, 0] = (ycbcr[:, :, 0] * 255.0 - 16) / (235 - 16)
    ycbcr[:, :, 1:] = (ycbcr[:, :, 1:] * 255.0 - 16) / (240 - 16)
    return cv2.cvtColor(np.ascontiguousarray(ycbcr[:, :, (0, 2, 1)]), cv2.COLOR_YCrCb2RGB)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 255] and truncate, as the reference's ``astype(np.uint8)``."""
    return np.clip(image, 0, 255).astype(np.uint8)


def color_saturation(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """CS: chroma (Cb, Cr) scaled by ``factor`` around neutral; 0 gives grey."""
    ycbcr = _to_ycbcr(image)
    ycbcr[:, :, 1:] = 0.5 + (ycbcr[:, :, 1:] - 0.5) * factor
    return _to_uint8(_from_ycbcr(ycbcr))


def color_contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """CC: every pixel value multiplied by ``factor``."""
    return _to_uint8(image.astype(np.float32) * factor)


BLOCK = 8  # side of a BW block in pixels
BLOCK_GREY = 128


def block_count(height: int, width: int, per_256: float) -> int:
    """BW blocks for an image: ``per_256 * (min(H, W) // 256)``, at least ``per_256`` so crops
    under 256 px (where the reference would draw none) are still occluded."""
    return int(per_256) * max(1, min(height, width) // 256)


def block_wise(image: np.ndarray, per_256: float, rng: np.random.Generator) -> np.ndarray:
    """BW: grey 8x8 blocks at uniformly random positions (see :func:`block_count`)."""
    out = image.copy()
    h, w = image.shape[:2]
    for _ in range(block_count(h, w, per_256)):
        x = int(rng.integers(0, max(0, w - 1 - BLOCK), endpoint=True))
        y = int(rng.integers(0, max(0, h - 1 - BLOCK), endpoint=True))
        out[y : y + BLOCK, x : x + BLOCK] = BLOCK_GREY
    return out


def gaussian_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """GNC: white Gaussian noise of ``variance`` added to every YCbCr channel, with the
    reference's scaling (luma noise std ~ 297 * sqrt(variance) grey levels)."""
    ycbcr = _to_ycbcr(image) / 255.0
    noisy = (ycbcr + math.sqrt(variance) * rng.standard_normal(ycbcr.shape)) * 255.0
    return _to_uint8(_from_ycbcr(noisy))


def gaussian_blur(image: np.ndarray, kernel: float, rng: np.random.Generator) -> np.ndarray:
    """GB: Gaussian blur with a ``kernel`` x ``kernel`` window and sigma = kernel / 6."""
    k = int(kernel)
    return cv2.GaussianBlur(image, (k, k), k / 6.0)


def pixelation(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """DeeperForensics "JPEG": bilinear downscale by an integer ``factor``, then back up."""
    h, w = image.shape[:2]
    f = int(factor)
    small = cv2.resize(image, (max(1, w // f), max(1, h // f)))
    return cv2.resize(small, (w, h))


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """The JPEG file of an RGB image at ``quality`` (libjpeg, 4:2:0)."""
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a {image.shape} image")
    return data.tobytes()


def jpeg_quality(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """A real JPEG encode (:func:`encode_jpeg`) and decode at ``quality``."""
    data = np.frombuffer(encode_jpeg(image, int(quality)), np.uint8)
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])


def resize(image: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Platform-style resizing: area downscale by ``scale``, bicubic upscale back."""
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def video_crf(image: np.ndarray, crf: float, rng: np.random.Generator) -> np.ndarray:
    """VC on one image: a one-frame H.264 clip at ``crf`` (libx264), decoded back."""
    return h264_roundtrip([image], crf=int(crf))[0]


def video_bitrate(image: np.ndarray, kbps_720p: float, rng: np.random.Generator) -> np.ndarray:
    """H.264 at a bitrate on one image: a one-frame clip (see :func:`scaled_bitrate`)."""
    return h264_roundtrip([image], bitrate=scaled_bitrate(kbps_720p, *image.shape[:2]))[0]


REFERENCE_PIXELS = 1280 * 720


def scaled_bitrate(kbps_720p: float, height: int, width: int) -> int:
    """Bits per second for a ``height`` x ``width`` video at the same bits per pixel as
    ``kbps_720p`` kbit/s gives a 1280x720 one (so crops and frames are compressed alike)."""
    return max(1000, round(kbps_720p * 1000 * height * width / REFERENCE_PIXELS))


@dataclass(frozen=True)
class Perturbation:
    """One type: its code, what it does, the parameter of levels 1-5 and how to apply it.

    ``video``: the parameter also names a re-encode of a whole video (``crf`` / ``bitrate``),
    which the frames stage applies to source videos instead of frame by frame.
    """

    code: str
    title: str
    unit: str
    params: tuple[float, ...]
    apply: PerturbFn
    video: str | None = None

    def param(self, level: int) -> float:
        """The parameter of ``level`` (1-based)."""
        return self.params[level - 1]

    def label(self, level: int) -> str:
        """``unit=param`` of a level, e.g. ``kernel=13``."""
        value = self.param(level)
        text = f"{value:g}" if not float(value).is_integer() else f"{int(value)}"
        return f"{self.unit}={text}"


PERTURBATIONS: dict[str, Perturbation] = {
    p.code: p
    for p in (
        Perturbation(
            "CS", "colour saturation", "factor", (0.4, 0.3, 0.2, 0.1, 0.0), color_saturation
        ),
        Perturbation("CC", "contrast", "factor", (0.85, 0.725, 0.6, 0.475, 0.35), color_contrast),
        Perturbation("BW", "block-wise occlusion", "blocks", (16, 32, 48, 64, 80), block_wise),
        Perturbation(
            "GNC", "Gaussian noise", "variance", (0.001, 0.002, 0.005, 0.01, 0.05), gaussian_noise
        ),
        Perturbation("GB", "Gaussian blur", "kernel", (7, 9, 13, 17, 21), gaussian_blur),
        Perturbation("JPEG", "pixelation (DF 'JPEG')", "factor", (2, 3, 4, 5, 6), pixelation),
        Perturbation("VC", "H.264 CRF", "crf", (30, 32, 35, 38, 40), video_crf, video="crf"),
        Perturbation("JPEGQ", "JPEG quality", "quality", (90, 70, 50, 30, 10), jpeg_quality),
        Perturbation(
            "RESIZE", "down-and-up resize", "scale", (0.75, 0.5, 0.33, 0.25, 0.125), resize
        ),
        Perturbation(
            "H264",
            "H.264 bitrate",
            "kbps@720p",
            (4000, 2000, 1000, 500, 250),
            video_bitrate,
            video="bitrate",
        ),
    )
}
DEEPERFORENSICS = ("CS", "CC", "BW", "GNC", "GB", "JPEG", "VC")
LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Cell:
    """One (type, level) of the grid; ``code`` None is the clean data."""

    code: str | None = None
    level: int = 0

    @property
    def name(self) -> str:
        """``clean`` or ``<code>-<level>`` (file and cache names)."""
        return "clean" if self.code is None else f"{self.code}-{self.level}"

    @property
    def perturbation(self) -> Perturbation | None:
        return None if self.code is None else PERTURBATIONS[self.code]

    def param_label(self) -> str:
        """The level's parameter (``kernel=13``), empty for clean."""
        p = self.perturbation
        return "" if p is None else p.label(self.level)

    def apply(self, image: np.ndarray, seed: int) -> np.ndarray:
        """``image`` perturbed by this cell with ``seed`` (clean: the image itself)."""
        p = self.perturbation
        if p is None:
            return image
        return p.apply(image, p.param(self.level), np.random.default_rng(seed))


def parse_perturb_arg(text: str) -> list[Cell]:
    """``TYPE`` (all five levels), ``TYPE:1,3,5``, ``df`` (the seven DeeperForensics types) or
    ``all`` as cells; unknown types and levels raise ValueError listing the known ones."""
    code, _, levels_text = text.partition(":")
    key = code.upper()
    codes = {"DF": DEEPERFORENSICS, "ALL": tuple(PERTURBATIONS)}.get(key, (key,))
    unknown = [c for c in codes if c not in PERTURBATIONS]
    if unknown:
        known = ", ".join([*PERTURBATIONS, "df", "all"])
        raise ValueError(f"unknown perturbation {code!r} (known: {known})")
    try:
        levels = [int(v) for v in levels_text.split(",")] if levels_text else list(LEVELS)
    except ValueError:
        raise ValueError(f"{text!r}: levels must be integers 1-5, e.g. GB:1,3,5") from None
    if not levels or any(v not in LEVELS for v in levels):
        raise ValueError(f"{text!r}: levels must lie in 1-5")
    return [Cell(c, v) for c in codes for v in levels]
