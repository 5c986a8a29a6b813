"""Calibration on validation data: temperature scaling of the logits and the decision threshold
at a target false-positive rate (the CLI stores both in the detector's config)."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from dfdetect.evaluate.metrics import threshold_at_fpr

LOG_T_BOUNDS = (-5.0, 5.0)  # temperatures between e^-5 and e^5
MIN_VIDEOS = 20  # per class: below it a fitted temperature or threshold follows a few videos


def small_sample_warning(n_real: int, n_fake: int, target_fpr: float) -> str | None:
    """Why ``n_real`` real and ``n_fake`` fake videos are too few to calibrate on (frames of one
    video are not independent), or None: each class needs :data:`MIN_VIDEOS` videos, and the
    reals at least ``1 / target_fpr`` so that one false positive is within the target."""
    need_real = max(MIN_VIDEOS, math.ceil(1.0 / target_fpr) if target_fpr > 0 else 0)
    if n_real >= need_real and n_fake >= MIN_VIDEOS:
        return None
    return (
        f"calibrated on {n_real} real and {n_fake} fake videos: the temperature and threshold "
        f"are unreliable below {need_real} real and {MIN_VIDEOS} fake videos"
    )


def _nll(margin: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = margin / temperature
    # -log sigmoid(z) for fakes, -log sigmoid(-z) for reals, computed stably
    return float(np.mean(np.logaddexp(0.0, np.where(labels == 1, -z, z))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on (logits (N, 2), labels (N,))."""
    margin = logits[:, 1].astype(np.float64) - logits[:, 0]
    result = minimize_scalar(
        lambda log_t: _nll(margin, labels, float(np.exp(log_t))),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of softmax(logits / T) for ``labels``."""
    return _nll(logits[:, 1].astype(np.float64) - logits[:, 0], np.asarray(labels), temperature)


def fit_threshold(
    probs: np.ndarray,
    labels: np.ndarray,
    videos: np.ndarray,
    target_fpr: float,
    level: str = "frame",
) -> tuple[float, float]:
    """(threshold, its FPR): the lowest threshold whose false-positive rate on the real scores
    is at most ``target_fpr``, at ``level`` "frame" or "video" (video score: mean frame P(fake),
    the scan's per-video rule). ``probs`` must be the detector's own P(fake) values."""
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target FPR must be in [0, 1), got {target_fpr}")
    probs = np.asarray(probs, dtype=np.float64)
    real_mask = np.asarray(labels) == 0
    if level == "video":
        _, inverse = np.unique(np.asarray(videos), return_inverse=True)
        counts = np.bincount(inverse)
        probs = np.bincount(inverse, probs) / counts
        real_mask = np.bincount(inverse, (~real_mask).astype(np.float64)) == 0
    elif level != "frame":
        raise ValueError(f"level must be frame or video, got {level!r}")
    real = probs[real_mask].astype(np.float32)
    threshold = threshold_at_fpr(real, target_fpr)
    return threshold, float(np.mean(real >= threshold))
