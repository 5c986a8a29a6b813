"""From scored faces to verdicts: per frame (max), per person (mean or median, as the model's
face pipeline says), per file (max)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dfdetect.scan.results import FaceResult, FrameResult, PersonResult, label_for


def frame_results(
    faces: list[FaceResult],
    frames: list[tuple[int, float | None]],
    skipped: dict[int, int] | None = None,
) -> list[FrameResult]:
    """One row per sampled ``(index, time_s)`` frame, faceless frames included, with the
    faces left unscored in each (``skipped``: frame index -> count)."""
    by_frame: dict[int, list[float]] = defaultdict(list)
    for f in faces:
        by_frame[f.frame_index].append(f.prob)
    skipped = skipped or {}
    return [
        FrameResult(
            i, t, len(by_frame[i]), max(by_frame[i]) if by_frame[i] else None, skipped.get(i, 0)
        )
        for i, t in frames
    ]


def person_results(
    faces: list[FaceResult], threshold: float, aggregation: str = "mean"
) -> list[PersonResult]:
    """Each person's mean (or median) probability over their faces, labelled at
    ``threshold``."""
    by_person: dict[int, list[FaceResult]] = defaultdict(list)
    for f in faces:
        by_person[f.person].append(f)
    persons = []
    for pid in sorted(by_person):
        group = by_person[pid]
        probs = np.array([f.prob for f in group], dtype=np.float64)
        times = [f.time_s for f in group if f.time_s is not None]
        prob = float(np.median(probs) if aggregation == "median" else probs.mean())
        persons.append(
            PersonResult(
                id=pid,
                prob=prob,
                label=label_for(prob, threshold),
                n_faces=len(group),
                max_prob=float(probs.max()),
                first_time_s=min(times) if times else None,
                last_time_s=max(times) if times else None,
            )
        )
    return persons


def file_verdict(persons: list[PersonResult], threshold: float) -> tuple[float, str] | None:
    """The file's probability (maximum over persons) and label; ``None`` without persons."""
    if not persons:
        return None
    prob = max(p.prob for p in persons)
    return prob, label_for(prob, threshold)
