"""Video-level validation during training: video AP (mean over datasets: "video mAP") and AUROC."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfdetect.data.samples import FrameSample
from dfdetect.evaluate.metrics import binary_metrics
from dfdetect.evaluate.scoring import fake_probabilities, score_samples
from dfdetect.evaluate.summary import frame_table, video_table


def validate(
    detector, samples: Sequence[FrameSample], *, batch_size: int, progress: bool
) -> tuple[float, list[dict]]:
    """(video mAP, one row per dataset with video AP/AUROC and frame AUROC/loss)."""
    scores = score_samples(
        detector, samples, batch_size=batch_size, progress=progress, description="validating"
    )
    frames = frame_table(samples, fake_probabilities(detector, scores))
    videos = video_table(frames)
    rows = []
    for dataset, part in videos.groupby("dataset", sort=False):
        video = binary_metrics(part["label"].to_numpy(), part["score"].to_numpy())
        f = frames[frames["dataset"] == dataset]
        frame = binary_metrics(f["label"].to_numpy(), f["score"].to_numpy())
        p = np.clip(f["score"].to_numpy(), 1e-7, 1 - 1e-7)
        nll = -np.mean(np.where(f["label"].to_numpy() == 1, np.log(p), np.log1p(-p)))
        rows.append(
            {
                "dataset": dataset,
                "video_ap": video["ap"],
                "video_auroc": video["auroc"],
                "frame_auroc": frame["auroc"],
                "frame_nll": float(nll),
                "videos": len(part),
            }
        )
    aps = [r["video_ap"] for r in rows if np.isfinite(r["video_ap"])]
    return (float(np.mean(aps)) if aps else float("nan")), rows
