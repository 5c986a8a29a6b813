"""The crop manifest: one CSV row per saved crop, with where it came from and how it was made."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from dfdetect.extract.report import write_csv
from dfdetect.faces.crops import FaceCrop
from dfdetect.faces.presets import LANDMARK_NAMES, CropPreset

VIDEO_MANIFEST = "_faces.csv"  # per finished video folder, beside its crops
MANIFEST = "manifest.csv"  # under the output folder: every finished video's rows

MANIFEST_COLUMNS = (
    "crop",  # path of the PNG relative to the output folder
    "dataset",
    "source",
    "video",
    "source_file",
    "frame_index",
    "time_s",
    "face_index",
    "selected_by",
    "score",
    "box_x1",
    "box_y1",
    "box_x2",
    "box_y2",
    *(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y")),
    "frame_width",
    "frame_height",
    "crop_size",
    "matrix",  # JSON (2, 3) image -> crop
    "detector",
    "preset",
    "preset_margin",
    "preset_config",  # JSON CropPreset.to_dict()
)


def crop_row(
    crop: FaceCrop,
    *,
    crop_path: str,
    dataset: str,
    source: str,
    video: str,
    source_file: str,
    frame_index: int,
    time_s: float,
    face_index: int,
    frame_shape: tuple[int, ...],
    detector: str,
    preset: CropPreset,
) -> dict[str, Any]:
    """The manifest row of one saved crop."""
    face = crop.face
    row: dict[str, Any] = {
        "crop": crop_path,
        "dataset": dataset,
        "source": source,
        "video": video,
        "source_file": source_file,
        "frame_index": frame_index,
        "time_s": round(time_s, 6),
        "face_index": face_index,
        "selected_by": crop.selected_by,
        "score": round(face.score, 6),
        "frame_width": frame_shape[1],
        "frame_height": frame_shape[0],
        "crop_size": crop.aligned.crop.shape[0],
        "matrix": json.dumps([[round(float(v), 6) for v in r] for r in crop.aligned.matrix]),
        "detector": detector,
        "preset": preset.name,
        "preset_margin": preset.margin,
        "preset_config": json.dumps(preset.to_dict()),
    }
    for key, value in zip(("box_x1", "box_y1", "box_x2", "box_y2"), face.box, strict=True):
        row[key] = round(float(value), 2)
    for name, (x, y) in zip(LANDMARK_NAMES, face.landmarks, strict=True):
        row[f"{name}_x"], row[f"{name}_y"] = round(float(x), 2), round(float(y), 2)
    return row


def rebuild_manifest(out: Path) -> tuple[Path, int]:
    """Gather every finished video's rows under ``out`` into ``out/manifest.csv``; returns the
    path and the row count."""
    rows: list[dict[str, str]] = []
    for part in sorted(out.glob(f"*/*/*/{VIDEO_MANIFEST}")):
        with part.open(newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    path = out / MANIFEST
    write_csv(path, rows, MANIFEST_COLUMNS)
    return path, len(rows)
