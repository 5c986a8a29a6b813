"""The stages of a Ray scan, as Ray Data runs them on batches of rows (pyarrow tables):
hash (CPU tasks, for files an earlier run may have finished), hash and prepare (CPU tasks),
score (model actors), assemble (CPU tasks).

Between stages a file travels as one row: its source, content hash, when its work started,
its :class:`Prepared` without crops as JSON (``meta``) and its aligned crops as one byte
string (shapes in ``meta``), then their scores, then its result as JSON.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dfdetect.errors import MediaError
from dfdetect.faces.pipeline import FacePipeline
from dfdetect.scan.assemble import build_result
from dfdetect.scan.cluster.sources import fetch, is_url
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.prepare import FacePreparer, Prepared, PreparedFace, media_error, prepare_safely
from dfdetect.scan.store import file_key, unhashed_key

HASHED_SCHEMA = pa.schema([("source", pa.string()), ("sha256", pa.string())])
PREPARED_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("sha256", pa.string()),
        ("started", pa.float64()),
        ("meta", pa.string()),
        ("crops", pa.large_binary()),
    ]
)
RESULT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("status", pa.string()),
        ("label", pa.string()),
        ("reason", pa.string()),
        ("faces_skipped", pa.int64()),
        ("result", pa.string()),
    ]
)


def prepared_to_row(prepared: Prepared) -> tuple[str, bytes]:
    """``(meta JSON, crop bytes)`` of a prepared file (report thumbnails are not kept)."""
    faces = [
        {
            "frame_index": f.frame_index,
            "time_s": f.time_s,
            "box": np.asarray(f.box).tolist(),
            "score": f.score,
            "matrix": np.asarray(f.matrix).tolist(),
            "shape": list(f.crop.shape),
        }
        for f in prepared.faces
    ]
    meta = {
        "path": prepared.path,
        "kind": prepared.kind,
        "frames": prepared.frames,
        "faces": faces,
        "media": prepared.media,
        "warnings": prepared.warnings,
        "error": prepared.error,
        "scale": prepared.scale,
        "skipped": [[i, n] for i, n in prepared.skipped.items()],
    }
    crops = b"".join(np.ascontiguousarray(f.crop, np.uint8).tobytes() for f in prepared.faces)
    return json.dumps(meta), crops


def row_to_prepared(meta: str, crops: bytes | None = None) -> Prepared:
    """Inverse of :func:`prepared_to_row`; without ``crops`` the faces get empty crops."""
    d = json.loads(meta)
    faces, offset = [], 0
    for f in d["faces"]:
        shape = tuple(f["shape"])
        if crops is None:
            crop = np.zeros((0, 0, 3), np.uint8)
        else:
            count = int(np.prod(shape))
            crop = np.frombuffer(crops, np.uint8, count, offset).reshape(shape)
            offset += count
        faces.append(
            PreparedFace(
                f["frame_index"],
                f["time_s"],
                np.asarray(f["box"], np.float32),
                f["score"],
                crop,
                np.asarray(f["matrix"], np.float32),
            )
        )
    return Prepared(
        path=d["path"],
        kind=d["kind"],
        frames=[(int(i), t) for i, t in d["frames"]],
        faces=faces,
        media=d["media"],
        warnings=d["warnings"],
        error=d["error"],
        scale=d["scale"],
        skipped={int(i): int(n) for i, n in d["skipped"]},
    )


@functools.lru_cache(maxsize=2)
def _preparer(options: ScanOptions, face_pipeline: str) -> FacePreparer:
    """The face detector and aligner of this worker process, built on its first task, as
    the model's face pipeline (JSON from :func:`describe_model`) says."""
    from dfdetect.faces import create_face_detector

    described = json.loads(face_pipeline)
    pipeline = FacePipeline.from_dict(described["pipeline"])
    detector = create_face_detector(
        pipeline.detector,
        device="cpu",
        min_face_size=options.min_face_size,
        **described["options"],
    )
    return FacePreparer(detector, pipeline.crop, options)


def input_key(source: str, max_file_mb: float, dest: Path | None = None) -> str:
    """The file key of a local file or URL (a remote file is copied to ``dest`` when
    given); raises like :func:`~dfdetect.scan.cluster.sources.fetch` for URLs."""
    if is_url(source):
        return fetch(source, dest, max_file_mb)
    return file_key(source, max_file_mb)


def hash_files(batch: pa.Table, *, max_file_mb: float) -> pa.Table:
    """Ray task: the file key of each ``source`` (a name-derived key when unreadable)."""
    rows = []
    for source in batch.column("source").to_pylist():
        try:
            key = input_key(source, max_file_mb)
        except (MediaError, OSError):
            key = unhashed_key(source)
        rows.append({"source": source, "sha256": key})
    return pa.Table.from_pylist(rows, schema=HASHED_SCHEMA)


