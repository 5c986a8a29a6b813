"""Pseudo-fakes: the five-point hull, blend masks (zero outside their reach, 1 at the centre,
smooth edges), blending that leaves the target's pixels outside the mask untouched, and the
``dfdetect synth`` command (same seed, same files; manifests' landmarks reused)."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from dfdetect.cli import main as cli
from dfdetect.faces.presets import get_preset
from dfdetect.media import load_image
from dfdetect.synth import MaskConfig, blend_mask, face_hull, self_blend
from dfdetect.synth.blend import blend
from dfdetect.synth.inputs import collect_inputs

SIDE = 256
LANDMARKS = get_preset("gend").destination(SIDE)


def _inside(hull: np.ndarray, point) -> bool:
    return cv2.pointPolygonTest(hull.astype(np.float32), tuple(map(float, point)), False) > 0


def test_hull_encloses_the_landmarks_and_follows_them():
    hull = face_hull(LANDMARKS)
    assert all(_inside(hull, p) for p in LANDMARKS)
    top, bottom = hull[:, 1].min(), hull[:, 1].max()
    eyes, mouth = LANDMARKS[:2, 1].mean(), LANDMARKS[3:, 1].mean()
    assert top < eyes - 0.8 * (mouth - eyes) and bottom > mouth + 0.5 * (mouth - eyes)  # forehead
    angle = np.deg2rad(20.0)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = face_hull(LANDMARKS @ rotate.T * 0.5 + 30.0)  # rotated, halved, shifted face
    expected = hull @ rotate.T * 0.5 + 30.0
    assert len(moved) == len(expected)
    distance = np.linalg.norm(moved[:, None] - expected[None], axis=2).min(axis=1)
    assert distance.max() < 1e-3
    with pytest.raises(ValueError, match="degenerate"):
        face_hull(np.zeros((5, 2)))


@pytest.mark.parametrize("seed", range(8))
def test_mask_is_zero_beyond_its_reach_one_at_the_centre_and_smooth(seed):
    hull, config = face_hull(LANDMARKS), MaskConfig()
    mask, ops = blend_mask((SIDE, SIDE), hull, np.random.default_rng(seed), config)
    region = np.zeros((SIDE, SIDE), np.uint8)
    cv2.fillPoly(region, [np.round(hull).astype(np.int32)], 1)
    outside = cv2.distanceTransform(1 - region, cv2.DIST_L2, 5)
    reach = config.reach(hull)
    assert 0 < reach < SIDE / 4
    assert (mask[outside > reach] == 0).all()
    assert (mask[outside > 0.5 * reach] == 0).mean() > 0.5  # not everything is near the bound
    cx, cy = np.round(hull.mean(0)).astype(int)
    assert mask[cy, cx] == pytest.approx(1.0, abs=1e-4)
    steps = max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max())
    assert steps < 0.2, ops  # no hard edge
    assert set(ops) >= {"scale", "shift", "elastic", "blur"}


def test_blend_leaves_the_target_exact_outside_the_mask():
    rng = np.random.default_rng(0)
    source, target = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    weight = np.zeros((32, 32), np.uint8)
    weight[8:24, 8:24] = rng.integers(1, 256, (16, 16), dtype=np.uint8)
    weight[12:20, 12:20] = 255
    out = blend(source, target, weight)
    np.testing.assert_array_equal(out[weight == 0], target[weight == 0])
    np.testing.assert_array_equal(out[weight == 255], source[weight == 255])
    half = blend(source, target, np.full((32, 32), 128, np.uint8)).astype(int)
    expected = target + (source.astype(int) - target) * (128 / 255)
    assert np.abs(half - expected).max() <= 0.5 + 1e-6


def test_self_blend_changes_only_the_masked_face(sample_faces):
    image = load_image(sample_faces["real"][0])
    found = {}
    for seed in range(20):  # SBI draws which copy is augmented: check the untouched target
        result = self_blend(image, LANDMARKS, np.random.default_rng(seed))
        found.setdefault(result.ops["augmented"], result)
    result = found["source"]
    np.testing.assert_array_equal(result.image[result.mask == 0], image[result.mask == 0])
    assert (result.mask > 0).any() and result.mask[:8].max() == 0  # the face, not the top rows
    changed = np.abs(result.image.astype(int) - image).max(axis=2) > 0
    assert changed.sum() > 0.05 * changed.size
    assert result.ratio in (0.25, 0.5, 0.75, 1.0)
    assert result.mask.max() == round(255 * result.ratio)


def _read(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_synth_command_same_seed_same_files(sample_faces, tmp_path, capsys):
    reals = sample_faces["real"][::4][:3]  # three videos' first frames
    args = ["synth", "--method", "sbi", *map(str, reals), "--aligned", "gend", "--count", "4"]
    assert cli([*args, "--out", str(tmp_path / "a"), "--seed", "7"]) == 0
    assert cli([*args, "--out", str(tmp_path / "b"), "--seed", "7"]) == 0
    assert cli([*args, "--out", str(tmp_path / "c"), "--seed", "8"]) == 0
    a, b, c = (_read(tmp_path / x) for x in "abc")
    assert a == b  # same seed, same bytes
    assert a["00000_000.png"] != c["00000_000.png"]
    assert sorted(a) == sorted(
        [f"0000{i}_{reals[i % 3].stem}{ext}" for i in range(4) for ext in (".png", ".mask.png")]
        + ["manifest.csv", "sheet.png"]
    )
    mask = cv2.imread(str(tmp_path / "a" / "00000_000.mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and mask.ndim == 2 and mask[0].max() == 0 and mask.max() > 0
    rows = list(csv.DictReader((tmp_path / "a" / "manifest.csv").open()))
    assert [r["source_file"] for r in rows] == [str(reals[i % 3]) for i in range(4)]
    assert {r["landmarks"] for r in rows} == {"template:gend"} and rows[3]["index"] == "3"
    assert float(rows[0]["blend_ratio"]) in (0.25, 0.5, 0.75, 1.0)
    assert json.loads(rows[0]["transforms"])[-1][0] == "resize_translate"
    sheet = cv2.imread(str(tmp_path / "a" / "sheet.png"))
    assert sheet.shape == (4 * 160, 3 * 160, 3)

    code = cli(["synth", str(reals[0]), str(tmp_path / "missing.png"), "--aligned", "gend",
                "--out", str(tmp_path / "d"), "--method", "blend"])  # fmt: skip
    assert code == 1
    assert "missing.png: no such file or folder" in capsys.readouterr().err
    assert (tmp_path / "d" / "manifest.csv").is_file()  # the rest was still done


def test_an_extract_manifest_gives_the_landmarks(sample_faces, tmp_path):
    folder = tmp_path / "FF" / "real" / "000"
    folder.mkdir(parents=True)
    crop = folder / "000.png"
    crop.write_bytes(sample_faces["real"][0].read_bytes())
    shift = np.array([40.0, 10.0])  # frame -> crop: a translation by -shift
    row = {"crop": "FF/real/000/000.png", "matrix": json.dumps([[1, 0, -40], [0, 1, -10]])}
    names = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    for name, (x, y) in zip(names, LANDMARKS + shift, strict=True):
        row[f"{name}_x"], row[f"{name}_y"] = x, y
    row["crop_size"] = SIDE
    with (folder / "_faces.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    (tmp_path / "manifest.csv").write_text((folder / "_faces.csv").read_text())
    for source in (tmp_path / "FF", tmp_path / "manifest.csv"):
        items, failures = collect_inputs([source])
        assert failures == [] and [i.path for i in items] == [crop]
        assert items[0].origin == "manifest"
        np.testing.assert_allclose(items[0].landmarks * SIDE, LANDMARKS, atol=1e-3)
