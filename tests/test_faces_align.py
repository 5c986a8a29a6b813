"""Crop presets and similarity alignment against known geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfdetect.faces import CropPreset, align_face, get_preset
from dfdetect.faces.presets import ARCFACE_TEMPLATE_112


def test_gend_preset_matches_the_brief() -> None:
    preset = get_preset("gend")
    assert (preset.name, preset.margin, preset.size) == ("gend", 1.3, 256)
    np.testing.assert_allclose(
        preset.template, [[0.34, 0.46], [0.66, 0.46], [0.50, 0.64], [0.37, 0.82], [0.63, 0.82]]
    )
    # the margin zooms out about the centre: the eyes move toward it by 1/1.3
    np.testing.assert_allclose(
        preset.destination(256)[0], [(0.5 - 0.16 / 1.3) * 256, (0.5 - 0.04 / 1.3) * 256], rtol=1e-6
    )


def test_arcface_preset_is_the_112_template() -> None:
    preset = get_preset("arcface")
    np.testing.assert_allclose(
        preset.destination(112 * 1.3) - (1.3 - 1) * 112 / 2, ARCFACE_TEMPLATE_112, atol=1e-3
    )
    assert preset.template[0, 0] == pytest.approx(38.2946 / 112)


def test_preset_dict_roundtrip_and_errors() -> None:
    for name in ("gend", "arcface"):
        preset = get_preset(name)
        data = preset.to_dict()
        assert CropPreset.from_dict(data) == preset
        assert data["name"] == name and data["margin"] == 1.3 and data["size"] == 256
    assert get_preset("gend", size=None).size is None
    assert CropPreset.from_dict({"name": "gend"}) == get_preset("gend")
    with pytest.raises(KeyError, match="known: \\['arcface', 'gend'\\]"):
        get_preset("retina")
    with pytest.raises(ValueError, match="template"):
        CropPreset("bad", np.zeros((4, 2)))


def _known_similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    """(2, 3) crop -> image similarity."""
    matrix = cv2.getRotationMatrix2D((0, 0), angle, scale)
    matrix[:, 2] = (tx, ty)
    return matrix


@pytest.mark.parametrize("preset_name", ["gend", "arcface"])
def test_align_inverts_a_known_similarity(preset_name: str) -> None:
    preset = get_preset(preset_name)
    crop_to_image = _known_similarity(1.7, 23.0, 300.0, 80.0)
    dst = preset.destination(256)
    landmarks = dst @ crop_to_image[:, :2].T + crop_to_image[:, 2]
    # an image whose pixel values encode their own coordinates
    ys, xs = np.mgrid[0:700, 0:700]
    image = np.stack([xs % 256, ys % 256, (xs // 256) * 64 + (ys // 256) * 16], axis=2).astype(
        np.uint8
    )
    aligned = align_face(image, landmarks, preset)
    assert aligned.crop.shape == (256, 256, 3)
    np.testing.assert_allclose(aligned.to_crop(landmarks), dst, atol=1e-3)
    assert aligned.scale == pytest.approx(1 / 1.7, rel=1e-4)
    # crop pixel (u, v) shows the image pixel crop_to_image maps it to
    u, v = 100, 140
    x, y = crop_to_image @ [u, v, 1]
    np.testing.assert_allclose(aligned.crop[v, u, :2], [round(x) % 256, round(y) % 256], atol=1)


def test_native_size_keeps_the_face_scale() -> None:
    preset = get_preset("gend", size=None)
    dst = get_preset("gend").destination(256)
    landmarks = dst * 2.0 + 10  # a face twice the 256 crop's scale
    aligned = align_face(np.zeros((800, 800, 3), np.uint8), landmarks, preset)
    assert aligned.crop.shape == (512, 512, 3)
    assert aligned.scale == pytest.approx(1.0, rel=1e-3)


def test_outside_pixels_are_black_and_degenerate_landmarks_raise() -> None:
    preset = get_preset("gend")
    white = np.full((50, 50, 3), 255, np.uint8)
    aligned = align_face(white, preset.destination(256) / 256 * 50 + 200, preset)  # off-image
    assert aligned.crop.max() == 0
    with pytest.raises(ValueError, match="degenerate"):
        align_face(white, np.full((5, 2), 10.0), preset)
    with pytest.raises(ValueError, match="NaN"):
        align_face(white, np.full((5, 2), np.nan), preset)
