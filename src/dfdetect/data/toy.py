"""A small FF++-layout crop tree with learnable fakes, for smoke tests, docs and CI.

Reals are the given face crops (each source video also mirrored and colour-shifted into more
"videos"); each fake is its real with a blended face region: the central ellipse blurred and
tinted, with a visible boundary, as face-swap blending leaves. ``dfdetect toy OUT FACE_DIR``
writes ``OUT/FF++/{real,DF}/<video>/<frame>.png`` plus official-style splits.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from dfdetect.data.samples import IMAGE_SUFFIXES
from dfdetect.media import load_image

TOY_SIZE = 128  # crop side in pixels


def blend_artifact(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with a blurred, tinted ellipse over the face centre (hard-edged blend)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.float32)
    centre = (int(w * rng.uniform(0.45, 0.55)), int(h * rng.uniform(0.5, 0.6)))
    axes = (int(w * rng.uniform(0.22, 0.28)), int(h * rng.uniform(0.28, 0.34)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    inner = cv2.GaussianBlur(image, (15, 15), 0).astype(np.float32)
    inner *= np.array([1.4, 0.8, 0.7], np.float32)  # warmer skin tone than the target
    out = image.astype(np.float32) * (1 - mask[..., None]) + inner * mask[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def _variants(image: np.ndarray) -> list[np.ndarray]:
    shifted = np.clip(image.astype(np.int16) + np.array([-12, 6, 14]), 0, 255).astype(np.uint8)
    return [image, np.ascontiguousarray(image[:, ::-1]), shifted]


def make_toy_dataset(
    face_videos: list[list[Path]], out: Path, *, size: int = TOY_SIZE, seed: int = 0
) -> Path:
    """Write the toy FF++ crop tree under ``out/FF++`` and return that folder.

    ``face_videos``: frames (image paths) per source video. Each source video gives 3 real
    videos (as is, mirrored, colour-shifted) and one fake per real; pairs of real ids are split
    train/val/test in a 4:1:1 rotation, written as FF++ ``splits/{train,val,test}.json``.
    """
    rng = np.random.default_rng(seed)
    root = out / "FF++"
    ids: list[str] = []
    for frames in face_videos:
        images = [
            cv2.resize(load_image(p), (size, size), interpolation=cv2.INTER_AREA) for p in frames
        ]
        for variant in range(3):
            vid = f"{len(ids):03d}"
            fake_vid = f"{vid}_{len(ids) ^ 1:03d}"  # ids pair up as FF++'s do: (0, 1), (2, 3)...
            for frame, image in zip(frames, images, strict=True):
                real = _variants(image)[variant]
                for source, video, pixels in (
                    ("real", vid, real),
                    ("DF", fake_vid, blend_artifact(real, rng)),
                ):
                    folder = root / source / video
                    folder.mkdir(parents=True, exist_ok=True)
                    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
                    cv2.imwrite(str(folder / f"{Path(frame).stem}.png"), bgr)
            ids.append(vid)
    splits: dict[str, list[list[str]]] = {"train": [], "val": [], "test": []}
    for k in range(0, len(ids) - 1, 2):
        split = ("train", "train", "train", "train", "val", "test")[(k // 2) % 6]
        splits[split].append([ids[k], ids[k + 1]])
    (root / "splits").mkdir(exist_ok=True)
    for split, pairs in splits.items():
        (root / "splits" / f"{split}.json").write_text(json.dumps(pairs))
    return root


def video_folders(face_dir: Path) -> list[list[Path]]:
    """Frames per video folder of a crop tree (``<dataset>/<source>/<video>/<frame>``)."""
    groups: dict[Path, list[Path]] = {}
    for p in sorted(face_dir.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            groups.setdefault(p.parent, []).append(p)
    return list(groups.values())
