"""Metrics equal scikit-learn's; bootstrap resamples whole videos; calibration fits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from dfdetect.evaluate.bootstrap import bootstrap_metrics
from dfdetect.evaluate.calibration import fit_temperature, fit_threshold, nll
from dfdetect.evaluate.metrics import binary_metrics, threshold_at_fpr


def _data(seed: int, n: int = 300, ties: bool = True):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.2), 0, 1)
    if ties:
        scores = np.round(scores, 2)  # many tied scores, as video means of few frames give
    return labels, scores, rng.integers(0, 5, n).astype(float)


def _eer_reference(labels, scores, weights=None):
    fpr, tpr, _ = skm.roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    fnr = 1 - tpr
    k = np.flatnonzero(fpr - fnr >= 0)[0]
    t = (fnr[k - 1] - fpr[k - 1]) / ((fpr[k] - fpr[k - 1]) - (fnr[k] - fnr[k - 1]))
    return fpr[k - 1] + t * (fpr[k] - fpr[k - 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_equal_scikit_learn(seed, weighted):
    labels, scores, w = _data(seed)
    w = w if weighted else None
    got = binary_metrics(labels, scores, threshold=0.5, weights=w)
    pred = scores >= 0.5
    fpr, tpr, _ = skm.roc_curve(labels, scores, sample_weight=w)
    expected = {
        "auroc": skm.roc_auc_score(labels, scores, sample_weight=w),
        "ap": skm.average_precision_score(labels, scores, sample_weight=w),
        "accuracy": skm.accuracy_score(labels, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(labels, pred, sample_weight=w),
        "tpr_at_fpr_1": tpr[fpr <= 0.01].max(),
        "tpr_at_fpr_5": tpr[fpr <= 0.05].max(),
        "eer": _eer_reference(labels, scores, w),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_weight_rows_compute_many_resamples_at_once():
    labels, scores, w = _data(5)
    rows = np.stack([w, np.ones_like(w), np.roll(w, 7)])
    batched = binary_metrics(labels, scores, weights=rows)
    for k, row in enumerate(rows):
        single = binary_metrics(labels, scores, weights=row)
        for name, value in single.items():
            assert batched[name][k] == pytest.approx(value, abs=1e-12), name


def test_one_class_only_gives_nan_not_a_number_that_looks_real():
    got = binary_metrics(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.9]))
    assert np.isnan(got["auroc"]) and np.isnan(got["ap"]) and got["accuracy"] == 0.75


def test_bootstrap_resamples_videos_exactly_like_a_naive_loop():
    rng = np.random.default_rng(0)
    videos = np.repeat(np.arange(20), 4)  # 20 videos x 4 frames
    labels = (videos % 2).astype(int)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    out = bootstrap_metrics(labels, scores, videos, n_boot=50, seed=7)
    draw = np.random.default_rng(7).multinomial(20, np.full(20, 1 / 20), size=50)
    aucs = [
        skm.roc_auc_score(labels, scores, sample_weight=c[videos])
        for c in draw
        if len(set(labels[c[videos] > 0])) == 2
    ]
    assert out["auroc"]["value"] == pytest.approx(skm.roc_auc_score(labels, scores))
    assert out["auroc"]["ci"] == pytest.approx(np.quantile(aucs, [0.025, 0.975]).tolist())
    lo, hi = out["ap"]["ci"]
    assert lo < out["ap"]["value"] < hi


def test_threshold_at_fpr_keeps_the_false_positive_rate_at_or_below_target():
    real = np.random.default_rng(1).random(200).astype(np.float32)
    for target in (0.0, 0.01, 0.05, 0.3):
        t = threshold_at_fpr(real, target)
        assert np.mean(real >= t) <= target
        lower = np.nextafter(np.float32(t), np.float32(0))  # any lower threshold exceeds it
        assert np.mean(real >= lower) > target


def test_temperature_fit_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 4, 20000)
    labels = (rng.random(margin.size) < 1 / (1 + np.exp(-margin / 2.5))).astype(int)
    logits = np.stack([np.zeros_like(margin), margin], 1)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.05)
    assert nll(logits, labels, t) < nll(logits, labels, 1.0)


def test_video_level_threshold_uses_mean_frame_scores():
    probs = np.array([0.1, 0.9, 0.2, 0.2, 0.8, 0.9], np.float32)  # real video a: mean 0.5
    labels = np.array([0, 0, 0, 0, 1, 1])
    videos = np.array(["a", "a", "b", "b", "c", "c"])
    t, fpr = fit_threshold(probs, labels, videos, 0.0, level="video")
    assert 0.5 < t <= 0.5001 and fpr == 0.0
    t_frame, _ = fit_threshold(probs, labels, videos, 0.0, level="frame")
    assert 0.9 < t_frame <= 0.9001


def test_undefined_metrics_are_null_in_strict_json():
    import json

    from dfdetect.evaluate.tables import finite

    report = {"auroc": float("nan"), "ci": [float("-inf"), 0.5], "n": 3, "name": "x"}
    text = json.dumps(finite(report), allow_nan=False)
    assert json.loads(text) == {"auroc": None, "ci": [None, 0.5], "n": 3, "name": "x"}


def test_ap_is_undefined_without_real_videos():
    got = binary_metrics(np.ones(4), np.array([0.1, 0.2, 0.3, 0.9]))
    assert np.isnan(got["ap"]) and np.isnan(got["auroc"]) and got["accuracy"] == 0.25


def test_bootstrap_leaves_out_resamples_that_lack_a_class():
    # the reals outrank every fake: every resample holding both classes has AP < 1, and only
    # resamples without a real video (AP "1") could reach 100 %
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    labels = np.array([0, 0, 1, 1, 1])
    out = bootstrap_metrics(labels, scores, np.arange(5), n_boot=400, seed=0)
    lo, hi = out["ap"]["ci"]
    assert out["ap"]["value"] == pytest.approx((1 / 3 + 2 / 4 + 3 / 5) / 3)
    assert lo <= out["ap"]["value"] <= hi < 1.0
    assert 0 < out["ap"]["resamples"] == out["accuracy"]["resamples"] < 400


def test_calibrating_on_a_handful_of_videos_warns():
    from dfdetect.evaluate.calibration import small_sample_warning

    warning = small_sample_warning(1, 1, 0.05)
    assert "1 real and 1 fake videos" in warning and "20 real" in warning
    assert "100 real" in small_sample_warning(50, 50, 0.01)
    assert small_sample_warning(40, 25, 0.05) is None