def _prepare_one(preparer: FacePreparer, source: str) -> dict[str, Any]:
    """One file hashed (a remote one fetched to a temporary copy), decoded, detected, aligned."""
    row = {"source": source, "started": time.time()}
    with tempfile.TemporaryDirectory(prefix="dfdetect-") as tmp:
        local = Path(tmp) / "file" if is_url(source) else Path(source)
        try:
            row["sha256"] = input_key(source, preparer.options.max_file_mb, local)
        except (MediaError, OSError) as exc:
            row["sha256"] = unhashed_key(source)
            prepared = Prepared(path=source, error=media_error(exc))
        else:
            prepared = prepare_safely(preparer.prepare_path, local)
    prepared.path = source
    row["meta"], row["crops"] = prepared_to_row(prepared)
    return row


def prepare_files(batch: pa.Table, *, options: ScanOptions, face_pipeline: str) -> pa.Table:
    """Ray task: hash and prepare each ``source``; ``face_pipeline`` is the face pipeline to
    use as JSON (see :func:`describe_model`)."""
    preparer = _preparer(options, face_pipeline)
    rows = [_prepare_one(preparer, source) for source in batch.column("source").to_pylist()]
    return pa.Table.from_pylist(rows, schema=PREPARED_SCHEMA)


class ModelWorker:
    """Ray actor: loads the model once, then scores the crops of many files per call."""

    def __init__(self, model: str, device: str | None, batch_size: int, runtime: str) -> None:
        from dfdetect.model.loading import load_predictor

        self.detector = load_predictor(model, runtime=runtime, device=device).predictor
        self.batch_size = batch_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        metas = batch.column("meta").to_pylist()
        blobs = batch.column("crops").to_pylist()
        per_file = [row_to_prepared(m, b).faces for m, b in zip(metas, blobs, strict=True)]
        crops = [f.crop for faces in per_file for f in faces]
        probs = np.zeros(0, np.float32)
        if crops:
            with warnings.catch_warnings():  # tiny-random warned when loaded: enough
                warnings.filterwarnings("ignore", message=".*tiny-random.*")
                probs = self.detector.predict(crops, self.batch_size)
        bounds = np.cumsum([0, *(len(faces) for faces in per_file)])
        column = [probs[a:b].astype(np.float32).tobytes() for a, b in pairwise(bounds)]
        scored = batch.drop_columns(["crops"])
        return scored.append_column("probs", pa.array(column, pa.binary()))


def assemble_files(
    batch: pa.Table,
    *,
    threshold: float,
    options: ScanOptions,
    model: str,
    model_key: str,
    face_pipeline: str,
) -> pa.Table:
    """Ray task: each scored file's :class:`~dfdetect.scan.results.FileResult` as JSON, with
    its status, label and failure reason beside it for counting."""
    pipeline = FacePipeline.from_dict(json.loads(face_pipeline)["pipeline"])
    rows = []
    for row in batch.to_pylist():
        probs = np.frombuffer(row["probs"], np.float32).astype(np.float64)
        meta = row_to_prepared(row["meta"])
        result = build_result(meta, probs, threshold, options, pipeline)
        result.sha256, result.model, result.model_key = row["sha256"], model, model_key
        result.elapsed_s = round(time.time() - row["started"], 4)
        rows.append(
            {
                "source": row["source"],
                "status": result.status,
                "label": result.label,
                "reason": (result.error or {}).get("reason"),
                "faces_skipped": result.faces_skipped,
                "result": json.dumps(result.to_dict()),
            }
        )
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)


def describe_model(
    name: str,
    options: ScanOptions,
    face_detector: str | None = None,
    scrfd_model: str | None = None,
) -> dict[str, Any]:
    """What the driver needs to know of a model, loaded on a CPU of the cluster (where the
    model workers load it from): its results key, the face pipeline to use with its detector
    options (as JSON; see :func:`dfdetect.faces.pipeline.choose_detector`) and threshold."""
    from dfdetect.faces.pipeline import choose_detector
    from dfdetect.model.loading import load_predictor
    from dfdetect.scan.session import model_key

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        loaded = load_predictor(name, runtime=None, device="cpu")
    detector = loaded.detector
    used, detector_options = choose_detector(
        detector.config.face_pipeline, detector=face_detector, scrfd_model=scrfd_model
    )
    described = {"pipeline": used.to_dict(), "options": detector_options}
    return {
        "key": model_key(name, loaded.fingerprint, options, used.to_dict()),
        "face_pipeline": json.dumps(described, sort_keys=True),
        "threshold": float(detector.threshold),
    }
