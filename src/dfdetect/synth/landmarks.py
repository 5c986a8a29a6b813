"""Five landmarks of face crops in crop pixels: from the extraction manifests (``manifest.csv``
or a video folder's ``_faces.csv``: frame landmarks mapped through the stored image->crop
matrix), else where a crop preset's template puts them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from dfdetect.faces.presets import LANDMARK_NAMES, CropPreset

VIDEO_MANIFEST = "_faces.csv"  # dfdetect.extract.manifest.VIDEO_MANIFEST (light import here)


def row_landmarks(row: dict[str, str]) -> np.ndarray:
    """A manifest row's landmarks in crop pixels ((5, 2) float32)."""
    frame = np.array(
        [[float(row[f"{n}_x"]), float(row[f"{n}_y"])] for n in LANDMARK_NAMES], np.float64
    )
    matrix = np.asarray(json.loads(row["matrix"]), np.float64).reshape(2, 3)
    return (frame @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def read_manifest(path: Path) -> dict[Path, np.ndarray]:
    """Crop path -> landmarks as fractions of the crop side, for every row of an extraction
    manifest. ``crop`` paths resolve against the manifest's folder; a ``_faces.csv`` is keyed
    by file name within its own folder. Rows without landmarks are skipped."""
    found: dict[Path, np.ndarray] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                points = row_landmarks(row) / float(row["crop_size"])
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                continue
            crop = Path(row.get("crop") or "")
            if path.name == VIDEO_MANIFEST:
                found[path.parent / crop.name] = points
            else:
                found[path.parent / crop] = points
    return found


class CropLandmarks:
    """Landmarks of crops as fractions of the crop's width and height: the folder's
    ``_faces.csv`` when it names the crop, else ``preset``'s template (aligned crops)."""

    def __init__(self, preset: CropPreset) -> None:
        self.preset = preset
        self.template = preset.destination(1.0).astype(np.float32)
        self._folders: dict[Path, dict[Path, np.ndarray]] = {}

    def fractions(self, crop: Path) -> tuple[np.ndarray, str]:
        """The (5, 2) fractions and where they came from (``manifest`` or ``template:NAME``)."""
        folder = crop.parent
        if folder not in self._folders:
            manifest = folder / VIDEO_MANIFEST
            self._folders[folder] = read_manifest(manifest) if manifest.is_file() else {}
        points = self._folders[folder].get(crop)
        if points is None:
            return self.template, f"template:{self.preset.name}"
        return points, "manifest"
