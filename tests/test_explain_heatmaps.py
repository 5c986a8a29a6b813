"""Heatmaps follow the model (occlusion agrees with the map) and land where the face was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dfdetect.explain import attribution, heatmaps, overlay, warp_to_frame
from dfdetect.faces.align import align_face
from dfdetect.faces.presets import get_preset

PATCH = 16


@pytest.fixture(scope="module")
def crop(sample_faces):
    return np.array(Image.open(sample_faces["fake"][0]).convert("RGB"))


def _margins(detector, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        logits = detector(x)
    return (logits[:, 1] - logits[:, 0]).numpy()


def test_occluding_patches_changes_the_score_as_the_map_predicts(tiny_detector, crop):
    """Gradient x input is the first-order change of the fake margin when a pixel is set to
    the normalisation mean: blanking each 16x16 patch must move the margin as the map's patch
    sum says (strongly correlated, and the signs of the extreme patches right)."""
    amap = attribution(tiny_detector, [crop])[0]
    x = tiny_detector.preprocess([crop])
    side = x.shape[-1]
    assert amap.shape == (side, side)
    base = _margins(tiny_detector, x)[0]
    n = side // PATCH
    predicted = -amap[: n * PATCH, : n * PATCH].reshape(n, PATCH, n, PATCH).sum(axis=(1, 3))
    occluded = x.repeat(n * n, 1, 1, 1)
    for k in range(n * n):
        i, j = divmod(k, n)
        occluded[k, :, i * PATCH : (i + 1) * PATCH, j * PATCH : (j + 1) * PATCH] = 0
    actual = (_margins(tiny_detector, occluded) - base).reshape(n, n)
    assert np.corrcoef(predicted.ravel(), actual.ravel())[0, 1] > 0.7
    most_fake = np.unravel_index(np.argmin(predicted), predicted.shape)
    most_real = np.unravel_index(np.argmax(predicted), predicted.shape)
    assert actual[most_fake] < 0 < actual[most_real]


class RegionProbe:
    """A stand-in model whose fake logit depends only on the top-left quarter of its input,
    with the real preprocessing: the heatmap must be hot exactly there, in crop pixels."""

    def __init__(self, detector) -> None:
        self.preprocess = detector.preprocess
        self.weight = torch.randn(3, 112, 112, generator=torch.Generator().manual_seed(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fake = (x[:, :, :112, :112] * self.weight).sum(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(fake), fake], dim=1)


def test_heatmap_lights_the_region_that_drives_the_score(tiny_detector, crop):
    # a 200x300 crop: the model sees it resized to 224x336 and centre-cropped to columns
    # 56..280, so input rows 0..112, columns 0..112 are crop rows 0..100, columns 50..150
    wide = np.array(Image.fromarray(crop).resize((300, 200)))
    maps = heatmaps(RegionProbe(tiny_detector), [wide, wide[:, ::-1]])
    assert maps.shape == (2, 200, 300)
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    heat = maps[0]
    inside = heat[5:95, 55:145].mean()
    assert inside > 0.2
    assert heat[110:, :].max() < 0.05 * inside  # rows below the region
    assert heat[:, 160:].max() < 0.05 * inside  # columns right of it
    assert heat[:, :45].max() == 0.0  # never seen by the model
    assert not np.allclose(maps[0], maps[1])  # the map follows the content


def test_warp_puts_the_map_back_where_the_face_was(crop):
    frame = np.zeros((360, 640, 3), np.uint8)
    preset = get_preset("gend")
    # landmarks of a face about 90 px wide, rotated a little, around (400, 180)
    angle = np.deg2rad(12)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (preset.template - 0.5) * 90 @ rot.T + np.array([400, 180])
    aligned = align_face(frame, landmarks, preset)
    heat = np.zeros((256, 256), np.float32)
    heat[96:160, 64:128] = 1.0  # a block left of the crop centre
    warped = warp_to_frame(heat, aligned.matrix, frame.shape)
    assert warped.shape == (360, 640)
    ys, xs = np.nonzero(warped > 0.99)
    inside = aligned.to_crop(np.stack([xs, ys], axis=1))
    assert len(xs) > 0
    assert inside[:, 0].min() >= 63 and inside[:, 0].max() <= 128
    assert inside[:, 1].min() >= 95 and inside[:, 1].max() <= 160
    expected_area = 64 * 64 / aligned.scale**2
    assert abs((warped > 0.5).sum() - expected_area) < 0.15 * expected_area
    shown = overlay(frame, warped)
    assert shown[ys, xs].sum() > 0 and shown[0, 0].sum() == 0  # coloured only where hot
