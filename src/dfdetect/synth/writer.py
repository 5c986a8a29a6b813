"""``dfdetect synth``'s work: pseudo-fakes written as ``NAME.png`` with their blend weight
``NAME.mask.png``, a ``manifest.csv`` saying how each was made and a contact ``sheet.png``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfdetect.atomic import atomic_open
from dfdetect.errors import MediaError
from dfdetect.explain.overlay import encode_image
from dfdetect.extract.report import write_csv
from dfdetect.media import load_image
from dfdetect.synth.blend import SynthResult, face_blend, self_blend
from dfdetect.synth.hull import HULL_NAME
from dfdetect.synth.inputs import SynthInput

METHODS = ("sbi", "blend")
MANIFEST_COLUMNS = (
    "name",
    "source_file",
    "donor_file",  # blend: the real face blended in; sbi: empty
    "method",
    "seed",
    "index",  # numpy.random.default_rng([seed, index]) drew everything
    "blend_ratio",
    "landmarks",  # manifest | template:NAME | detected
    "hull",
    "augmented",  # sbi: which copy got the colour/frequency transforms
    "transforms",  # JSON [name, params] list
    "mask",  # JSON mask draws
)
SHEET_ROWS, SHEET_TILE = 6, 160
DONOR_CANDIDATES = 3  # a blend's donor: one of this many faces of the closest landmarks


@dataclass
class SynthReport:
    """What a run wrote and what failed (path, reason)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _pixels(item: SynthInput, image: np.ndarray, find: Callable | None) -> np.ndarray | None:
    h, w = image.shape[:2]
    if item.landmarks is None and find is not None:
        points = find(image)
        if points is not None:
            item.landmarks, item.origin = points / np.array([w, h], np.float32), "detected"
    return None if item.landmarks is None else item.landmarks * np.array([w, h], np.float32)


def _pose(points: np.ndarray) -> np.ndarray:
    """Landmarks with position, roll and scale removed (eyes level, one eye distance apart
    about their midpoint): what stays is the head's pose and the face's shape."""
    eyes = points[1] - points[0]
    iod = float(np.hypot(*eyes)) or 1.0
    cos, sin = eyes / iod
    rotate = np.array([[cos, sin], [-sin, cos]])
    return ((points - points[:2].mean(0)) @ rotate.T / iod).ravel()


def _donor(items: Sequence[SynthInput], k: int, rng: np.random.Generator) -> int | None:
    """Index of a face with landmarks close to ``items[k]``'s from another folder (another
    video/person), drawn among the ``DONOR_CANDIDATES`` closest."""
    target = items[k]
    others = [
        j
        for j, it in enumerate(items)
        if it.landmarks is not None and it.path.parent != target.path.parent
    ]
    if not others:
        return None
    pose = _pose(target.landmarks)
    distance = [float(np.linalg.norm(_pose(items[j].landmarks) - pose)) for j in others]
    closest = [others[i] for i in np.argsort(distance, kind="stable")[:DONOR_CANDIDATES]]
    return closest[int(rng.integers(len(closest)))]


def _write_png(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def _encode_grey(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", mask)
    if not ok:
        raise ValueError(f"could not encode a mask of shape {mask.shape}")
    return buf.tobytes()


def synthesize(
    items: list[SynthInput],
    out: Path,
    *,
    method: str = "sbi",
    count: int | None = None,
    seed: int = 0,
    find_landmarks: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> SynthReport:
    """Write ``count`` pseudo-fakes (default one per input, inputs taken in turn) under
    ``out``; the same inputs and ``seed`` give the same files. Inputs without landmarks are
    given ``find_landmarks``' (pixels) or reported as failures."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
    report, sheet = SynthReport(), []
    out.mkdir(parents=True, exist_ok=True)
    if method == "blend":  # donors are chosen by landmarks: find every input's first
        for item in items:
            if item.landmarks is None and find_landmarks is not None:
                with contextlib.suppress(MediaError):  # reported when the item comes up
                    _pixels(item, load_image(item.path), find_landmarks)
    failed: set[Path] = set()
    for i in range(len(items) if count is None else count):
        k = i % len(items)
        item = items[k]
        if item.path in failed:
            continue
        rng = np.random.default_rng([seed, i])
        try:
            image = load_image(item.path)
            points = _pixels(item, image, find_landmarks)
            if points is None:
                raise ValueError("no face found (no landmarks in a manifest, none detected)")
            donor = None
            if method == "sbi":
                result = self_blend(image, points, rng)
            else:
                j = _donor(items, k, rng)
                if j is None:
                    raise ValueError("no face from another folder to blend in")
                donor = items[j]
                donor_image = load_image(donor.path)
                donor_points = _pixels(donor, donor_image, None)
                result = face_blend(image, points, donor_image, donor_points, rng)
        except (MediaError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, MediaError) else str(exc)
            report.failures.append((str(item.path), reason))
            failed.add(item.path)
            continue
        name = f"{i:05d}_{item.path.stem}"
        _write_png(out / f"{name}.png", encode_image(result.image))
        _write_png(out / f"{name}.mask.png", _encode_grey(result.mask))
        report.rows.append(_row(name, item, donor, method, seed, i, result))
        if len(sheet) < SHEET_ROWS:
            sheet.append((image, result))
    write_csv(out / "manifest.csv", report.rows, MANIFEST_COLUMNS)
    if sheet:
        _write_png(out / "sheet.png", encode_image(contact_sheet(sheet)))
    return report


def _row(name, item, donor, method, seed, index, result: SynthResult) -> dict[str, Any]:
    return {
        "name": name,
        "source_file": str(item.path),
        "donor_file": "" if donor is None else str(donor.path),
        "method": method,
        "seed": seed,
        "index": index,
        "blend_ratio": result.ratio,
        "landmarks": item.origin,
        "hull": HULL_NAME,
        "augmented": result.ops.get("augmented", ""),
        "transforms": json.dumps(result.ops.get("transforms", [])),
        "mask": json.dumps(result.ops["mask"]),
    }


def contact_sheet(pairs: Sequence[tuple[np.ndarray, SynthResult]]) -> np.ndarray:
    """One row per pseudo-fake: the real image, the blend weight, the result."""
    rows = []
    for image, result in pairs:
        tiles = [image, np.repeat(result.mask[..., None], 3, axis=2), result.image]
        size = (SHEET_TILE, SHEET_TILE)
        rows.append(np.hstack([cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]))
    return np.vstack(rows)
