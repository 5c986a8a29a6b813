"""The robustness grid on crop trees: the clean cell is `dfdetect evaluate` exactly, a trained
model's scores move under heavy blur and the tables show it, and a re-run reuses the cache."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from dfdetect.evaluate.runner import evaluate
from dfdetect.robustness import runner as robustness_runner
from dfdetect.robustness.perturbations import Cell
from dfdetect.robustness.report import write_report
from dfdetect.robustness.runner import RobustnessOptions, run_robustness
from test_train_e2e import toy_config

pytestmark = pytest.mark.usefixtures("one_thread")

N_BOOT = 200


@pytest.fixture(scope="module")
def trained(toy_root, tmp_path_factory):
    """The small model tests/test_train_e2e.py trains (same toy data and config)."""
    from dfdetect import Detector
    from dfdetect.train.trainer import Trainer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        torch.manual_seed(0)
        run = Trainer(toy_config(toy_root, tmp_path_factory.mktemp("run") / "run")).fit()
        return Detector.from_pretrained(run / "checkpoints" / "best", device="cpu")


def _entries(toy_root):
    return [{"dataset": "ff++", "root": str(toy_root), "split": "test"}]


def test_clean_cell_equals_evaluate(tiny_detector, toy_root, tmp_path):
    evaluated = evaluate(
        tiny_detector,
        _entries(toy_root),
        tmp_path / "eval",
        n_boot=N_BOOT,
        plots=False,
        progress=False,
    )
    report = evaluated.report["datasets"]["FF++"]
    options = RobustnessOptions(n_boot=N_BOOT, progress=False)
    result = run_robustness(
        [("tiny", tiny_detector)], _entries(toy_root), [Cell("GB", 5)], tmp_path / "r", options
    )
    clean = result.rows[0]
    assert (clean["perturbation"], clean["level"]) == ("clean", 0)
    for level in ("frame", "video"):
        assert clean[level] == report[level]  # every metric, value and CI, exactly
    assert (clean["n_frames"], clean["n_videos"]) == (report["n_frames"], report["n_videos"])
    assert clean["data"] == evaluated.report["data"][0]  # the same accounting
    assert clean["data"]["listed_by"] == "split file test.json" and clean["data"]["missing"] == []
    evaluated = pd.read_csv(tmp_path / "eval" / "predictions_frames.csv")
    cached = next((tmp_path / "r" / "cache" / "scores").glob("*/clean-*.csv"))
    np.testing.assert_array_equal(pd.read_csv(cached)["score"], evaluated["score"])


def test_heavy_blur_moves_a_trained_model_and_the_table_shows_it(trained, toy_root, tmp_path):
    options = RobustnessOptions(n_boot=N_BOOT, progress=False)
    cells = [Cell("GB", 5), Cell("JPEGQ", 1)]
    out = tmp_path / "report"
    result = run_robustness([("toy", trained)], _entries(toy_root), cells, out, options)
    clean, blur, _ = result.rows
    assert clean["video"]["auroc"]["value"] > 0.9  # what the training test asserts too
    scores = {
        cell: pd.read_csv(next((out / "cache" / "scores").glob(f"*/{cell}-*.csv")))["score"]
        for cell in ("clean", "GB-5", "JPEGQ-1")
    }
    blur_shift = np.abs(scores["GB-5"] - scores["clean"]).mean()
    assert blur_shift > 0.05  # heavy blur moves the scores...
    jpeg_shift = np.abs(scores["JPEGQ-1"] - scores["clean"]).mean()
    assert blur_shift > 5 * jpeg_shift  # ...quality 90 hardly
    write_report(result.rows, out, {"test": True})
    table = (out / "robustness.md").read_text()
    video = table[: table.index("frame level")]
    accuracy = [100 * r["video"]["accuracy"]["value"] for r in (clean, blur)]
    assert accuracy[1] < accuracy[0]  # faces called wrongly at the model's threshold
    assert f"| toy | clean |  |  | 8 | {100 * clean['video']['auroc']['value']:.1f} [" in video
    rows_md = [line for line in video.splitlines() if line.startswith("| toy |")]
    cells = {row.split(" | ")[1]: row.strip("| ").split(" | ") for row in rows_md}
    assert cells["clean"][8].startswith(f"{accuracy[0]:.1f} [")  # the Acc column
    assert cells["GB"][8].startswith(f"{accuracy[1]:.1f} [")
    blur_line = rows_md[1]
    change = 100 * (blur["video"]["auroc"]["value"] - clean["video"]["auroc"]["value"])
    assert blur_line.endswith(f"| {change + 0.0:+.1f} |")
    rows = pd.read_csv(out / "robustness.csv")
    drop = rows.query("perturbation == 'GB' and metric_level == 'video' and metric == 'auroc'")
    assert drop["drop"].iat[0] == pytest.approx(-change / 100)
    assert (out / "plots" / "auroc_GB.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "examples" / "GB" / "5.png").is_file()
    assert (out / "examples" / "clean.png").is_file()
    saved = json.loads((out / "robustness.json").read_text())
    assert [c["perturbation"] for c in saved["cells"]] == ["clean", "GB", "JPEGQ"]


def test_a_rerun_reuses_cached_scores(tiny_detector, toy_root, tmp_path, monkeypatch):
    options = RobustnessOptions(n_boot=50, progress=False)
    cells = [Cell("BW", 2), Cell("GNC", 1)]
    first = run_robustness([("tiny", tiny_detector)], _entries(toy_root), cells, tmp_path, options)

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored again despite the cache")

    monkeypatch.setattr(robustness_runner, "score_samples", no_scoring)
    again = run_robustness([("tiny", tiny_detector)], _entries(toy_root), cells, tmp_path, options)
    assert [r["video"] for r in again.rows] == [r["video"] for r in first.rows]
    with pytest.raises(AssertionError, match="scored again"):  # a new cell is scored
        run_robustness(
            [("tiny", tiny_detector)], _entries(toy_root), [Cell("BW", 3)], tmp_path, options
        )


def test_undefined_auroc_is_a_dash_with_its_reason_never_nan(tmp_path):
    from dfdetect.robustness.report import markdown, summary_markdown

    nan = {"value": float("nan"), "ci": [float("nan")] * 2}
    one_class = {m: dict(nan) for m in ("auroc", "ap", "eer", "accuracy")}
    base = {"model": "m", "stage": "crops", "param": "", "faces_lost": None, "n_videos": 3}
    rows = [
        {**base, "dataset": "fakes", "perturbation": "clean", "level": 0, "video": one_class,
         "frame": one_class, "undefined": "no real videos"},
        {**base, "dataset": "fakes", "perturbation": "GB", "level": 1, "video": one_class,
         "frame": one_class, "undefined": "no real videos"},
        {**base, "dataset": "lost", "perturbation": "clean", "level": 0, "video": None,
         "frame": None, "n_videos": 0},
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        summary = summary_markdown(rows)
    assert "| m | fakes | - | - |" in summary and "nan" not in summary
    assert "fakes: AUROC, AP and EER undefined: no real videos" in summary
    assert "lost: AUROC, AP and EER undefined: no crop scored" in markdown(rows)
