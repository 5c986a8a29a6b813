"""End to end on CPU: a toy FF++ crop tree with learnable fakes -> train tiny-random ->
loss falls, held-out video AUROC > 0.9, the reloaded checkpoint scores identically; then
evaluate writes its report and calibrate stores temperature/threshold that predict uses."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from dfdetect.cli import main as cli
from dfdetect.data.specs import load_entries
from dfdetect.media import load_image
from dfdetect.train.config import resolve_config
from dfdetect.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def toy_config(root, out, **optim):
    """A fast tiny-random config over the toy tree (what the training tests share)."""
    data = {
        "train": [{"dataset": "ff++", "root": str(root), "split": "train"}],
        "val": [{"dataset": "ff++", "root": str(root), "split": "val"}],
        "num_workers": 0,
        "augment": {"enabled": False},
    }
    config = {
        "model": {"backbone": "tiny-random", "pretrained_backbone": False},
        "data": data,
        "optim": {
            "lr": 0.2,
            "min_lr": 1e-3,
            "batch_size": 16,
            "epochs": 3,
            "warmup_steps": 2,
            **optim,
        },
        "run": {"out": str(out), "log_every": 1, "progress": False, "checkpoint_every": 1000},
    }
    return resolve_config(config)


@pytest.fixture(scope="module")
def trained(toy_root, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        torch.manual_seed(0)
        out = Trainer(toy_config(toy_root, tmp_path_factory.mktemp("run") / "run")).fit()
    return out


def test_training_learns_and_the_checkpoint_reloads_identically(trained, toy_root):
    from dfdetect import Detector
    from dfdetect.evaluate.metrics import binary_metrics

    log = pd.read_csv(trained / "metrics.csv")
    assert list(log["step"]) == list(range(1, 25))  # 8 steps x 3 epochs, logged once each
    assert log["ce"].tail(4).mean() < log["ce"].head(4).mean() - 0.15  # the loss falls
    data = json.loads((trained / "run.json").read_text())["data"]  # what the run rested on
    assert data["train"][0]["listed_by"] == "split file train.json"
    assert data["train"][0]["scored"] == data["train"][0]["listed"] > 0
    val = pd.read_csv(trained / "val.csv")
    assert len(val) == 3 and val["video_ap"].iloc[-1] > 0.9
    best = trained / "checkpoints" / "best"
    info = json.loads((best / "checkpoint.json").read_text())
    assert info["video_map"] == pytest.approx(val["video_ap"].max())
    config = json.loads((best / "config.json").read_text())
    assert config["face_pipeline"]["crop"]["name"] == "gend"  # the preset the crops were made with

    test = load_entries([{"dataset": "ff++", "root": str(toy_root), "split": "test"}])
    faces = [load_image(s.path) for s in test]
    detector = Detector.from_pretrained(best)
    scores = detector.predict(faces)
    videos = (
        pd.DataFrame({"v": [s.video_key for s in test], "y": [s.label for s in test], "p": scores})
        .groupby("v")
        .mean()
    )
    auroc = binary_metrics(videos["y"].to_numpy(), videos["p"].to_numpy())["auroc"]
    assert auroc > 0.9  # held-out videos
    again = Detector.from_pretrained(best).predict(faces)
    np.testing.assert_array_equal(scores, again)


def test_evaluate_and_calibrate_commands(trained, toy_root, samples_dir, tmp_path):
    from dfdetect import Detector

    report = tmp_path / "report"
    best = trained / "checkpoints" / "best"
    code = cli(
        [
            "evaluate",
            "--model",
            str(best),
            "--data",
            f"ff++={toy_root}@test",
            f"ff++={toy_root}/missing",
            f"ff={samples_dir / 'FF'}@all",
            "--out",
            str(report),
            "--bootstrap",
            "100",
            "--quiet",
        ]
    )
    assert code == 1  # one dataset failed, the other was still evaluated
    assert "missing" in json.loads((report / "errors.json").read_text())[f"ff++={toy_root}/missing"]
    metrics = json.loads((report / "metrics.json").read_text())["datasets"]["FF++"]
    assert metrics["video"]["auroc"]["value"] > 0.9 and metrics["n_videos"] == 8
    lo, hi = metrics["video"]["auroc"]["ci"]
    assert lo <= metrics["video"]["auroc"]["value"] <= hi
    assert "| FF++ | 8 |" in (report / "cross_dataset.md").read_text()
    per_source = (report / "per_source.md").read_text()  # the samples' FF, named apart
    assert "## FF++-2, video level" in per_source and "| NT | 2 |" in per_source
    for name in ("roc_video", "pr_frame", "scores_video"):
        assert (report / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    frames = pd.read_csv(report / "predictions_frames.csv")
    assert len(frames) == 32 + 20 and set(frames.columns) >= {"score", "logit_fake", "video"}

    calibrated = tmp_path / "calibrated"
    code = cli(
        [
            "calibrate",
            "--model",
            str(best),
            "--data",
            f"ff++={toy_root}",
            "--target-fpr",
            "0.1",
            "--out",
            str(calibrated),
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((calibrated / "calibration.json").read_text())
    detector = Detector.from_pretrained(calibrated)
    assert detector.config.temperature == pytest.approx(summary["after"]["temperature"])
    assert detector.config.temperature != 1.0 and summary["nll_after"] <= summary["nll_before"]
    samples = load_entries([{"dataset": "ff++", "root": str(toy_root), "split": "val"}])
    probs = detector.predict([load_image(s.path) for s in samples])
    real = probs[np.array([s.label for s in samples]) == 0]
    assert np.mean(real >= detector.threshold) <= 0.1  # the stored threshold holds in predict
    assert np.mean(real >= np.nextafter(np.float32(detector.threshold), np.float32(0))) > 0.1
