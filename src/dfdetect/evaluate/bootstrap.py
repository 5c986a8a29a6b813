"""Point metrics with bootstrap 95 % confidence intervals, resampling whole videos."""

from __future__ import annotations

import numpy as np

from dfdetect.evaluate import BOOTSTRAP_RESAMPLES
from dfdetect.evaluate.metrics import METRICS, binary_metrics

MAX_CELLS = 4_000_000  # weight-matrix cells computed at once (memory bound: 32 MB of float64)


def bootstrap_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    *,
    threshold: float = 0.5,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float | int | list[float]]]:
    """``{metric: {"value": v, "ci": [low, high], "resamples": k}}`` on all samples, the interval
    from ``n_boot`` resamples of the groups (videos) with replacement: a resampled video brings
    all its frames.

    ``groups`` holds each sample's group id (e.g. its video index). When the data holds both
    classes, resamples that lack one are left out of every metric's percentiles (they would
    give AP 1 or an undefined AUROC); ``resamples`` counts those used.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    _, group_index = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(group_index.max()) + 1 if group_index.size else 0
    fake_weight = np.bincount(group_index, labels == 1, minlength=n_groups)
    real_weight = np.bincount(group_index, labels != 1, minlength=n_groups)
    both = bool(fake_weight.any() and real_weight.any())
    point = binary_metrics(labels, scores, threshold)
    draws: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_CELLS // max(1, labels.size))
    for start in range(0, n_boot if n_groups else 0, chunk):
        b = min(chunk, n_boot - start)
        counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=b)
        if both:
            counts = counts[(counts @ fake_weight > 0) & (counts @ real_weight > 0)]
        if not len(counts):
            continue
        resampled = binary_metrics(labels, scores, threshold, counts[:, group_index])
        for m in METRICS:
            draws[m].append(np.atleast_1d(resampled[m]))
    alpha = (1.0 - level) / 2.0
    out: dict[str, dict[str, float | int | list[float]]] = {}
    for m in METRICS:
        values = np.concatenate(draws[m]) if draws[m] else np.array([])
        values = values[np.isfinite(values)]
        ci = np.quantile(values, [alpha, 1.0 - alpha]).tolist() if values.size else [np.nan] * 2
        out[m] = {"value": float(point[m]), "ci": [float(v) for v in ci], "resamples": values.size}
    return out
