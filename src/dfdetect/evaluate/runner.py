"""Evaluate one detector on several datasets: score, write predictions as each dataset
finishes, then metrics, tables and plots. A dataset that fails is reported; the others go on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.samples import FrameSample
from dfdetect.data.sampling import frames_per_video
from dfdetect.data.specs import load_entry
from dfdetect.errors import DfdetectError
from dfdetect.evaluate.plots import write_plots
from dfdetect.evaluate.report import evaluate_frames, frame_table, video_table
from dfdetect.evaluate.scoring import fake_probabilities, score_samples
from dfdetect.evaluate.tables import write_tables


@dataclass
class EvaluationResult:
    """The report, the frames scored and what went wrong (per dataset / per crop)."""

    report: dict[str, Any]
    frames: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)


def distinct_name(name: str, taken: Sequence[str], sep: str = "-") -> str:
    """``name``, or ``name-2``, ``name-3``... when taken (the same dataset given twice)."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name}{sep}{k}", k + 1
    return out


def entry_samples(
    entries: Sequence[dict[str, Any]], frames: int | None
) -> tuple[list[list[FrameSample]], dict[str, str]]:
    """The samples of each entry that loads (at most ``frames`` per video; a dataset named
    twice becomes ``NAME-2``...) and the error of each entry that does not, by its label."""
    loaded: list[list[FrameSample]] = []
    errors: dict[str, str] = {}
    for entry in entries:
        label = f"{entry.get('dataset', 'folder')}={entry['root']}"
        try:
            samples: list[FrameSample] = frames_per_video(load_entry(entry), frames)
        except DfdetectError as exc:
            errors[label] = str(exc)
            continue
        name = distinct_name(samples[0].dataset, [other[0].dataset for other in loaded])
        loaded.append([replace(s, dataset=name) for s in samples])
    return loaded, errors


def score_entries(
    detector,
    entries: Sequence[dict[str, Any]],
    *,
    frames: int | None,
    batch_size: int,
    num_workers: int,
    progress: bool,
    out: Path | None = None,
) -> tuple[pd.DataFrame, dict[str, str], list[tuple[str, str]]]:
    """Frame predictions of every entry; ``out/predictions_frames.csv`` grows per dataset."""
    tables, failures = [], []
    loaded, errors = entry_samples(entries, frames)
    for samples in loaded:
        scores = score_samples(
            detector,
            samples,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
            description=samples[0].dataset,
        )
        failures += scores.failures
        tables.append(frame_table(samples, fake_probabilities(detector, scores), scores.logits))
        if out is not None:
            pd.concat(tables).to_csv(out / "predictions_frames.csv", index=False)
    frames_df = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return frames_df, errors, failures


def evaluate(
    detector,
    entries: Sequence[dict[str, Any]],
    out: Path,
    *,
    frames: int | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float | None = None,
    plots: bool = True,
    progress: bool = True,
) -> EvaluationResult:
    """Score ``entries`` with ``detector`` and write the full report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frames_df, errors, failures = score_entries(
        detector,
        entries,
        frames=frames,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        out=out,
    )
    if errors:
        (out / "errors.json").write_text(json.dumps(errors, indent=2) + "\n")
    if failures:
        pd.DataFrame(failures, columns=["path", "reason"]).to_csv(out / "failures.csv", index=False)
    if frames_df.empty:
        return EvaluationResult({}, frames_df, errors, failures)
    threshold = detector.threshold if threshold is None else threshold
    pipeline = detector.config.face_pipeline
    video_table(frames_df, pipeline.aggregation).to_csv(out / "predictions_videos.csv", index=False)
    report = evaluate_frames(
        frames_df, threshold=threshold, n_boot=n_boot, seed=seed, aggregation=pipeline.aggregation
    )
    report["model"] = {
        "backbone": detector.config.backbone,
        "temperature": detector.config.temperature,
        "face_pipeline": pipeline.to_dict(),
    }
    report["errors"], report["unreadable_crops"] = errors, len(failures)
    write_tables(report, out)
    if plots:
        write_plots(frames_df, out / "plots", threshold, pipeline.aggregation)
    return EvaluationResult(report, frames_df, errors, failures)
