"""From per-frame predictions to the evaluation report: frame- and video-level metrics with
bootstrap intervals per dataset, and a per-source breakdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dfdetect.data.samples import FAKE, REAL, FrameSample
from dfdetect.evaluate import BOOTSTRAP_RESAMPLES
from dfdetect.evaluate.bootstrap import bootstrap_metrics
from dfdetect.evaluate.metrics import undefined_reason

LEVELS = ("frame", "video")


def frame_table(
    samples: Sequence[FrameSample], scores: np.ndarray, logits: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per scored frame (failed crops, NaN scores, are dropped); with ``logits`` (N, 2)
    also ``logit_real``/``logit_fake`` columns."""
    df = pd.DataFrame(
        {
            "dataset": [s.dataset for s in samples],
            "source": [s.source for s in samples],
            "video": [s.video for s in samples],
            "frame": [s.frame for s in samples],
            "label": [s.label for s in samples],
            "score": np.asarray(scores, dtype=np.float64),
            "path": [str(s.path) for s in samples],
        }
    )
    if logits is not None:
        df["logit_real"], df["logit_fake"] = logits[:, 0], logits[:, 1]
    return df[np.isfinite(df["score"])].reset_index(drop=True)


def video_table(frames: pd.DataFrame, aggregation: str = "mean") -> pd.DataFrame:
    """Video score = mean (the method's rule) or median of its frames' P(fake), as the model's
    face pipeline records; one row per video."""
    grouped = frames.groupby(["dataset", "source", "video"], sort=True)
    out = grouped.agg(
        label=("label", "first"), score=("score", aggregation), n_frames=("frame", "size")
    )
    return out.reset_index()


def level_metrics(
    frames: pd.DataFrame, *, threshold: float, n_boot: int, seed: int, aggregation: str = "mean"
) -> dict[str, Any]:
    """``{"frame": {...}, "video": {...}, counts, "undefined"}`` for one set of frames
    (``undefined``: why the two-class metrics are undefined, or None); intervals resample
    videos in both levels."""
    videos = video_table(frames, aggregation)
    frame_groups = frames["source"] + "/" + frames["video"]
    out: dict[str, Any] = {
        "n_frames": len(frames),
        "n_videos": len(videos),
        "n_real_videos": int((videos["label"] == REAL).sum()),
        "n_fake_videos": int((videos["label"] == FAKE).sum()),
    }
    out["undefined"] = undefined_reason(out["n_real_videos"], out["n_fake_videos"])
    for level, table, groups in (
        ("frame", frames, frame_groups.to_numpy()),
        ("video", videos, np.arange(len(videos))),
    ):
        out[level] = bootstrap_metrics(
            table["label"].to_numpy(),
            table["score"].to_numpy(),
            groups,
            threshold=threshold,
            n_boot=n_boot,
            seed=seed,
        )
    return out


def evaluate_frames(
    frames: pd.DataFrame,
    *,
    threshold: float,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    aggregation: str = "mean",
) -> dict[str, Any]:
    """The full report: per dataset, all videos plus each source against the other class.

    A fake source is scored against all real videos of its dataset (e.g. each FF++ method vs
    FF++ real); a real source against all fake videos.
    """
    report: dict[str, Any] = {
        "threshold": threshold,
        "n_boot": n_boot,
        "video_score": aggregation,
        "datasets": {},
    }
    common = {"threshold": threshold, "n_boot": n_boot, "seed": seed, "aggregation": aggregation}
    for dataset, part in frames.groupby("dataset", sort=False):
        entry = level_metrics(part, **common)
        entry["sources"] = {}
        sources = part.groupby("source", sort=True)["label"].first()
        if sources.nunique() == 2 and len(sources) > 2:
            for source, label in sources.items():
                other = part[(part["label"] != label) | (part["source"] == source)]
                entry["sources"][source] = level_metrics(other, **common)
        report["datasets"][dataset] = entry
    return report
