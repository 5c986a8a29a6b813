"""Crop presets and similarity alignment against known geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfdetect.faces import CropPreset, align_face, get_preset
from dfdetect.faces.align import native_side, similarity_transform
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


GEND_NATIVE = get_preset("gend", size=None, size_rule="gend")
TEMPLATE = np.asarray(get_preset("gend").template, np.float64)


def test_gend_native_side_on_similar_faces() -> None:
    # every pairwise distance is k times the template's: side = round(k * 1.3)
    assert native_side(TEMPLATE * 200 + (50, 30), GEND_NATIVE) == 260
    rotated = np.stack([-TEMPLATE[:, 1], TEMPLATE[:, 0]], axis=1) * 77 + (300, 300)
    assert native_side(rotated, GEND_NATIVE) == 100  # 100.1
    assert native_side(TEMPLATE * 4, GEND_NATIVE) == 8  # 5.2: never below 8 pixels


def test_gend_native_side_is_the_mean_of_distance_ratios() -> None:
    # x stretched 200, y 100: the ten ratios (detected / template distance) are
    # AB 64/0.32 = 200, DE 52/0.26 = 200, AC = BC sqrt(1348)/sqrt(0.058) = 152.451,
    # AD = BE sqrt(1332)/sqrt(0.1305) = 101.029, AE = BD sqrt(4660)/sqrt(0.2137) = 147.669,
    # CD = CE sqrt(1000)/sqrt(0.0493) = 142.421; mean 148.714, x 1.3 = 193.33 -> 193
    stretched = TEMPLATE * (200, 100) + (10, 20)
    assert native_side(stretched, GEND_NATIVE) == 193
    # the similarity-scale rule reads the same face differently
    assert native_side(stretched, get_preset("gend", size=None)) == 192
    aligned = align_face(np.zeros((300, 300, 3), np.uint8), stretched, GEND_NATIVE)
    assert aligned.crop.shape == (193, 193, 3)


def test_gend_native_crop_puts_landmarks_on_the_template() -> None:
    landmarks = TEMPLATE * 200 + (50, 30)
    aligned = align_face(np.zeros((400, 400, 3), np.uint8), landmarks, GEND_NATIVE)
    assert aligned.crop.shape == (260, 260, 3)
    np.testing.assert_allclose(aligned.to_crop(landmarks), GEND_NATIVE.destination(260), atol=1e-3)
    assert aligned.scale == pytest.approx(1.0, rel=1e-5)  # 200 * 1.3 = 260: native scale


def test_size_rule_roundtrip_default_and_errors() -> None:
    assert get_preset("gend").size_rule == "lmeds"  # today's presets keep today's rule
    assert GEND_NATIVE.to_dict()["size_rule"] == "gend"
    assert CropPreset.from_dict(GEND_NATIVE.to_dict()) == GEND_NATIVE
    old = {k: v for k, v in get_preset("gend", size=None).to_dict().items() if k != "size_rule"}
    assert CropPreset.from_dict(old).size_rule == "lmeds"
    assert get_preset("gend", size=None) != GEND_NATIVE
    with pytest.raises(ValueError, match="size_rule must be one of"):
        get_preset("gend", size_rule="median")  # type: ignore[arg-type]


def _gend_reference(landmarks: np.ndarray, size: int | None) -> tuple[int, np.ndarray]:
    """GenD's align_face geometry step by step (float32 as it runs): side from the distance
    ratios when ``size`` is None; template x side, + the margin border, x side / (side + 2
    border); LMEDS fit at that side."""
    template = np.float32(get_preset("gend").template)
    if size is None:
        pairs = np.triu_indices(5, k=1)
        ratios = [
            np.linalg.norm(landmarks[i] - landmarks[j]) / np.linalg.norm(template[i] - template[j])
            for i, j in zip(*pairs, strict=True)
        ]
        size = int(np.round(np.mean(np.float32(ratios)) * 1.3))
    border = size * 0.3 / 2.0
    dst = template * size
    dst += border
    dst *= size / (size + 2 * border)
    return size, cv2.estimateAffinePartial2D(landmarks, dst, method=cv2.LMEDS)[0]


def test_gend_crops_get_gends_matrix_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = rng.uniform(20, 400)
        noise = rng.normal(0, 0.03 * k, (5, 2))
        landmarks = np.float32(TEMPLATE * k + noise + rng.uniform(0, 1000, 2))
        for preset, size in ((GEND_NATIVE, None), (get_preset("gend"), 256)):
            side, matrix = _gend_reference(landmarks, size)
            assert similarity_transform(landmarks, preset)[1] == side
            np.testing.assert_array_equal(similarity_transform(landmarks, preset)[0], matrix)
