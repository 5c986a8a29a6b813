"""Warp crop-space heatmaps back onto frames, colour them over images, encode them."""

from __future__ import annotations

import cv2
import numpy as np


def warp_to_frame(
    heatmap: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...]
) -> np.ndarray:
    """Map a crop heatmap (H_c, W_c) onto a frame of ``frame_shape`` (H, W[, C]).

    ``matrix`` is the (2, 3) alignment from frame to crop (``AlignedFace.matrix``); each frame
    pixel takes the heatmap value where the alignment sends it (0 outside the crop).
    """
    height, width = frame_shape[:2]
    return cv2.warpAffine(
        np.asarray(heatmap, np.float32),
        np.asarray(matrix, np.float64),
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def overlay(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.6) -> np.ndarray:
    """RGB uint8 ``image`` with a jet-coloured ``heatmap`` in [0, 1] blended in proportion to
    its value (cold regions keep the image)."""
    heat = np.clip(np.asarray(heatmap, np.float32), 0.0, 1.0)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    weight = (alpha * heat)[..., None]
    out = image.astype(np.float32) * (1 - weight) + colour.astype(np.float32) * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def encode_image(image: np.ndarray, fmt: str = ".png", quality: int = 85) -> bytes:
    """Encode an RGB uint8 image as PNG or JPEG bytes."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(fmt, np.ascontiguousarray(image[..., ::-1]), params)
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as {fmt}")
    return buf.tobytes()
