"""ROC, precision-recall and score-distribution plots (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dfdetect.evaluate.metrics import binary_metrics, roc_counts, undefined_reason
from dfdetect.evaluate.summary import video_table
from dfdetect.evaluate.tables import TITLES


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(6, 5), dpi=100)


def _curves(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fps, tps, _ = roc_counts(table["label"].to_numpy(), table["score"].to_numpy())
    fpr = np.r_[0.0, fps / max(fps[-1], 1e-12)]
    tpr = np.r_[0.0, tps / max(tps[-1], 1e-12)]
    precision = np.r_[1.0, tps / np.maximum(tps + fps, 1e-12)]
    return fpr, tpr, precision


def _legend(name: str, table: pd.DataFrame, metric: str) -> str:
    """``name (AUROC 0.912)``, or why the metric is undefined (one class only)."""
    labels = table["label"].to_numpy()
    reason = undefined_reason(int((labels != 1).sum()), int((labels == 1).sum()))
    if reason:
        return f"{name} ({TITLES[metric]} undefined: {reason})"
    value = binary_metrics(labels, table["score"].to_numpy())[metric]
    return f"{name} ({TITLES[metric]} {value:.3f})"


def write_plots(
    frames: pd.DataFrame, out: Path, threshold: float, aggregation: str = "mean"
) -> list[Path]:
    """roc_<level>.png, pr_<level>.png, scores_<level>.png for frame and video level."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for level, table in (("frame", frames), ("video", video_table(frames, aggregation))):
        groups = list(table.groupby("dataset", sort=False))
        plt, fig, ax = _figure()
        for name, part in groups:
            fpr, tpr, _ = _curves(part)
            ax.plot(fpr, tpr, label=_legend(str(name), part, "auroc"))
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC ({level})")
        ax.legend(loc="lower right")
        written.append(_save(plt, fig, out / f"roc_{level}.png"))
        plt, fig, ax = _figure()
        for name, part in groups:
            _, recall, precision = _curves(part)
            ax.plot(recall, precision, label=_legend(str(name), part, "ap"))
        ax.set(xlabel="recall (fake)", ylabel="precision", title=f"Precision-recall ({level})")
        ax.legend(loc="lower left")
        written.append(_save(plt, fig, out / f"pr_{level}.png"))
        plt, fig, ax = _figure()
        bins = np.linspace(0.0, 1.0, 41)
        for name, part in groups:
            for label, style in ((0, "-"), (1, "--")):
                values = part.loc[part["label"] == label, "score"]
                if len(values):
                    kind = "real" if label == 0 else "fake"
                    ax.hist(values, bins, histtype="step", ls=style, label=f"{name} {kind}")
        ax.axvline(threshold, color="k", lw=0.8, ls=":")
        ax.set(xlabel="P(fake)", ylabel="count", title=f"Score distribution ({level})")
        ax.legend(loc="upper center", fontsize="small")
        written.append(_save(plt, fig, out / f"scores_{level}.png"))
    return written


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
