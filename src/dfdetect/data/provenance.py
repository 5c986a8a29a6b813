"""How the training crops were made: the face-crop preset recorded by ``dfdetect extract`` in
each video folder's ``_faces.csv``, so a trained model records the preset its data used."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any

from dfdetect.data.samples import DatasetError, FrameSample

VIDEO_MANIFEST = "_faces.csv"  # dfdetect.extract.manifest.VIDEO_MANIFEST (light import here)
CHECKED_VIDEOS = 50  # enough folders to catch a mixed tree without reading every manifest


def recorded_preset(samples: Sequence[FrameSample]) -> dict[str, Any] | None:
    """The crop preset (``CropPreset.to_dict()``) the samples' extraction manifests name, or
    None when the crops carry no manifest (e.g. DeepfakeBench frames). Different presets within
    the data are an error naming two folders."""
    folders = list(dict.fromkeys(s.path.parent for s in samples))
    step = max(1, len(folders) // CHECKED_VIDEOS)
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for folder in folders[::step]:
        manifest = folder / VIDEO_MANIFEST
        if not manifest.is_file():
            continue
        with manifest.open(newline="") as f:
            row = next(csv.DictReader(f), None)
        if row and row.get("preset_config"):
            preset = json.loads(row["preset_config"])
            found.setdefault(json.dumps(preset, sort_keys=True), (preset, str(folder)))
    if len(found) > 1:
        (_, a), (_, b) = list(found.values())[:2]
        raise DatasetError(f"crops made with different face-crop presets: {a} and {b}")
    return next(iter(found.values()))[0] if found else None
