"""The source-target augmentations of SBI on uint8 RGB images: colour (RGB shift,
hue/saturation, brightness/contrast), frequency (downscale-upscale or sharpen) and the source's
small resize and translation. Each returns the new image and what it drew."""

from __future__ import annotations

import cv2
import numpy as np

COLOUR_P = 0.5  # probability of each colour transform
FREQUENCY_P = 0.5  # probability of one frequency transform
RGB_SHIFT = 20.0  # per-channel offset, grey levels
HUE_SHIFT = 10.0  # OpenCV hue units (180 per turn): +-20 degrees
SATURATION = (0.7, 1.3)
BRIGHTNESS = 0.1  # offset, fraction of 255
CONTRAST = (0.9, 1.1)
DOWNSCALE = (0.25, 0.5)
SHARPEN = (0.2, 0.5)
RESIZE = (0.95, 1.05)  # per axis, about the face centre
TRANSLATE = 0.03  # fraction of the face size, per axis


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def colour_frequency(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """``image`` with each colour transform applied with probability ``COLOUR_P`` and one
    frequency transform with probability ``FREQUENCY_P``; the list of ``[name, params]``."""
    out, ops = image, []
    if rng.random() < COLOUR_P:
        offset = rng.uniform(-RGB_SHIFT, RGB_SHIFT, size=3)
        out = _u8(out.astype(np.float32) + offset.astype(np.float32))
        ops.append(["rgb_shift", [round(float(v), 2) for v in offset]])
    if rng.random() < COLOUR_P:
        hue, sat = rng.uniform(-HUE_SHIFT, HUE_SHIFT), rng.uniform(*SATURATION)
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = np.mod(hsv[..., 0] + hue, 180.0)
        hsv[..., 1] *= sat
        out = cv2.cvtColor(_u8(np.minimum(hsv, [179, 255, 255])), cv2.COLOR_HSV2RGB)
        ops.append(["hue_saturation", [round(float(hue), 2), round(float(sat), 3)]])
    if rng.random() < COLOUR_P:
        b, c = rng.uniform(-BRIGHTNESS, BRIGHTNESS), rng.uniform(*CONTRAST)
        x = out.astype(np.float32)
        out = _u8((x - x.mean()) * c + x.mean() + b * 255.0)
        ops.append(["brightness_contrast", [round(float(b), 3), round(float(c), 3)]])
    if rng.random() < FREQUENCY_P:
        h, w = out.shape[:2]
        if rng.random() < 0.5:
            factor = rng.uniform(*DOWNSCALE)
            small = (max(1, round(w * factor)), max(1, round(h * factor)))
            down = cv2.resize(out, small, interpolation=cv2.INTER_AREA)
            out = cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)
            ops.append(["downscale", round(float(factor), 3)])
        else:
            amount = rng.uniform(*SHARPEN)
            x = out.astype(np.float32)
            out = _u8(x + amount * (x - cv2.GaussianBlur(x, (0, 0), 1.0)))
            ops.append(["sharpen", round(float(amount), 3)])
    return np.ascontiguousarray(out), ops


def resize_translate(
    image: np.ndarray, centre: np.ndarray, size: float, rng: np.random.Generator
) -> tuple[np.ndarray, list]:
    """``image`` resized by ``RESIZE`` per axis about ``centre`` and moved by up to
    ``TRANSLATE * size`` pixels per axis (borders reflected)."""
    scale = rng.uniform(*RESIZE, size=2)
    move = rng.uniform(-TRANSLATE, TRANSLATE, size=2) * size
    matrix = np.array(
        [
            [scale[0], 0.0, centre[0] * (1 - scale[0]) + move[0]],
            [0.0, scale[1], centre[1] * (1 - scale[1]) + move[1]],
        ]
    )
    h, w = image.shape[:2]
    out = cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    params = [[round(float(v), 4) for v in scale], [round(float(v), 2) for v in move]]
    return out, ["resize_translate", params]
