"""What ``dfdetect synth`` blends: image files, folders of them, or an extraction manifest, each
image with its five landmarks (from a manifest, a crop preset's template, or a face detector)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dfdetect.data.samples import IMAGE_SUFFIXES
from dfdetect.faces.presets import CropPreset
from dfdetect.synth.landmarks import VIDEO_MANIFEST, read_manifest


@dataclass
class SynthInput:
    """One real image; ``landmarks`` as fractions of its width and height when known."""

    path: Path
    landmarks: np.ndarray | None = None
    origin: str = ""  # manifest | template:NAME | detected


def collect_inputs(
    inputs: Sequence[Path], aligned: CropPreset | None = None
) -> tuple[list[SynthInput], list[tuple[str, str]]]:
    """The images named by ``inputs`` (files, folders searched recursively, ``*.csv``
    extraction manifests) in a stable order, with landmarks from any manifest beside them, else
    ``aligned``'s template; and the inputs that could not be used, with the reason."""
    found: list[SynthInput] = []
    failures: list[tuple[str, str]] = []
    manifests: dict[Path, dict[Path, np.ndarray]] = {}
    for item in inputs:
        if item.suffix.lower() == ".csv" and item.is_file():
            try:
                rows = read_manifest(item)
            except (OSError, UnicodeDecodeError) as exc:
                failures.append((str(item), f"cannot read the manifest ({exc})"))
                continue
            if not rows:
                failures.append((str(item), "no rows with landmarks (not an extract manifest?)"))
            found += [SynthInput(p, lm, "manifest") for p, lm in sorted(rows.items())]
        elif item.is_dir():
            images = sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                failures.append((str(item), "no images in the folder"))
            found += [_with_landmarks(p, manifests, aligned) for p in images]
        elif item.is_file():
            found.append(_with_landmarks(item, manifests, aligned))
        else:
            failures.append((str(item), "no such file or folder"))
    return found, failures


def _with_landmarks(
    path: Path, manifests: dict[Path, dict[Path, np.ndarray]], aligned: CropPreset | None
) -> SynthInput:
    folder = path.parent
    if folder not in manifests:
        manifest = folder / VIDEO_MANIFEST
        manifests[folder] = read_manifest(manifest) if manifest.is_file() else {}
    if path in manifests[folder]:
        return SynthInput(path, manifests[folder][path], "manifest")
    if aligned is not None:
        return SynthInput(path, aligned.destination(1.0), f"template:{aligned.name}")
    return SynthInput(path)


def detect_landmarks(detector) -> Callable[[np.ndarray], np.ndarray | None]:
    """A function giving the largest face's landmarks in an image (pixels), or None."""
    from dfdetect.faces.select import largest_face

    def find(image: np.ndarray) -> np.ndarray | None:
        face = largest_face(detector.detect([image])[0])
        return None if face is None else np.asarray(face.landmarks, np.float32)

    return find
