"""Evaluate one detector on several datasets: score, write predictions as each dataset
finishes, then metrics, tables and plots. A dataset that fails is reported; the others go on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.accounting import Accounting
from dfdetect.data.samples import FrameSample
from dfdetect.data.specs import open_entry
from dfdetect.errors import DfdetectError
from dfdetect.evaluate import BOOTSTRAP_RESAMPLES, EVAL_BATCH_SIZE
from dfdetect.evaluate.plots import write_plots
from dfdetect.evaluate.scoring import fake_probabilities, score_samples
from dfdetect.evaluate.summary import evaluate_frames, frame_table, video_table
from dfdetect.evaluate.tables import write_tables


@dataclass
class ScoredData:
    """Frame predictions of every entry that loaded, the error of each entry that did not (by
    its ``NAME=ROOT`` label), the unreadable crops as (path, reason) and each loaded entry's
    :class:`Accounting`."""

    frames: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    accounting: list[Accounting] = field(default_factory=list)

    @property
    def dropped(self) -> bool:
        """Whether a listed video or a crop was left out of the scores."""
        return not all(a.complete for a in self.accounting)


@dataclass
class EvaluationResult(ScoredData):
    """The report, with what was scored and what went wrong (per dataset / per crop)."""

    report: dict[str, Any] = field(default_factory=dict)


def distinct_name(name: str, taken: Sequence[str], sep: str = "-") -> str:
    """``name``, or ``name-2``, ``name-3``... when taken (the same dataset given twice)."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name}{sep}{k}", k + 1
    return out


def entry_samples(
    entries: Sequence[dict[str, Any]], frames: int | None
) -> tuple[list[tuple[list[FrameSample], Accounting]], dict[str, str]]:
    """The samples and accounting of each entry that loads (at most ``frames`` per video; a
    dataset named twice becomes ``NAME-2``...) and the error of each entry that does not, by its
    label."""
    loaded: list[tuple[list[FrameSample], Accounting]] = []
    errors: dict[str, str] = {}
    for entry in entries:
        label = f"{entry.get('dataset', 'folder')}={entry['root']}"
        try:
            samples, accounting = open_entry(entry, frames)
        except DfdetectError as exc:
            errors[label] = str(exc)
            continue
        name = distinct_name(samples[0].dataset, [a.dataset for _, a in loaded])
        renamed = [replace(s, dataset=name) for s in samples]
        loaded.append((renamed, replace(accounting, dataset=name)))
    return loaded, errors


def score_entries(
    detector,
    entries: Sequence[dict[str, Any]],
    *,
    frames: int | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    num_workers: int = 0,
    progress: bool = True,
    out: Path | None = None,
) -> ScoredData:
    """Frame predictions of every entry; ``out/predictions_frames.csv`` grows per dataset."""
    tables, failures, accounts = [], [], []
    loaded, errors = entry_samples(entries, frames)
    for samples, accounting in loaded:
        scores = score_samples(
            detector,
            samples,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
            description=samples[0].dataset,
        )
        failures += scores.failures
        accounts.append(accounting.after_reading(samples, scores.ok))
        tables.append(frame_table(samples, fake_probabilities(detector, scores), scores.logits))
        if out is not None:
            pd.concat(tables).to_csv(out / "predictions_frames.csv", index=False)
    frames_df = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return ScoredData(frames_df, errors, failures, accounts)


def evaluate(
    detector,
    entries: Sequence[dict[str, Any]],
    out: Path,
    *,
    frames: int | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    num_workers: int = 0,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    threshold: float | None = None,
    plots: bool = True,
    progress: bool = True,
) -> EvaluationResult:
    """Score ``entries`` with ``detector`` and write the full report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = score_entries(
        detector,
        entries,
        frames=frames,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        out=out,
    )
    if data.errors:
        (out / "errors.json").write_text(json.dumps(data.errors, indent=2) + "\n")
    if data.failures:
        failures = pd.DataFrame(data.failures, columns=["path", "reason"])
        failures.to_csv(out / "failures.csv", index=False)
    result = EvaluationResult(**vars(data))
    if data.frames.empty:
        return result
    threshold = detector.threshold if threshold is None else threshold
    pipeline = detector.config.face_pipeline
    video_table(data.frames, pipeline.aggregation).to_csv(
        out / "predictions_videos.csv", index=False
    )
    report = evaluate_frames(
        data.frames,
        threshold=threshold,
        n_boot=n_boot,
        seed=seed,
        aggregation=pipeline.aggregation,
    )
    report["model"] = {
        "backbone": detector.config.backbone,
        "temperature": detector.config.temperature,
        "face_pipeline": pipeline.to_dict(),
    }
    report["errors"], report["unreadable_crops"] = data.errors, len(data.failures)
    report["data"] = [a.to_dict() for a in data.accounting]
    write_tables(report, out, data.accounting)
    if plots:
        write_plots(data.frames, out / "plots", threshold, pipeline.aggregation)
    result.report = report
    return result
