"""Binary detection metrics (label 1 = fake, score = P(fake)), vectorised over weight rows so a
bootstrap computes thousands of resamples at once. Each equals scikit-learn's on the same inputs
(tests/test_evaluate_metrics.py checks it, with and without sample weights)."""

from __future__ import annotations

import numpy as np

METRICS = ("auroc", "ap", "eer", "accuracy", "balanced_accuracy", "tpr_at_fpr_1", "tpr_at_fpr_5")
TWO_CLASS = ("auroc", "ap", "eer", "balanced_accuracy", "tpr_at_fpr_1", "tpr_at_fpr_5")


def undefined_reason(n_real: int, n_fake: int) -> str | None:
    """Why the metrics of :data:`TWO_CLASS` are undefined for data with ``n_real`` real and
    ``n_fake`` fake items, or None when both classes are present."""
    absent = [name for name, n in (("real", n_real), ("fake", n_fake)) if n == 0]
    if not absent:
        return None
    return f"no {' and no '.join(absent)} videos"


def roc_counts(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (false positives, true positives) at each distinct score, highest first, and
    those thresholds; ``weights`` (n,) or (B, n) give (B, k) counts (as sklearn's roc_curve)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64)[..., order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(w * y, axis=-1)[..., last]
    fps = np.cumsum(w * (1.0 - y), axis=-1)[..., last]
    return fps, tps, s[last]


def _rates(fps: np.ndarray, tps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) with the (0, 0) origin prepended; NaN where a class has no weight."""
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[..., -1:]
        tpr = tps / tps[..., -1:]
    zero = np.zeros((*fpr.shape[:-1], 1))
    return np.concatenate([zero, fpr], -1), np.concatenate([zero, tpr], -1)


def binary_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float = 0.5,
    weights: np.ndarray | None = None,
) -> dict[str, np.ndarray | float]:
    """Every metric of :data:`METRICS`; floats, or arrays of shape (B,) for (B, n) ``weights``.

    accuracy / balanced accuracy call a score >= ``threshold`` fake; TPR at x % FPR is the best
    TPR of ROC points whose FPR <= x %; EER interpolates linearly where FPR = 1 - TPR.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    fps, tps, _ = roc_counts(labels, scores, weights)
    fpr, tpr = _rates(fps, tps)
    auroc = np.trapezoid(tpr, fpr, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
        ap = np.sum(np.diff(tpr, axis=-1) * np.nan_to_num(precision), axis=-1)
    gap = fpr - (1.0 - tpr)
    k = np.argmax(gap >= 0, axis=-1)[..., None]
    g0, g1 = np.take_along_axis(gap, k - 1, -1), np.take_along_axis(gap, k, -1)
    f0, f1 = np.take_along_axis(fpr, k - 1, -1), np.take_along_axis(fpr, k, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(g1 != g0, -g0 / (g1 - g0), 0.0)
    eer = (f0 + t * (f1 - f0))[..., 0]
    w = np.ones(scores.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    fake = labels == 1
    hit = (scores >= threshold) == fake
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (w * hit).sum(-1) / w.sum(-1)
        tpr_t = (w * (hit & fake)).sum(-1) / (w * fake).sum(-1)
        tnr_t = (w * (hit & ~fake)).sum(-1) / (w * ~fake).sum(-1)
    out = {
        "auroc": auroc,
        "ap": ap,
        "eer": eer,
        "accuracy": accuracy,
        "balanced_accuracy": (tpr_t + tnr_t) / 2.0,
        "tpr_at_fpr_1": _tpr_at(fpr, tpr, 0.01),
        "tpr_at_fpr_5": _tpr_at(fpr, tpr, 0.05),
    }
    valid = np.isfinite(fpr[..., -1]) & np.isfinite(tpr[..., -1])  # both classes present
    for name in TWO_CLASS:  # AP too: without reals every ranking has precision 1
        out[name] = np.where(valid, out[name], np.nan)
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, target: float) -> np.ndarray:
    return np.where(fpr <= target + 1e-12, tpr, 0.0).max(axis=-1)


def threshold_at_fpr(real_scores: np.ndarray, target: float) -> float:
    """The lowest threshold (rule: score >= threshold is fake) whose FPR on ``real_scores`` is
    at most ``target``: just above the real score that would otherwise make it exceed."""
    s = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    if s.size == 0:
        raise ValueError("threshold_at_fpr needs at least one real score")
    allowed = int(np.floor(target * s.size + 1e-9))  # reals that may score >= threshold
    if allowed >= s.size:
        return 0.0
    # one float32 step above: scores are float32 probabilities, so this holds in either precision
    above = np.nextafter(np.float32(s[allowed]), np.float32(np.inf))
    return float(min(above, 1.0))
