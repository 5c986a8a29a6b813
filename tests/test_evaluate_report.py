"""The evaluation report: video aggregation, per-source subsets, tables and plots on disk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dfdetect.evaluate.metrics import binary_metrics
from dfdetect.evaluate.plots import write_plots
from dfdetect.evaluate.summary import evaluate_frames, video_table
from dfdetect.evaluate.tables import write_tables


@pytest.fixture
def frames() -> pd.DataFrame:
    """FF++-like: 4 real videos, two fake methods with 4 videos each, 3 frames per video."""
    rng = np.random.default_rng(0)
    rows = []
    for source, label, shift in (("real", 0, 0.0), ("DF", 1, 0.5), ("NT", 1, 0.1)):
        for v in range(4):
            for f in range(3):
                score = float(np.clip(0.3 + shift + rng.normal(0, 0.15), 0, 1))
                rows.append(("FF++", source, f"{source}{v}", f"{f:03d}", label, score))
    rows.append(("CDF", "Celeb-real", "r", "000", 0, 0.2))
    rows.append(("CDF", "Celeb-synthesis", "s", "000", 1, 0.9))
    return pd.DataFrame(rows, columns=["dataset", "source", "video", "frame", "label", "score"])


def test_video_scores_are_frame_means(frames):
    videos = video_table(frames)
    assert len(videos) == 14 and set(videos["n_frames"]) == {1, 3}
    expected = frames[frames["video"] == "DF2"]["score"].mean()
    assert videos.set_index("video").loc["DF2", "score"] == pytest.approx(expected)


def test_per_source_scores_each_method_against_the_real_videos(frames):
    report = evaluate_frames(frames, threshold=0.5, n_boot=50)
    ff = report["datasets"]["FF++"]
    assert ff["n_videos"] == 12 and ff["n_real_videos"] == 4 and ff["n_fake_videos"] == 8
    assert set(ff["sources"]) == {"real", "DF", "NT"}
    nt = frames[(frames["dataset"] == "FF++") & frames["source"].isin(["real", "NT"])]
    v = video_table(nt)
    expected = binary_metrics(v["label"].to_numpy(), v["score"].to_numpy())["auroc"]
    assert ff["sources"]["NT"]["video"]["auroc"]["value"] == pytest.approx(expected)
    assert ff["sources"]["NT"]["n_videos"] == 8
    assert ff["sources"]["DF"]["video"]["auroc"]["value"] > expected  # DF is the easier fake
    assert report["datasets"]["CDF"]["sources"] == {}  # one source per class: nothing to split


def test_tables_and_plots_are_written(frames, tmp_path):
    report = evaluate_frames(frames, threshold=0.5, n_boot=50)
    write_tables(report, tmp_path)
    paths = write_plots(frames, tmp_path / "plots", 0.5)
    assert len(paths) == 6 and all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert json.loads((tmp_path / "metrics.json").read_text())["threshold"] == 0.5
    long = pd.read_csv(tmp_path / "metrics.csv")
    row = long.query("dataset == 'FF++' and subset == 'DF' and level == 'video' and metric == 'ap'")
    assert row["value"].item() == pytest.approx(
        report["datasets"]["FF++"]["sources"]["DF"]["video"]["ap"]["value"]
    )
    wide = pd.read_csv(tmp_path / "cross_dataset.csv")
    assert list(wide["dataset"]) == ["FF++", "CDF"] and {"video_auroc", "video_auroc_low"} <= set(
        wide
    )
    md = (tmp_path / "cross_dataset.md").read_text()
    auroc = report["datasets"]["FF++"]["video"]["auroc"]
    lo, hi = auroc["ci"]
    assert f"| FF++ | 12 | {100 * auroc['value']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] |" in md
    assert "## FF++, video level" in (tmp_path / "per_source.md").read_text()


def test_one_class_dataset_says_why_its_metrics_are_undefined(frames, tmp_path):
    fake_only = frames[frames["label"] == 1].assign(dataset="fakes")
    report = evaluate_frames(pd.concat([frames, fake_only]), threshold=0.5, n_boot=50)
    entry = report["datasets"]["fakes"]
    assert (
        entry["undefined"] == "no real videos" and report["datasets"]["FF++"]["undefined"] is None
    )
    assert np.isnan(entry["video"]["ap"]["value"]) and entry["video"]["accuracy"]["value"] > 0
    write_tables(report, tmp_path)
    md = (tmp_path / "cross_dataset.md").read_text()
    assert "fakes: AUROC, AP, EER, BAcc, TPR@1%FPR, TPR@5%FPR undefined: no real videos" in md
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["datasets"]["fakes"]["video"]["ap"][
            "value"
        ]
        is None
    )


def test_plot_legends_never_show_a_number_for_an_undefined_metric(frames):
    from dfdetect.evaluate.plots import _legend

    fake_only = frames[frames["label"] == 1]
    assert _legend("fakes", fake_only, "auroc") == "fakes (AUROC undefined: no real videos)"
    ff = frames[frames["dataset"] == "FF++"]
    ap = binary_metrics(ff["label"].to_numpy(), ff["score"].to_numpy())["ap"]
    assert _legend("FF++", ff, "ap") == f"FF++ (AP {ap:.3f})"
