"""From a prepared file and the scores of its faces to its :class:`FileResult`: faces tracked
into persons, then per-frame, per-person and per-file verdicts."""

from __future__ import annotations

import numpy as np

from dfdetect.faces.pipeline import FacePipeline
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.prepare import Prepared
from dfdetect.scan.results import (
    STATUS_ERROR,
    STATUS_NO_FACE,
    STATUS_OK,
    FaceResult,
    FileResult,
    label_for,
)
from dfdetect.scan.tracking import track_faces
from dfdetect.scan.verdict import file_verdict, frame_results, person_results


def build_result(
    prepared: Prepared,
    probs: np.ndarray,
    threshold: float,
    options: ScanOptions,
    face_pipeline: FacePipeline,
) -> FileResult:
    """The verdicts of ``prepared`` given ``probs``, the P(fake) of each of its faces in order
    (no report images: see :func:`dfdetect.scan.visuals.build_visuals`); persons aggregate
    their faces as ``face_pipeline`` says, and the result records it."""
    result = FileResult(
        path=prepared.path,
        status=STATUS_OK,
        kind=prepared.kind,
        threshold=threshold,
        media=prepared.media,
        warnings=prepared.warnings,
        face_pipeline=face_pipeline.to_dict(),
        target=prepared.target,
    )
    if prepared.error is not None:
        result.status, result.error = STATUS_ERROR, prepared.error
        return result
    bad = int(np.count_nonzero(~np.isfinite(probs)))
    if bad:  # a broken model or checkpoint: never turn NaN into a label
        result.status = STATUS_ERROR
        result.error = {
            "reason": "non_finite",
            "detail": f"the model gave {bad} of {len(probs)} face score(s) as NaN or inf",
        }
        return result
    by_frame: dict[int, list[int]] = {}
    for k, face in enumerate(prepared.faces):
        by_frame.setdefault(face.frame_index, []).append(k)
    order = [i for i, _ in prepared.frames]
    ids = track_faces(
        [np.array([prepared.faces[k].box for k in by_frame.get(i, [])]) for i in order],
        iou_min=options.track_iou,
        dist_max=options.track_distance,
    )
    person = {}
    for i, frame_ids in zip(order, ids, strict=True):
        for k, pid in zip(by_frame.get(i, []), frame_ids, strict=True):
            person[k] = pid
    result.faces = [
        FaceResult(
            frame_index=f.frame_index,
            time_s=f.time_s,
            box=[float(v) / prepared.scale for v in f.box],  # the file's own pixels
            score=f.score,
            prob=float(probs[k]),
            label=label_for(float(probs[k]), threshold),
            person=person[k],
        )
        for k, f in enumerate(prepared.faces)
    ]
    result.frames = frame_results(result.faces, prepared.frames, prepared.skipped)
    result.faces_skipped = sum(prepared.skipped.values())
    if result.faces_skipped:
        result.warnings = [*result.warnings, faces_skipped_warning(prepared, options)]
    result.persons = person_results(result.faces, threshold, face_pipeline.aggregation)
    verdict = file_verdict(result.persons, threshold)
    if verdict is None:
        result.status = STATUS_NO_FACE
        result.error = {
            "reason": "no_face",
            "detail": f"no face of >= {options.min_face_size} px in "
            f"{len(prepared.frames)} frame(s)",
        }
    else:
        result.prob, result.label = verdict
    return result


def faces_skipped_warning(prepared: Prepared, options: ScanOptions) -> dict[str, str]:
    """The warning of a file whose frames held more faces than ``--max-faces``."""
    frames = len(prepared.skipped)
    return {
        "reason": "faces_skipped",
        "detail": f"{sum(prepared.skipped.values())} face(s) beyond --max-faces "
        f"{options.max_faces} in {frames} frame(s) were not scored",
    }
