"""Gradient x input attribution of the fake-vs-real logit margin, as heatmaps on the crops.

The map at a pixel is the first-order estimate of how much the margin
``logit_fake - logit_real`` would change if that pixel were replaced by the normalisation mean
(a zero model input): ``sum_c grad_c * x_c``. It needs the real Detector (gradients through
the backbone), not a scoring wrapper.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch


def attribution(detector, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Signed gradient x input of the fake margin, (N, S, S) at the model's input size.

    Positive values push the score towards "fake". ``detector`` needs ``preprocess`` and
    ``forward``; parameter gradients are not touched.
    """
    x = detector.preprocess(list(crops)).detach().requires_grad_(True)
    with torch.enable_grad():
        logits = detector.forward(x)
        margin = (logits[:, 1] - logits[:, 0]).float().sum()
        (grad,) = torch.autograd.grad(margin, x)
    return (grad.float() * x.detach().float()).sum(dim=1).cpu().numpy()


def _to_crop(amap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Place a map over the model input back onto its crop (inverse of resize-shortest-side +
    centre-crop); pixels the model did not see are 0."""
    short = min(height, width)
    out = np.zeros((height, width), np.float32)
    y0, x0 = (height - short) // 2, (width - short) // 2
    out[y0 : y0 + short, x0 : x0 + short] = cv2.resize(
        amap.astype(np.float32), (short, short), interpolation=cv2.INTER_LINEAR
    )
    return out


def heatmaps(
    detector, crops: Sequence[np.ndarray], *, sigma: float = 0.02, batch_size: int = 16
) -> np.ndarray:
    """Heatmaps in [0, 1] of which regions drive each crop's score, (N, H, W) at crop size.

    The absolute gradient x input is smoothed with a Gaussian of ``sigma`` times the input
    side and scaled by its 99.5th percentile, so each map's strongest region is 1.
    """
    crops = [np.asarray(c) for c in crops]
    if not crops:
        return np.zeros((0, 0, 0), np.float32)
    maps = []
    for start in range(0, len(crops), batch_size):
        batch = crops[start : start + batch_size]
        for amap, crop in zip(attribution(detector, batch), batch, strict=True):
            amap = np.abs(amap)
            amap = cv2.GaussianBlur(amap, (0, 0), sigmaX=max(sigma * amap.shape[-1], 0.5))
            top = float(np.percentile(amap, 99.5))
            amap = np.clip(amap / top, 0.0, 1.0) if top > 0 else np.zeros_like(amap)
            maps.append(_to_crop(amap, crop.shape[0], crop.shape[1]))
    if len({m.shape for m in maps}) == 1:
        return np.stack(maps)
    raise ValueError("heatmaps: crops of different sizes; call once per size")
